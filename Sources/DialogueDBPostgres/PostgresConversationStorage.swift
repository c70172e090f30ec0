import DialogueDBCore
import Logging
import PostgresNIO
import PostgresSupport
import SocketIO

/// DialogueDB in PostgreSQL: for a server shared by many app instances. JSON fields are `json` (key order
/// kept, as the API returns it; filters cast to `jsonb`), full-text
/// search uses a `tsvector` per record with a GIN index; each write is one transaction, counters are
/// updated in the same statement that checks them, so concurrent writers keep them exact.
///
/// ```swift
/// let storage = try PostgresConversationStorage(url: "postgres://dialoguedb@db.internal/app", logger: logger)
/// // run `storage.run()` for the pool's lifetime (a task or a Service), then:
/// try await storage.migrate()
/// ```
public final class PostgresConversationStorage: ConversationStorage, APIKeyStorage {
    let client: PostgresClient
    let schema: String
    let logger: Logger

    /// A storage on `configuration`, its tables in `schema` (a plain identifier). Defaults to `dialoguedb`.
    public init(configuration: PostgresClient.Configuration, schema: String = "dialoguedb", logger: Logger) throws {
        try PostgresDatabase.validate(schema: schema)
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.schema = schema
        self.logger = logger
    }

    public convenience init(url: String, schema: String = "dialoguedb", logger: Logger) throws {
        try self.init(configuration: PostgresDatabase.configuration(url: url), schema: schema, logger: logger)
    }

    /// Runs the connection pool until cancelled.
    public func run() async {
        await PostgresDatabase.runPool(client)
    }

    public func migrate() async throws {
        try await PostgresDatabase.migrate(Self.migrations(schema), table: "dialoguedb_migrations", lock: 7_315_150_002, schema: schema, on: client, logger: logger)
    }

    public func close() async {}

    /// Refreshes PostgreSQL's statistics of the tables (autovacuum does it as they grow; search uses them to
    /// leave out the most common words).
    public func analyze() async throws {
        for table in ["dialogues", "messages", "memories"] {
            try await client.query(PostgresQuery(unsafeSQL: "ANALYZE \(schema).\(table)"), logger: logger)
        }
    }

    /// Drops the schema with everything in it (for tests and tear-downs; there is no undo).
    public func dropSchema() async throws {
        try await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(schema) CASCADE"), logger: logger)
    }

    static func migrations(_ s: String) -> [PostgresMigration] {
        [
            PostgresMigration("2026-11-27-dialogues-messages-memories", [
                """
                CREATE TABLE \(s).dialogues (
                    project_id TEXT NOT NULL, namespace TEXT NOT NULL, id TEXT NOT NULL, request_id TEXT NOT NULL, thread_of TEXT, label TEXT,
                    status TEXT NOT NULL, state JSON NOT NULL, metadata JSON NOT NULL, tags JSON NOT NULL, total_messages BIGINT NOT NULL,
                    thread_count BIGINT NOT NULL, last_message_created TEXT, created TEXT NOT NULL, modified TEXT NOT NULL, ended_at TEXT,
                    archived_at TEXT, search TSVECTOR NOT NULL, PRIMARY KEY (project_id, namespace, id)
                )
                """,
                "CREATE INDEX dialogues_by_created ON \(s).dialogues (project_id, namespace, created, id)",
                "CREATE INDEX dialogues_by_parent ON \(s).dialogues (project_id, namespace, thread_of, created, id)",
                "CREATE INDEX dialogues_search ON \(s).dialogues USING GIN (search)",
                """
                CREATE TABLE \(s).messages (
                    project_id TEXT NOT NULL, namespace TEXT NOT NULL, dialogue_id TEXT NOT NULL, id TEXT NOT NULL, role TEXT NOT NULL,
                    content JSON NOT NULL, name TEXT, metadata JSON NOT NULL, tags JSON NOT NULL, content_length BIGINT NOT NULL,
                    created TEXT NOT NULL, modified TEXT NOT NULL, has_image BOOLEAN NOT NULL, search TSVECTOR NOT NULL,
                    PRIMARY KEY (project_id, namespace, dialogue_id, id)
                )
                """,
                "CREATE INDEX messages_by_created ON \(s).messages (project_id, namespace, dialogue_id, created, id)",
                "CREATE INDEX messages_search ON \(s).messages USING GIN (search)",
                """
                CREATE TABLE \(s).memories (
                    project_id TEXT NOT NULL, namespace TEXT NOT NULL, id TEXT NOT NULL, label TEXT, description TEXT, value JSON NOT NULL,
                    tags JSON NOT NULL, metadata JSON NOT NULL, created TEXT NOT NULL, modified TEXT NOT NULL, search TSVECTOR NOT NULL,
                    PRIMARY KEY (project_id, namespace, id)
                )
                """,
                "CREATE INDEX memories_by_created ON \(s).memories (project_id, namespace, created, id)",
                "CREATE INDEX memories_search ON \(s).memories USING GIN (search)",
                """
                CREATE TABLE \(s).summaries (
                    project_id TEXT NOT NULL, namespace TEXT NOT NULL, dialogue_id TEXT NOT NULL, id TEXT NOT NULL, compact BOOLEAN NOT NULL,
                    status TEXT NOT NULL, to_created TEXT, body TEXT NOT NULL, created TEXT NOT NULL, PRIMARY KEY (project_id, namespace, dialogue_id, id)
                )
                """,
                """
                CREATE TABLE \(s).api_keys (
                    id TEXT PRIMARY KEY, project_id TEXT NOT NULL, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created TEXT NOT NULL, revoked_at TEXT
                )
                """,
            ]),
        ]
    }

    // MARK: Statements

    /// A statement under construction: SQL text with `$n` placeholders and their values.
    struct Statement {
        var sql = ""
        var binds = PostgresBindings()
        private var count = 0

        /// A placeholder for `value`.
        mutating func bind(_ value: some PostgresDynamicTypeEncodable) -> String {
            binds.append(value)
            count += 1
            return "$\(count)"
        }

        mutating func bindOptional(_ value: String?) -> String {
            guard let value else { return "NULL" }
            return bind(value)
        }

        /// A JSON value as `json`, which keeps the text (and so key order) as given.
        mutating func json(_ value: SocketValue) -> String { "\(bind(value.jsonText))::json" }

        /// `project_id = $a AND namespace = $b` (the default namespace is stored as '').
        mutating func scope(_ scope: Scope, alias: String = "") -> String {
            let prefix = alias.isEmpty ? "" : "\(alias)."
            return "\(prefix)project_id = \(bind(scope.projectId)) AND \(prefix)namespace = \(bind(scope.namespace ?? ""))"
        }

        var query: PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: binds) }
    }

    func rows(_ statement: Statement, on connection: PostgresConnection? = nil) async throws -> [PostgresRow] {
        let sequence = if let connection {
            try await connection.query(statement.query, logger: logger)
        } else {
            try await client.query(statement.query, logger: logger)
        }
        var rows: [PostgresRow] = []
        for try await row in sequence { rows.append(row) }
        return rows
    }

    /// Runs `body` in a transaction; a unique violation becomes `DUPLICATE_ID` of `kind`.
    func transaction<Result: Sendable>(duplicate kind: (String, String)? = nil, _ body: @escaping @Sendable (PostgresConnection) async throws -> sending Result) async throws -> Result {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            if let kind, let psql = error.closureError as? PSQLError, psql.serverInfo?[.sqlState] == "23505" { throw DialogueDBError.duplicateID(kind.0, kind.1) }
            if let thrown = error.closureError { throw thrown }
            throw error
        }
    }
}
