import Foundation
import SocketIO

/// A summary of a range of a dialogue's messages (the hosted API's `ISummary`). It starts `processing`
/// and ends `completed` (with `content`) or `failed` (with `error`); messages are never changed. A summary
/// made with `compact` replaces the messages it covers in the dialogue's message list (`GET /messages`),
/// the originals staying readable with `view=full` and by id.
public struct SummaryRecord: Sendable, Equatable {
    public enum Status: String, Sendable { case processing, completed, failed }

    public var id: String
    public var dialogueId: String
    public var projectId: String
    public var namespace: String?
    public var status: Status
    public var provider: String
    public var model: String?
    public var template: String?
    public var content: String?
    public var error: String?
    /// The range summarised: its first and last messages.
    public var startId: String?
    public var endId: String?
    public var fromCreated: String?
    public var toCreated: String?
    public var messageCount: Int
    /// Whether it replaces its range in the message list once completed.
    public var compact: Bool
    public var created: String
    public var modified: String

    public init(
        id: String, dialogueId: String, projectId: String, namespace: String?, status: Status = .processing, provider: String, model: String? = nil,
        template: String? = nil, content: String? = nil, error: String? = nil, startId: String? = nil, endId: String? = nil, fromCreated: String? = nil,
        toCreated: String? = nil, messageCount: Int = 0, compact: Bool = false, created: String, modified: String
    ) {
        self.id = id
        self.dialogueId = dialogueId
        self.projectId = projectId
        self.namespace = namespace
        self.status = status
        self.provider = provider
        self.model = model
        self.template = template
        self.content = content
        self.error = error
        self.startId = startId
        self.endId = endId
        self.fromCreated = fromCreated
        self.toCreated = toCreated
        self.messageCount = messageCount
        self.compact = compact
        self.created = created
        self.modified = modified
    }

    public var json: SocketValue {
        var fields: JSONObject = [
            "id": .string(id), "dialogueId": .string(dialogueId), "projectId": .string(projectId), "status": .string(status.rawValue), "provider": .string(provider),
        ]
        if let namespace { fields["namespace"] = .string(namespace) }
        if let model { fields["model"] = .string(model) }
        if let template { fields["template"] = .string(template) }
        fields["content"] = content.map(SocketValue.string) ?? .null
        if let error { fields["error"] = .string(error) }
        if let startId { fields["startId"] = .string(startId) }
        if let endId { fields["endId"] = .string(endId) }
        if let fromCreated { fields["fromCreated"] = .string(fromCreated) }
        if let toCreated { fields["toCreated"] = .string(toCreated) }
        fields["messageCount"] = .int(Int64(messageCount))
        fields["summarizedCount"] = .int(Int64(status == .completed ? messageCount : 0))
        fields["compact"] = .bool(compact)
        fields["created"] = .string(created)
        fields["modified"] = .string(modified)
        return .object(fields)
    }

    public init?(json: SocketValue) {
        guard let id = json["id"]?.stringValue, let dialogueId = json["dialogueId"]?.stringValue, let created = json["created"]?.stringValue else { return nil }
        self.init(
            id: id, dialogueId: dialogueId, projectId: json["projectId"]?.stringValue ?? "", namespace: json["namespace"]?.stringValue,
            status: json["status"]?.stringValue.flatMap(Status.init(rawValue:)) ?? .processing, provider: json["provider"]?.stringValue ?? "",
            model: json["model"]?.stringValue, template: json["template"]?.stringValue, content: json["content"]?.stringValue, error: json["error"]?.stringValue,
            startId: json["startId"]?.stringValue, endId: json["endId"]?.stringValue, fromCreated: json["fromCreated"]?.stringValue,
            toCreated: json["toCreated"]?.stringValue, messageCount: json["messageCount"]?.intValue ?? 0, compact: json["compact"] == .bool(true),
            created: created, modified: json["modified"]?.stringValue ?? created
        )
    }

    /// The summary as it stands in for its messages in a compacted message list: a `system` message.
    public var standIn: MessageRecord {
        var message = MessageRecord(
            id: id, dialogueId: dialogueId, namespace: namespace, role: "system", content: .string(content ?? ""), name: "summary",
            metadata: ["summaryId": .string(id), "summarizedCount": .int(Int64(messageCount))], created: fromCreated ?? created, modified: modified
        )
        message.tags = ["summary"]
        return message
    }
}

/// Writes the text of a summary. The server uses an OpenAI-compatible chat endpoint when one is configured,
/// the deterministic ``ExtractiveSummarizer`` otherwise.
public protocol Summarizer: Sendable {
    /// Recorded on each summary (`extractive`, `openai-compatible`).
    var provider: String { get }
    var model: String? { get }
    func summarize(_ messages: [MessageRecord], template: String?) async throws -> String
}

/// A summary without a model: the messages' most informative sentences (by how many of the conversation's
/// frequent words they carry), in their original order, each with its speaker. The same messages always
/// give the same summary.
public struct ExtractiveSummarizer: Summarizer {
    public let provider = "extractive"
    public let model: String? = nil
    /// The most sentences kept. Defaults to 5.
    public var maxSentences: Int

    public init(maxSentences: Int = 5) {
        self.maxSentences = maxSentences
    }

    static let stopWords: Set<String> = [
        "the", "a", "an", "and", "or", "but", "to", "of", "in", "on", "for", "with", "is", "are", "was", "were", "be", "it", "this", "that", "i", "you",
        "we", "they", "he", "she", "my", "your", "our", "me", "at", "as", "by", "from", "so", "do", "did", "not", "no", "can", "will", "just", "have", "has",
    ]

    public func summarize(_ messages: [MessageRecord], template: String?) async throws -> String {
        var sentences: [(index: Int, speaker: String, text: String, words: [String])] = []
        for message in messages {
            let text = SearchText.of(content: message.content)
            for piece in text.split(whereSeparator: { ".!?\n".contains($0) }) {
                let sentence = piece.trimmingCharacters(in: .whitespaces)
                let words = SearchQuery.terms(of: sentence).filter { !Self.stopWords.contains($0) }
                if !words.isEmpty { sentences.append((sentences.count, message.role, sentence, words)) }
            }
        }
        guard !sentences.isEmpty else { return "" }
        var frequency: [String: Int] = [:]
        for sentence in sentences { for word in Set(sentence.words) { frequency[word, default: 0] += 1 } }
        let scored = sentences.map { sentence in
            (sentence, Double(sentence.words.reduce(0) { $0 + (frequency[$1] ?? 0) }) / Double(sentence.words.count).squareRoot())
        }
        let chosen = scored.sorted { $0.1 == $1.1 ? $0.0.index < $1.0.index : $0.1 > $1.1 }.prefix(maxSentences).map(\.0).sorted { $0.index < $1.index }
        return chosen.map { "\($0.speaker): \($0.text)." }.joined(separator: "\n")
    }
}
