import DialogueEvents
import DialogueHistory
import Foundation
import Logging
import SQLiteNIO
import SQLiteSupport
import SocketIO
import Synchronization

/// A ``HistoryStore`` in an SQLite file: embedded, nothing to install (SQLite is vendored by sqlite-nio).
///
/// The database runs in WAL mode with `synchronous=FULL` by default: an append returns once the events are
/// in the write-ahead log on disk, so they survive a crash of the process and of the machine. With
/// `.normal` an append returns once they are in the operating system's cache: they survive a crash of the
/// process, not a power loss, and each append is about half a millisecond quicker (no `fsync`). Concurrent
/// appends are committed together (group commit): one statement (a transaction beyond 1 000 events) and
/// one sync for every append waiting at that moment.
///
/// ```swift
/// let store = try await SQLiteHistoryStore(path: "dialogue-data/history.sqlite", logger: logger)
/// var configuration = DialogueConfiguration(historyStore: store)
/// ```
public final class SQLiteHistoryStore: HistoryStore {
    let writer: SQLiteStoreConnection
    let reader: SQLiteStoreConnection
    /// Resets and retention: their own connection, so SQLite's lock (not our code) orders them with appends.
    let maintenance: SQLiteStoreConnection
    let logger: Logger
    private let commits = GroupCommit()
    private let resets = TransactionTurns()
    private let closed = Atomic(false)

    /// When an append returns (SQLite's `synchronous` setting).
    public enum Synchronous: String, Sendable {
        /// On disk: the events survive a crash of the process and of the machine.
        case full
        /// In the operating system's cache: they survive a crash of the process, not a power loss.
        case normal

        var database: SQLiteSupport.SQLiteDatabase.Synchronous {
            switch self {
            case .full: .full
            case .normal: .normal
            }
        }
    }

    /// Opens (creating if needed) the database at `path`; its folder must exist.
    public init(path: String, synchronous: Synchronous = .full, logger: Logger) async throws {
        self.logger = logger
        writer = try await SQLiteDatabase.open(path: path, synchronous: synchronous.database, logger: logger)
        do {
            // Checkpoints run in ``run()``, off the commit path; the writer's own is a safety net (64 MB of WAL)
            // for a store whose `run()` is not running.
            try await writer.query("PRAGMA wal_autocheckpoint=16384")
            reader = try await SQLiteDatabase.open(path: path, cacheMegabytes: 16, logger: logger)
        } catch {
            await writer.close()
            throw error
        }
        do {
            maintenance = try await SQLiteDatabase.open(path: path, cacheMegabytes: 2, logger: logger)
        } catch {
            await reader.close()
            await writer.close()
            throw error
        }
    }

    /// Copies the write-ahead log into the database in the background (a passive checkpoint four times a
    /// second, on the maintenance connection), so commits do not wait for it. Runs until cancelled.
    public func run() async throws {
        while true {
            do {
                try await Task.sleep(for: .milliseconds(250))
            } catch {
                return
            }
            guard !closed.load(ordering: .relaxed) else { return }
            do {
                try await maintenance.query("PRAGMA wal_checkpoint(PASSIVE)")
            } catch {
                logger.warning("history store checkpoint failed", metadata: ["dialogue.error": "\(error)"])
            }
        }
    }

    public func open() async throws -> [String: RoomLog] {
        try await SQLiteMigrations.run(on: writer, logger: logger)
        var logs: [String: RoomLog] = [:]
        for row in try await reader.query("SELECT room_id, epoch, last_offset FROM dialogue_rooms") {
            guard let roomId = row.column("room_id")?.string, let epoch = row.column("epoch")?.integer,
                let lastOffset = row.column("last_offset")?.integer
            else { continue }
            logs[roomId] = RoomLog(epoch: Int64(epoch), lastOffset: Int64(lastOffset))
        }
        return logs
    }

    // MARK: Appending (group commit)

    public func append(_ events: [StoredEvent]) async throws {
        try await commits.append(events) { batch in try await write(batch) }
    }

    /// Stores `events` and moves their rooms' positions (a trigger of the schema does that with each row).
    /// Up to ``rowsPerStatement`` events are one statement, committed on its own; more are several, in a
    /// transaction.
    private func write(_ events: [StoredEvent]) async throws {
        guard events.count > Self.rowsPerStatement else {
            try await insert(events[...])
            return
        }
        try await writer.query("BEGIN IMMEDIATE")
        do {
            for start in stride(from: 0, to: events.count, by: Self.rowsPerStatement) {
                try await insert(events[start..<min(start + Self.rowsPerStatement, events.count)])
            }
            try await writer.query("COMMIT")
        } catch {
            _ = try? await writer.query("ROLLBACK")
            throw error
        }
    }

    private static let rowsPerStatement = 1000

    private func insert(_ events: ArraySlice<StoredEvent>) async throws {
        let columns = 8
        let row = "(" + Array(repeating: "?", count: columns).joined(separator: ",") + ")"
        var binds: [SQLiteData] = []
        binds.reserveCapacity(events.count * columns)
        for event in events {
            let message = event.message
            binds += [
                .text(message.roomId), .integer(Int(event.offset)), .integer(Int(event.epoch)), .text(message.event),
                .text(message.data.jsonText), .text(message.from), .integer(Int(message.timestamp)),
                message.meta.map { .text($0.jsonText) } ?? .null,
            ]
        }
        try await writer.query(
            "INSERT INTO dialogue_events (room_id, room_offset, epoch, event, data, sender, timestamp, meta) VALUES "
                + Array(repeating: row, count: events.count).joined(separator: ","),
            binds
        )
    }

    // MARK: Reading

    private static let columns = "room_id, room_offset, epoch, event, data, sender, timestamp, meta"

    public func events(roomId: String, eventName: String, start: Int, end: Int) async throws -> [StoredEvent] {
        let lower = max(0, start)
        guard end > lower else { return [] }
        let rows = try await reader.query(
            "SELECT \(Self.columns) FROM dialogue_events WHERE room_id = ? AND event = ? ORDER BY room_offset DESC LIMIT ? OFFSET ?",
            [.text(roomId), .text(eventName), .integer(end - lower), .integer(lower)]
        )
        return rows.compactMap(decode)
    }

    public func count(roomId: String, eventName: String) async throws -> Int {
        let rows = try await reader.query(
            "SELECT COUNT(*) AS n FROM dialogue_events WHERE room_id = ? AND event = ?", [.text(roomId), .text(eventName)]
        )
        return rows.first?.column("n")?.integer ?? 0
    }

    public func events(roomId: String, after offset: Int64, limit: Int) async throws -> [StoredEvent] {
        let rows = try await reader.query(
            "SELECT \(Self.columns) FROM dialogue_events WHERE room_id = ? AND room_offset > ? ORDER BY room_offset LIMIT ?",
            [.text(roomId), .integer(Int(offset)), .integer(limit)]
        )
        return rows.compactMap(decode)
    }

    public func prune(roomId: String, eventName: String, keepingNewest: Int?, olderThan: Int64?) async throws -> Int {
        var deleted = 0
        if let keepingNewest {
            // The newest offset to go: the (keepingNewest + 1)-th newest of the name.
            let rows = try await reader.query(
                "SELECT room_offset FROM dialogue_events WHERE room_id = ? AND event = ? ORDER BY room_offset DESC LIMIT 1 OFFSET ?",
                [.text(roomId), .text(eventName), .integer(keepingNewest)]
            )
            if let newestToGo = rows.first?.column("room_offset")?.integer {
                deleted += try await delete(
                    where: "room_id = ? AND room_offset <= ? AND event = ?", [.text(roomId), .integer(newestToGo), .text(eventName)]
                )
            }
        }
        if let olderThan {
            deleted += try await delete(
                where: "room_id = ? AND event = ? AND timestamp < ?", [.text(roomId), .text(eventName), .integer(Int(olderThan))]
            )
        }
        return deleted
    }

    /// Deletes the rows `condition` selects, a chunk per statement so appends are not held up long.
    /// Returns how many rows it removed.
    private func delete(where condition: String, _ binds: [SQLiteData]) async throws -> Int {
        let chunk = 10_000
        var deleted = 0
        while true {
            let rows = try await maintenance.query(
                "DELETE FROM dialogue_events WHERE rowid IN (SELECT rowid FROM dialogue_events WHERE \(condition) LIMIT \(chunk)) RETURNING 1 AS gone", binds
            )
            deleted += rows.count
            if rows.count < chunk { return deleted }
        }
    }

    public func reset(roomId: String, epoch: Int64) async throws {
        // Resets of several rooms share the maintenance connection: each its own part of one transaction.
        try await resets.transaction(on: maintenance) { [maintenance] in
            try await maintenance.query("DELETE FROM dialogue_events WHERE room_id = ?", [.text(roomId)])
            try await maintenance.query(
                """
                INSERT INTO dialogue_rooms (room_id, epoch, last_offset) VALUES (?, ?, 0)
                ON CONFLICT(room_id) DO UPDATE SET epoch = excluded.epoch, last_offset = 0
                """,
                [.text(roomId), .integer(Int(epoch))]
            )
        }
    }

    public func close() async {
        closed.store(true, ordering: .relaxed)
        await maintenance.close()
        await reader.close()
        await writer.close()
    }

    /// A row as a stored event; a row that does not decode is skipped with a log line.
    private func decode(_ row: SQLiteRow) -> StoredEvent? {
        guard let roomId = row.column("room_id")?.string, let offset = row.column("room_offset")?.integer,
            let epoch = row.column("epoch")?.integer, let event = row.column("event")?.string,
            let dataText = row.column("data")?.string, let data = try? SocketValue(jsonText: dataText),
            let from = row.column("sender")?.string, let timestamp = row.column("timestamp")?.integer
        else {
            logger.error("skipping a stored event that does not decode", metadata: ["dialogue.row": "\(row.column("room_id")?.string ?? "?")#\(row.column("room_offset")?.integer ?? -1)"])
            return nil
        }
        let meta = row.column("meta")?.string.flatMap { try? SocketValue(jsonText: $0) }
        return StoredEvent(
            offset: Int64(offset), epoch: Int64(epoch),
            message: AnyEventMessage(event: event, roomId: roomId, data: data, from: from, timestamp: Int64(timestamp), meta: meta)
        )
    }
}
