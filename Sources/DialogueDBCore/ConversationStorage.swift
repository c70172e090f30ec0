import SocketIO

/// Where a resource lives: its project (the API key's) and namespace. Both are part of its identity: a
/// lookup with another namespace, or none, does not find it.
public struct Scope: Sendable, Hashable {
    public var projectId: String
    /// `nil` is the default namespace.
    public var namespace: String?

    public init(projectId: String, namespace: String?) {
        self.projectId = projectId
        self.namespace = namespace
    }
}

/// Which page of a list: order by creation (then id), bounds, and where the previous page ended.
public struct ListQuery: Sendable, Equatable {
    public enum Order: String, Sendable { case asc, desc }

    public var limit: Int
    public var order: Order
    /// Items after this one in `order`.
    public var after: PageCursor?
    /// A prefix of `created` (`2025-01`).
    public var createdPrefix: String?
    /// `created >= startDate`.
    public var startDate: String?
    /// `created <= endDate` (a date alone includes that whole day).
    public var endDate: String?
    /// Dialogues only: threads of this parent.
    public var threadOf: String?
    /// Only items after this one in creation order, whatever the direction (a compacted message list).
    public var floor: PageCursor?

    public init(limit: Int, order: Order, after: PageCursor? = nil, createdPrefix: String? = nil, startDate: String? = nil, endDate: String? = nil, threadOf: String? = nil) {
        self.limit = limit
        self.order = order
        self.after = after
        self.createdPrefix = createdPrefix
        self.startDate = startDate
        self.endDate = endDate
        self.threadOf = threadOf
    }
}

/// The changes an update makes to a dialogue; `nil` leaves a field as it is.
public struct DialogueChange: Sendable, Equatable {
    public var state: JSONObject?
    public var tags: [String]?
    public var label: String?

    public init(state: JSONObject? = nil, tags: [String]? = nil, label: String? = nil) {
        self.state = state
        self.tags = tags
        self.label = label
    }
}

/// Where DialogueDB keeps dialogues, messages and memories: SQLite embedded, PostgreSQL as a service.
/// Implementations keep the counters exact under concurrent writers (each write is one transaction) and
/// throw ``DialogueDBError`` for the API's conflicts (`DUPLICATE_ID`, `DIALOGUE_ENDED`, …); any other
/// error is a server error.
public protocol ConversationStorage: Sendable {
    /// Applies the schema's migrations; called once before use.
    func migrate() async throws

    /// Stores a new dialogue with its initial messages; a thread bumps its parent's `threadCount`.
    /// - Throws: `DUPLICATE_ID`; `DIALOGUE_NOT_FOUND` when `threadOf` names no dialogue of the scope.
    func insertDialogue(_ dialogue: DialogueRecord, messages: [MessageRecord], scope: Scope) async throws
    func dialogue(id: String, scope: Scope) async throws -> DialogueRecord?
    func listDialogues(_ query: ListQuery, scope: Scope) async throws -> Page<DialogueRecord>
    /// - Returns: the updated dialogue, `nil` when there is none.
    func updateDialogue(id: String, scope: Scope, change: DialogueChange, modified: String) async throws -> DialogueRecord?
    /// Marks it ended. - Returns: the dialogue, `nil` when there is none.
    func endDialogue(id: String, scope: Scope, at time: String) async throws -> DialogueRecord?
    /// Deletes the dialogue (its messages stay readable, as the hosted service documents).
    func deleteDialogue(id: String, scope: Scope) async throws -> Bool

    /// Appends messages to an active dialogue, moving `totalMessages`, `lastMessageCreated` and `modified`.
    /// - Throws: `DIALOGUE_NOT_FOUND`, `DIALOGUE_ENDED`, `DUPLICATE_ID`.
    func appendMessages(_ messages: [MessageRecord], dialogueId: String, scope: Scope, at time: String) async throws
    func message(id: String, dialogueId: String, scope: Scope) async throws -> MessageRecord?
    func listMessages(dialogueId: String, _ query: ListQuery, scope: Scope) async throws -> Page<MessageRecord>
    func updateMessageTags(id: String, dialogueId: String, scope: Scope, tags: [String], modified: String) async throws -> MessageRecord?
    /// Deletes a message and counts it out of its dialogue's `totalMessages`.
    func deleteMessage(id: String, dialogueId: String, scope: Scope) async throws -> Bool

    /// - Throws: `DUPLICATE_ID` (ids are unique per namespace; there is no upsert).
    func insertMemory(_ memory: MemoryRecord, scope: Scope) async throws
    func memory(id: String, scope: Scope) async throws -> MemoryRecord?
    func listMemories(_ query: ListQuery, scope: Scope) async throws -> Page<MemoryRecord>
    func updateMemoryTags(id: String, scope: Scope, tags: [String], modified: String) async throws -> MemoryRecord?
    func deleteMemory(id: String, scope: Scope) async throws -> Bool

    /// - Throws: `DUPLICATE_ID`.
    func insertSummary(_ summary: SummaryRecord, scope: Scope) async throws
    func updateSummary(_ summary: SummaryRecord, scope: Scope) async throws
    func summary(id: String, dialogueId: String, scope: Scope) async throws -> SummaryRecord?
    /// The newest completed `compact` summary of the dialogue (the one its message list shows).
    func compaction(dialogueId: String, scope: Scope) async throws -> SummaryRecord?

    /// Full-text search with the query's filters, ordered and cut to its limit.
    func search(_ query: SearchQuery, scope: Scope) async throws -> [SearchHit]

    func close() async
}

/// An API key as stored: the secret itself is never kept, only its SHA-256.
public struct APIKeyRecord: Sendable, Equatable {
    public var id: String
    public var projectId: String
    public var name: String
    public var created: String
    public var revokedAt: String?

    public init(id: String, projectId: String, name: String, created: String, revokedAt: String? = nil) {
        self.id = id
        self.projectId = projectId
        self.name = name
        self.created = created
        self.revokedAt = revokedAt
    }

    public var json: SocketValue {
        var fields: JSONObject = ["id": .string(id), "projectId": .string(projectId), "name": .string(name), "created": .string(created)]
        if let revokedAt { fields["revokedAt"] = .string(revokedAt) }
        return .object(fields)
    }
}

/// Where the REST server keeps its API keys (hashed), each scoped to a project.
public protocol APIKeyStorage: Sendable {
    func insertKey(_ key: APIKeyRecord, hash: String) async throws
    /// The live (not revoked) key with this hash.
    func key(hash: String) async throws -> APIKeyRecord?
    func keys() async throws -> [APIKeyRecord]
    /// - Returns: `false` when there is no such live key.
    func revokeKey(id: String, at time: String) async throws -> Bool
}
