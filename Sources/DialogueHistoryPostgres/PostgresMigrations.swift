import Logging
import PostgresNIO
import PostgresSupport

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

    /// Applies the steps not applied yet (see ``PostgresDatabase/migrate(_:table:lock:schema:on:logger:)``).
    static func run(on client: PostgresClient, schema: String, logger: Logger) async throws {
        try await PostgresDatabase.migrate(
            steps(schema).map { PostgresMigration($0.name, $0.statements) }, table: "dialogue_migrations", lock: 7_315_150_001, schema: schema, on: client, logger: logger
        )
    }
}
