import Foundation
import SocketIO

/// The endpoints: validation, then storage. Each returns the response's JSON.
extension DialogueDBAPI {
    // MARK: Dialogues

    func createDialogue(_ body: SocketValue?, query: Query, context: RequestContext) async throws -> SocketValue {
        let input = try InputValidation.object(body)
        let scope = try query.scope(context, namespace: try InputValidation.namespace(input["namespace"]))
        let now = Timestamp.now
        let created = try InputValidation.created(input["created"]) ?? now
        let dialogueId = try InputValidation.identifier(input["id"], "id") ?? id()
        if input["message"] != nil, input["message"] != .null, input["messages"] != nil, input["messages"] != .null {
            throw DialogueDBError.invalidParameter("messages", "give message or messages, not both")
        }
        var initial: [SocketValue] = []
        var field = "messages"
        if let single = input["message"], single != .null {
            initial = [single]
            field = "message"
        } else if let list = input["messages"], list != .null {
            guard let items = list.arrayValue else { throw DialogueDBError.invalidParameter("messages", "must be an array") }
            guard items.count <= InputValidation.maxInitialMessages else {
                throw DialogueDBError.invalidParameter("messages", "at most \(InputValidation.maxInitialMessages) initial messages are allowed")
            }
            initial = items
        }
        let messages = try initial.enumerated().map { index, item throws in
            try message(item, field: field == "message" ? "message" : "messages[\(index)]", dialogueId: dialogueId, scope: scope, now: now)
        }
        var dialogue = DialogueRecord(
            id: dialogueId, projectId: context.projectId, requestId: context.requestId, namespace: scope.namespace,
            threadOf: try InputValidation.identifier(input["threadOf"], "threadOf"), label: try InputValidation.string(input["label"], "label", maxLength: 256),
            state: try InputValidation.state(input["state"]) ?? [:], metadata: try InputValidation.metadata(input["metadata"]),
            tags: try InputValidation.tags(input["tags"]) ?? [], created: created, modified: now
        )
        if !messages.isEmpty {
            dialogue.totalMessages = messages.count
            dialogue.lastMessageCreated = messages.map(\.created).max()
        }
        try await storage.insertDialogue(dialogue, messages: messages, scope: scope)
        return dialogue.json(messages: messages)
    }

    func listDialogues(_ query: Query, context: RequestContext) async throws -> SocketValue {
        try query.only(["limit", "order", "next", "created", "startDate", "endDate", "namespace", "threadOf"])
        let page = try await storage.listDialogues(try query.list(maxPageSize: maxPageSize, defaultOrder: .desc), scope: try query.scope(context))
        return Self.page(page) { $0.json() }
    }

    func getDialogue(_ dialogueId: String, query: Query, context: RequestContext) async throws -> SocketValue {
        let scope = try query.scope(context)
        guard let dialogue = try await storage.dialogue(id: dialogueId, scope: scope) else { throw DialogueDBError.dialogueNotFound(dialogueId, namespace: scope.namespace) }
        let first = try await storage.listMessages(dialogueId: dialogueId, ListQuery(limit: initialMessages, order: .asc), scope: scope)
        return dialogue.json(messages: first.items)
    }

    func updateDialogue(_ pathId: String?, body: SocketValue?, query: Query, context: RequestContext) async throws -> SocketValue {
        let input = try InputValidation.object(body)
        guard let dialogueId = try pathId ?? InputValidation.identifier(input["id"], "id") else { throw DialogueDBError.missingParameter("id") }
        let scope = try query.scope(context, namespace: try InputValidation.namespace(input["namespace"]))
        let change = DialogueChange(
            state: try InputValidation.state(input["state"]), tags: try InputValidation.tags(input["tags"]),
            label: try InputValidation.string(input["label"], "label", minLength: 0, maxLength: 256)
        )
        guard let dialogue = try await storage.updateDialogue(id: dialogueId, scope: scope, change: change, modified: Timestamp.now) else {
            throw DialogueDBError.dialogueNotFound(dialogueId, namespace: scope.namespace)
        }
        return dialogue.json()
    }

    func deleteDialogue(_ pathId: String?, body: SocketValue?, query: Query, context: RequestContext) async throws -> SocketValue {
        let input = try InputValidation.object(body)
        guard let dialogueId = try pathId ?? InputValidation.identifier(input["id"], "id") else { throw DialogueDBError.missingParameter("id") }
        let scope = try query.scope(context)
        guard try await storage.deleteDialogue(id: dialogueId, scope: scope) else { throw DialogueDBError.dialogueNotFound(dialogueId, namespace: scope.namespace) }
        return ["id": .string(dialogueId), "deleted": true]
    }

    func endDialogue(_ dialogueId: String, query: Query, context: RequestContext) async throws -> SocketValue {
        let scope = try query.scope(context)
        guard let dialogue = try await storage.endDialogue(id: dialogueId, scope: scope, at: Timestamp.now) else {
            throw DialogueDBError.dialogueNotFound(dialogueId, namespace: scope.namespace)
        }
        return dialogue.json()
    }

    // MARK: Messages

    /// A message input (`role`, `content`, `id?`, `name?`, `created?`, `tags?`, `metadata?`) as a record.
    func message(_ value: SocketValue, field: String, dialogueId: String, scope: Scope, now: String) throws(DialogueDBError) -> MessageRecord {
        guard case .object(let input) = value else { throw .invalidParameter(field, "must be an object") }
        let prefix = field.isEmpty ? "" : "\(field)."
        return MessageRecord(
            id: try InputValidation.identifier(input["id"], "\(prefix)id", minLength: 5) ?? id(), dialogueId: dialogueId, namespace: scope.namespace,
            role: try InputValidation.required(input["role"], "\(prefix)role", maxLength: 64), content: try InputValidation.content(input["content"], "\(prefix)content"),
            name: try InputValidation.string(input["name"], "\(prefix)name", maxLength: 256), metadata: try InputValidation.metadata(input["metadata"], "\(prefix)metadata"),
            tags: try InputValidation.tags(input["tags"], "\(prefix)tags") ?? [], created: try InputValidation.created(input["created"], "\(prefix)created") ?? now,
            modified: now
        )
    }

    func createMessage(_ body: SocketValue?, query: Query, context: RequestContext) async throws -> SocketValue {
        let input = try InputValidation.object(body)
        let dialogueId = try InputValidation.identifier(input["dialogueId"], "dialogueId") ?? query["dialogueId"]
        guard let dialogueId else { throw DialogueDBError.missingParameter("dialogueId") }
        let scope = try query.scope(context, namespace: try InputValidation.namespace(input["namespace"]))
        let now = Timestamp.now
        let record = try message(.object(input), field: "", dialogueId: dialogueId, scope: scope, now: now)
        try await storage.appendMessages([record], dialogueId: dialogueId, scope: scope, at: now)
        return record.json
    }

    /// `POST /messages?dialogueId=` with an array (or one object), and the legacy `POST /dialogue/{id}/messages`.
    func createMessages(_ body: SocketValue?, dialogueId pathId: String?, query: Query, context: RequestContext) async throws -> SocketValue {
        guard let dialogueId = pathId ?? query["dialogueId"] ?? body?["dialogueId"]?.stringValue else { throw DialogueDBError.missingParameter("dialogueId") }
        let scope = try query.scope(context, namespace: body?["namespace"]?.stringValue)
        let now = Timestamp.now
        switch body {
        case .array(let items)?:
            guard !items.isEmpty else { throw DialogueDBError.missingParameter("messages") }
            let records = try items.enumerated().map { index, item throws in
                try message(item, field: "messages[\(index)]", dialogueId: dialogueId, scope: scope, now: now)
            }
            try await storage.appendMessages(records, dialogueId: dialogueId, scope: scope, at: now)
            return .array(records.map(\.json))
        case .object?:
            let record = try message(body!, field: "", dialogueId: dialogueId, scope: scope, now: now)
            try await storage.appendMessages([record], dialogueId: dialogueId, scope: scope, at: now)
            return record.json
        default:
            throw DialogueDBError.invalidParameter("body", "must be an array of messages")
        }
    }

    func getMessage(_ messageId: String, query: Query, context: RequestContext) async throws -> SocketValue {
        guard let dialogueId = query["dialogueId"] else { throw DialogueDBError.missingParameter("dialogueId") }
        guard let message = try await storage.message(id: messageId, dialogueId: dialogueId, scope: try query.scope(context)) else {
            throw DialogueDBError.notFound("message", messageId)
        }
        return message.json
    }

    func updateMessage(_ messageId: String, body: SocketValue?, query: Query, context: RequestContext) async throws -> SocketValue {
        let input = try InputValidation.object(body)
        guard let dialogueId = query["dialogueId"] ?? input["dialogueId"]?.stringValue else { throw DialogueDBError.missingParameter("dialogueId") }
        guard let tags = try InputValidation.tags(input["tags"]) else { throw DialogueDBError.missingParameter("tags") }
        guard let message = try await storage.updateMessageTags(id: messageId, dialogueId: dialogueId, scope: try query.scope(context), tags: tags, modified: Timestamp.now) else {
            throw DialogueDBError.notFound("message", messageId)
        }
        return message.json
    }

    func deleteMessage(_ messageId: String, query: Query, context: RequestContext) async throws -> SocketValue {
        guard let dialogueId = query["dialogueId"] else { throw DialogueDBError.missingParameter("dialogueId") }
        guard try await storage.deleteMessage(id: messageId, dialogueId: dialogueId, scope: try query.scope(context)) else {
            throw DialogueDBError.notFound("message", messageId)
        }
        return ["id": .string(messageId), "deleted": true]
    }

    func listMessages(_ query: Query, context: RequestContext) async throws -> SocketValue {
        try query.only(["dialogueId", "limit", "order", "next", "namespace", "created", "startDate", "endDate", "view"])
        guard let dialogueId = query["dialogueId"] else { throw DialogueDBError.missingParameter("dialogueId") }
        if let view = query["view"], view != "full", view != "compacted" { throw DialogueDBError.invalidParameter("view", "must be compacted or full") }
        let page = try await messagePage(dialogueId: dialogueId, try query.list(maxPageSize: maxPageSize, defaultOrder: .asc), view: query["view"], scope: try query.scope(context))
        return Self.page(page, \.json)
    }

    // MARK: Memories

    func createMemory(_ body: SocketValue?, context: RequestContext) async throws -> SocketValue {
        let input = try InputValidation.object(body)
        let scope = try Query(values: [:]).scope(context, namespace: try InputValidation.namespace(input["namespace"]))
        guard let value = input["value"], value != .null else { throw DialogueDBError.missingParameter("value") }
        let now = Timestamp.now
        let memory = MemoryRecord(
            id: try InputValidation.identifier(input["id"], "id") ?? id(), namespace: scope.namespace,
            label: try InputValidation.string(input["label"], "label", maxLength: 256),
            description: try InputValidation.string(input["description"], "description", maxLength: 4096), value: value,
            tags: try InputValidation.tags(input["tags"]) ?? [], metadata: try InputValidation.metadata(input["metadata"]),
            created: try InputValidation.created(input["created"]) ?? now, modified: now
        )
        try await storage.insertMemory(memory, scope: scope)
        return memory.json
    }

    func listMemories(_ query: Query, context: RequestContext) async throws -> SocketValue {
        try query.only(["limit", "order", "next", "created", "startDate", "endDate", "namespace"])
        let page = try await storage.listMemories(try query.list(maxPageSize: maxPageSize, defaultOrder: .desc), scope: try query.scope(context))
        return Self.page(page, \.json)
    }

    func getMemory(_ memoryId: String, query: Query, context: RequestContext) async throws -> SocketValue {
        guard let memory = try await storage.memory(id: memoryId, scope: try query.scope(context)) else { throw DialogueDBError.notFound("memory", memoryId) }
        return memory.json
    }

    func updateMemory(_ memoryId: String, body: SocketValue?, query: Query, context: RequestContext) async throws -> SocketValue {
        guard let tags = try InputValidation.tags(try InputValidation.object(body)["tags"]) else { throw DialogueDBError.missingParameter("tags") }
        guard let memory = try await storage.updateMemoryTags(id: memoryId, scope: try query.scope(context), tags: tags, modified: Timestamp.now) else {
            throw DialogueDBError.notFound("memory", memoryId)
        }
        return memory.json
    }

    func deleteMemory(_ memoryId: String, query: Query, context: RequestContext) async throws -> SocketValue {
        guard try await storage.deleteMemory(id: memoryId, scope: try query.scope(context)) else { throw DialogueDBError.notFound("memory", memoryId) }
        return ["id": .string(memoryId), "deleted": true]
    }

    // MARK: Search

    func search(_ body: SocketValue?, context: RequestContext) async throws -> SocketValue {
        let input = try InputValidation.object(body)
        let query = try SearchQuery(json: input)
        let scope = try Query(values: [:]).scope(context, namespace: try InputValidation.namespace(input["namespace"]))
        guard let embeddings, query.orderBy == .relevance else {
            return ["results": .array(try await storage.search(query, scope: scope).map(\.json)), "request": query.echo]
        }
        // Hybrid: more full-text candidates, re-ranked by meaning, then cut to the limit.
        var candidates = query
        candidates.limit = query.candidateLimit
        let reranked = try await HybridRanking.rerank(try await storage.search(candidates, scope: scope), query: query, provider: embeddings)
        var echo = query.echo.objectValue ?? [:]
        echo["ranking"] = "hybrid"
        return ["results": .array(query.ordered(reranked).map(\.json)), "request": .object(echo)]
    }
}
