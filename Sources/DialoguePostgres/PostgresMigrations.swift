import Logging
import PostgresNIO

/// The schema, as named steps that run once each, in order, and are never edited once released.
enum PostgresMigrations {
    static func steps(_ schema: String) -> [(name: String, statements: [String])] {
        [
            (
                "2026-11-23-rooms-and-events",
                [
                    "CREATE TABLE \(schema).dialogue_rooms (room_id TEXT PRIMARY KEY, epoch BIGINT NOT NULL, last_offset BIGINT NOT NULL)",
                    """
                    CREATE TABLE \(schema).dialogue_events (
                        room_id TEXT NOT NULL,
                        room_offset BIGINT NOT NULL,
                        epoch BIGINT NOT NULL,
                        event TEXT NOT NULL,
                        data TEXT NOT NULL,
                        sender TEXT NOT NULL,
                        timestamp BIGINT NOT NULL,
                        meta TEXT,
                        PRIMARY KEY (room_id, room_offset)
                    )
                    """,
                ]
            ),
        ]
    }

    /// Applies the steps not applied yet, each in its own transaction; an advisory lock keeps two servers
    /// starting at once from racing.
    static func run(on client: PostgresClient, schema: String, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(7315150001)", logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema)"), logger: logger)
            try await connection.query(PostgresQuery(
                unsafeSQL: "CREATE TABLE IF NOT EXISTS \(schema).dialogue_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            ), logger: logger)
            var applied = Set<String>()
            for try await name in try await connection.query(PostgresQuery(unsafeSQL: "SELECT name FROM \(schema).dialogue_migrations"), logger: logger).decode(String.self) {
                applied.insert(name)
            }
            for step in steps(schema) where !applied.contains(step.name) {
                for statement in step.statements { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                var binds = PostgresBindings()
                binds.append(step.name)
                try await connection.query(PostgresQuery(unsafeSQL: "INSERT INTO \(schema).dialogue_migrations (name) VALUES ($1)", binds: binds), logger: logger)
                logger.info("history store migrated", metadata: ["dialogue.migration": .string(step.name)])
            }
        }
    }
}
