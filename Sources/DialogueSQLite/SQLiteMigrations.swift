import Logging
import SQLiteNIO
import SQLiteSupport

/// The schema, as named steps that run once each, in order, and are never edited once released: a change
/// is a new step.
enum SQLiteMigrations {
    static let steps: [(name: String, statements: [String])] = [
        (
            "2026-11-23-rooms-and-events",
            [
                """
                CREATE TABLE dialogue_rooms (
                    room_id TEXT PRIMARY KEY,
                    epoch INTEGER NOT NULL,
                    last_offset INTEGER NOT NULL
                )
                """,
                // Rows go in arrival order (rowid); one index serves paging, recovery and uniqueness. A second
                // index (by event name) halved the append rate for little gain in paging.
                """
                CREATE TABLE dialogue_events (
                    room_id TEXT NOT NULL,
                    room_offset INTEGER NOT NULL,
                    epoch INTEGER NOT NULL,
                    event TEXT NOT NULL,
                    data TEXT NOT NULL,
                    sender TEXT NOT NULL,
                    timestamp INTEGER NOT NULL,
                    meta TEXT
                )
                """,
                "CREATE UNIQUE INDEX dialogue_events_by_offset ON dialogue_events (room_id, room_offset)",
            ]
        ),
    ]

    /// Applies the steps not applied yet, each in its own transaction.
    static func run(on connection: SQLiteStoreConnection, logger: Logger) async throws {
        try await SQLiteDatabase.migrate(steps.map { SQLiteMigration($0.name, $0.statements) }, table: "dialogue_migrations", on: connection, logger: logger)
    }
}
