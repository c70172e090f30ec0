import DialogueDBCore
import Logging
import SQLiteNIO
import SQLiteSupport
import SocketIO

/// DialogueDB in an SQLite file: embedded, nothing to install. Writes are transactions taken in turn on one
/// connection (so counters such as `totalMessages` stay exact under concurrent writers); reads use a second
/// connection and never wait for writes (WAL).
///
/// ```swift
/// let storage = try await SQLiteConversationStorage(path: "conversations.sqlite", logger: logger)
/// let api = DialogueDBAPI(storage: storage)
/// ```
public final class SQLiteConversationStorage: ConversationStorage, APIKeyStorage {
    let writer: SQLiteStoreConnection
    let reader: SQLiteStoreConnection
    let turns = TransactionTurns()
    let logger: Logger

    /// Opens (creating if needed) the database at `path` and applies its migrations; the folder must exist.
    public init(path: String, logger: Logger) async throws {
        self.logger = logger
        writer = try await SQLiteDatabase.open(path: path, logger: logger)
        do {
            reader = try await SQLiteDatabase.open(path: path, cacheMegabytes: 16, logger: logger)
        } catch {
            await writer.close()
            throw error
        }
    }

    public func migrate() async throws {
        try await SQLiteDatabase.migrate(Self.migrations, table: "dialoguedb_migrations", on: writer, logger: logger)
    }

    public func close() async {
        await reader.close()
        await writer.close()
    }

    static let migrations = [
        SQLiteMigration("2026-11-27-dialogues-messages-memories", [
            """
            CREATE TABLE db_dialogues (
                project_id TEXT NOT NULL, namespace TEXT NOT NULL, id TEXT NOT NULL, request_id TEXT NOT NULL, thread_of TEXT,
                label TEXT, status TEXT NOT NULL, state TEXT NOT NULL, metadata TEXT NOT NULL, tags TEXT NOT NULL,
                total_messages INTEGER NOT NULL, thread_count INTEGER NOT NULL, last_message_created TEXT,
                created TEXT NOT NULL, modified TEXT NOT NULL, ended_at TEXT, archived_at TEXT,
                PRIMARY KEY (project_id, namespace, id)
            )
            """,
            "CREATE INDEX db_dialogues_by_created ON db_dialogues (project_id, namespace, created, id)",
            "CREATE INDEX db_dialogues_by_parent ON db_dialogues (project_id, namespace, thread_of, created, id)",
            """
            CREATE TABLE db_messages (
                project_id TEXT NOT NULL, namespace TEXT NOT NULL, dialogue_id TEXT NOT NULL, id TEXT NOT NULL, role TEXT NOT NULL,
                content TEXT NOT NULL, name TEXT, metadata TEXT NOT NULL, tags TEXT NOT NULL, content_length INTEGER NOT NULL,
                created TEXT NOT NULL, modified TEXT NOT NULL, has_image INTEGER NOT NULL,
                PRIMARY KEY (project_id, namespace, dialogue_id, id)
            )
            """,
            "CREATE INDEX db_messages_by_created ON db_messages (project_id, namespace, dialogue_id, created, id)",
            """
            CREATE TABLE db_memories (
                project_id TEXT NOT NULL, namespace TEXT NOT NULL, id TEXT NOT NULL, label TEXT, description TEXT, value TEXT NOT NULL,
                tags TEXT NOT NULL, metadata TEXT NOT NULL, created TEXT NOT NULL, modified TEXT NOT NULL,
                PRIMARY KEY (project_id, namespace, id)
            )
            """,
            "CREATE INDEX db_memories_by_created ON db_memories (project_id, namespace, created, id)",
            """
            CREATE TABLE db_api_keys (
                id TEXT PRIMARY KEY, project_id TEXT NOT NULL, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created TEXT NOT NULL, revoked_at TEXT
            )
            """,
            """
            CREATE TABLE db_summaries (
                project_id TEXT NOT NULL, namespace TEXT NOT NULL, dialogue_id TEXT NOT NULL, id TEXT NOT NULL, compact INTEGER NOT NULL,
                status TEXT NOT NULL, to_created TEXT, body TEXT NOT NULL, created TEXT NOT NULL,
                PRIMARY KEY (project_id, namespace, dialogue_id, id)
            )
            """,
            // Full-text indexes: one row per record, the same rowid (porter stemming, unicode words); `scope` (project
            // and namespace) lets an unfiltered search rank inside the index and read only the rows it returns.
            "CREATE VIRTUAL TABLE db_dialogues_fts USING fts5(body, scope UNINDEXED, tokenize = 'porter unicode61')",
            "CREATE VIRTUAL TABLE db_messages_fts USING fts5(body, scope UNINDEXED, tokenize = 'porter unicode61')",
            "CREATE VIRTUAL TABLE db_memories_fts USING fts5(body, scope UNINDEXED, tokenize = 'porter unicode61')",
            // Each indexed word's document count, to leave out words most records have (see `matchExpression`).
            "CREATE VIRTUAL TABLE db_dialogues_vocab USING fts5vocab(db_dialogues_fts, row)",
            "CREATE VIRTUAL TABLE db_messages_vocab USING fts5vocab(db_messages_fts, row)",
            "CREATE VIRTUAL TABLE db_memories_vocab USING fts5vocab(db_memories_fts, row)",
        ]),
    ]

    // MARK: Dialogues

    static let dialogueColumns = """
        id, request_id, thread_of, label, status, state, metadata, tags, total_messages, thread_count, last_message_created, created, modified, ended_at, archived_at
        """

    public func insertDialogue(_ dialogue: DialogueRecord, messages: [MessageRecord], scope: Scope) async throws {
        try await turns.transaction(on: writer) { [self] in
            let key = Self.key(scope)
            if try await !writer.query("SELECT 1 FROM db_dialogues WHERE project_id = ? AND namespace = ? AND id = ?", key + [.text(dialogue.id)]).isEmpty {
                throw DialogueDBError.duplicateID("dialogue", dialogue.id)
            }
            if let parent = dialogue.threadOf {
                let rows = try await writer.query(
                    "UPDATE db_dialogues SET thread_count = thread_count + 1, modified = ? WHERE project_id = ? AND namespace = ? AND id = ? RETURNING id",
                    [.text(dialogue.modified)] + key + [.text(parent)]
                )
                guard !rows.isEmpty else { throw DialogueDBError.dialogueNotFound(parent, namespace: scope.namespace) }
            }
            let inserted = try await writer.query(
                "INSERT INTO db_dialogues (project_id, namespace, \(Self.dialogueColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING rowid",
                key + [
                    .text(dialogue.id), .text(dialogue.requestId), Self.optional(dialogue.threadOf), Self.optional(dialogue.label), .text(dialogue.status.rawValue),
                    .text(SocketValue.object(dialogue.state).jsonText), .text(SocketValue.object(dialogue.metadata).jsonText), Self.tags(dialogue.tags),
                    .integer(dialogue.totalMessages), .integer(dialogue.threadCount), Self.optional(dialogue.lastMessageCreated), .text(dialogue.created),
                    .text(dialogue.modified), Self.optional(dialogue.endedAt), Self.optional(dialogue.archivedAt),
                ]
            )
            try await index("db_dialogues_fts", rowid: inserted.first, text: SearchText.of(dialogue: dialogue), scope: scope)
            try await insert(messages, scope: scope)
        }
    }

    public func dialogue(id: String, scope: Scope) async throws -> DialogueRecord? {
        try await Self.dialogue(on: reader, id: id, scope: scope)
    }

    static func dialogue(on connection: SQLiteStoreConnection, id: String, scope: Scope) async throws -> DialogueRecord? {
        let rows = try await connection.query(
            "SELECT \(dialogueColumns) FROM db_dialogues WHERE project_id = ? AND namespace = ? AND id = ?", key(scope) + [.text(id)]
        )
        return rows.first.map { dialogueRecord($0, scope: scope) }
    }

    public func listDialogues(_ query: ListQuery, scope: Scope) async throws -> Page<DialogueRecord> {
        var conditions = ["project_id = ?", "namespace = ?"]
        var binds = Self.key(scope)
        if let parent = query.threadOf {
            conditions.append("thread_of = ?")
            binds.append(.text(parent))
        }
        return try await page(table: "db_dialogues", columns: Self.dialogueColumns, conditions: conditions, binds: binds, query: query) {
            Self.dialogueRecord($0, scope: scope)
        }
    }

    public func updateDialogue(id: String, scope: Scope, change: DialogueChange, modified: String) async throws -> DialogueRecord? {
        var assignments = ["modified = ?"]
        var binds: [SQLiteData] = [.text(modified)]
        if let state = change.state {
            assignments.append("state = ?")
            binds.append(.text(SocketValue.object(state).jsonText))
        }
        if let tags = change.tags {
            assignments.append("tags = ?")
            binds.append(Self.tags(tags))
        }
        if let label = change.label {
            assignments.append("label = ?")
            binds.append(label.isEmpty ? .null : .text(label))
        }
        let (sql, values) = ("UPDATE db_dialogues SET \(assignments.joined(separator: ", ")) WHERE project_id = ? AND namespace = ? AND id = ? RETURNING rowid", binds)
        return try await turns.transaction(on: writer) { [self] in
            let updated = try await writer.query(
                sql,
                values + Self.key(scope) + [.text(id)]
            )
            guard let dialogue = try await Self.dialogue(on: writer, id: id, scope: scope) else { return nil }
            try await reindex("db_dialogues_fts", rowid: updated.first, text: SearchText.of(dialogue: dialogue), scope: scope)
            return dialogue
        }
    }

    public func endDialogue(id: String, scope: Scope, at time: String) async throws -> DialogueRecord? {
        try await turns.transaction(on: writer) { [self] in
            _ = try await writer.query(
                "UPDATE db_dialogues SET status = 'ended', ended_at = COALESCE(ended_at, ?), modified = ? WHERE project_id = ? AND namespace = ? AND id = ?",
                [.text(time), .text(time)] + Self.key(scope) + [.text(id)]
            )
            return try await Self.dialogue(on: writer, id: id, scope: scope)
        }
    }

    public func deleteDialogue(id: String, scope: Scope) async throws -> Bool {
        try await turns.transaction(on: writer) { [self] in
            let rows = try await writer.query(
                "DELETE FROM db_dialogues WHERE project_id = ? AND namespace = ? AND id = ? RETURNING thread_of, rowid", Self.key(scope) + [.text(id)]
            )
            guard let row = rows.first else { return false }
            try await unindex("db_dialogues_fts", rowid: row)
            if let parent = row.column("thread_of")?.string {
                _ = try await writer.query(
                    "UPDATE db_dialogues SET thread_count = MAX(thread_count - 1, 0) WHERE project_id = ? AND namespace = ? AND id = ?", Self.key(scope) + [.text(parent)]
                )
            }
            return true
        }
    }

    // MARK: Messages

    static let messageColumns = "dialogue_id, id, role, content, name, metadata, tags, content_length, created, modified"

    public func appendMessages(_ messages: [MessageRecord], dialogueId: String, scope: Scope, at time: String) async throws {
        try await turns.transaction(on: writer) { [self] in
            let rows = try await writer.query(
                "SELECT status FROM db_dialogues WHERE project_id = ? AND namespace = ? AND id = ?", Self.key(scope) + [.text(dialogueId)]
            )
            guard let status = rows.first?.column("status")?.string else { throw DialogueDBError.dialogueNotFound(dialogueId, namespace: scope.namespace) }
            guard status == DialogueStatus.active.rawValue else { throw DialogueDBError.dialogueEnded(dialogueId) }
            try await insert(messages, scope: scope)
            _ = try await writer.query(
                """
                UPDATE db_dialogues SET total_messages = total_messages + ?, last_message_created = MAX(COALESCE(last_message_created, ''), ?), modified = ?
                WHERE project_id = ? AND namespace = ? AND id = ?
                """,
                [.integer(messages.count), .text(messages.map(\.created).max() ?? time), .text(time)] + Self.key(scope) + [.text(dialogueId)]
            )
        }
    }

    /// Inserts messages inside a transaction; an id used twice in a dialogue is `DUPLICATE_ID`.
    private func insert(_ messages: [MessageRecord], scope: Scope) async throws {
        var seen = Set<String>()
        for message in messages where !seen.insert(message.id).inserted { throw DialogueDBError.duplicateID("message", message.id) }
        for start in stride(from: 0, to: messages.count, by: 500) {
            let chunk = messages[start..<min(start + 500, messages.count)]
            var binds: [SQLiteData] = []
            for message in chunk {
                binds += Self.key(scope) + [
                    .text(message.dialogueId), .text(message.id), .text(message.role), .text(message.content.jsonText), Self.optional(message.name),
                    .text(SocketValue.object(message.metadata).jsonText), Self.tags(message.tags), .integer(message.contentLength), .text(message.created),
                    .text(message.modified), .integer(message.hasImage ? 1 : 0),
                ]
            }
            do {
                let inserted = try await writer.query(
                    "INSERT INTO db_messages (project_id, namespace, \(Self.messageColumns), has_image) VALUES "
                        + Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", count: chunk.count).joined(separator: ", ") + " RETURNING rowid, id",
                    binds
                )
                let texts = Dictionary(chunk.map { ($0.id, SearchText.of(content: $0.content)) }) { first, _ in first }
                // The chunk's index rows in one statement (one query per row was most of the batch's time).
                var indexBinds: [SQLiteData] = []
                for row in inserted {
                    guard let rowid = row.column("rowid")?.integer else { continue }
                    indexBinds += [.integer(rowid), .text(texts[Self.text(row, "id") ?? ""] ?? ""), Self.scopeKey(scope)]
                }
                if !indexBinds.isEmpty {
                    _ = try await writer.query(
                        "INSERT INTO db_messages_fts (rowid, body, scope) VALUES " + Array(repeating: "(?, ?, ?)", count: indexBinds.count / 3).joined(separator: ", "), indexBinds
                    )
                }
            } catch let error as SQLiteError where [.constraint, .constraintPrimaryKeyFailed, .constraintUniqueFailed].contains(error.reason) {
                let existing = try await writer.query(
                    "SELECT id FROM db_messages WHERE project_id = ? AND namespace = ? AND dialogue_id = ? AND id IN (\(Array(repeating: "?", count: chunk.count).joined(separator: ",")))",
                    Self.key(scope) + [.text(chunk.first!.dialogueId)] + chunk.map { .text($0.id) }
                )
                throw DialogueDBError.duplicateID("message", existing.first?.column("id")?.string ?? chunk.first!.id)
            }
        }
    }

    public func message(id: String, dialogueId: String, scope: Scope) async throws -> MessageRecord? {
        try await Self.message(on: reader, id: id, dialogueId: dialogueId, scope: scope)
    }

    static func message(on connection: SQLiteStoreConnection, id: String, dialogueId: String, scope: Scope) async throws -> MessageRecord? {
        let rows = try await connection.query(
            "SELECT \(messageColumns) FROM db_messages WHERE project_id = ? AND namespace = ? AND dialogue_id = ? AND id = ?",
            key(scope) + [.text(dialogueId), .text(id)]
        )
        return rows.first.map { messageRecord($0, scope: scope) }
    }

    public func listMessages(dialogueId: String, _ query: ListQuery, scope: Scope) async throws -> Page<MessageRecord> {
        try await page(
            table: "db_messages", columns: Self.messageColumns, conditions: ["project_id = ?", "namespace = ?", "dialogue_id = ?"],
            binds: Self.key(scope) + [.text(dialogueId)], query: query
        ) { Self.messageRecord($0, scope: scope) }
    }

    public func updateMessageTags(id: String, dialogueId: String, scope: Scope, tags: [String], modified: String) async throws -> MessageRecord? {
        try await turns.transaction(on: writer) { [self] in
            _ = try await writer.query(
                "UPDATE db_messages SET tags = ?, modified = ? WHERE project_id = ? AND namespace = ? AND dialogue_id = ? AND id = ?",
                [Self.tags(tags), .text(modified)] + Self.key(scope) + [.text(dialogueId), .text(id)]
            )
            return try await Self.message(on: writer, id: id, dialogueId: dialogueId, scope: scope)
        }
    }

    public func deleteMessage(id: String, dialogueId: String, scope: Scope) async throws -> Bool {
        try await turns.transaction(on: writer) { [self] in
            let rows = try await writer.query(
                "DELETE FROM db_messages WHERE project_id = ? AND namespace = ? AND dialogue_id = ? AND id = ? RETURNING rowid",
                Self.key(scope) + [.text(dialogueId), .text(id)]
            )
            guard let row = rows.first else { return false }
            try await unindex("db_messages_fts", rowid: row)
            _ = try await writer.query(
                "UPDATE db_dialogues SET total_messages = MAX(total_messages - 1, 0) WHERE project_id = ? AND namespace = ? AND id = ?",
                Self.key(scope) + [.text(dialogueId)]
            )
            return true
        }
    }

    // MARK: Memories

    static let memoryColumns = "id, label, description, value, tags, metadata, created, modified"

    public func insertMemory(_ memory: MemoryRecord, scope: Scope) async throws {
        try await turns.transaction(on: writer) { [self] in
            if try await !writer.query("SELECT 1 FROM db_memories WHERE project_id = ? AND namespace = ? AND id = ?", Self.key(scope) + [.text(memory.id)]).isEmpty {
                throw DialogueDBError.duplicateID("memory", memory.id)
            }
            let inserted = try await writer.query(
                "INSERT INTO db_memories (project_id, namespace, \(Self.memoryColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING rowid",
                Self.key(scope) + [
                    .text(memory.id), Self.optional(memory.label), Self.optional(memory.description), .text(memory.value.jsonText), Self.tags(memory.tags),
                    .text(SocketValue.object(memory.metadata).jsonText), .text(memory.created), .text(memory.modified),
                ]
            )
            try await index("db_memories_fts", rowid: inserted.first, text: SearchText.of(memory: memory), scope: scope)
        }
    }

    public func memory(id: String, scope: Scope) async throws -> MemoryRecord? {
        try await Self.memory(on: reader, id: id, scope: scope)
    }

    static func memory(on connection: SQLiteStoreConnection, id: String, scope: Scope) async throws -> MemoryRecord? {
        let rows = try await connection.query("SELECT \(memoryColumns) FROM db_memories WHERE project_id = ? AND namespace = ? AND id = ?", key(scope) + [.text(id)])
        return rows.first.map { memoryRecord($0, scope: scope) }
    }

    public func listMemories(_ query: ListQuery, scope: Scope) async throws -> Page<MemoryRecord> {
        try await page(table: "db_memories", columns: Self.memoryColumns, conditions: ["project_id = ?", "namespace = ?"], binds: Self.key(scope), query: query) {
            Self.memoryRecord($0, scope: scope)
        }
    }

    public func updateMemoryTags(id: String, scope: Scope, tags: [String], modified: String) async throws -> MemoryRecord? {
        try await turns.transaction(on: writer) { [self] in
            let updated = try await writer.query(
                "UPDATE db_memories SET tags = ?, modified = ? WHERE project_id = ? AND namespace = ? AND id = ? RETURNING rowid",
                [Self.tags(tags), .text(modified)] + Self.key(scope) + [.text(id)]
            )
            guard let memory = try await Self.memory(on: writer, id: id, scope: scope) else { return nil }
            try await reindex("db_memories_fts", rowid: updated.first, text: SearchText.of(memory: memory), scope: scope)
            return memory
        }
    }

    public func deleteMemory(id: String, scope: Scope) async throws -> Bool {
        try await turns.transaction(on: writer) { [self] in
            let rows = try await writer.query("DELETE FROM db_memories WHERE project_id = ? AND namespace = ? AND id = ? RETURNING rowid", Self.key(scope) + [.text(id)])
            guard let row = rows.first else { return false }
            try await unindex("db_memories_fts", rowid: row)
            return true
        }
    }

    // MARK: API keys

    public func insertKey(_ key: APIKeyRecord, hash: String) async throws {
        try await turns.transaction(on: writer) { [self] in
            _ = try await writer.query(
                "INSERT INTO db_api_keys (id, project_id, name, hash, created) VALUES (?, ?, ?, ?, ?)",
                [.text(key.id), .text(key.projectId), .text(key.name), .text(hash), .text(key.created)]
            )
        }
    }

    public func key(hash: String) async throws -> APIKeyRecord? {
        try await reader.query("SELECT id, project_id, name, created, revoked_at FROM db_api_keys WHERE hash = ? AND revoked_at IS NULL", [.text(hash)])
            .first.map(Self.keyRecord)
    }

    public func keys() async throws -> [APIKeyRecord] {
        try await reader.query("SELECT id, project_id, name, created, revoked_at FROM db_api_keys ORDER BY created, id").map(Self.keyRecord)
    }

    public func revokeKey(id: String, at time: String) async throws -> Bool {
        try await turns.transaction(on: writer) { [self] in
            try await !writer.query("UPDATE db_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING id", [.text(time), .text(id)]).isEmpty
        }
    }

    static func keyRecord(_ row: SQLiteRow) -> APIKeyRecord {
        APIKeyRecord(id: text(row, "id") ?? "", projectId: text(row, "project_id") ?? "", name: text(row, "name") ?? "", created: text(row, "created") ?? "",
                     revokedAt: text(row, "revoked_at"))
    }

    // MARK: Summaries

    public func insertSummary(_ summary: SummaryRecord, scope: Scope) async throws {
        try await turns.transaction(on: writer) { [self] in
            let existing = try await writer.query(
                "SELECT 1 FROM db_summaries WHERE project_id = ? AND namespace = ? AND dialogue_id = ? AND id = ?", Self.key(scope) + [.text(summary.dialogueId), .text(summary.id)]
            )
            guard existing.isEmpty else { throw DialogueDBError.duplicateID("summary", summary.id) }
            _ = try await writer.query(
                "INSERT INTO db_summaries (project_id, namespace, dialogue_id, id, compact, status, to_created, body, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                Self.key(scope) + [
                    .text(summary.dialogueId), .text(summary.id), .integer(summary.compact ? 1 : 0), .text(summary.status.rawValue),
                    Self.optional(summary.toCreated), .text(summary.json.jsonText), .text(summary.created),
                ]
            )
        }
    }

    public func updateSummary(_ summary: SummaryRecord, scope: Scope) async throws {
        try await turns.transaction(on: writer) { [self] in
            _ = try await writer.query(
                "UPDATE db_summaries SET status = ?, body = ? WHERE project_id = ? AND namespace = ? AND dialogue_id = ? AND id = ?",
                [.text(summary.status.rawValue), .text(summary.json.jsonText)] + Self.key(scope) + [.text(summary.dialogueId), .text(summary.id)]
            )
        }
    }

    public func summary(id: String, dialogueId: String, scope: Scope) async throws -> SummaryRecord? {
        try await reader.query(
            "SELECT body FROM db_summaries WHERE project_id = ? AND namespace = ? AND dialogue_id = ? AND id = ?", Self.key(scope) + [.text(dialogueId), .text(id)]
        ).first.flatMap { SummaryRecord(json: Self.json($0, "body")) }
    }

    public func compaction(dialogueId: String, scope: Scope) async throws -> SummaryRecord? {
        try await reader.query(
            """
            SELECT body FROM db_summaries WHERE project_id = ? AND namespace = ? AND dialogue_id = ? AND compact = 1 AND status = 'completed'
            ORDER BY to_created DESC, created DESC LIMIT 1
            """,
            Self.key(scope) + [.text(dialogueId)]
        ).first.flatMap { SummaryRecord(json: Self.json($0, "body")) }
    }
}
