import Dialogue
import DialogueClient
import DialogueHistory
import DialogueHistoryPostgres
import DialogueHistorySQLite
import Foundation
import SQLiteNIO
import SocketIO
import Synchronization
import TestSupport
import Testing

@Suite("Durable history through the server")
struct DurableHistoryTests {
    @Test(arguments: StoreKind.allCases)
    func pagesThroughMemoryThenTheStoreWithOffsets(kind: StoreKind) async throws {
        try await kind.withChatRoom { configuration in
            try await withDialogue(configuration) { server, url in
                for n in 1...10 { try await server.trigger("general", Message, ChatMessage(text: "m\(n)", senderId: "s")) }
                let room = try #require(server.room("general"))
                // Memory keeps 3 (the event's limit); the store has all 10, with the same newest-first indices.
                let page = await room.history("message", start: 0, end: 10)
                #expect(page.map { $0.data["text"] } == (1...10).reversed().map { .string("m\($0)") })
                #expect(page.map(\.offset) == (1...10).reversed().map { Int64($0) })
                #expect(await room.history("message", start: 2, end: 5).map(\.offset) == [8, 7, 6])
                try await withClient(url, auth: ["userId": "alice"]) { alice in
                    let joined = try await alice.join("general")
                    var events = joined.allEvents.makeAsyncIterator()
                    let timestamp = try await joined.trigger(Message, ChatMessage(text: "m11", senderId: "alice"))
                    #expect(timestamp > 0)
                    #expect(await events.next()?.offset == 11, "delivered events carry their offset")
                    #expect(try await joined.getHistory("message", start: 0, end: 20).count == 11)
                }
            }
        }
    }

    @Test(arguments: [StoreKind.sqlite, .postgres])
    func historySurvivesARestartAndOffsetsContinue(kind: StoreKind) async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("history.sqlite").path
            let schema = "restart_\(UUID().uuidString.prefix(8).lowercased())"
            for round in 0..<2 {
                var configuration = testConfiguration(rooms: [("general", chatRoom)])
                if kind == .postgres {
                    let url = try #require(StoreKind.postgresURL, "DIALOGUE_POSTGRES_URL is not set: run ./scripts/test")
                    configuration.historyStore = try PostgresHistoryStore(url: url, schema: schema, logger: testLogger)
                } else {
                    configuration.historyStore = try await SQLiteHistoryStore(path: path, logger: testLogger)
                }
                try await withDialogue(configuration) { server, _ in
                    for n in 1...5 { try await server.trigger("general", Message, ChatMessage(text: "r\(round)-\(n)", senderId: "s")) }
                    let history = await server.room("general")?.history("message", start: 0, end: 100) ?? []
                    #expect(history.count == 5 * (round + 1))
                    #expect(history.first?.offset == Int64(5 * (round + 1)))
                    #expect(history.last?.data["text"] == "r0-1")
                }
            }
        }
    }

    @Test func deletingARoomDeletesItsStoredHistory() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = testConfiguration()
            configuration.historyStore = try await SQLiteHistoryStore(path: directory.appendingPathComponent("h.sqlite").path, logger: testLogger)
            try await withDialogue(configuration) { server, _ in
                try await server.createRoom("project", chatRoom)
                for n in 1...4 { try await server.trigger("project", Message, ChatMessage(text: "old \(n)", senderId: "s")) }
                #expect(await server.deleteRoom("project"))
                try await server.createRoom("project", chatRoom)
                let message = try await server.trigger("project", Message, ChatMessage(text: "new", senderId: "s"))
                #expect(message.offset == 1, "a new epoch starts at 1")
                #expect(await server.room("project")?.history("message", start: 0, end: 10).map { $0.data["text"] } == ["new"])
            }
        }
    }

    /// One client's kept events wait for their commits together: the next is admitted (offset, memory) while
    /// the one before waits for the disk, and each is answered and delivered only once it is durable.
    @Test func aClientsKeptEventsDoNotWaitForEachOthersCommits() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("h.sqlite").path
            var configuration = testConfiguration(rooms: [("general", chatRoom)])
            configuration.historyStore = try await SQLiteHistoryStore(path: path, logger: testLogger)
            try await withDialogue(configuration) { server, url in
                try await TestClient.with(url, auth: ["userId": "watcher"]) { watcher in
                    try await watcher.join("general")
                    try await TestClient.with(url, auth: ["userId": "writer"]) { writer in
                        try await writer.join("general")
                        // Another process holds the write lock: no commit can finish until it lets go.
                        let other = try await SQLiteConnection.open(storage: .file(path: path))
                        _ = try await other.query("BEGIN IMMEDIATE")
                        let answers = Recorder<SocketValue>()
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            for n in 1...3 {
                                group.addTask {
                                    let data: SocketValue = ["text": .string("m\(n)"), "senderId": "writer"]
                                    answers.append(try await writer.request("dialogue:trigger", ["roomId": "general", "event": "message", "data": data]))
                                }
                            }
                            let room = try #require(server.room("general"))
                            try await eventually("all three admitted while the first commit waits") {
                                await room.history("message", start: 0, end: 10).count == 3
                            }
                            #expect(answers.all.isEmpty, "nothing is answered before it is durable")
                            #expect(watcher.pendingEventNames.isEmpty, "nothing is delivered before it is durable")
                            _ = try await other.query("COMMIT")
                            try await other.close()
                            try await group.waitForAll()
                        }
                        #expect(Set(answers.all.compactMap { $0["offset"]?.intValue }) == [1, 2, 3])
                        #expect(answers.all.allSatisfy { $0["ok"] == true && $0["persisted"] == nil }, "\(answers.all)")
                        var delivered: [Int] = []
                        for _ in 1...3 { delivered.append(try await watcher.nextEvent("message")["offset"]?.intValue ?? -1) }
                        #expect(delivered == [1, 2, 3], "delivered in offset order")
                    }
                }
            }
        }
    }

    /// Events without history are finished one at a time, so one client's events reach the room in the
    /// order it sent them (with a history store, where kept events are finished concurrently).
    @Test func aClientsEventsWithoutHistoryArriveInTheOrderSent() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = testConfiguration(rooms: [("general", chatRoom)])
            configuration.historyStore = try await SQLiteHistoryStore(path: directory.appendingPathComponent("h.sqlite").path, logger: testLogger)
            try await withDialogue(configuration) { _, url in
                try await TestClient.with(url, auth: ["userId": "watcher"]) { watcher in
                    try await watcher.join("general")
                    _ = try await watcher.request("dialogue:subscribe", ["roomId": "general", "eventName": "typing"])
                    try await TestClient.with(url, auth: ["userId": "writer"]) { writer in
                        try await writer.join("general")
                        for n in 0..<40 { writer.trigger("general", "typing", ["isTyping": .bool(n % 2 == 0)]) }
                        var received: [Bool] = []
                        for _ in 0..<40 { received.append(try await watcher.nextEvent("typing")["data"]?["isTyping"] == true) }
                        #expect(received == (0..<40).map { $0 % 2 == 0 })
                    }
                }
            }
        }
    }

    @Test func concurrentTriggersAreDeliveredInOffsetOrder() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = testConfiguration(rooms: [("general", chatRoom)])
            configuration.historyStore = try await SQLiteHistoryStore(path: directory.appendingPathComponent("h.sqlite").path, logger: testLogger)
            try await withDialogue(configuration) { server, url in
                try await withClient(url, auth: ["userId": "watcher"]) { watcher in
                    let room = try await watcher.join("general")
                    let offsets = Recorder<Int64>()
                    room.onAny { offsets.append($0.offset ?? -1) }
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for task in 0..<5 {
                            group.addTask {
                                for n in 0..<20 { try await server.trigger("general", Message, ChatMessage(text: "\(task)-\(n)", senderId: "s")) }
                            }
                        }
                        try await group.waitForAll()
                    }
                    try await offsets.wait { $0.count == 100 }
                    #expect(offsets.all == Array(1...100), "no reordering, no gap, no duplicate")
                }
            }
        }
    }
}

/// A store whose disk is full until `freeSpace()`: appends fail meanwhile; everything else works.
final class FullDiskStore: HistoryStore {
    struct DiskFull: Error, CustomStringConvertible {
        var description: String { "disk full" }
    }
    let inner = InMemoryHistoryStore()
    private let full = Mutex(true)
    func freeSpace() { full.withLock { $0 = false } }

    /// The chat room on a full disk, retried every 20 ms.
    static func chatConfiguration() -> (DialogueConfiguration, FullDiskStore) {
        var configuration = testConfiguration(rooms: [("general", chatRoom)])
        let store = FullDiskStore()
        configuration.historyStore = store
        configuration.storeRetryInterval = .milliseconds(20)
        return (configuration, store)
    }
    func open() async throws -> [String: RoomLog] { try await inner.open() }
    func append(_ events: [StoredEvent]) async throws {
        if full.withLock({ $0 }) { throw DiskFull() }
        try await inner.append(events)
    }
    func events(roomId: String, eventName: String, start: Int, end: Int) async throws -> [StoredEvent] {
        try await inner.events(roomId: roomId, eventName: eventName, start: start, end: end)
    }
    func count(roomId: String, eventName: String) async throws -> Int { try await inner.count(roomId: roomId, eventName: eventName) }
    func events(roomId: String, after offset: Int64, limit: Int) async throws -> [StoredEvent] {
        try await inner.events(roomId: roomId, after: offset, limit: limit)
    }
    func prune(roomId: String, eventName: String, keepingNewest: Int?, olderThan: Int64?) async throws -> Int {
        try await inner.prune(roomId: roomId, eventName: eventName, keepingNewest: keepingNewest, olderThan: olderThan)
    }
    func reset(roomId: String, epoch: Int64) async throws { try await inner.reset(roomId: roomId, epoch: epoch) }
    func close() async {}
}

@Suite("History store faults")
struct HistoryStoreFaultTests {
    @Test func aFailingStoreDoesNotStopLiveDelivery() async throws {
        var configuration = testConfiguration(rooms: [("general", chatRoom)])
        configuration.historyStore = FullDiskStore()
        try await withDialogue(configuration) { server, url in
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                try await alice.join("general")
                let answer = try await alice.request("dialogue:trigger", ["roomId": "general", "event": "message", "data": ["text": "hi", "senderId": "alice"]])
                #expect(answer["ok"] == true && answer["persisted"] == false && answer["offset"] == 1)
                #expect(try await alice.nextEvent("message")["data"]?["text"] == "hi", "delivered all the same")
                let stillGoing = try await server.trigger("general", Message, ChatMessage(text: "next", senderId: "s"))
                #expect(stillGoing.offset == 2)
                #expect(await server.room("general")?.history("message", start: 0, end: 5).map { $0.data["text"] } == ["next", "hi"], "memory still has them")
            }
        }
    }

    @Test func eventsAFailingStoreRefusedAreStoredWhenItIsBack() async throws {
        let (configuration, store) = FullDiskStore.chatConfiguration()
        try await withDialogue(configuration) { server, _ in
            for n in 1...3 { try await server.trigger("general", Message, ChatMessage(text: "m\(n)", senderId: "s")) }
            let failing = server.historyStoreStatus
            #expect(failing.configured && !failing.healthy && failing.pendingEvents == 3 && failing.droppedEvents == 0)
            #expect(failing.failedWrites >= 1 && failing.lastError == "disk full")
            #expect(try await store.inner.count(roomId: "general", eventName: "message") == 0)
            store.freeSpace()
            try await eventually("the store caught up") { server.historyStoreStatus.pendingEvents == 0 }
            #expect(server.historyStoreStatus.healthy)
            try await server.trigger("general", Message, ChatMessage(text: "m4", senderId: "s"))
            let stored = try await store.inner.events(roomId: "general", after: 0, limit: 10)
            #expect(stored.map(\.offset) == [1, 2, 3, 4], "every event, in order, once")
            #expect(try await store.open()["general"]?.lastOffset == 4)
        }
    }

    @Test func beyondThePendingLimitTheOldestAreGivenUpAndCounted() async throws {
        let (chat, store) = FullDiskStore.chatConfiguration()
        var configuration = chat
        configuration.maxPendingStoreEvents = 2
        try await withDialogue(configuration) { server, _ in
            for n in 1...5 { try await server.trigger("general", Message, ChatMessage(text: "m\(n)", senderId: "s")) }
            #expect(server.historyStoreStatus.pendingEvents == 2 && server.historyStoreStatus.droppedEvents == 3)
            store.freeSpace()
            try await eventually("the store caught up") { server.historyStoreStatus.pendingEvents == 0 }
            #expect(try await store.inner.events(roomId: "general", after: 0, limit: 10).map(\.offset) == [4, 5])
        }
    }
}
