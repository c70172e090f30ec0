import Foundation
import SocketIO

/// A `POST /search` request, validated: what to look for, in which kind of record, and the filters.
public struct SearchQuery: Sendable, Equatable {
    public enum Object: String, Sendable { case message, dialogue, memory }
    public enum OrderBy: String, Sendable { case relevance, created, modified }

    /// A range of ISO 8601 timestamps; each bound optional.
    public struct Range: Sendable, Equatable {
        public var gte: String?
        public var gt: String?
        public var lte: String?
        public var lt: String?

        public init(gte: String? = nil, gt: String? = nil, lte: String? = nil, lt: String? = nil) {
            self.gte = gte
            self.gt = gt
            self.lte = lte
            self.lt = lt
        }

        var json: SocketValue {
            var fields: JSONObject = [:]
            for (name, bound) in [("gte", gte), ("gt", gt), ("lte", lte), ("lt", lt)] {
                if let bound { fields[SocketKey(name)] = .string(bound) }
            }
            return .object(fields)
        }
    }

    /// A condition on one metadata key.
    public enum MetadataCondition: Sendable, Equatable {
        case equals(SocketValue)
        case notEquals(SocketValue)
        case isIn([SocketValue])
        case notIn([SocketValue])
        case greaterThan(SocketValue, orEqual: Bool)
        case lessThan(SocketValue, orEqual: Bool)
    }

    public var text: String
    /// The query's words, lower-cased (what full-text search matches).
    public var terms: [String]
    public var object: Object
    public var limit: Int
    public var tagsIn: [String] = []
    public var tagsAll: [String] = []
    public var tagsNotIn: [String] = []
    public var created: Range?
    public var modified: Range?
    public var hasImage: Bool?
    public var metadata: [(key: String, condition: MetadataCondition)] = []
    public var orderBy: OrderBy = .relevance
    public var order: ListQuery.Order = .desc

    public static func == (lhs: SearchQuery, rhs: SearchQuery) -> Bool {
        lhs.text == rhs.text && lhs.object == rhs.object && lhs.limit == rhs.limit && lhs.tagsIn == rhs.tagsIn && lhs.tagsAll == rhs.tagsAll
            && lhs.tagsNotIn == rhs.tagsNotIn && lhs.created == rhs.created && lhs.modified == rhs.modified && lhs.hasImage == rhs.hasImage
            && lhs.metadata.map(\.key) == rhs.metadata.map(\.key) && lhs.metadata.map(\.condition) == rhs.metadata.map(\.condition)
            && lhs.orderBy == rhs.orderBy && lhs.order == rhs.order
    }

    /// The words of `text` for full-text matching: letters and digits, lower-cased.
    public static func terms(of text: String) -> [String] {
        text.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init)
    }

    /// Reads and checks a request body. `now` resolves relative dates ("last 30 days").
    public init(json body: JSONObject, now: Date = Date()) throws(DialogueDBError) {
        guard let text = try InputValidation.string(body["query"], "query", maxLength: 2000) else { throw .missingParameter("query") }
        self.text = text
        terms = Self.terms(of: text)
        guard !terms.isEmpty else { throw .invalidParameter("query", "must contain a word") }
        guard let kind = try InputValidation.string(body["object"], "object") else { throw .missingParameter("object") }
        guard let object = Object(rawValue: kind) else { throw .invalidParameter("object", "must be message, dialogue or memory", value: .string(kind)) }
        self.object = object
        limit = 10
        if let value = body["limit"], value != .null {
            guard let number = value.intValue, number > 0 else { throw .invalidParameter("limit", "must be a positive integer", value: value) }
            limit = min(number, 100)
        }
        try readTags(body["tags"])
        if let filter = body["filter"], filter != .null {
            guard let fields = filter.objectValue else { throw .invalidParameter("filter", "must be an object") }
            for (key, value) in fields {
                switch key.string {
                case "created": created = try Self.range(value, field: "filter.created", now: now)
                case "modified": modified = try Self.range(value, field: "filter.modified", now: now)
                case "hasImage":
                    guard case .bool(let flag) = value else { throw .invalidParameter("filter.hasImage", "must be true or false", value: value) }
                    hasImage = flag
                case let name where name.hasPrefix("created") || name.hasPrefix("modified"):
                    throw .invalidParameter("filter.\(name)", "is no longer supported; use filter.created: { gte, lt } (or modified) with ISO dates")
                default:
                    throw .invalidParameter("filter.\(key.string)", "is not a known filter (created, modified, hasImage)")
                }
            }
        }
        if let conditions = body["metadata"], conditions != .null {
            guard let fields = conditions.objectValue else { throw .invalidParameter("metadata", "must be an object") }
            for (key, value) in fields { metadata += try Self.conditions(value, field: "metadata.\(key.string)").map { (key.string, $0) } }
        }
        if let value = try InputValidation.string(body["orderBy"], "orderBy") {
            guard let parsed = OrderBy(rawValue: value) else { throw .invalidParameter("orderBy", "must be relevance, created or modified") }
            orderBy = parsed
        }
        if let value = try InputValidation.string(body["order"], "order") {
            guard let parsed = ListQuery.Order(rawValue: value) else { throw .invalidParameter("order", "must be asc or desc") }
            order = parsed
        }
    }

    private mutating func readTags(_ value: SocketValue?) throws(DialogueDBError) {
        guard let value, value != .null else { return }
        func list(_ value: SocketValue, _ field: String) throws(DialogueDBError) -> [String] {
            guard let items = value.arrayValue, !items.isEmpty, items.allSatisfy({ !($0.stringValue ?? "").isEmpty }) else {
                throw .invalidParameter(field, "must be a non-empty array of non-empty strings", value: value)
            }
            return items.compactMap(\.stringValue)
        }
        if case .array = value {
            tagsIn = try list(value, "tags")
            return
        }
        guard let operators = value.objectValue, !operators.isEmpty else { throw .invalidParameter("tags", "must be an array or {$in, $all, $nin}") }
        for (name, operand) in operators {
            switch name.string {
            case "$in": tagsIn = try list(operand, "tags.$in")
            case "$all": tagsAll = try list(operand, "tags.$all")
            case "$nin": tagsNotIn = try list(operand, "tags.$nin")
            default: throw .invalidParameter("tags.\(name.string)", "is not a tag operator ($in, $all, $nin)")
            }
        }
    }

    private static func scalar(_ value: SocketValue) -> Bool {
        switch value {
        case .string, .int, .double, .bool: true
        default: false
        }
    }

    private static func conditions(_ value: SocketValue, field: String) throws(DialogueDBError) -> [MetadataCondition] {
        if scalar(value) { return [.equals(value)] }
        if let items = value.arrayValue {
            guard !items.isEmpty, items.allSatisfy(scalar) else { throw .invalidParameter(field, "a list must hold strings, numbers or booleans") }
            return [.isIn(items)]
        }
        guard let operators = value.objectValue, !operators.isEmpty else { throw .invalidParameter(field, "must be a value, a list, or operators") }
        var result: [MetadataCondition] = []
        for (name, operand) in operators {
            switch name.string {
            case "$eq", "$ne":
                guard scalar(operand) else { throw .invalidParameter("\(field).\(name.string)", "must be a string, number or boolean") }
                result.append(name.string == "$eq" ? .equals(operand) : .notEquals(operand))
            case "$in", "$nin":
                guard let items = operand.arrayValue, !items.isEmpty, items.allSatisfy(scalar) else {
                    throw .invalidParameter("\(field).\(name.string)", "must be a non-empty list of strings, numbers or booleans")
                }
                result.append(name.string == "$in" ? .isIn(items) : .notIn(items))
            case "$gt", "$gte", "$lt", "$lte":
                guard operand.doubleValue != nil || operand.stringValue != nil else {
                    throw .invalidParameter("\(field).\(name.string)", "must be a number or a string")
                }
                let orEqual = name.string.hasSuffix("e")
                result.append(name.string.hasPrefix("$g") ? .greaterThan(operand, orEqual: orEqual) : .lessThan(operand, orEqual: orEqual))
            default:
                throw .invalidParameter("\(field).\(name.string)", "is not a metadata operator")
            }
        }
        return result
    }

    /// A date range: `{gte, gt, lte, lt}` with ISO dates, or one string — an ISO date (that day) or words
    /// ("today", "yesterday", "last 30 days", "last 2 weeks", "this month", "last month", "March 2025", "2025").
    static func range(_ value: SocketValue, field: String, now: Date) throws(DialogueDBError) -> Range {
        if case .string(let text) = value { return try DateWords.range(text, field: field, now: now) }
        guard let bounds = value.objectValue, !bounds.isEmpty else { throw .invalidParameter(field, "must be a date, words such as \"last 30 days\", or {gte, gt, lte, lt}") }
        var range = Range()
        for (name, bound) in bounds {
            guard let text = bound.stringValue, let date = Timestamp.date(text) else {
                throw .invalidParameter("\(field).\(name.string)", "must be an ISO 8601 date", value: bound)
            }
            let iso = Timestamp.string(date)
            switch name.string {
            case "gte": range.gte = iso
            case "gt": range.gt = iso
            case "lte": range.lte = text.count == 10 ? String(iso.prefix(10)) + "T23:59:59.999Z" : iso
            case "lt": range.lt = iso
            default: throw .invalidParameter("\(field).\(name.string)", "is not a bound (gte, gt, lte, lt)")
            }
        }
        return range
    }

    /// How many rows a storage reads before ranking: more than asked when ordering by relevance, which is
    /// settled here rather than by the engine's score alone.
    public var candidateLimit: Int { orderBy == .relevance ? min(500, max(limit * 5, 50)) : limit }

    /// A 0–1 relevance: the share of the query's words the text has (60%; a word also matches its longer or
    /// shorter forms, `clean`/`cleaning`), and the engine's full-text score (40%, `score / (score + 1)`).
    /// On a small corpus BM25 scores common words near zero; the share keeps the best hits near 1.
    public func relevance(score: Double, text: String) -> Double {
        let words = Set(Self.terms(of: text))
        let matched = terms.filter { term in
            words.contains(term) || words.contains { word in min(word.count, term.count) >= 4 && (word.hasPrefix(term) || term.hasPrefix(word)) }
        }
        let coverage = terms.isEmpty ? 0 : Double(Set(matched).count) / Double(Set(terms).count)
        let positive = max(0, score)
        return ((0.6 * coverage + 0.4 * positive / (positive + 1)) * 100).rounded() / 100
    }

    /// Hits in the requested order (relevance, creation or modification; ties by id), cut to the limit.
    public func ordered(_ hits: [SearchHit]) -> [SearchHit] {
        let ascending = order == .asc
        let sorted = hits.sorted { lhs, rhs in
            switch orderBy {
            case .relevance: lhs.relevance == rhs.relevance ? lhs.id < rhs.id : (lhs.relevance < rhs.relevance) == ascending
            case .created: lhs.created == rhs.created ? lhs.id < rhs.id : (lhs.created < rhs.created) == ascending
            case .modified: lhs.modified == rhs.modified ? lhs.id < rhs.id : (lhs.modified < rhs.modified) == ascending
            }
        }
        return Array(sorted.prefix(limit))
    }

    /// The request as the response echoes it.
    public var echo: SocketValue {
        var fields: JSONObject = ["orderBy": .string(orderBy.rawValue), "order": .string(order.rawValue), "candidateOrderBy": "relevance"]
        var filter: JSONObject = [:]
        if let created { filter["created"] = created.json }
        if let modified { filter["modified"] = modified.json }
        if !filter.isEmpty { fields["filter"] = .object(filter) }
        return .object(fields)
    }
}

/// One search result: the record, its relevance (0–1, higher is better), and for dialogues the messages
/// that matched.
public struct SearchHit: Sendable {
    public enum Item: Sendable {
        case message(MessageRecord)
        case dialogue(DialogueRecord)
        case memory(MemoryRecord)
    }

    public var item: Item
    public var relevance: Double
    public var matches: [(message: MessageRecord, relevance: Double)]

    public init(item: Item, relevance: Double, matches: [(message: MessageRecord, relevance: Double)] = []) {
        self.item = item
        self.relevance = relevance
        self.matches = matches
    }

    var created: String {
        switch item {
        case .message(let message): message.created
        case .dialogue(let dialogue): dialogue.created
        case .memory(let memory): memory.created
        }
    }

    var modified: String {
        switch item {
        case .message(let message): message.modified
        case .dialogue(let dialogue): dialogue.modified
        case .memory(let memory): memory.modified
        }
    }

    var id: String {
        switch item {
        case .message(let message): message.id
        case .dialogue(let dialogue): dialogue.id
        case .memory(let memory): memory.id
        }
    }

    public var json: SocketValue {
        var fields: JSONObject = [:]
        switch item {
        case .message(let message):
            fields = ["object": "message", "relevance": .double(relevance), "item": message.json]
        case .dialogue(let dialogue):
            fields = ["object": "dialogue", "relevance": .double(relevance), "item": dialogue.json()]
            fields["matches"] = .array(matches.map { ["object": "message", "relevance": .double($0.relevance), "item": $0.message.json] })
        case .memory(let memory):
            fields = ["object": "memory", "relevance": .double(relevance), "item": memory.json]
        }
        return .object(fields)
    }
}

/// Dates in words, resolved against `now` in UTC.
enum DateWords {
    static func range(_ text: String, field: String, now: Date) throws(DialogueDBError) -> SearchQuery.Range {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let words = text.lowercased().split(separator: " ").map(String.init)
        let today = calendar.startOfDay(for: now)
        func day(_ offset: Int) -> Date { calendar.date(byAdding: .day, value: offset, to: today)! }
        func range(from start: Date, to end: Date) -> SearchQuery.Range {
            SearchQuery.Range(gte: Timestamp.string(start), lt: Timestamp.string(end))
        }
        let months = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"]
        if Timestamp.looksLikeISODate(text), let date = Timestamp.date(text) {
            let start = calendar.startOfDay(for: date)
            return text.count == 10 ? range(from: start, to: calendar.date(byAdding: .day, value: 1, to: start)!) : SearchQuery.Range(gte: Timestamp.string(date))
        }
        switch words {
        case ["today"]: return range(from: today, to: day(1))
        case ["yesterday"]: return range(from: day(-1), to: today)
        case _ where words.count == 3 && words[0] == "last", _ where words.count == 3 && words[0] == "past":
            guard let count = Int(words[1]), count > 0 else { break }
            let unit: Calendar.Component? = switch words[2] {
            case "day", "days": .day
            case "week", "weeks": .weekOfYear
            case "month", "months": .month
            case "year", "years": .year
            default: nil
            }
            guard let unit else { break }
            return SearchQuery.Range(gte: Timestamp.string(calendar.date(byAdding: unit, value: -count, to: now)!))
        case ["this", "month"], ["last", "month"]:
            var start = calendar.date(from: calendar.dateComponents([.year, .month], from: now))!
            if words[0] == "last" { start = calendar.date(byAdding: .month, value: -1, to: start)! }
            return range(from: start, to: calendar.date(byAdding: .month, value: 1, to: start)!)
        case _ where words.count == 1 && Int(words[0]).map({ (1970...9999).contains($0) }) == true:
            let start = calendar.date(from: DateComponents(year: Int(words[0])!, month: 1, day: 1))!
            return range(from: start, to: calendar.date(byAdding: .year, value: 1, to: start)!)
        case _ where words.count == 2 && months.contains(words[0]) && Int(words[1]) != nil:
            let start = calendar.date(from: DateComponents(year: Int(words[1])!, month: months.firstIndex(of: words[0])! + 1, day: 1))!
            return range(from: start, to: calendar.date(byAdding: .month, value: 1, to: start)!)
        default: break
        }
        throw .invalidParameter(field, "is not a date I can read (an ISO date, \"today\", \"last 30 days\", \"March 2025\", …)", value: .string(text))
    }
}

/// What full-text search indexes of each record.
public enum SearchText {
    /// The words of message content: a string as it is; structured content's text (`text`, `content`,
    /// strings in tool blocks), without image data, URLs or part types.
    public static func of(content: SocketValue) -> String {
        var pieces: [String] = []
        collect(content, key: nil, into: &pieces)
        return pieces.joined(separator: " ")
    }

    private static let skipped: Set<String> = ["type", "data", "url", "media_type", "id", "tool_use_id", "detail"]

    private static func collect(_ value: SocketValue, key: String?, into pieces: inout [String]) {
        switch value {
        case .string(let text): if !skipped.contains(key ?? "") { pieces.append(text) }
        case .array(let items): for item in items { collect(item, key: key, into: &pieces) }
        case .object(let members): for (name, member) in members { collect(member, key: name.string, into: &pieces) }
        default: break
        }
    }

    public static func of(dialogue: DialogueRecord) -> String {
        ([dialogue.label ?? ""] + dialogue.tags + [of(content: .object(dialogue.state)), of(content: .object(dialogue.metadata))]).joined(separator: " ")
    }

    public static func of(memory: MemoryRecord) -> String {
        ([memory.label ?? "", memory.description ?? ""] + memory.tags + [of(content: memory.value)]).joined(separator: " ")
    }
}

/// Turns texts into vectors for semantic ranking (an OpenAI-compatible `/embeddings` endpoint, or a local
/// model). With one configured, search re-ranks its full-text candidates by meaning as well as by words.
public protocol EmbeddingProvider: Sendable {
    /// One vector per text, in order.
    func embed(_ texts: [String]) async throws -> [[Float]]
}

extension SearchHit {
    /// The text a hit is compared by.
    var text: String {
        switch item {
        case .message(let message): SearchText.of(content: message.content)
        case .dialogue(let dialogue): ([SearchText.of(dialogue: dialogue)] + matches.map { SearchText.of(content: $0.message.content) }).joined(separator: " ")
        case .memory(let memory): SearchText.of(memory: memory)
        }
    }
}

/// Hybrid ranking: half the full-text relevance, half the cosine similarity of the query's and the hit's
/// embeddings (negative similarity counts as 0).
enum HybridRanking {
    static func rerank(_ hits: [SearchHit], query: SearchQuery, provider: any EmbeddingProvider) async throws -> [SearchHit] {
        guard !hits.isEmpty else { return hits }
        let vectors = try await provider.embed([query.text] + hits.map(\.text))
        guard vectors.count == hits.count + 1 else { throw DialogueDBError.internalError }
        let target = vectors[0]
        return hits.enumerated().map { index, hit in
            var ranked = hit
            let similarity = max(0, cosine(target, vectors[index + 1]))
            ranked.relevance = ((0.5 * hit.relevance + 0.5 * Double(similarity)) * 100).rounded() / 100
            return ranked
        }
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count, !a.isEmpty else { return 0 }
        var dot: Float = 0, normA: Float = 0, normB: Float = 0
        for index in a.indices {
            dot += a[index] * b[index]
            normA += a[index] * a[index]
            normB += b[index] * b[index]
        }
        return normA == 0 || normB == 0 ? 0 : dot / (normA.squareRoot() * normB.squareRoot())
    }
}

/// Dialogue search as every storage does it: dialogues match by their own text or by their messages (which
/// become the `matches`, best first); a dialogue's relevance is the best of either, and the dialogue filters
/// apply to both.
public enum DialogueSearch {
    /// The message query that finds evidence: the same words, none of the dialogue filters, best first.
    public static func evidenceQuery(_ query: SearchQuery) -> SearchQuery {
        var evidence = query
        (evidence.orderBy, evidence.order) = (.relevance, .desc)
        (evidence.tagsIn, evidence.tagsAll, evidence.tagsNotIn, evidence.metadata) = ([], [], [], [])
        (evidence.created, evidence.modified, evidence.hasImage) = (nil, nil, nil)
        return evidence
    }

    /// - Parameters:
    ///   - messages: message hits of ``evidenceQuery(_:)``.
    ///   - direct: dialogues matching by their own text (already filtered), with their relevance.
    ///   - fetch: loads the dialogues with these ids that pass the query's filters.
    public static func results(
        _ query: SearchQuery, messages: [(message: MessageRecord, relevance: Double)], direct: [(dialogue: DialogueRecord, relevance: Double)],
        fetch: ([String]) async throws -> [DialogueRecord]
    ) async throws -> [SearchHit] {
        var evidence: [String: [(message: MessageRecord, relevance: Double)]] = [:]
        for hit in messages.sorted(by: { $0.relevance > $1.relevance }) { evidence[hit.message.dialogueId, default: []].append(hit) }
        var scores = evidence.mapValues { $0.map(\.relevance).max() ?? 0 }
        var records: [String: DialogueRecord] = [:]
        for hit in direct {
            records[hit.dialogue.id] = hit.dialogue
            scores[hit.dialogue.id] = max(scores[hit.dialogue.id] ?? 0, hit.relevance)
        }
        let missing = scores.keys.filter { records[$0] == nil }
        if !missing.isEmpty { for record in try await fetch(missing) { records[record.id] = record } }
        return query.ordered(records.values.map { SearchHit(item: .dialogue($0), relevance: scores[$0.id] ?? 0, matches: Array((evidence[$0.id] ?? []).prefix(3))) })
    }
}
