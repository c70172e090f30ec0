import DialogueDBCore
import SQLiteNIO
import SocketIO

/// Full-text search on FTS5: BM25 ranking (as a 0–1 relevance), the API's filters in SQL.
extension SQLiteConversationStorage {
    // MARK: Index upkeep (inside the writer's transactions)

    /// The index's `scope` column: project and namespace in one value.
    static func scopeKey(_ scope: Scope) -> SQLiteData { .text(scope.projectId + "\u{1}" + (scope.namespace ?? "")) }

    func index(_ table: String, rowid row: SQLiteRow?, text: String, scope: Scope) async throws {
        guard let rowid = row?.column("rowid")?.integer else { return }
        _ = try await writer.query("INSERT INTO \(table) (rowid, body, scope) VALUES (?, ?, ?)", [.integer(rowid), .text(text), Self.scopeKey(scope)])
    }

    func reindex(_ table: String, rowid row: SQLiteRow?, text: String, scope: Scope) async throws {
        try await unindex(table, rowid: row)
        try await index(table, rowid: row, text: text, scope: scope)
    }

    func unindex(_ table: String, rowid row: SQLiteRow?) async throws {
        guard let rowid = row?.column("rowid")?.integer else { return }
        _ = try await writer.query("DELETE FROM \(table) WHERE rowid = ?", [.integer(rowid)])
    }

    // MARK: Searching

    /// Candidates read before filters and grouping cut them down.
    static let candidates = 500

    public func search(_ query: SearchQuery, scope: Scope) async throws -> [SearchHit] {
        switch query.object {
        case .message:
            return query.ordered(try await searchMessages(query, scope: scope, limit: query.candidateLimit).map { SearchHit(item: .message($0.message), relevance: $0.relevance) })
        case .memory:
            let (conditions, binds) = Self.filters(query, alias: "r")
            let rows = try await ranked(table: "db_memories", fts: "db_memories_fts", columns: Self.memoryColumns, query: query, scope: scope,
                                        conditions: conditions, binds: binds, limit: query.candidateLimit)
            return query.ordered(rows.map { row in
                let memory = Self.memoryRecord(row.row, scope: scope)
                return SearchHit(item: .memory(memory), relevance: query.relevance(score: row.score, text: SearchText.of(memory: memory)))
            })
        case .dialogue:
            return try await searchDialogues(query, scope: scope)
        }
    }

    private func searchMessages(_ query: SearchQuery, scope: Scope, limit: Int) async throws -> [(message: MessageRecord, relevance: Double)] {
        var (conditions, binds) = Self.filters(query, alias: "r")
        if let hasImage = query.hasImage {
            conditions.append("r.has_image = ?")
            binds.append(.integer(hasImage ? 1 : 0))
        }
        let rows = try await ranked(table: "db_messages", fts: "db_messages_fts", columns: Self.messageColumns, query: query, scope: scope,
                                    conditions: conditions, binds: binds, limit: limit)
        return rows.map { row in
            let message = Self.messageRecord(row.row, scope: scope)
            return (message, query.relevance(score: row.score, text: SearchText.of(content: message.content)))
        }
    }

    /// See ``DialogueSearch``.
    private func searchDialogues(_ query: SearchQuery, scope: Scope) async throws -> [SearchHit] {
        let messages = try await searchMessages(DialogueSearch.evidenceQuery(query), scope: scope, limit: Self.candidates)
        var (conditions, binds) = Self.filters(query, alias: "r")
        if let hasImage = query.hasImage {
            conditions.append("\(hasImage ? "" : "NOT ")EXISTS (SELECT 1 FROM db_messages m WHERE m.project_id = r.project_id AND m.namespace = r.namespace AND m.dialogue_id = r.id AND m.has_image = 1)")
        }
        let direct = try await ranked(table: "db_dialogues", fts: "db_dialogues_fts", columns: Self.dialogueColumns, query: query, scope: scope,
                                      conditions: conditions, binds: binds, limit: Self.candidates).map { hit in
            let dialogue = Self.dialogueRecord(hit.row, scope: scope)
            return (dialogue, query.relevance(score: hit.score, text: SearchText.of(dialogue: dialogue)))
        }
        return try await DialogueSearch.results(query, messages: messages, direct: direct) { ids in
            var found: [DialogueRecord] = []
            for start in stride(from: 0, to: ids.count, by: 500) {
                let chunk = Array(ids[start..<min(start + 500, ids.count)])
                let rows = try await reader.query(
                    "SELECT \(Self.dialogueColumns) FROM db_dialogues r WHERE r.project_id = ? AND r.namespace = ? AND r.id IN (\(Array(repeating: "?", count: chunk.count).joined(separator: ",")))"
                        + conditions.map { " AND \($0)" }.joined(),
                    Self.key(scope) + chunk.map { .text($0) } + binds
                )
                found += rows.map { Self.dialogueRecord($0, scope: scope) }
            }
            return found
        }
    }

    /// Rows of `table` matching the query's words through `fts`, with their relevance, filtered and ordered.
    private func ranked(
        table: String, fts: String, columns: String, query: SearchQuery, scope: Scope, conditions: [String], binds: [SQLiteData], limit: Int
    ) async throws -> [(row: SQLiteRow, score: Double)] {
        let match = try await matchExpression(query.terms, fts: fts, table: table)
        let order: String = switch query.orderBy {
        case .relevance: "score \(query.order == .asc ? "ASC" : "DESC")"
        case .created: "r.created \(query.order == .asc ? "ASC" : "DESC")"
        case .modified: "r.modified \(query.order == .asc ? "ASC" : "DESC")"
        }
        let prefixed = columns.split(separator: ",").map { "r.\($0.trimmingCharacters(in: .whitespaces))" }.joined(separator: ", ")
        if conditions.isEmpty, query.orderBy == .relevance {
            // No filter on the records: rank inside the index (its `scope` column) and read only the rows kept.
            let rows = try await reader.query(
                """
                SELECT \(prefixed), -f.rank AS score FROM (
                    SELECT rowid, rank FROM \(fts) WHERE \(fts) MATCH ? AND scope = ? ORDER BY rank LIMIT ?
                ) f JOIN \(table) r ON r.rowid = f.rowid ORDER BY f.rank \(query.order == .asc ? "DESC" : "ASC"), r.id
                """,
                [.text(match), Self.scopeKey(scope), .integer(limit)]
            )
            return rows.map { ($0, $0.column("score")?.double ?? 0) }
        }
        let rows = try await reader.query(
            """
            SELECT \(prefixed), -bm25(\(fts)) AS score FROM \(fts) JOIN \(table) r ON r.rowid = \(fts).rowid
            WHERE \(fts) MATCH ? AND r.project_id = ? AND r.namespace = ?\(conditions.map { " AND \($0)" }.joined())
            ORDER BY \(order), r.id LIMIT ?
            """,
            [.text(match)] + Self.key(scope) + binds + [.integer(limit)]
        )
        return rows.map { ($0, $0.column("score")?.double ?? 0) }
    }

    /// The FTS5 query for `terms`: any of them, leaving out words that more than a fifth of the records have
    /// when rarer ones remain. Their BM25 weight is near zero, yet ranking every record that has one is
    /// most of a search's time on a large table; records matching only such a word would rank last anyway.
    /// (Words the index stores stemmed differently are always kept.)
    func matchExpression(_ terms: [String], fts: String, table: String) async throws -> String {
        let unique = Array(Set(terms)).sorted()
        var kept = unique
        if unique.count > 1 {
            let total = try await reader.query("SELECT max(rowid) AS total FROM \(table)").first?.column("total")?.integer ?? 0
            let counts = try await reader.query(
                "SELECT term, doc FROM \(fts.replacingOccurrences(of: "_fts", with: "_vocab")) WHERE term IN (\(Array(repeating: "?", count: unique.count).joined(separator: ",")))",
                unique.map { .text($0) }
            )
            var documents: [String: Int] = [:]
            for row in counts { documents[Self.text(row, "term") ?? ""] = Self.integer(row, "doc") }
            let rare = unique.filter { total < 1000 || (documents[$0] ?? 0) * 5 <= total }
            kept = rare.isEmpty ? [unique.min { (documents[$0] ?? 0) < (documents[$1] ?? 0) }!] : rare
        }
        return kept.map { "\"\($0)\"" }.joined(separator: " OR ")
    }

    /// The API's filters on tags, metadata and dates as SQL on the table aliased `alias`.
    static func filters(_ query: SearchQuery, alias a: String) -> (conditions: [String], binds: [SQLiteData]) {
        var conditions: [String] = [], binds: [SQLiteData] = []
        func placeholders(_ count: Int) -> String { Array(repeating: "?", count: count).joined(separator: ",") }
        if !query.tagsIn.isEmpty {
            conditions.append("EXISTS (SELECT 1 FROM json_each(\(a).tags) WHERE value IN (\(placeholders(query.tagsIn.count))))")
            binds += query.tagsIn.map { .text($0) }
        }
        for tag in query.tagsAll {
            conditions.append("EXISTS (SELECT 1 FROM json_each(\(a).tags) WHERE value = ?)")
            binds.append(.text(tag))
        }
        if !query.tagsNotIn.isEmpty {
            conditions.append("NOT EXISTS (SELECT 1 FROM json_each(\(a).tags) WHERE value IN (\(placeholders(query.tagsNotIn.count))))")
            binds += query.tagsNotIn.map { .text($0) }
        }
        for (key, condition) in query.metadata {
            // json_each over a path yields the value itself, or each element of a list value.
            let path = SQLiteData.text("$.\"\(key.replacingOccurrences(of: "\"", with: "\\\""))\"")
            let values = "SELECT value FROM json_each(\(a).metadata, ?)"
            switch condition {
            case .equals(let value):
                conditions.append("EXISTS (\(values) WHERE value = ?)")
                binds += [path, sql(value)]
            case .notEquals(let value):
                conditions.append("NOT EXISTS (\(values) WHERE value = ?)")
                binds += [path, sql(value)]
            case .isIn(let list):
                conditions.append("EXISTS (\(values) WHERE value IN (\(placeholders(list.count))))")
                binds += [path] + list.map(sql)
            case .notIn(let list):
                conditions.append("NOT EXISTS (\(values) WHERE value IN (\(placeholders(list.count))))")
                binds += [path] + list.map(sql)
            case .greaterThan(let value, let orEqual):
                conditions.append("EXISTS (\(values) WHERE value \(orEqual ? ">=" : ">") ?)")
                binds += [path, sql(value)]
            case .lessThan(let value, let orEqual):
                conditions.append("EXISTS (\(values) WHERE value \(orEqual ? "<=" : "<") ?)")
                binds += [path, sql(value)]
            }
        }
        for (column, range) in [("created", query.created), ("modified", query.modified)] {
            guard let range else { continue }
            for (operation, bound) in [(">=", range.gte), (">", range.gt), ("<=", range.lte), ("<", range.lt)] {
                guard let bound else { continue }
                conditions.append("\(a).\(column) \(operation) ?")
                binds.append(.text(bound))
            }
        }
        return (conditions, binds)
    }

    /// A JSON scalar as SQLite compares it with `json_each` values (booleans are 1 and 0).
    static func sql(_ value: SocketValue) -> SQLiteData {
        switch value {
        case .bool(let flag): .integer(flag ? 1 : 0)
        case .int(let number): .integer(Int(number))
        case .double(let number): .float(number)
        case .string(let text): .text(text)
        default: .null
        }
    }
}
