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
        (
            // A room's position moves with each stored event, in the statement that stores it: one event is one
            // statement (SQLite's implicit transaction, one round trip to the connection's thread) instead of
            // BEGIN, two INSERTs and COMMIT. Appends of a room may commit out of offset order (concurrent
            // triggers, retries): within an epoch the position only moves forward.
            "2026-12-07-room-position-trigger",
            [
                """
                CREATE TRIGGER dialogue_events_room_position AFTER INSERT ON dialogue_events
                BEGIN
                    INSERT INTO dialogue_rooms (room_id, epoch, last_offset) VALUES (NEW.room_id, NEW.epoch, NEW.room_offset)
                    ON CONFLICT(room_id) DO UPDATE SET
                        last_offset = CASE WHEN dialogue_rooms.epoch = excluded.epoch
                            THEN max(dialogue_rooms.last_offset, excluded.last_offset) ELSE excluded.last_offset END,
                        epoch = excluded.epoch;
                END
                """,
            ]
        ),
    ]

    /// Applies the steps not applied yet, each in its own transaction.
    static func run(on connection: SQLiteStoreConnection, logger: Logger) async throws {
        try await SQLiteDatabase.migrate(steps.map { SQLiteMigration($0.name, $0.statements) }, table: "dialogue_migrations", on: connection, logger: logger)
    }
}
