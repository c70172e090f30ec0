import DialogueDBCore
import OrderedCollections
import SocketIO

/// A message to save: `CreateMessageInput` of the hosted SDK.
public struct MessageInput: Sendable, Equatable {
    /// `user`, `assistant`, `system`, `tool`, …
    public var role: String
    /// A string, an object, or an array of objects (text and image parts, tool calls).
    public var content: SocketValue
    public var id: String?
    public var name: String?
    /// ISO 8601; defaults to now.
    public var created: String?
    public var tags: [String]
    /// Flat, and immutable once saved.
    public var metadata: JSONObject

    public init(role: String, content: SocketValue, id: String? = nil, name: String? = nil, created: String? = nil, tags: [String] = [], metadata: JSONObject = [:]) {
        self.role = role
        self.content = content
        self.id = id
        self.name = name
        self.created = created
        self.tags = tags
        self.metadata = metadata
    }

    var json: SocketValue {
        var fields: JSONObject = ["role": .string(role), "content": content]
        if let id { fields["id"] = .string(id) }
        if let name { fields["name"] = .string(name) }
        if let created { fields["created"] = .string(created) }
        if !tags.isEmpty { fields["tags"] = .array(tags.map(SocketValue.string)) }
        if !metadata.isEmpty { fields["metadata"] = .object(metadata) }
        return .object(fields)
    }
}

/// A dialogue to create: `CreateDialogueInput` of the hosted SDK (all optional).
public struct DialogueInput: Sendable, Equatable {
    /// A client-chosen id; a ULID otherwise.
    public var id: String?
    public var namespace: String?
    /// The parent, which makes this dialogue a thread.
    public var threadOf: String?
    public var label: String?
    /// At most 25 initial messages.
    public var messages: [MessageInput]
    public var state: JSONObject
    /// Flat, and immutable once saved.
    public var metadata: JSONObject
    public var tags: [String]
    public var created: String?

    public init(
        id: String? = nil, namespace: String? = nil, threadOf: String? = nil, label: String? = nil, messages: [MessageInput] = [], state: JSONObject = [:],
        metadata: JSONObject = [:], tags: [String] = [], created: String? = nil
    ) {
        self.id = id
        self.namespace = namespace
        self.threadOf = threadOf
        self.label = label
        self.messages = messages
        self.state = state
        self.metadata = metadata
        self.tags = tags
        self.created = created
    }

    var json: SocketValue {
        var fields: JSONObject = [:]
        if let id { fields["id"] = .string(id) }
        if let namespace { fields["namespace"] = .string(namespace) }
        if let threadOf { fields["threadOf"] = .string(threadOf) }
        if let label { fields["label"] = .string(label) }
        if !messages.isEmpty { fields["messages"] = .array(messages.map(\.json)) }
        if !state.isEmpty { fields["state"] = .object(state) }
        if !metadata.isEmpty { fields["metadata"] = .object(metadata) }
        if !tags.isEmpty { fields["tags"] = .array(tags.map(SocketValue.string)) }
        if let created { fields["created"] = .string(created) }
        return .object(fields)
    }
}

/// A memory to create: `CreateMemoryInput`.
public struct MemoryInput: Sendable, Equatable {
    /// Unique in its namespace; creating an existing id is `DUPLICATE_ID` (no upsert).
    public var id: String?
    public var namespace: String?
    public var label: String?
    public var description: String?
    /// Any JSON value.
    public var value: SocketValue
    public var tags: [String]
    public var metadata: JSONObject

    public init(id: String? = nil, namespace: String? = nil, label: String? = nil, description: String? = nil, value: SocketValue, tags: [String] = [], metadata: JSONObject = [:]) {
        self.id = id
        self.namespace = namespace
        self.label = label
        self.description = description
        self.value = value
        self.tags = tags
        self.metadata = metadata
    }

    var json: SocketValue {
        var fields: JSONObject = ["value": value]
        if let id { fields["id"] = .string(id) }
        if let namespace { fields["namespace"] = .string(namespace) }
        if let label { fields["label"] = .string(label) }
        if let description { fields["description"] = .string(description) }
        if !tags.isEmpty { fields["tags"] = .array(tags.map(SocketValue.string)) }
        if !metadata.isEmpty { fields["metadata"] = .object(metadata) }
        return .object(fields)
    }
}

/// Which page of a list: `ListDialogueFilters` and friends.
public struct ListOptions: Sendable, Equatable {
    public var limit: Int?
    public var order: ListQuery.Order?
    /// The `next` cursor of the previous page.
    public var next: String?
    public var namespace: String?
    public var threadOf: String?
    /// A date prefix (`2025-01`); when set, `startDate`/`endDate` are not sent (as the hosted SDK does).
    public var created: String?
    public var startDate: String?
    public var endDate: String?

    public init(limit: Int? = nil, order: ListQuery.Order? = nil, next: String? = nil, namespace: String? = nil, threadOf: String? = nil,
                created: String? = nil, startDate: String? = nil, endDate: String? = nil) {
        self.limit = limit
        self.order = order
        self.next = next
        self.namespace = namespace
        self.threadOf = threadOf
        self.created = created
        self.startDate = startDate
        self.endDate = endDate
    }

    var query: [String: String] {
        var query: [String: String] = [:]
        if let limit { query["limit"] = String(limit) }
        if let order { query["order"] = order.rawValue }
        if let next { query["next"] = next }
        if let namespace, !namespace.isEmpty { query["namespace"] = namespace }
        if let threadOf { query["threadOf"] = threadOf }
        if let created {
            query["created"] = created
        } else {
            if let startDate { query["startDate"] = startDate }
            if let endDate { query["endDate"] = endDate }
        }
        return query
    }
}

/// Filters and order of a search (`SearchOptions`): see `Docs/DialogueDB.md` for the operators.
public struct SearchOptions: Sendable, Equatable {
    public var limit: Int?
    public var namespace: String?
    /// `["a", "b"]` (any of them), or `["$in": […], "$all": […], "$nin": […]]`.
    public var tags: SocketValue?
    /// `created`/`modified` (an ISO date, words such as "last 30 days", or `{gte, gt, lte, lt}`), `hasImage`.
    public var filter: JSONObject
    /// Per key: a value, a list (any of), or operators `$eq $ne $in $nin $gt $gte $lt $lte`.
    public var metadata: JSONObject
    /// `relevance` (the default), `created` or `modified`.
    public var orderBy: String?
    public var order: ListQuery.Order?

    public init(limit: Int? = nil, namespace: String? = nil, tags: SocketValue? = nil, filter: JSONObject = [:], metadata: JSONObject = [:],
                orderBy: String? = nil, order: ListQuery.Order? = nil) {
        self.limit = limit
        self.namespace = namespace
        self.tags = tags
        self.filter = filter
        self.metadata = metadata
        self.orderBy = orderBy
        self.order = order
    }

    func json(query: String, object: String) -> SocketValue {
        var fields: JSONObject = ["query": .string(query), "object": .string(object)]
        if let limit { fields["limit"] = .int(Int64(limit)) }
        if let namespace, !namespace.isEmpty { fields["namespace"] = .string(namespace) }
        if let tags { fields["tags"] = tags }
        if !filter.isEmpty { fields["filter"] = .object(filter) }
        if !metadata.isEmpty { fields["metadata"] = .object(metadata) }
        if let orderBy { fields["orderBy"] = .string(orderBy) }
        if let order { fields["order"] = .string(order.rawValue) }
        return .object(fields)
    }
}

/// One search result: the record, its relevance (0–1), and for a dialogue the messages that matched.
public struct SearchResult<Item: Sendable>: Sendable {
    public let item: Item
    public let relevance: Double
    public let matches: [SearchResult<MessageRecord>]
}
