import DialogueDBCore
import PostgresNIO
import SocketIO

/// Full-text search on `tsvector` (English stemming), ranked with `ts_rank` normalised to 0–1, the API's
/// filters as `jsonb` operators.
extension PostgresConversationStorage {
    static let candidates = 500

    public func search(_ query: SearchQuery, scope: Scope) async throws -> [SearchHit] {
        switch query.object {
        case .message:
            return query.ordered(try await searchMessages(query, scope: scope, limit: query.candidateLimit).map { SearchHit(item: .message($0.message), relevance: $0.relevance) })
        case .memory:
            var statement = Statement()
            let conditions = Self.filters(query, alias: "r", &statement)
            let rows = try await ranked(&statement, table: memories, columns: Self.memoryColumns, query: query, scope: scope, conditions: conditions, limit: query.candidateLimit)
            return query.ordered(try rows.map { row in
                let memory = try Self.memoryRecord(row.row, scope: scope)
                return SearchHit(item: .memory(memory), relevance: query.relevance(score: row.score, text: SearchText.of(memory: memory)))
            })
        case .dialogue:
            return try await searchDialogues(query, scope: scope)
        }
    }

    private func searchMessages(_ query: SearchQuery, scope: Scope, limit: Int) async throws -> [(message: MessageRecord, relevance: Double)] {
        var statement = Statement()
        var conditions = Self.filters(query, alias: "r", &statement)
        if let hasImage = query.hasImage { conditions.append("r.has_image = \(statement.bind(hasImage))") }
        let rows = try await ranked(&statement, table: messagesTable, columns: Self.messageColumns, query: query, scope: scope, conditions: conditions, limit: limit)
        return try rows.map { row in
            let message = try Self.messageRecord(row.row, scope: scope)
            return (message, query.relevance(score: row.score, text: SearchText.of(content: message.content)))
        }
    }

    /// See ``DialogueSearch``.
    private func searchDialogues(_ query: SearchQuery, scope: Scope) async throws -> [SearchHit] {
        let messages = try await searchMessages(DialogueSearch.evidenceQuery(query), scope: scope, limit: Self.candidates)
        let messagesTable = messagesTable
        let imageCondition: String? = query.hasImage.map { hasImage in
            "\(hasImage ? "" : "NOT ")EXISTS (SELECT 1 FROM \(messagesTable) m WHERE m.project_id = r.project_id AND m.namespace = r.namespace AND m.dialogue_id = r.id AND m.has_image)"
        }
        var statement = Statement()
        let conditions = Self.filters(query, alias: "r", &statement) + (imageCondition.map { [$0] } ?? [])
        let direct = try await ranked(&statement, table: dialogues, columns: Self.dialogueColumns, query: query, scope: scope, conditions: conditions, limit: Self.candidates)
            .map { hit in
                let dialogue = try Self.dialogueRecord(hit.row, scope: scope)
                return (dialogue, query.relevance(score: hit.score, text: SearchText.of(dialogue: dialogue)))
            }
        return try await DialogueSearch.results(query, messages: messages, direct: direct) { ids in
            var fetch = Statement()
            let conditions = [fetch.scope(scope, alias: "r"), "r.id = ANY(\(fetch.bind(ids)))"] + Self.filters(query, alias: "r", &fetch) + (imageCondition.map { [$0] } ?? [])
            fetch.sql = "SELECT \(Self.prefixed(Self.dialogueColumns)) FROM \(dialogues) r WHERE \(conditions.joined(separator: " AND "))"
            return try await rows(fetch).map { try Self.dialogueRecord($0, scope: scope) }
        }
    }

    static func prefixed(_ columns: String) -> String {
        columns.split(separator: ",").map { "r.\($0.trimmingCharacters(in: .whitespacesAndNewlines))" }.joined(separator: ", ")
    }

    private func ranked(
        _ statement: inout Statement, table: String, columns: String, query: SearchQuery, scope: Scope, conditions: [String], limit: Int
    ) async throws -> [(row: PostgresRow, score: Double)] {
        // Terms are letters and digits only, so they are safe in a tsquery; any of them may match.
        let terms = try await keptTerms(query.terms, table: table)
        let tsquery = "to_tsquery('english', \(statement.bind(terms.joined(separator: " | "))))"
        let order: String = switch query.orderBy {
        case .relevance: "score \(query.order == .asc ? "ASC" : "DESC")"
        case .created: "r.created \(query.order == .asc ? "ASC" : "DESC")"
        case .modified: "r.modified \(query.order == .asc ? "ASC" : "DESC")"
        }
        let all = [statement.scope(scope, alias: "r"), "r.search @@ \(tsquery)"] + conditions
        statement.sql = """
            SELECT \(Self.prefixed(columns)), ts_rank(r.search, \(tsquery), 32)::float8 AS score FROM \(table) r
            WHERE \(all.joined(separator: " AND ")) ORDER BY \(order), r.id LIMIT \(statement.bind(limit))
            """
        let found = try await rows(statement)
        // ts_rank with normalisation 32 is rank / (rank + 1): small numbers, scaled to BM25's range.
        return try found.map { row in (row, try row.makeRandomAccess()["score"].decode(Double.self) * 10) }
    }

    /// `terms` without the words more than a fifth of the table's records have, when rarer ones remain (as
    /// on SQLite: their rank weight is near zero, yet ranking every record that has one dominates a search).
    /// Frequencies come from PostgreSQL's own statistics of the `search` column (`pg_stats`, kept by
    /// autovacuum's ANALYZE); a word it does not list counts as rare.
    func keptTerms(_ terms: [String], table: String) async throws -> [String] {
        let unique = Array(Set(terms)).sorted()
        guard unique.count > 1 else { return unique }
        var statement = Statement()
        let relation = String(table.split(separator: ".").last ?? "")
        statement.sql = """
            SELECT t.term, COALESCE((
                SELECT max(f.freq) FROM unnest(to_tsvector('english', t.term)) v
                JOIN (SELECT unnest(s.most_common_elems::text::text[]) AS elem, unnest(s.most_common_elem_freqs) AS freq FROM pg_stats s
                      WHERE s.schemaname = \(statement.bind(schema)) AND s.tablename = \(statement.bind(relation)) AND s.attname = 'search') f
                ON f.elem = v.lexeme
            ), 0)::float8 AS freq
            FROM unnest(\(statement.bind(unique))::text[]) AS t(term)
            """
        var frequency: [String: Double] = [:]
        for row in try await rows(statement) {
            let (term, freq) = try row.decode((String, Double).self)
            frequency[term] = freq
        }
        let rare = unique.filter { (frequency[$0] ?? 0) <= 0.2 }
        return rare.isEmpty ? [unique.min { (frequency[$0] ?? 0) < (frequency[$1] ?? 0) }!] : rare
    }

    /// Tags, metadata and dates as SQL on `alias`.
    static func filters(_ query: SearchQuery, alias a: String, _ statement: inout Statement) -> [String] {
        var conditions: [String] = []
        if !query.tagsIn.isEmpty { conditions.append("\(a).tags::jsonb ?| \(statement.bind(query.tagsIn))") }
        if !query.tagsAll.isEmpty { conditions.append("\(a).tags::jsonb ?& \(statement.bind(query.tagsAll))") }
        if !query.tagsNotIn.isEmpty { conditions.append("NOT (\(a).tags::jsonb ?| \(statement.bind(query.tagsNotIn)))") }
        for (key, condition) in query.metadata {
            let value = "(\(a).metadata::jsonb -> \(statement.bind(key)))"
            // `@>` matches a scalar value, or a list that contains it.
            func contains(_ candidate: SocketValue, _ statement: inout Statement) -> String { "COALESCE(\(value) @> \(statement.json(candidate))::jsonb, false)" }
            switch condition {
            case .equals(let candidate): conditions.append(contains(candidate, &statement))
            case .notEquals(let candidate): conditions.append("NOT \(contains(candidate, &statement))")
            case .isIn(let list): conditions.append("(" + list.map { contains($0, &statement) }.joined(separator: " OR ") + ")")
            case .notIn(let list): conditions.append("NOT (" + list.map { contains($0, &statement) }.joined(separator: " OR ") + ")")
            case .greaterThan(let bound, let orEqual), .lessThan(let bound, let orEqual):
                let operation = if case .greaterThan = condition { orEqual ? ">=" : ">" } else { orEqual ? "<=" : "<" }
                if let number = bound.doubleValue {
                    conditions.append("(jsonb_typeof(\(value)) = 'number' AND (\(value))::text::float8 \(operation) \(statement.bind(number)))")
                } else if let text = bound.stringValue {
                    conditions.append("(jsonb_typeof(\(value)) = 'string' AND \(value) #>> '{}' \(operation) \(statement.bind(text)))")
                }
            }
        }
        for (column, range) in [("created", query.created), ("modified", query.modified)] {
            guard let range else { continue }
            for (operation, bound) in [(">=", range.gte), (">", range.gt), ("<=", range.lte), ("<", range.lt)] {
                if let bound { conditions.append("\(a).\(column) \(operation) \(statement.bind(bound))") }
            }
        }
        return conditions
    }
}
