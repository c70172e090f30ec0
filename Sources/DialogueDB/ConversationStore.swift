import AsyncHTTPClient
import DialogueDBCore
import OrderedCollections
import DialogueDBSQLite
import Foundation
import Logging
import SocketIO

/// The entry point of the DialogueDB SDK (the hosted SDK's `DialogueDB` class): create, find, list and
/// delete dialogues and memories, embedded on a file or against a server, with the same API.
///
/// ```swift
/// let db = try await ConversationStore.embedded(path: "conversations.sqlite")      // or:
/// let db = ConversationStore.remote(endpoint: "http://127.0.0.1:8787", apiKey: key)
/// let dialogue = try await db.createDialogue(DialogueInput(label: "Support", messages: [
///     MessageInput(role: "system", content: "You are a helpful assistant."),
/// ], state: ["topic": "onboarding"]))
/// try await dialogue.saveMessage(MessageInput(role: "user", content: "Hello!"))
/// ```
public final class ConversationStore: Sendable {
    public let transport: any DialogueDBTransport

    public init(transport: any DialogueDBTransport) {
        self.transport = transport
    }

    /// A store in an SQLite file of this process (created with its schema if missing). Call ``close()`` when done.
    public static func embedded(path: String, logger: Logger = Logger(label: "dialoguedb")) async throws -> ConversationStore {
        let storage = try await SQLiteConversationStorage(path: path, logger: logger)
        try await storage.migrate()
        return ConversationStore(transport: EmbeddedTransport(api: DialogueDBAPI(storage: storage)))
    }

    /// Closes an embedded store's database (call it before the store goes away); nothing for a remote one.
    public func close() async {
        await transport.close()
    }

    /// A DialogueDB server: this package's `dialoguedb serve`, or the hosted service.
    public static func remote(endpoint: String, apiKey: String, client: HTTPClient = .shared) -> ConversationStore {
        ConversationStore(transport: RemoteTransport(endpoint: endpoint, apiKey: apiKey, client: client))
    }

    // MARK: Dialogues

    /// Creates a dialogue, optionally with up to 25 initial messages, state, immutable metadata and tags.
    public func createDialogue(_ input: DialogueInput = DialogueInput()) async throws(DialogueDBError) -> Conversation {
        try await conversation(from: transport.send(APIRequest("POST", "/dialogue", body: input.json)))
    }

    /// The dialogue, or `nil` when there is none with this id in this namespace.
    public func getDialogue(_ id: String, namespace: String? = nil) async throws(DialogueDBError) -> Conversation? {
        do {
            return try await conversation(from: transport.send(APIRequest("GET", "/dialogue/\(Self.path(id))", query: Self.namespaceQuery(namespace))))
        } catch where error.statusCode == 404 && error.type == "not_found" {
            return nil
        }
    }

    /// The dialogue with this id, created (with this id) when there is none.
    public func getOrCreateDialogue(id: String? = nil, namespace: String? = nil, threadOf: String? = nil) async throws(DialogueDBError) -> Conversation {
        if let id, let existing = try await getDialogue(id, namespace: namespace) { return existing }
        return try await createDialogue(DialogueInput(id: id, namespace: namespace, threadOf: threadOf))
    }

    /// One page of dialogues, newest first unless `order` says otherwise.
    public func listDialogues(_ options: ListOptions = ListOptions()) async throws(DialogueDBError) -> Page<DialogueRecord> {
        Self.page(try await transport.send(APIRequest("GET", "/dialogue", query: options.query)), DialogueRecord.init(json:))
    }

    /// Deletes the dialogue (its messages stay readable, as the hosted service documents).
    public func deleteDialogue(_ id: String, namespace: String? = nil) async throws(DialogueDBError) {
        _ = try await transport.send(APIRequest("DELETE", "/dialogue/\(Self.path(id))", query: Self.namespaceQuery(namespace)))
    }

    // MARK: Memories

    public func createMemory(_ input: MemoryInput) async throws(DialogueDBError) -> MemoryRecord {
        try Self.record(try await transport.send(APIRequest("POST", "/memory", body: input.json)), MemoryRecord.init(json:))
    }

    /// The memory, or `nil` when there is none.
    public func getMemory(_ id: String, namespace: String? = nil) async throws(DialogueDBError) -> MemoryRecord? {
        do {
            return try Self.record(try await transport.send(APIRequest("GET", "/memory/\(Self.path(id))", query: Self.namespaceQuery(namespace))), MemoryRecord.init(json:))
        } catch where error.statusCode == 404 {
            return nil
        }
    }

    public func listMemories(_ options: ListOptions = ListOptions()) async throws(DialogueDBError) -> Page<MemoryRecord> {
        Self.page(try await transport.send(APIRequest("GET", "/memory", query: options.query)), MemoryRecord.init(json:))
    }

    /// Replaces a memory's tags (its only mutable field).
    public func saveMemoryTags(_ id: String, _ tags: [String], namespace: String? = nil) async throws(DialogueDBError) -> MemoryRecord {
        try Self.record(
            try await transport.send(APIRequest("PUT", "/memory/\(Self.path(id))", query: Self.namespaceQuery(namespace), body: ["tags": .array(tags.map(SocketValue.string))])),
            MemoryRecord.init(json:)
        )
    }

    public func deleteMemory(_ id: String, namespace: String? = nil) async throws(DialogueDBError) {
        _ = try await transport.send(APIRequest("DELETE", "/memory/\(Self.path(id))", query: Self.namespaceQuery(namespace)))
    }

    /// A summary, to poll until it is `completed` or `failed`.
    public func getSummary(_ id: String, dialogueId: String, namespace: String? = nil) async throws(DialogueDBError) -> SummaryRecord {
        var query = Self.namespaceQuery(namespace)
        query["dialogueId"] = dialogueId
        return try Self.record(try await transport.send(APIRequest("GET", "/summary/\(Self.path(id))", query: query)), SummaryRecord.init(json:))
    }

    // MARK: Search

    /// Dialogues whose label, tags, state or messages match, most relevant first, with the matching messages.
    public func searchDialogues(_ query: String, _ options: SearchOptions = SearchOptions()) async throws(DialogueDBError) -> [SearchResult<DialogueRecord>] {
        try await search(query, "dialogue", options, DialogueRecord.init(json:))
    }

    public func searchMessages(_ query: String, _ options: SearchOptions = SearchOptions()) async throws(DialogueDBError) -> [SearchResult<MessageRecord>] {
        try await search(query, "message", options, MessageRecord.init(json:))
    }

    public func searchMemories(_ query: String, _ options: SearchOptions = SearchOptions()) async throws(DialogueDBError) -> [SearchResult<MemoryRecord>] {
        try await search(query, "memory", options, MemoryRecord.init(json:))
    }

    private func search<Item>(_ query: String, _ object: String, _ options: SearchOptions, _ make: @escaping (SocketValue) -> Item?) async throws(DialogueDBError) -> [SearchResult<Item>] {
        let answer = try await transport.send(APIRequest("POST", "/search", body: options.json(query: query, object: object)))
        return (answer["results"]?.arrayValue ?? []).compactMap { result in
            guard let itemJSON = result["item"], let item = make(itemJSON) else { return nil }
            let matches = (result["matches"]?.arrayValue ?? []).compactMap { match -> SearchResult<MessageRecord>? in
                guard let message = match["item"].flatMap(MessageRecord.init(json:)) else { return nil }
                return SearchResult(item: message, relevance: match["relevance"]?.doubleValue ?? 0, matches: [])
            }
            return SearchResult(item: item, relevance: result["relevance"]?.doubleValue ?? 0, matches: matches)
        }
    }

    // MARK: Helpers

    func conversation(from json: SocketValue) throws(DialogueDBError) -> Conversation {
        let record = try Self.record(json, DialogueRecord.init(json:))
        let messages = (json["messages"]?.arrayValue ?? []).compactMap(MessageRecord.init(json:))
        return Conversation(record: record, messages: messages, store: self)
    }

    static func record<Record>(_ json: SocketValue, _ make: (SocketValue) -> Record?) throws(DialogueDBError) -> Record {
        guard let record = make(json) else {
            throw DialogueDBError(statusCode: 502, code: "INVALID_RESPONSE", type: "server_error", message: "The server's answer is not the expected resource")
        }
        return record
    }

    static func page<Record>(_ json: SocketValue, _ make: (SocketValue) -> Record?) -> Page<Record> {
        Page(items: (json["items"]?.arrayValue ?? []).compactMap(make), next: json["next"]?.stringValue)
    }

    static func namespaceQuery(_ namespace: String?) -> [String: String] {
        guard let namespace, !namespace.isEmpty else { return [:] }
        return ["namespace": namespace]
    }

    /// An id as a path segment.
    static func path(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/", "?", "#"])) ?? id
    }
}

