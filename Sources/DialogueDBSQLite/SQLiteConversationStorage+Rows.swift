import DialogueDBCore
import SQLiteNIO
import SocketIO

/// Rows to records, and the pagination every list shares.
extension SQLiteConversationStorage {
    /// The default namespace is stored as `''`, so that it takes part in primary keys.
    static func key(_ scope: Scope) -> [SQLiteData] { [.text(scope.projectId), .text(scope.namespace ?? "")] }

    static func optional(_ text: String?) -> SQLiteData { text.map(SQLiteData.text) ?? .null }

    static func tags(_ tags: [String]) -> SQLiteData { .text(SocketValue.array(tags.map(SocketValue.string)).jsonText) }

    static func json(_ row: SQLiteRow, _ column: String) -> SocketValue {
        row.column(column)?.string.flatMap { try? SocketValue(jsonText: $0) } ?? .null
    }

    static func text(_ row: SQLiteRow, _ column: String) -> String? { row.column(column)?.string }

    static func tagList(_ row: SQLiteRow) -> [String] { json(row, "tags").arrayValue?.compactMap(\.stringValue) ?? [] }

    static func integer(_ row: SQLiteRow, _ column: String) -> Int {
        row.column(column)?.integer.map { Int($0) } ?? 0
    }

    static func dialogueRecord(_ row: SQLiteRow, scope: Scope) -> DialogueRecord {
        let status: DialogueStatus = text(row, "status").flatMap { DialogueStatus(rawValue: $0) } ?? .active
        let state: JSONObject = json(row, "state").objectValue ?? [:]
        let metadata: JSONObject = json(row, "metadata").objectValue ?? [:]
        return DialogueRecord(
            id: text(row, "id") ?? "", projectId: scope.projectId, requestId: text(row, "request_id") ?? "", namespace: scope.namespace,
            threadOf: text(row, "thread_of"), label: text(row, "label"), status: status, state: state, metadata: metadata, tags: tagList(row),
            totalMessages: integer(row, "total_messages"), threadCount: integer(row, "thread_count"),
            lastMessageCreated: text(row, "last_message_created"), created: text(row, "created") ?? "", modified: text(row, "modified") ?? "",
            endedAt: text(row, "ended_at"), archivedAt: text(row, "archived_at")
        )
    }

    static func messageRecord(_ row: SQLiteRow, scope: Scope) -> MessageRecord {
        MessageRecord(
            id: text(row, "id") ?? "", dialogueId: text(row, "dialogue_id") ?? "", namespace: scope.namespace, role: text(row, "role") ?? "",
            content: json(row, "content"), name: text(row, "name"), metadata: json(row, "metadata").objectValue ?? [:], tags: tagList(row),
            created: text(row, "created") ?? "", modified: text(row, "modified") ?? ""
        )
    }

    static func memoryRecord(_ row: SQLiteRow, scope: Scope) -> MemoryRecord {
        MemoryRecord(
            id: text(row, "id") ?? "", namespace: scope.namespace, label: text(row, "label"), description: text(row, "description"), value: json(row, "value"),
            tags: tagList(row), metadata: json(row, "metadata").objectValue ?? [:], created: text(row, "created") ?? "", modified: text(row, "modified") ?? ""
        )
    }

    /// One page ordered by (created, id), after the cursor, within the query's date bounds; one row more
    /// than asked tells whether there is a next page.
    func page<Record: Sendable>(
        table: String, columns: String, conditions: [String], binds: [SQLiteData], query: ListQuery, _ record: (SQLiteRow) -> Record
    ) async throws -> Page<Record> {
        var conditions = conditions, binds = binds
        if let prefix = query.createdPrefix {
            conditions.append("substr(created, 1, ?) = ?")
            binds += [.integer(prefix.count), .text(prefix)]
        }
        if let start = query.startDate {
            conditions.append("created >= ?")
            binds.append(.text(start))
        }
        if let end = query.endDate {
            conditions.append("created <= ?")
            binds.append(.text(end))
        }
        if let floor = query.floor {
            conditions.append("(created, id) > (?, ?)")
            binds += [.text(floor.created), .text(floor.id)]
        }
        let direction = query.order == .asc ? "ASC" : "DESC"
        if let after = query.after {
            conditions.append("(created, id) \(query.order == .asc ? ">" : "<") (?, ?)")
            binds += [.text(after.created), .text(after.id)]
        }
        let rows = try await reader.query(
            "SELECT \(columns) FROM \(table) WHERE \(conditions.joined(separator: " AND ")) ORDER BY created \(direction), id \(direction) LIMIT ?",
            binds + [.integer(query.limit + 1)]
        )
        let items = rows.prefix(query.limit).map(record)
        let next = rows.count > query.limit ? rows.prefix(query.limit).last.map { PageCursor(created: Self.text($0, "created") ?? "", id: Self.text($0, "id") ?? "").token } : nil
        return Page(items: Array(items), next: next)
    }
}
