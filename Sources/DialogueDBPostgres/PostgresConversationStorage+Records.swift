import DialogueDBCore
import PostgresNIO
import SocketIO

/// Dialogues, messages, memories and keys in PostgreSQL.
extension PostgresConversationStorage {
    static let dialogueColumns = """
        id, request_id, thread_of, label, status, state::text, metadata::text, tags::text, total_messages, thread_count, last_message_created, \
        created, modified, ended_at, archived_at
        """
    static let messageColumns = "dialogue_id, id, role, content::text, name, metadata::text, tags::text, created, modified"
    static let memoryColumns = "id, label, description, value::text, tags::text, metadata::text, created, modified"

    var dialogues: String { "\(schema).dialogues" }
    var messagesTable: String { "\(schema).messages" }
    var memories: String { "\(schema).memories" }

    // MARK: Dialogues

    public func insertDialogue(_ dialogue: DialogueRecord, messages: [MessageRecord], scope: Scope) async throws {
        let table = dialogues
        try await transaction(duplicate: ("dialogue", dialogue.id)) { [self] connection in
            if let parent = dialogue.threadOf {
                var bump = Statement()
                bump.sql = "UPDATE \(table) SET thread_count = thread_count + 1, modified = \(bump.bind(dialogue.modified)) WHERE \(bump.scope(scope)) AND id = \(bump.bind(parent)) RETURNING id"
                guard try await !rows(bump, on: connection).isEmpty else { throw DialogueDBError.dialogueNotFound(parent, namespace: scope.namespace) }
            }
            var statement = Statement()
            let values = [
                statement.bind(scope.projectId), statement.bind(scope.namespace ?? ""), statement.bind(dialogue.id), statement.bind(dialogue.requestId),
                statement.bindOptional(dialogue.threadOf), statement.bindOptional(dialogue.label), statement.bind(dialogue.status.rawValue),
                statement.json(.object(dialogue.state)), statement.json(.object(dialogue.metadata)), statement.json(.array(dialogue.tags.map(SocketValue.string))),
                statement.bind(dialogue.totalMessages), statement.bind(dialogue.threadCount), statement.bindOptional(dialogue.lastMessageCreated),
                statement.bind(dialogue.created), statement.bind(dialogue.modified), statement.bindOptional(dialogue.endedAt), statement.bindOptional(dialogue.archivedAt),
                "to_tsvector('english', \(statement.bind(SearchText.of(dialogue: dialogue))))",
            ]
            statement.sql = """
                INSERT INTO \(table) (project_id, namespace, id, request_id, thread_of, label, status, state, metadata, tags, total_messages, thread_count,
                last_message_created, created, modified, ended_at, archived_at, search) VALUES (\(values.joined(separator: ", ")))
                """
            _ = try await rows(statement, on: connection)
            try await insert(messages, scope: scope, on: connection)
        }
    }

    public func dialogue(id: String, scope: Scope) async throws -> DialogueRecord? {
        var select = Statement()
        select.sql = "SELECT \(Self.dialogueColumns) FROM \(dialogues) WHERE \(select.scope(scope)) AND id = \(select.bind(id))"
        return try await rows(select).first.map { try Self.dialogueRecord($0, scope: scope) }
    }

    public func listDialogues(_ query: ListQuery, scope: Scope) async throws -> Page<DialogueRecord> {
        var statement = Statement()
        var conditions = [statement.scope(scope)]
        if let parent = query.threadOf { conditions.append("thread_of = \(statement.bind(parent))") }
        return try await page(&statement, table: dialogues, columns: Self.dialogueColumns, conditions: conditions, query: query) { try Self.dialogueRecord($0, scope: scope) }
    }

    public func updateDialogue(id: String, scope: Scope, change: DialogueChange, modified: String) async throws -> DialogueRecord? {
        let table = dialogues
        return try await transaction { [self] connection in
            var update = Statement()
            var assignments = ["modified = \(update.bind(modified))"]
            if let state = change.state { assignments.append("state = \(update.json(.object(state)))") }
            if let tags = change.tags { assignments.append("tags = \(update.json(.array(tags.map(SocketValue.string))))") }
            if let label = change.label { assignments.append(label.isEmpty ? "label = NULL" : "label = \(update.bind(label))") }
            update.sql = "UPDATE \(table) SET \(assignments.joined(separator: ", ")) WHERE \(update.scope(scope)) AND id = \(update.bind(id)) RETURNING \(Self.dialogueColumns)"
            guard let row = try await rows(update, on: connection).first else { return nil }
            let dialogue = try Self.dialogueRecord(row, scope: scope)
            var reindex = Statement()
            reindex.sql = "UPDATE \(table) SET search = to_tsvector('english', \(reindex.bind(SearchText.of(dialogue: dialogue)))) WHERE \(reindex.scope(scope)) AND id = \(reindex.bind(id))"
            _ = try await rows(reindex, on: connection)
            return dialogue
        }
    }

    public func endDialogue(id: String, scope: Scope, at time: String) async throws -> DialogueRecord? {
        var update = Statement()
        update.sql = """
            UPDATE \(dialogues) SET status = 'ended', ended_at = COALESCE(ended_at, \(update.bind(time))), modified = \(update.bind(time))
            WHERE \(update.scope(scope)) AND id = \(update.bind(id)) RETURNING \(Self.dialogueColumns)
            """
        return try await rows(update).first.map { try Self.dialogueRecord($0, scope: scope) }
    }

    public func deleteDialogue(id: String, scope: Scope) async throws -> Bool {
        let table = dialogues
        return try await transaction { [self] connection in
            var delete = Statement()
            delete.sql = "DELETE FROM \(table) WHERE \(delete.scope(scope)) AND id = \(delete.bind(id)) RETURNING thread_of"
            guard let row = try await rows(delete, on: connection).first else { return false }
            if let parent = try row.decode(String?.self) {
                var bump = Statement()
                bump.sql = "UPDATE \(table) SET thread_count = GREATEST(thread_count - 1, 0) WHERE \(bump.scope(scope)) AND id = \(bump.bind(parent))"
                _ = try await rows(bump, on: connection)
            }
            return true
        }
    }

    // MARK: Messages

    public func appendMessages(_ messages: [MessageRecord], dialogueId: String, scope: Scope, at time: String) async throws {
        let table = dialogues
        try await transaction(duplicate: ("message", messages.first?.id ?? "")) { [self] connection in
            // Counted and checked in one statement: the row lock orders concurrent writers.
            var bump = Statement()
            bump.sql = """
                UPDATE \(table) SET total_messages = total_messages + \(bump.bind(messages.count)),
                last_message_created = GREATEST(COALESCE(last_message_created, ''), \(bump.bind(messages.map(\.created).max() ?? time))), modified = \(bump.bind(time))
                WHERE \(bump.scope(scope)) AND id = \(bump.bind(dialogueId)) AND status = 'active' RETURNING id
                """
            if try await rows(bump, on: connection).isEmpty {
                var check = Statement()
                check.sql = "SELECT status FROM \(table) WHERE \(check.scope(scope)) AND id = \(check.bind(dialogueId))"
                guard try await !rows(check, on: connection).isEmpty else { throw DialogueDBError.dialogueNotFound(dialogueId, namespace: scope.namespace) }
                throw DialogueDBError.dialogueEnded(dialogueId)
            }
            try await insert(messages, scope: scope, on: connection)
        }
    }

    private func insert(_ messages: [MessageRecord], scope: Scope, on connection: PostgresConnection) async throws {
        var seen = Set<String>()
        for message in messages where !seen.insert(message.id).inserted { throw DialogueDBError.duplicateID("message", message.id) }
        for start in stride(from: 0, to: messages.count, by: 200) {
            var insert = Statement()
            var rowsSQL: [String] = []
            for message in messages[start..<min(start + 200, messages.count)] {
                let values = [
                    insert.bind(scope.projectId), insert.bind(scope.namespace ?? ""), insert.bind(message.dialogueId), insert.bind(message.id), insert.bind(message.role),
                    insert.json(message.content), insert.bindOptional(message.name), insert.json(.object(message.metadata)),
                    insert.json(.array(message.tags.map(SocketValue.string))), insert.bind(message.contentLength), insert.bind(message.created),
                    insert.bind(message.modified), insert.bind(message.hasImage), "to_tsvector('english', \(insert.bind(SearchText.of(content: message.content))))",
                ]
                rowsSQL.append("(\(values.joined(separator: ", ")))")
            }
            insert.sql = """
                INSERT INTO \(messagesTable) (project_id, namespace, dialogue_id, id, role, content, name, metadata, tags, content_length, created, modified,
                has_image, search) VALUES \(rowsSQL.joined(separator: ", "))
                """
            _ = try await rows(insert, on: connection)
        }
    }

    public func message(id: String, dialogueId: String, scope: Scope) async throws -> MessageRecord? {
        var select = Statement()
        select.sql = "SELECT \(Self.messageColumns) FROM \(messagesTable) WHERE \(select.scope(scope)) AND dialogue_id = \(select.bind(dialogueId)) AND id = \(select.bind(id))"
        return try await rows(select).first.map { try Self.messageRecord($0, scope: scope) }
    }

    public func listMessages(dialogueId: String, _ query: ListQuery, scope: Scope) async throws -> Page<MessageRecord> {
        var statement = Statement()
        let conditions = [statement.scope(scope), "dialogue_id = \(statement.bind(dialogueId))"]
        return try await page(&statement, table: messagesTable, columns: Self.messageColumns, conditions: conditions, query: query) { try Self.messageRecord($0, scope: scope) }
    }

    public func updateMessageTags(id: String, dialogueId: String, scope: Scope, tags: [String], modified: String) async throws -> MessageRecord? {
        var update = Statement()
        update.sql = """
            UPDATE \(messagesTable) SET tags = \(update.json(.array(tags.map(SocketValue.string)))), modified = \(update.bind(modified))
            WHERE \(update.scope(scope)) AND dialogue_id = \(update.bind(dialogueId)) AND id = \(update.bind(id)) RETURNING \(Self.messageColumns)
            """
        return try await rows(update).first.map { try Self.messageRecord($0, scope: scope) }
    }

    public func deleteMessage(id: String, dialogueId: String, scope: Scope) async throws -> Bool {
        let (messages, table) = (messagesTable, dialogues)
        return try await transaction { [self] connection in
            var delete = Statement()
            delete.sql = "DELETE FROM \(messages) WHERE \(delete.scope(scope)) AND dialogue_id = \(delete.bind(dialogueId)) AND id = \(delete.bind(id)) RETURNING id"
            guard try await !rows(delete, on: connection).isEmpty else { return false }
            var count = Statement()
            count.sql = "UPDATE \(table) SET total_messages = GREATEST(total_messages - 1, 0) WHERE \(count.scope(scope)) AND id = \(count.bind(dialogueId))"
            _ = try await rows(count, on: connection)
            return true
        }
    }

    // MARK: Memories

    public func insertMemory(_ memory: MemoryRecord, scope: Scope) async throws {
        let table = memories
        try await transaction(duplicate: ("memory", memory.id)) { [self] connection in
            var insert = Statement()
            let values = [
                insert.bind(scope.projectId), insert.bind(scope.namespace ?? ""), insert.bind(memory.id), insert.bindOptional(memory.label),
                insert.bindOptional(memory.description), insert.json(memory.value), insert.json(.array(memory.tags.map(SocketValue.string))),
                insert.json(.object(memory.metadata)), insert.bind(memory.created), insert.bind(memory.modified),
                "to_tsvector('english', \(insert.bind(SearchText.of(memory: memory))))",
            ]
            insert.sql = "INSERT INTO \(table) (project_id, namespace, id, label, description, value, tags, metadata, created, modified, search) VALUES (\(values.joined(separator: ", ")))"
            _ = try await rows(insert, on: connection)
        }
    }

    public func memory(id: String, scope: Scope) async throws -> MemoryRecord? {
        var select = Statement()
        select.sql = "SELECT \(Self.memoryColumns) FROM \(memories) WHERE \(select.scope(scope)) AND id = \(select.bind(id))"
        return try await rows(select).first.map { try Self.memoryRecord($0, scope: scope) }
    }

    public func listMemories(_ query: ListQuery, scope: Scope) async throws -> Page<MemoryRecord> {
        var statement = Statement()
        let conditions = [statement.scope(scope)]
        return try await page(&statement, table: memories, columns: Self.memoryColumns, conditions: conditions, query: query) { try Self.memoryRecord($0, scope: scope) }
    }

    public func updateMemoryTags(id: String, scope: Scope, tags: [String], modified: String) async throws -> MemoryRecord? {
        let table = memories
        return try await transaction { [self] connection in
            var update = Statement()
            update.sql = """
                UPDATE \(table) SET tags = \(update.json(.array(tags.map(SocketValue.string)))), modified = \(update.bind(modified))
                WHERE \(update.scope(scope)) AND id = \(update.bind(id)) RETURNING \(Self.memoryColumns)
                """
            guard let row = try await rows(update, on: connection).first else { return nil }
            let memory = try Self.memoryRecord(row, scope: scope)
            var reindex = Statement()
            reindex.sql = "UPDATE \(table) SET search = to_tsvector('english', \(reindex.bind(SearchText.of(memory: memory)))) WHERE \(reindex.scope(scope)) AND id = \(reindex.bind(id))"
            _ = try await rows(reindex, on: connection)
            return memory
        }
    }

    public func deleteMemory(id: String, scope: Scope) async throws -> Bool {
        var delete = Statement()
        delete.sql = "DELETE FROM \(memories) WHERE \(delete.scope(scope)) AND id = \(delete.bind(id)) RETURNING id"
        return try await !rows(delete).isEmpty
    }

    // MARK: Summaries

    public func insertSummary(_ summary: SummaryRecord, scope: Scope) async throws {
        var insert = Statement()
        let values = [
            insert.bind(scope.projectId), insert.bind(scope.namespace ?? ""), insert.bind(summary.dialogueId), insert.bind(summary.id), insert.bind(summary.compact),
            insert.bind(summary.status.rawValue), insert.bindOptional(summary.toCreated), insert.bind(summary.json.jsonText), insert.bind(summary.created),
        ]
        insert.sql = "INSERT INTO \(schema).summaries (project_id, namespace, dialogue_id, id, compact, status, to_created, body, created) VALUES (\(values.joined(separator: ", ")))"
        let statement = insert
        try await transaction(duplicate: ("summary", summary.id)) { [self] connection in _ = try await rows(statement, on: connection) }
    }

    public func updateSummary(_ summary: SummaryRecord, scope: Scope) async throws {
        var update = Statement()
        update.sql = """
            UPDATE \(schema).summaries SET status = \(update.bind(summary.status.rawValue)), body = \(update.bind(summary.json.jsonText))
            WHERE \(update.scope(scope)) AND dialogue_id = \(update.bind(summary.dialogueId)) AND id = \(update.bind(summary.id))
            """
        _ = try await rows(update)
    }

    public func summary(id: String, dialogueId: String, scope: Scope) async throws -> SummaryRecord? {
        var select = Statement()
        select.sql = "SELECT body FROM \(schema).summaries WHERE \(select.scope(scope)) AND dialogue_id = \(select.bind(dialogueId)) AND id = \(select.bind(id))"
        return try await rows(select).first.flatMap { SummaryRecord(json: Self.json(try $0.decode(String.self))) }
    }

    public func compaction(dialogueId: String, scope: Scope) async throws -> SummaryRecord? {
        var select = Statement()
        select.sql = """
            SELECT body FROM \(schema).summaries WHERE \(select.scope(scope)) AND dialogue_id = \(select.bind(dialogueId)) AND compact AND status = 'completed'
            ORDER BY to_created DESC, created DESC LIMIT 1
            """
        return try await rows(select).first.flatMap { SummaryRecord(json: Self.json(try $0.decode(String.self))) }
    }

    // MARK: API keys

    public func insertKey(_ key: APIKeyRecord, hash: String) async throws {
        var insert = Statement()
        insert.sql = "INSERT INTO \(schema).api_keys (id, project_id, name, hash, created) VALUES (\(insert.bind(key.id)), \(insert.bind(key.projectId)), \(insert.bind(key.name)), \(insert.bind(hash)), \(insert.bind(key.created)))"
        _ = try await rows(insert)
    }

    public func key(hash: String) async throws -> APIKeyRecord? {
        var select = Statement()
        select.sql = "SELECT id, project_id, name, created, revoked_at FROM \(schema).api_keys WHERE hash = \(select.bind(hash)) AND revoked_at IS NULL"
        return try await rows(select).first.map(Self.keyRecord)
    }

    public func keys() async throws -> [APIKeyRecord] {
        var select = Statement()
        select.sql = "SELECT id, project_id, name, created, revoked_at FROM \(schema).api_keys ORDER BY created, id"
        return try await rows(select).map(Self.keyRecord)
    }

    public func revokeKey(id: String, at time: String) async throws -> Bool {
        var update = Statement()
        update.sql = "UPDATE \(schema).api_keys SET revoked_at = \(update.bind(time)) WHERE id = \(update.bind(id)) AND revoked_at IS NULL RETURNING id"
        return try await !rows(update).isEmpty
    }

    static func keyRecord(_ row: PostgresRow) throws -> APIKeyRecord {
        let (id, project, name, created, revoked) = try row.decode((String, String, String, String, String?).self)
        return APIKeyRecord(id: id, projectId: project, name: name, created: created, revokedAt: revoked)
    }

    // MARK: Rows

    static func json(_ text: String) -> SocketValue { (try? SocketValue(jsonText: text)) ?? .null }
    static func strings(_ text: String) -> [String] { json(text).arrayValue?.compactMap(\.stringValue) ?? [] }

    static func dialogueRecord(_ row: PostgresRow, scope: Scope) throws -> DialogueRecord {
        let columns = row.makeRandomAccess()
        func text(_ index: Int) throws -> String? { try columns[index].decode(String?.self) }
        return DialogueRecord(
            id: try text(0) ?? "", projectId: scope.projectId, requestId: try text(1) ?? "", namespace: scope.namespace, threadOf: try text(2), label: try text(3),
            status: DialogueStatus(rawValue: try text(4) ?? "") ?? .active, state: json(try text(5) ?? "{}").objectValue ?? [:],
            metadata: json(try text(6) ?? "{}").objectValue ?? [:], tags: strings(try text(7) ?? "[]"),
            totalMessages: Int(try columns[8].decode(Int64.self)), threadCount: Int(try columns[9].decode(Int64.self)), lastMessageCreated: try text(10),
            created: try text(11) ?? "", modified: try text(12) ?? "", endedAt: try text(13), archivedAt: try text(14)
        )
    }

    static func messageRecord(_ row: PostgresRow, scope: Scope) throws -> MessageRecord {
        let columns = row.makeRandomAccess()
        func text(_ index: Int) throws -> String { try columns[index].decode(String.self) }
        return MessageRecord(
            id: try text(1), dialogueId: try text(0), namespace: scope.namespace, role: try text(2), content: json(try text(3)),
            name: try columns[4].decode(String?.self), metadata: json(try text(5)).objectValue ?? [:], tags: strings(try text(6)), created: try text(7),
            modified: try text(8)
        )
    }

    static func memoryRecord(_ row: PostgresRow, scope: Scope) throws -> MemoryRecord {
        let columns = row.makeRandomAccess()
        func text(_ index: Int) throws -> String { try columns[index].decode(String.self) }
        return MemoryRecord(
            id: try text(0), namespace: scope.namespace, label: try columns[1].decode(String?.self), description: try columns[2].decode(String?.self),
            value: json(try text(3)), tags: strings(try text(4)), metadata: json(try text(5)).objectValue ?? [:], created: try text(6), modified: try text(7)
        )
    }

    /// One page ordered by (created, id) after the cursor, within the date bounds; one row more tells
    /// whether there is a next page.
    func page<Record: Sendable>(
        _ statement: inout Statement, table: String, columns: String, conditions: [String], query: ListQuery, _ record: (PostgresRow) throws -> Record
    ) async throws -> Page<Record> {
        var conditions = conditions
        if let prefix = query.createdPrefix { conditions.append("left(created, \(statement.bind(prefix.count))::int) = \(statement.bind(prefix))") }
        if let start = query.startDate { conditions.append("created >= \(statement.bind(start))") }
        if let end = query.endDate { conditions.append("created <= \(statement.bind(end))") }
        if let floor = query.floor { conditions.append("(created, id) > (\(statement.bind(floor.created)), \(statement.bind(floor.id)))") }
        let direction = query.order == .asc ? "ASC" : "DESC"
        if let after = query.after {
            conditions.append("(created, id) \(query.order == .asc ? ">" : "<") (\(statement.bind(after.created)), \(statement.bind(after.id)))")
        }
        statement.sql = "SELECT \(columns), created AS sort_created, id AS sort_id FROM \(table) WHERE \(conditions.joined(separator: " AND ")) ORDER BY created \(direction), id \(direction) LIMIT \(statement.bind(query.limit + 1))"
        let found = try await rows(statement)
        let items = try found.prefix(query.limit).map(record)
        var next: String?
        if found.count > query.limit, let last = found.prefix(query.limit).last {
            let columns = last.makeRandomAccess()
            next = PageCursor(created: try columns["sort_created"].decode(String.self), id: try columns["sort_id"].decode(String.self)).token
        }
        return Page(items: items, next: next)
    }
}
