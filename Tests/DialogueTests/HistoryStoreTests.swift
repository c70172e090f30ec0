import Dialogue
import DialogueHistory
import DialogueHistoryPostgres
import DialogueHistorySQLite
import Foundation
import SQLiteNIO
import TestSupport
import Testing

/// A fresh temporary folder, removed afterwards.
func withTemporaryDirectory<Result>(_ body: (URL) async throws -> Result) async throws -> Result {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dialogue-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory)
}

/// The stores under test: each test case runs against every implementation.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
    case memory, sqlite, postgres
    var testDescription: String { rawValue }

    /// The throwaway PostgreSQL that `./scripts/test` starts.
    static var postgresURL: String? { ProcessInfo.processInfo.environment["DIALOGUE_POSTGRES_URL"] }

    /// Makes a store (PostgreSQL: in a schema of its own) and runs `body` with it, the store's background
    /// work running meanwhile.
    func with<Result: Sendable>(in directory: URL, _ body: @Sendable (any HistoryStore) async throws -> Result) async throws -> Result {
        let store: any HistoryStore
        switch self {
        case .memory: store = InMemoryHistoryStore()
        case .sqlite: store = try await SQLiteHistoryStore(path: directory.appendingPathComponent("history.sqlite").path, logger: testLogger)
        case .postgres:
            let url = try #require(Self.postgresURL, "DIALOGUE_POSTGRES_URL is not set: run ./scripts/test (it starts a throwaway PostgreSQL)")
            store = try PostgresHistoryStore(url: url, schema: "test_\(UUID().uuidString.prefix(8).lowercased())", logger: testLogger)
        }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            defer { group.cancelAll() }
            return try await body(store)
        }
    }

    /// The chat room on a store of this kind (its files in a temporary folder), for `body`.
    func withChatRoom<Result>(_ body: (DialogueConfiguration) async throws -> Result) async throws -> Result {
        try await withTemporaryDirectory { directory in
            var configuration = testConfiguration(rooms: [("general", chatRoom)])
            configuration.historyStore = try await make(in: directory)
            return try await body(configuration)
        }
    }

    /// A store for a server, which runs the store's background work itself.
    func make(in directory: URL) async throws -> any HistoryStore {
        switch self {
        case .memory: return InMemoryHistoryStore()
        case .sqlite: return try await SQLiteHistoryStore(path: directory.appendingPathComponent("history.sqlite").path, logger: testLogger)
        case .postgres:
            let url = try #require(Self.postgresURL, "DIALOGUE_POSTGRES_URL is not set: run ./scripts/test (it starts a throwaway PostgreSQL)")
            return try PostgresHistoryStore(url: url, schema: "test_\(UUID().uuidString.prefix(8).lowercased())", logger: testLogger)
        }
    }
}

func stored(_ room: String, _ event: String, _ offset: Int64, epoch: Int64 = 1) -> StoredEvent {
    StoredEvent(offset: offset, epoch: epoch, message: AnyEventMessage(
        event: event, roomId: room, data: ["n": .int(offset), "text": "é \"quoted\""], from: "u", timestamp: 1_700_000_000_000 + offset,
        meta: offset.isMultiple(of: 2) ? ["trace": .int(offset)] : nil
    ))
}

@Suite("History stores (every implementation)")
struct HistoryStoreTests {
    @Test(arguments: StoreKind.allCases)
    func appendPageCountAndReadAfterAnOffset(kind: StoreKind) async throws {
        try await withTemporaryDirectory { directory in try await kind.with(in: directory) { store in
            #expect(try await store.open().isEmpty)
            try await store.append((1...5).map { stored("r", $0.isMultiple(of: 2) ? "b" : "a", $0) })
            try await store.append([stored("other", "a", 1)])
            #expect(try await store.events(roomId: "r", eventName: "a", start: 0, end: 10).map(\.offset) == [5, 3, 1])
            #expect(try await store.events(roomId: "r", eventName: "a", start: 1, end: 2).map(\.offset) == [3])
            #expect(try await store.count(roomId: "r", eventName: "b") == 2)
            #expect(try await store.events(roomId: "r", after: 2, limit: 2).map(\.offset) == [3, 4])
            let first = try #require(try await store.events(roomId: "r", eventName: "b", start: 0, end: 1).first)
            #expect(first == stored("r", "b", 4), "the whole message round-trips, meta included")
            #expect(try await store.open() == ["r": RoomLog(epoch: 1, lastOffset: 5), "other": RoomLog(epoch: 1, lastOffset: 1)])
            try await store.reset(roomId: "r", epoch: 2)
            #expect(try await store.count(roomId: "r", eventName: "a") == 0)
            #expect(try await store.open()["r"] == RoomLog(epoch: 2, lastOffset: 0))
            await store.close()
        } }
    }

    @Test(arguments: StoreKind.allCases)
    func pruneKeepsTheNewestOfOneNameAndDropsTheOld(kind: StoreKind) async throws {
        try await withTemporaryDirectory { directory in try await kind.with(in: directory) { store in
            _ = try await store.open()
            // Room r: a at 1, 3, 5, …, 29; b at 2, 4, …, 30. Timestamps are 1_700_000_000_000 + offset.
            try await store.append((1...30).map { stored("r", $0.isMultiple(of: 2) ? "b" : "a", $0) })
            try await store.append((1...3).map { stored("other", "a", $0) })
            #expect(try await store.prune(roomId: "r", eventName: "a", keepingNewest: 4, olderThan: nil) == 11)
            #expect(try await store.events(roomId: "r", eventName: "a", start: 0, end: 100).map(\.offset) == [29, 27, 25, 23])
            #expect(try await store.count(roomId: "r", eventName: "b") == 15, "other names are untouched")
            #expect(try await store.count(roomId: "other", eventName: "a") == 3, "other rooms are untouched")
            #expect(try await store.prune(roomId: "r", eventName: "a", keepingNewest: 4, olderThan: nil) == 0, "nothing more to prune")
            // By age: b events with a timestamp before offset 21's.
            #expect(try await store.prune(roomId: "r", eventName: "b", keepingNewest: nil, olderThan: 1_700_000_000_021) == 10)
            #expect(try await store.events(roomId: "r", eventName: "b", start: 0, end: 100).map(\.offset) == [30, 28, 26, 24, 22])
            #expect(try await store.events(roomId: "r", after: 20, limit: 100).map(\.offset) == [22, 23, 24, 25, 26, 27, 28, 29, 30])
            #expect(try await store.open()["r"] == RoomLog(epoch: 1, lastOffset: 30), "the log position stays")
            #expect(try await store.prune(roomId: "missing", eventName: "a", keepingNewest: 1, olderThan: 0) == 0)
            await store.close()
        } }
    }

    @Test(arguments: StoreKind.allCases)
    func concurrentAppendsAreAllStoredInOrderPerRoom(kind: StoreKind) async throws {
        try await withTemporaryDirectory { directory in try await kind.with(in: directory) { store in
            _ = try await store.open()
            // 200 appends at once (group commit in SQLite); each room's offsets go in increasing order per task.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for room in 0..<4 {
                    group.addTask {
                        for offset in Int64(1)...50 { try await store.append([stored("room-\(room)", "m", offset)]) }
                    }
                }
                try await group.waitForAll()
            }
            for room in 0..<4 {
                #expect(try await store.events(roomId: "room-\(room)", after: 0, limit: 100).map(\.offset) == Array(1...50))
            }
            await store.close()
        } }
    }

    @Test func sqliteKeepsEverythingAcrossReopeningAndSkipsCorruptRows() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("history.sqlite").path
            let first = try await SQLiteHistoryStore(path: path, logger: testLogger)
            _ = try await first.open()
            try await first.append((1...3).map { stored("r", "m", $0) })
            await first.close()
            // A row written by something else, with data that is not JSON.
            let raw = try await SQLiteConnection.open(storage: .file(path: path))
            _ = try await raw.query(
                "INSERT INTO dialogue_events (room_id, room_offset, epoch, event, data, sender, timestamp) VALUES ('r', 4, 1, 'm', '{broken', 'x', 0)"
            )
            try await raw.close()
            let second = try await SQLiteHistoryStore(path: path, logger: testLogger)
            // The schema's trigger moves the room's position with every stored row, this one too: the next
            // append does not collide with it.
            #expect(try await second.open() == ["r": RoomLog(epoch: 1, lastOffset: 4)], "migrations ran once; the log survived")
            #expect(try await second.events(roomId: "r", eventName: "m", start: 0, end: 10).map(\.offset) == [3, 2, 1], "the corrupt row is skipped")
            await second.close()
        }
    }
    /// While another process holds the write lock, the store's own writes wait for it — and its reads do not
    /// wait for them: each connection has a thread of its own, so two waiting writes cannot take the threads
    /// a read (or the lock's holder) needs until SQLite's busy timeout gives up.
    @Test func sqliteReadsGoOnWhileWritesWaitForTheLock() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("history.sqlite").path
            let store = try await SQLiteHistoryStore(path: path, logger: testLogger)
            _ = try await store.open()
            try await store.append((1...3).map { stored("r", "m", $0) })
            let other = try await SQLiteConnection.open(storage: .file(path: path))
            _ = try await other.query("BEGIN IMMEDIATE")
            let finished = Recorder<String>()
            let reset = Task {
                defer { finished.append("reset") }
                try await store.reset(roomId: "gone", epoch: 2)
            }
            let append = Task {
                defer { finished.append("append") }
                try await store.append([stored("r", "m", 4)])
            }
            // Both writes are waiting for the lock (SQLite's busy timeout is 5 s) while these reads run.
            try await Task.sleep(for: .milliseconds(200))
            for _ in 0..<4 {
                #expect(try await store.events(roomId: "r", after: 0, limit: 10).map(\.offset) == [1, 2, 3])
            }
            #expect(finished.all.isEmpty, "the writes still wait for the other process's lock")
            _ = try await other.query("COMMIT")
            try await other.close()
            try await reset.value
            try await append.value
            #expect(try await store.events(roomId: "r", after: 0, limit: 10).map(\.offset) == [1, 2, 3, 4])
            await store.close()
        }
    }
}
