import Foundation
import Logging
import SocketIO

/// Who is asking: the project of the API key, and the request's id (sent back in errors and stored as the
/// `requestId` of the dialogues it creates).
public struct RequestContext: Sendable {
    public var projectId: String
    public var requestId: String

    public init(projectId: String, requestId: String = UUID().uuidString.lowercased()) {
        self.projectId = projectId
        self.requestId = requestId
    }
}

/// An API request in the hosted service's terms: method, path below the `/api/v1` prefix, query, JSON body.
public struct APIRequest: Sendable {
    public var method: String
    public var path: String
    public var query: [String: String]
    public var body: SocketValue?

    public init(_ method: String, _ path: String, query: [String: String] = [:], body: SocketValue? = nil) {
        self.method = method
        self.path = path
        self.query = query
        self.body = body
    }
}

/// The DialogueDB API, whatever carries it: the REST server hands it HTTP requests, the SDK's embedded
/// store hands it the same requests in-process, so both see one routing table and one set of rules.
///
/// ```swift
/// let api = DialogueDBAPI(storage: try await SQLiteConversationStorage(path: "conversations.sqlite"))
/// let dialogue = try await api.handle(APIRequest("POST", "/dialogue", body: ["label": "Support"]), context: RequestContext(projectId: "local"))
/// ```
public struct DialogueDBAPI: Sendable {
    public let storage: any ConversationStorage
    let ids = ULIDGenerator()
    /// The most items a list returns; larger `limit`s are cut to it. Defaults to 100.
    public var maxPageSize: Int
    /// Messages returned with a dialogue by `GET /dialogue/{id}` (the hosted service's "initial batch").
    public var initialMessages = 10
    /// Writes summaries (`POST /summary`). Defaults to ``ExtractiveSummarizer`` (no model needed).
    public var summarizer: any Summarizer
    /// When set, search re-ranks its full-text candidates by embedding similarity too. Defaults to `nil`.
    public var embeddings: (any EmbeddingProvider)?
    /// Where unexpected failures (500s) and failed summaries are logged.
    public var logger: Logger

    public init(
        storage: any ConversationStorage, maxPageSize: Int = 100, summarizer: any Summarizer = ExtractiveSummarizer(),
        embeddings: (any EmbeddingProvider)? = nil, logger: Logger = Logger(label: "dialoguedb")
    ) {
        self.storage = storage
        self.maxPageSize = maxPageSize
        self.summarizer = summarizer
        self.embeddings = embeddings
        self.logger = logger
    }

    /// Answers one request: the JSON of a 2xx response.
    /// - Throws: ``DialogueDBError`` with the status and code to send.
    public func handle(_ request: APIRequest, context: RequestContext) async throws(DialogueDBError) -> SocketValue {
        let segments = request.path.split(separator: "/").map { $0.removingPercentEncoding ?? String($0) }
        let query = Query(values: request.query)
        do {
            switch (request.method, segments.first ?? "", segments.count) {
            case ("POST", "dialogue", 1): return try await createDialogue(request.body, query: query, context: context)
            case ("GET", "dialogue", 1): return try await listDialogues(query, context: context)
            case ("GET", "dialogue", 2): return try await getDialogue(segments[1], query: query, context: context)
            case ("PUT", "dialogue", 1): return try await updateDialogue(nil, body: request.body, query: query, context: context)
            case ("PUT", "dialogue", 2): return try await updateDialogue(segments[1], body: request.body, query: query, context: context)
            case ("DELETE", "dialogue", 1): return try await deleteDialogue(nil, body: request.body, query: query, context: context)
            case ("DELETE", "dialogue", 2): return try await deleteDialogue(segments[1], body: request.body, query: query, context: context)
            case ("POST", "dialogue", 3) where segments[2] == "end", ("PUT", "dialogue", 3) where segments[2] == "end":
                return try await endDialogue(segments[1], query: query, context: context)
            case ("POST", "dialogue", 3) where segments[2] == "messages":
                return try await createMessages(request.body, dialogueId: segments[1], query: query, context: context)
            case ("POST", "message", 1): return try await createMessage(request.body, query: query, context: context)
            case ("GET", "message", 2): return try await getMessage(segments[1], query: query, context: context)
            case ("PUT", "message", 2): return try await updateMessage(segments[1], body: request.body, query: query, context: context)
            case ("DELETE", "message", 2): return try await deleteMessage(segments[1], query: query, context: context)
            case ("POST", "messages", 1): return try await createMessages(request.body, dialogueId: nil, query: query, context: context)
            case ("GET", "messages", 1): return try await listMessages(query, context: context)
            case ("POST", "memory", 1): return try await createMemory(request.body, context: context)
            case ("GET", "memory", 1): return try await listMemories(query, context: context)
            case ("GET", "memory", 2): return try await getMemory(segments[1], query: query, context: context)
            case ("PUT", "memory", 2): return try await updateMemory(segments[1], body: request.body, query: query, context: context)
            case ("DELETE", "memory", 2): return try await deleteMemory(segments[1], query: query, context: context)
            case ("POST", "search", 1): return try await search(request.body, context: context)
            case ("POST", "summary", 1): return try await summarize(request.body, context: context)
            case ("GET", "summary", 2): return try await getSummary(segments[1], query: query, context: context)
            default:
                throw DialogueDBError.routeNotFound(request.method, request.path)
            }
        } catch let error as DialogueDBError {
            var answered = error
            answered.requestId = context.requestId
            throw answered
        } catch {
            // The cause stays in the log (it may name tables or values); the client gets the request id to quote.
            logger.error("request failed", metadata: ["db.request": .string(context.requestId), "db.path": .string(request.path), "db.error": "\(error)"])
            throw DialogueDBError(statusCode: 500, code: "INTERNAL_ERROR", type: "server_error", message: "Internal server error", requestId: context.requestId)
        }
    }

    /// The query of a request, read with the API's rules.
    struct Query {
        let values: [String: String]

        subscript(_ name: String) -> String? { values[name].flatMap { $0.isEmpty ? nil : $0 } }

        /// The namespace (`nil` = default) of a scope in `projectId`.
        func scope(_ context: RequestContext, namespace body: String? = nil) throws(DialogueDBError) -> Scope {
            Scope(projectId: context.projectId, namespace: try InputValidation.namespace((body ?? self["namespace"]).map(SocketValue.string)))
        }

        /// Refuses query parameters a list does not know (as the hosted service does).
        func only(_ allowed: Set<String>) throws(DialogueDBError) {
            if let unknown = values.keys.sorted().first(where: { !allowed.contains($0) }) {
                throw .invalidParameter(unknown, "is not a known query parameter")
            }
        }

        func list(maxPageSize: Int, defaultOrder: ListQuery.Order) throws(DialogueDBError) -> ListQuery {
            var limit = maxPageSize
            if let text = self["limit"] {
                guard let number = Int(text), number > 0 else { throw .invalidParameter("limit", "must be a positive integer", value: .string(text)) }
                limit = min(number, maxPageSize)
            }
            var order = defaultOrder
            if let text = self["order"] {
                guard let parsed = ListQuery.Order(rawValue: text) else { throw .invalidParameter("order", "must be asc or desc", value: .string(text)) }
                order = parsed
            }
            var cursor: PageCursor?
            if let token = self["next"] {
                guard let parsed = PageCursor(token: token) else { throw .invalidParameter("next", "is not a cursor this server made", value: .string(token)) }
                cursor = parsed
            }
            let startDate = try self["startDate"].map { text throws(DialogueDBError) in try InputValidation.created(.string(text), "startDate")! }
            var endDate = try self["endDate"].map { text throws(DialogueDBError) in try InputValidation.created(.string(text), "endDate")! }
            // A date alone ends at the end of that day.
            if let text = self["endDate"], text.count == 10, let day = endDate { endDate = String(day.prefix(10)) + "T23:59:59.999Z" }
            if let prefix = self["created"], prefix.wholeMatch(of: /\d{4}(-\d{2}(-\d{2}(T[0-9:.]*)?)?)?/) == nil {
                throw .invalidParameter("created", "must be a date prefix such as 2025 or 2025-01", value: .string(prefix))
            }
            return ListQuery(limit: limit, order: order, after: cursor, createdPrefix: self["created"], startDate: startDate, endDate: endDate,
                             threadOf: self["threadOf"])
        }
    }

    func id() -> String { ids.next() }

    static func page<Item>(_ page: Page<Item>, _ json: (Item) -> SocketValue) -> SocketValue {
        var fields: JSONObject = ["items": .array(page.items.map(json))]
        if let next = page.next { fields["next"] = .string(next) }
        return .object(fields)
    }
}
