import DialogueDBCore
import OrderedCollections
import SocketIO
import Synchronization

/// One dialogue (the hosted SDK's `Dialogue` class): its properties, its loaded messages with pagination
/// state, and changes to state, tags and label batched until ``save()``.
///
/// ```swift
/// dialogue.setState(["step": 2]).setState(["topic": "billing"])
/// dialogue.tags = ["vip"]
/// try await dialogue.save()                       // one request for state and tags
/// let page = try await dialogue.loadMessages(limit: 50)
/// while dialogue.hasMoreMessages { try await dialogue.loadMessages(limit: 50, next: true) }
/// ```
public final class Conversation: Sendable {
    private struct Local {
        var record: DialogueRecord
        var messages: [MessageRecord]
        var cursor: String?
        var stateChanged = false
        var tagsChanged = false
        var labelChanged = false
    }

    private let local: Mutex<Local>
    /// The store it came from.
    public let store: ConversationStore

    init(record: DialogueRecord, messages: [MessageRecord], store: ConversationStore) {
        self.local = Mutex(Local(record: record, messages: messages))
        self.store = store
    }

    // MARK: Properties

    /// The dialogue as last read or saved, with local changes to state, tags and label.
    public var record: DialogueRecord { local.withLock { $0.record } }
    public var id: String { record.id }
    public var namespace: String? { record.namespace }
    public var status: DialogueStatus { record.status }
    public var threadOf: String? { record.threadOf }
    public var totalMessages: Int { record.totalMessages }
    public var threadCount: Int { record.threadCount }
    public var metadata: JSONObject { record.metadata }
    /// The loaded messages, in the order loaded.
    public var messages: [MessageRecord] { local.withLock { $0.messages } }
    /// Whether state, tags or label have changes not saved yet.
    public var isDirty: Bool { local.withLock { $0.stateChanged || $0.tagsChanged || $0.labelChanged } }
    /// Whether ``loadMessages(limit:order:next:)`` has a next page (set by loading, as in the hosted SDK).
    public var hasMoreMessages: Bool { local.withLock { $0.cursor != nil } }

    /// Setting it marks the dialogue dirty; ``save()`` sends it.
    public var state: JSONObject {
        get { record.state }
        set { local.withLock { $0.record.state = newValue; $0.stateChanged = true } }
    }

    public var tags: [String] {
        get { record.tags }
        set { local.withLock { $0.record.tags = newValue; $0.tagsChanged = true } }
    }

    public var label: String? {
        get { record.label }
        set { local.withLock { $0.record.label = newValue; $0.labelChanged = true } }
    }

    // MARK: State, tags, label

    /// Shallow-merges `values` into the state; batched until ``save()``.
    @discardableResult
    public func setState(_ values: JSONObject) -> Conversation {
        local.withLock { local in
            local.record.state.merge(values) { _, new in new }
            local.stateChanged = true
        }
        return self
    }

    /// Merges and saves at once.
    @discardableResult
    public func saveState(_ values: JSONObject) async throws(DialogueDBError) -> Conversation {
        try await setState(values).save()
    }

    /// Replaces the tags and saves at once.
    @discardableResult
    public func saveTags(_ tags: [String]) async throws(DialogueDBError) -> Conversation {
        self.tags = tags
        return try await save()
    }

    /// Sends the changed fields among state, tags and label in one request, then takes the server's answer.
    @discardableResult
    public func save() async throws(DialogueDBError) -> Conversation {
        let (body, dirty) = local.withLock { local -> (JSONObject, Bool) in
            var body: JSONObject = [:]
            if local.stateChanged { body["state"] = .object(local.record.state) }
            if local.tagsChanged { body["tags"] = .array(local.record.tags.map(SocketValue.string)) }
            if local.labelChanged { body["label"] = .string(local.record.label ?? "") }
            return (body, local.stateChanged || local.tagsChanged || local.labelChanged)
        }
        guard dirty else { return self }
        let answer = try await send("PUT", "/dialogue/\(ConversationStore.path(id))", body: .object(body))
        let saved = try ConversationStore.record(answer, DialogueRecord.init(json:))
        local.withLock { local in
            local.record = saved
            local.stateChanged = false
            local.tagsChanged = false
            local.labelChanged = false
        }
        return self
    }

    // MARK: Messages

    /// Saves one message now.
    /// - Throws: `DIALOGUE_ENDED` (409) after ``end()``; validation errors naming the field.
    @discardableResult
    public func saveMessage(_ input: MessageInput) async throws(DialogueDBError) -> MessageRecord {
        var body = input.json.objectValue ?? [:]
        body["dialogueId"] = .string(id)
        if let namespace { body["namespace"] = .string(namespace) }
        let message = try ConversationStore.record(try await store.transport.send(APIRequest("POST", "/message", body: .object(body))), MessageRecord.init(json:))
        appended([message])
        return message
    }

    /// Saves several messages in one request.
    @discardableResult
    public func saveMessages(_ inputs: [MessageInput]) async throws(DialogueDBError) -> [MessageRecord] {
        let answer = try await send("POST", "/messages", query: ["dialogueId": id], body: .array(inputs.map(\.json)))
        let messages = (answer.arrayValue ?? []).compactMap(MessageRecord.init(json:))
        appended(messages)
        return messages
    }

    private func appended(_ messages: [MessageRecord]) {
        local.withLock { local in
            local.messages += messages
            local.record.totalMessages += messages.count
            if let newest = messages.map(\.created).max() { local.record.lastMessageCreated = max(local.record.lastMessageCreated ?? "", newest) }
        }
    }

    /// Loads a page of messages (chronological unless `order` says otherwise). It replaces ``messages``,
    /// or with `next: true` (and a next page) appends the following page; a message saved meanwhile moves
    /// to its place in the page rather than appearing twice. After ``compact(keepRecent:template:)`` the
    /// summary stands in for the messages it covers, unless `full` is set.
    @discardableResult
    public func loadMessages(limit: Int? = nil, order: ListQuery.Order? = nil, next: Bool = false, full: Bool = false) async throws(DialogueDBError) -> [MessageRecord] {
        var options = ListOptions(limit: limit, order: order)
        let continuing = next ? local.withLock { $0.cursor } : nil
        options.next = continuing
        var query = options.query
        query["dialogueId"] = id
        if full { query["view"] = "full" }
        let page = ConversationStore.page(try await send("GET", "/messages", query: query), MessageRecord.init(json:))
        local.withLock { local in
            if continuing != nil {
                // A message saved since the last page is in the cache already; it takes its place in this one.
                let loaded = Set(page.items.map(\.id))
                local.messages = local.messages.filter { !loaded.contains($0.id) } + page.items
            } else {
                local.messages = page.items
            }
            local.cursor = page.next
        }
        return page.items
    }

    public func getMessage(_ messageId: String) async throws(DialogueDBError) -> MessageRecord {
        try ConversationStore.record(try await send("GET", "/message/\(ConversationStore.path(messageId))", query: ["dialogueId": id]), MessageRecord.init(json:))
    }

    /// Replaces a message's tags (its only mutable field).
    @discardableResult
    public func saveMessageTags(_ messageId: String, _ tags: [String]) async throws(DialogueDBError) -> MessageRecord {
        let message = try ConversationStore.record(
            try await send("PUT", "/message/\(ConversationStore.path(messageId))", query: ["dialogueId": id], body: ["tags": .array(tags.map(SocketValue.string))]),
            MessageRecord.init(json:)
        )
        local.withLock { local in
            if let index = local.messages.firstIndex(where: { $0.id == messageId }) { local.messages[index] = message }
        }
        return message
    }

    public func deleteMessage(_ messageId: String) async throws(DialogueDBError) {
        _ = try await send("DELETE", "/message/\(ConversationStore.path(messageId))", query: ["dialogueId": id])
        local.withLock { local in
            local.messages.removeAll { $0.id == messageId }
            local.record.totalMessages = max(0, local.record.totalMessages - 1)
        }
    }

    // MARK: Threads and lifecycle

    /// A child dialogue in the same namespace.
    public func createThread(_ input: DialogueInput = DialogueInput()) async throws(DialogueDBError) -> Conversation {
        var thread = input
        thread.threadOf = id
        thread.namespace = namespace
        let child = try await store.createDialogue(thread)
        local.withLock { $0.record.threadCount += 1 }
        return child
    }

    /// The first page of this dialogue's threads.
    public func getThreads() async throws(DialogueDBError) -> [Conversation] {
        let page = try await store.listDialogues(ListOptions(order: .asc, namespace: namespace, threadOf: id))
        return page.items.map { Conversation(record: $0, messages: [], store: store) }
    }

    /// Starts a summary of the messages (all, or `startId`…`endId`); it is `processing` until the
    /// server's summarizer is done: poll it with ``ConversationStore/getSummary(_:dialogueId:namespace:)``.
    public func summarize(template: String? = nil, id summaryId: String? = nil, startId: String? = nil, endId: String? = nil) async throws(DialogueDBError) -> SummaryRecord {
        try await startSummary(["template": template.map(SocketValue.string), "id": summaryId.map(SocketValue.string),
                                "startId": startId.map(SocketValue.string), "endId": endId.map(SocketValue.string)])
    }

    /// Summarizes all but the newest `keepRecent` messages; once completed, ``loadMessages(limit:order:next:full:)``
    /// shows the summary in their place (the messages themselves are kept: `full: true` shows them).
    public func compact(keepRecent: Int = 10, template: String? = nil) async throws(DialogueDBError) -> SummaryRecord {
        try await startSummary(["compact": true, "keepRecent": .int(Int64(keepRecent)), "template": template.map(SocketValue.string)])
    }

    private func startSummary(_ fields: [String: SocketValue?]) async throws(DialogueDBError) -> SummaryRecord {
        var body: JSONObject = ["dialogueId": .string(id)]
        if let namespace { body["namespace"] = .string(namespace) }
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) { if let value { body[SocketKey(name)] = value } }
        return try ConversationStore.record(try await store.transport.send(APIRequest("POST", "/summary", body: .object(body))), SummaryRecord.init(json:))
    }

    /// Ends the dialogue: no messages can be added after.
    public func end() async throws(DialogueDBError) {
        let ended = try ConversationStore.record(try await send("POST", "/dialogue/\(ConversationStore.path(id))/end"), DialogueRecord.init(json:))
        local.withLock { $0.record = ended }
    }

    private func send(_ method: String, _ path: String, query: [String: String] = [:], body: SocketValue? = nil) async throws(DialogueDBError) -> SocketValue {
        var query = query
        if let namespace, !namespace.isEmpty { query["namespace"] = namespace }
        return try await store.transport.send(APIRequest(method, path, query: query, body: body))
    }
}
