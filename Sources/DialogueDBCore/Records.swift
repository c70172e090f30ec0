import OrderedCollections
import SocketIO

/// A JSON object, keys in order.
public typealias JSONObject = OrderedDictionary<SocketKey, SocketValue>

/// A dialogue's lifecycle: `active` accepts messages, `ended` does not; `archived` exists in the API's type.
public enum DialogueStatus: String, Sendable, CaseIterable {
    case active, ended, archived
}

/// A dialogue as stored and sent: the hosted API's `IDialogue`.
public struct DialogueRecord: Sendable, Equatable {
    public var id: String
    public var projectId: String
    public var requestId: String
    public var namespace: String?
    public var threadOf: String?
    public var label: String?
    public var status: DialogueStatus
    public var state: JSONObject
    /// Flat (string, number, boolean, or list of strings); immutable after creation.
    public var metadata: JSONObject
    public var tags: [String]
    public var totalMessages: Int
    public var threadCount: Int
    public var lastMessageCreated: String?
    public var created: String
    public var modified: String
    public var endedAt: String?
    public var archivedAt: String?

    public init(
        id: String, projectId: String, requestId: String, namespace: String? = nil, threadOf: String? = nil, label: String? = nil,
        status: DialogueStatus = .active, state: JSONObject = [:], metadata: JSONObject = [:], tags: [String] = [], totalMessages: Int = 0,
        threadCount: Int = 0, lastMessageCreated: String? = nil, created: String, modified: String, endedAt: String? = nil, archivedAt: String? = nil
    ) {
        self.id = id
        self.projectId = projectId
        self.requestId = requestId
        self.namespace = namespace
        self.threadOf = threadOf
        self.label = label
        self.status = status
        self.state = state
        self.metadata = metadata
        self.tags = tags
        self.totalMessages = totalMessages
        self.threadCount = threadCount
        self.lastMessageCreated = lastMessageCreated
        self.created = created
        self.modified = modified
        self.endedAt = endedAt
        self.archivedAt = archivedAt
    }

    /// The wire shape; `messages` when given (a get's first page, a create's initial messages).
    public func json(messages: [MessageRecord]? = nil) -> SocketValue {
        var fields: JSONObject = ["id": .string(id), "projectId": .string(projectId), "requestId": .string(requestId), "status": .string(status.rawValue)]
        if let namespace { fields["namespace"] = .string(namespace) }
        if let threadOf { fields["threadOf"] = .string(threadOf) }
        if let label { fields["label"] = .string(label) }
        if let endedAt { fields["endedAt"] = .string(endedAt) }
        if let archivedAt { fields["archivedAt"] = .string(archivedAt) }
        fields["totalMessages"] = .int(Int64(totalMessages))
        fields["threadCount"] = .int(Int64(threadCount))
        if let lastMessageCreated { fields["lastMessageCreated"] = .string(lastMessageCreated) }
        fields["state"] = .object(state)
        fields["metadata"] = .object(metadata)
        fields["tags"] = .array(tags.map(SocketValue.string))
        if let messages { fields["messages"] = .array(messages.map(\.json)) }
        fields["created"] = .string(created)
        fields["modified"] = .string(modified)
        return .object(fields)
    }

    /// Reads the wire shape (the SDK's view of a server's answer).
    public init?(json: SocketValue) {
        guard let id = json["id"]?.stringValue, let created = json["created"]?.stringValue else { return nil }
        self.init(
            id: id, projectId: json["projectId"]?.stringValue ?? "", requestId: json["requestId"]?.stringValue ?? "",
            namespace: json["namespace"]?.stringValue, threadOf: json["threadOf"]?.stringValue, label: json["label"]?.stringValue,
            status: json["status"]?.stringValue.flatMap(DialogueStatus.init(rawValue:)) ?? .active, state: json["state"]?.objectValue ?? [:],
            metadata: json["metadata"]?.objectValue ?? [:], tags: json["tags"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            totalMessages: json["totalMessages"]?.intValue ?? 0, threadCount: json["threadCount"]?.intValue ?? 0,
            lastMessageCreated: json["lastMessageCreated"]?.stringValue, created: created, modified: json["modified"]?.stringValue ?? created,
            endedAt: json["endedAt"]?.stringValue, archivedAt: json["archivedAt"]?.stringValue
        )
    }
}

/// A message as stored and sent: the hosted API's `IMessage`.
public struct MessageRecord: Sendable, Equatable {
    public var id: String
    public var dialogueId: String
    public var namespace: String?
    public var role: String
    /// A string, an object, or an array of objects (text and image parts, tool blocks, …).
    public var content: SocketValue
    public var name: String?
    /// Flat; immutable after creation.
    public var metadata: JSONObject
    /// The only mutable field.
    public var tags: [String]
    /// The content's size in bytes (its JSON text for structured content).
    public var contentLength: Int
    public var created: String
    public var modified: String

    public init(
        id: String, dialogueId: String, namespace: String?, role: String, content: SocketValue, name: String? = nil, metadata: JSONObject = [:],
        tags: [String] = [], created: String, modified: String
    ) {
        self.id = id
        self.dialogueId = dialogueId
        self.namespace = namespace
        self.role = role
        self.content = content
        self.name = name
        self.metadata = metadata
        self.tags = tags
        self.contentLength = content.stringValue?.utf8.count ?? content.jsonText.utf8.count
        self.created = created
        self.modified = modified
    }

    /// Whether the content carries an image part (`image` or `image_url`).
    public var hasImage: Bool { InputValidation.hasImage(content) }

    public var json: SocketValue {
        var fields: JSONObject = ["id": .string(id), "dialogueId": .string(dialogueId)]
        if let namespace { fields["namespace"] = .string(namespace) }
        fields["role"] = .string(role)
        fields["content"] = content
        fields["contentLength"] = .int(Int64(contentLength))
        if let name { fields["name"] = .string(name) }
        fields["metadata"] = .object(metadata)
        fields["tags"] = .array(tags.map(SocketValue.string))
        fields["created"] = .string(created)
        fields["modified"] = .string(modified)
        return .object(fields)
    }

    public init?(json: SocketValue) {
        guard let id = json["id"]?.stringValue, let dialogueId = json["dialogueId"]?.stringValue, let role = json["role"]?.stringValue,
              let content = json["content"], let created = json["created"]?.stringValue
        else { return nil }
        self.init(
            id: id, dialogueId: dialogueId, namespace: json["namespace"]?.stringValue, role: role, content: content, name: json["name"]?.stringValue,
            metadata: json["metadata"]?.objectValue ?? [:], tags: json["tags"]?.arrayValue?.compactMap(\.stringValue) ?? [], created: created,
            modified: json["modified"]?.stringValue ?? created
        )
    }
}

/// A memory as stored and sent: the hosted API's `IMemory`.
public struct MemoryRecord: Sendable, Equatable {
    public var id: String
    public var namespace: String?
    public var label: String?
    public var description: String?
    /// Any JSON value.
    public var value: SocketValue
    public var tags: [String]
    public var metadata: JSONObject
    public var created: String
    public var modified: String

    public init(
        id: String, namespace: String? = nil, label: String? = nil, description: String? = nil, value: SocketValue, tags: [String] = [],
        metadata: JSONObject = [:], created: String, modified: String
    ) {
        self.id = id
        self.namespace = namespace
        self.label = label
        self.description = description
        self.value = value
        self.tags = tags
        self.metadata = metadata
        self.created = created
        self.modified = modified
    }

    public var json: SocketValue {
        var fields: JSONObject = ["id": .string(id)]
        if let namespace { fields["namespace"] = .string(namespace) }
        if let label { fields["label"] = .string(label) }
        if let description { fields["description"] = .string(description) }
        fields["value"] = value
        fields["tags"] = .array(tags.map(SocketValue.string))
        fields["metadata"] = .object(metadata)
        fields["created"] = .string(created)
        fields["modified"] = .string(modified)
        return .object(fields)
    }

    public init?(json: SocketValue) {
        guard let id = json["id"]?.stringValue, let value = json["value"], let created = json["created"]?.stringValue else { return nil }
        self.init(
            id: id, namespace: json["namespace"]?.stringValue, label: json["label"]?.stringValue, description: json["description"]?.stringValue,
            value: value, tags: json["tags"]?.arrayValue?.compactMap(\.stringValue) ?? [], metadata: json["metadata"]?.objectValue ?? [:],
            created: created, modified: json["modified"]?.stringValue ?? created
        )
    }
}

/// One page of a list: `{items, next?}`.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    /// The cursor of the next page; `nil` on the last one.
    public var next: String?

    public init(items: [Item], next: String?) {
        self.items = items
        self.next = next
    }
}
