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
            (
                // A room's position moves in the statement that stores its events (one upsert per room and
                // statement, from the rows the statement inserted): an append of up to 500 events is one
                // statement, committed on its own, instead of BEGIN, two INSERTs and COMMIT. Appends of one
                // room may commit out of offset order (concurrent triggers, retries): within an epoch the
                // position only moves forward.
                "2026-12-07-room-position-trigger",
                [
                    """
                    CREATE FUNCTION \(schema).dialogue_events_room_position() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN
                        INSERT INTO \(schema).dialogue_rooms (room_id, epoch, last_offset)
                        SELECT DISTINCT ON (room_id) room_id, epoch, room_offset FROM inserted ORDER BY room_id, room_offset DESC
                        ON CONFLICT (room_id) DO UPDATE SET
                            last_offset = CASE WHEN \(schema).dialogue_rooms.epoch = excluded.epoch
                                THEN GREATEST(\(schema).dialogue_rooms.last_offset, excluded.last_offset) ELSE excluded.last_offset END,
                            epoch = excluded.epoch;
                        RETURN NULL;
                    END
                    $$
                    """,
                    """
                    CREATE TRIGGER dialogue_events_room_position AFTER INSERT ON \(schema).dialogue_events
                    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION \(schema).dialogue_events_room_position()
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
