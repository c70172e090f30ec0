import DialogueEvents
import DialogueHistory
import Logging
import PostgresNIO
import PostgresSupport
import SocketIO

/// A ``HistoryStore`` in PostgreSQL (postgres-nio), for servers that outgrow one machine.
///
/// Tables live in `schema` (created if missing), made by named migrations at ``open()``. Concurrent
/// appends are committed together (group commit). The store's connection pool runs in ``run()``, which the
/// Dialogue server runs for the store's whole life.
///
/// ```swift
/// let store = try PostgresHistoryStore(url: "postgres://dialogue:secret@db.internal:5432/dialogue", logger: logger)
/// var configuration = DialogueConfiguration(historyStore: store)
/// ```
public final class PostgresHistoryStore: SharedHistoryStore {
    let client: PostgresClient
    let schema: String
    let logger: Logger
    /// How long one operation (an append, a page, a chunk of a prune) may take before it fails with
    /// `PostgresTimeout`, so that no trigger or reader waits forever on a query the driver lost.
    public let queryTimeout: Duration
    private let commits = GroupCommit()

    /// A store on `configuration`, its tables in `schema` (a plain identifier). Defaults to `dialogue`.
    public init(configuration: PostgresClient.Configuration, schema: String = "dialogue", queryTimeout: Duration = .seconds(10), logger: Logger) throws {
        try PostgresDatabase.validate(schema: schema)
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.schema = schema
        self.queryTimeout = queryTimeout
        self.logger = logger
    }

    /// A store on `postgres://user[:password]@host[:port]/database` (TLS off: loopback or a trusted network).
    public convenience init(url: String, schema: String = "dialogue", queryTimeout: Duration = .seconds(10), logger: Logger) throws {
        try self.init(configuration: PostgresDatabase.configuration(url: url), schema: schema, queryTimeout: queryTimeout, logger: logger)
    }

    /// Runs one operation within ``queryTimeout``. A timed-out write may still commit afterwards: the
    /// caller is told it failed, and the event it reports as not kept can appear in the history.
    private func bounded<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        try await PostgresDatabase.withDeadline(queryTimeout, operation)
    }

    /// Runs the connection pool until cancelled.
    ///
    /// The pool ignores graceful shutdown (postgres-nio's `run()` would close it as soon as a service group
    /// starts shutting down): the server still writes the history it flushes while stopping, and cancels
    /// this task once the store is closed.
    public func run() async throws {
        await PostgresDatabase.runPool(client)
    }

    public func open() async throws -> [String: RoomLog] {
        try await PostgresMigrations.run(on: client, schema: schema, logger: logger)
        var logs: [String: RoomLog] = [:]
        let rows = try await client.query(PostgresQuery(unsafeSQL: "SELECT room_id, epoch, last_offset FROM \(schema).dialogue_rooms"), logger: logger)
        for try await (roomId, epoch, lastOffset) in rows.decode((String, Int64, Int64).self) {
            logs[roomId] = RoomLog(epoch: epoch, lastOffset: lastOffset)
        }
        return logs
    }

    public func append(_ events: [StoredEvent]) async throws {
        try await commits.append(events) { batch in try await write(batch) }
    }

    /// Stores `events`; the schema's trigger moves their rooms' positions. Up to ``rowsPerStatement`` events
    /// are one statement, committed on its own; more are several, in a transaction. An offset already stored
    /// is left as it is: a write that timed out may have committed, and its retry must not fail for ever.
    private func write(_ events: [StoredEvent]) async throws {
        try await bounded {
            guard events.count > Self.rowsPerStatement else {
                try await self.client.query(self.insert(events[...]), logger: self.logger)
                return
            }
            try await self.client.withTransaction(logger: self.logger) { connection in
                for start in stride(from: 0, to: events.count, by: Self.rowsPerStatement) {
                    try await connection.query(self.insert(events[start..<min(start + Self.rowsPerStatement, events.count)]), logger: self.logger)
                }
            }
        }
    }

    private static let rowsPerStatement = 500

    private func insert(_ events: ArraySlice<StoredEvent>) -> PostgresQuery {
        var binds = PostgresBindings()
        var rows: [String] = []
        for (index, event) in events.enumerated() {
            let base = index * 8
            rows.append("(" + (1...8).map { "$\(base + $0)" }.joined(separator: ",") + ")")
            let message = event.message
            binds.append(message.roomId)
            binds.append(event.offset)
            binds.append(event.epoch)
            binds.append(message.event)
            binds.append(message.data.jsonText)
            binds.append(message.from)
            binds.append(message.timestamp)
            binds.append(message.meta?.jsonText)
        }
        return PostgresQuery(
            unsafeSQL: "INSERT INTO \(schema).dialogue_events (room_id, room_offset, epoch, event, data, sender, timestamp, meta) VALUES "
                + rows.joined(separator: ",") + " ON CONFLICT (room_id, room_offset) DO NOTHING",
            binds: binds
        )
    }

    /// One statement: the rooms' positions move by the number of events each receives (their rows locked
    /// in room order, so concurrent appends of several rooms cannot deadlock), and the events are numbered
    /// from the old positions and inserted. The room's row lock makes a room's appends take turns, commit
    /// included, so offsets commit in order.
    public func appendAssigningOffsets(_ messages: [AnyEventMessage], newEpoch: Int64) async throws -> [StoredEvent] {
        guard !messages.isEmpty else { return [] }
        var binds = PostgresBindings()
        binds.append(messages.map(\.roomId))
        binds.append(messages.map(\.event))
        binds.append(messages.map(\.data.jsonText))
        binds.append(messages.map(\.from))
        binds.append(messages.map(\.timestamp))
        // Arrays of optionals do not bind: an absent meta travels as "" (never valid JSON).
        binds.append(messages.map { $0.meta?.jsonText ?? "" })
        binds.append(newEpoch)
        return try await bounded { [binds] in
            let rows = try await self.client.query(PostgresQuery(unsafeSQL: """
                WITH input AS (
                    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[])
                        WITH ORDINALITY AS t(room_id, event, data, sender, timestamp, meta, ord)
                ), counts AS (
                    SELECT room_id, count(*) AS n FROM input GROUP BY room_id
                ), positions AS (
                    INSERT INTO \(self.schema).dialogue_rooms AS r (room_id, epoch, last_offset)
                    SELECT room_id, $7, n FROM counts ORDER BY room_id
                    ON CONFLICT (room_id) DO UPDATE SET last_offset = r.last_offset + excluded.last_offset
                    RETURNING r.room_id, r.epoch, r.last_offset
                ), numbered AS (
                    SELECT i.ord, i.room_id, p.epoch, i.event, i.data, i.sender, i.timestamp, NULLIF(i.meta, '') AS meta,
                        p.last_offset - c.n + row_number() OVER (PARTITION BY i.room_id ORDER BY i.ord) AS room_offset
                    FROM input i JOIN counts c USING (room_id) JOIN positions p USING (room_id)
                ), stored AS (
                    INSERT INTO \(self.schema).dialogue_events (\(Self.columns))
                    SELECT room_id, room_offset, epoch, event, data, sender, timestamp, meta FROM numbered
                )
                SELECT room_offset, epoch FROM numbered ORDER BY ord
                """, binds: binds), logger: self.logger)
            var stored: [StoredEvent] = []
            stored.reserveCapacity(messages.count)
            for try await (offset, epoch) in rows.decode((Int64, Int64).self) {
                var message = messages[stored.count]
                message.offset = offset
                stored.append(StoredEvent(offset: offset, epoch: epoch, message: message))
            }
            return stored
        }
    }

    private static let columns = "room_id, room_offset, epoch, event, data, sender, timestamp, meta"

    public func events(roomId: String, eventName: String, start: Int, end: Int) async throws -> [StoredEvent] {
        let lower = max(0, start)
        guard end > lower else { return [] }
        return try await select(
            "WHERE room_id = $1 AND event = $2 ORDER BY room_offset DESC LIMIT $3 OFFSET $4",
            Self.binds(roomId, eventName, Int64(end - lower), Int64(lower))
        )
    }

    public func count(roomId: String, eventName: String) async throws -> Int {
        try await bounded {
            let rows = try await self.client.query(PostgresQuery(
                unsafeSQL: "SELECT COUNT(*) FROM \(self.schema).dialogue_events WHERE room_id = $1 AND event = $2", binds: Self.binds(roomId, eventName)
            ), logger: self.logger)
            for try await count in rows.decode(Int64.self) { return Int(count) }
            return 0
        }
    }

    public func events(roomId: String, after offset: Int64, limit: Int) async throws -> [StoredEvent] {
        try await select("WHERE room_id = $1 AND room_offset > $2 ORDER BY room_offset LIMIT $3", Self.binds(roomId, offset, Int64(limit)))
    }

    public func prune(roomId: String, eventName: String, keepingNewest: Int?, olderThan: Int64?) async throws -> Int {
        var deleted = 0
        if let keepingNewest {
            deleted += try await delete(
                """
                room_id = $1 AND event = $2 AND room_offset <= (
                    SELECT room_offset FROM \(schema).dialogue_events WHERE room_id = $1 AND event = $2 ORDER BY room_offset DESC LIMIT 1 OFFSET $3)
                """,
                Self.binds(roomId, eventName, Int64(keepingNewest))
            )
        }
        if let olderThan {
            deleted += try await delete("room_id = $1 AND event = $2 AND timestamp < $3", Self.binds(roomId, eventName, olderThan))
        }
        return deleted
    }

    /// Deletes the rows `condition` selects, a chunk per statement so no transaction holds many row locks.
    /// Returns how many rows it removed.
    private func delete(_ condition: String, _ binds: PostgresBindings) async throws -> Int {
        let chunk = 10_000
        var deleted = 0
        while true {
            let count = try await bounded {
                let rows = try await self.client.query(PostgresQuery(
                    unsafeSQL: """
                        WITH gone AS (DELETE FROM \(self.schema).dialogue_events WHERE ctid IN (
                            SELECT ctid FROM \(self.schema).dialogue_events WHERE \(condition) LIMIT \(chunk)) RETURNING 1)
                        SELECT count(*) FROM gone
                        """,
                    binds: binds
                ), logger: self.logger)
                var count = 0
                for try await n in rows.decode(Int64.self) { count = Int(n) }
                return count
            }
            deleted += count
            if count < chunk { return deleted }
        }
    }

    public func reset(roomId: String, epoch: Int64) async throws {
        let (schema, logger) = (schema, logger)
        try await bounded {
            try await self.client.withTransaction(logger: logger) { connection in
                try await connection.query(PostgresQuery(unsafeSQL: "DELETE FROM \(schema).dialogue_events WHERE room_id = $1", binds: Self.binds(roomId)), logger: logger)
                try await connection.query(PostgresQuery(unsafeSQL: """
                    INSERT INTO \(schema).dialogue_rooms (room_id, epoch, last_offset) VALUES ($1, $2, 0)
                    ON CONFLICT (room_id) DO UPDATE SET epoch = excluded.epoch, last_offset = 0
                    """, binds: Self.binds(roomId, epoch)), logger: logger)
            }
        }
    }

    public func close() async {}

    private func select(_ clause: String, _ binds: PostgresBindings) async throws -> [StoredEvent] {
        try await bounded {
            let rows = try await self.client.query(PostgresQuery(unsafeSQL: "SELECT \(Self.columns) FROM \(self.schema).dialogue_events \(clause)", binds: binds), logger: self.logger)
            var events: [StoredEvent] = []
            for try await (roomId, offset, epoch, event, data, from, timestamp, meta) in rows.decode((String, Int64, Int64, String, String, String, Int64, String?).self) {
                guard let value = try? SocketValue(jsonText: data) else {
                    self.logger.error("skipping a stored event that does not decode", metadata: ["dialogue.row": "\(roomId)#\(offset)"])
                    continue
                }
                events.append(StoredEvent(offset: offset, epoch: epoch, message: AnyEventMessage(
                    event: event, roomId: roomId, data: value, from: from, timestamp: timestamp, meta: meta.flatMap { try? SocketValue(jsonText: $0) }
                )))
            }
            return events
        }
    }

    private static func binds(_ values: any PostgresDynamicTypeEncodable...) -> PostgresBindings {
        var binds = PostgresBindings()
        for value in values { binds.append(value) }
        return binds
    }
}
