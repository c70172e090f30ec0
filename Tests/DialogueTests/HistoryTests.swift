import Dialogue
import SocketIO
import Synchronization
import TestSupport
import Testing

/// A stand-in database for the onCleanup/onLoad hooks: rows appended oldest first per room and event.
final class ArchiveStore: Sendable {
    private let rows = Mutex<[String: [AnyEventMessage]]>([:])

    func insert(_ roomId: String, _ eventName: String, _ events: [AnyEventMessage]) {
        rows.withLock { $0["\(roomId)/\(eventName)", default: []].append(contentsOf: events) }
    }

    /// Newest first, `[start, end)`.
    func load(_ roomId: String, _ eventName: String, _ start: Int, _ end: Int) -> [AnyEventMessage] {
        let newestFirst = rows.withLock { Array(($0["\(roomId)/\(eventName)"] ?? []).reversed()) }
        return Array(newestFirst.dropFirst(start).prefix(max(0, end - start)))
    }

    var count: Int { rows.withLock { $0.values.reduce(0) { $0 + $1.count } } }
}

@Suite("Dialogue history")
struct HistoryTests {
    static func configuration(archive: ArchiveStore, loads: Recorder<String>) -> DialogueConfiguration {
        var configuration = testConfiguration(rooms: [("general", chatRoom)])
        configuration.hooks.events.onCleanup = { roomId, eventName, events in archive.insert(roomId, eventName, events) }
        configuration.hooks.events.onLoad = { roomId, eventName, start, end in
            loads.append("\(start)..<\(end)")
            return archive.load(roomId, eventName, start, end)
        }
        return configuration
    }

    @Test func pagingCrossesFromMemoryToOnLoad() async throws {
        let archive = ArchiveStore(), loads = Recorder<String>()
        try await withDialogue(Self.configuration(archive: archive, loads: loads)) { server, url in
            for n in 1...7 { try await server.trigger("general", Message, ChatMessage(text: "m\(n)", senderId: "s")) }
            #expect(archive.count == 4, "the history limit is 3: the 4 oldest went to onCleanup")
            let room = try #require(server.room("general"))
            #expect(await room.history("message", start: 0, end: 3).map { $0.data["text"] } == ["m7", "m6", "m5"])
            #expect(loads.all.isEmpty, "a page inside memory does not call onLoad")
            #expect(await room.history("message", start: 2, end: 6).map { $0.data["text"] } == ["m5", "m4", "m3", "m2"])
            #expect(await room.history("message", start: 5, end: 50).map { $0.data["text"] } == ["m2", "m1"])
            #expect(loads.all == ["0..<3", "2..<47"], "offsets are shifted by the 3 events in memory")
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                try await alice.join("general")
                let response = try await alice.request("dialogue:getHistory", ["roomId": "general", "eventName": "message", "start": 1, "end": 5])
                #expect(response["events"]?.arrayValue?.map { $0["data"]?["text"] } == ["m6", "m5", "m4", "m3"])
                let emitted = try await alice.next("dialogue:historyResponse")
                #expect(emitted["roomId"] == "general" && emitted["eventName"] == "message" && emitted["start"] == 1 && emitted["end"] == 5)
                // Without an event name: the room's in-memory events of every name, newest first.
                try await server.trigger("general", TypingEvent, Typing(isTyping: true))
                let recent = try await alice.request("dialogue:getHistory", ["roomId": "general"])
                #expect(recent["eventName"] == .null)
                #expect(recent["events"]?.arrayValue?.map { $0["event"] } == ["message", "message", "message"], "typing keeps no history")
            }
        }
    }

    @Test func syncOnJoinForConfiguredAndRuntimeRooms() async throws {
        let archive = ArchiveStore(), loads = Recorder<String>()
        try await withDialogue(Self.configuration(archive: archive, loads: loads)) { server, url in
            for n in 1...2 { try await server.trigger("general", Message, ChatMessage(text: "m\(n)", senderId: "s")) }
            var runtime = chatRoom
            runtime.syncHistoryOnJoin = 1
            try await server.createRoom("project", runtime, createdById: "alice")
            for n in 1...2 { try await server.trigger("project", Message, ChatMessage(text: "p\(n)", senderId: "s")) }
            try await server.createRoom("quiet", RoomConfiguration(name: "Quiet", events: [Message]))
            try await server.trigger("quiet", Message, ChatMessage(text: "q", senderId: "s"))
            try await TestClient.with(url, auth: ["userId": "bob"]) { bob in
                try await bob.join("general")
                let history = try await bob.next("dialogue:history")
                #expect(history["roomId"] == "general")
                #expect(history["events"]?.arrayValue?.map { $0["data"]?["text"] } == ["m2", "m1"])
                try await bob.join("project")
                let runtimeHistory = try await bob.next("dialogue:history")
                #expect(runtimeHistory["events"]?.arrayValue?.map { $0["data"]?["text"] } == ["p2"], "a number sends at most that many")
                try await bob.join("quiet")
                _ = try await bob.request("dialogue:listRooms", nil)
                #expect(!bob.pending.contains("dialogue:history"), "a room without syncHistoryOnJoin sends none")
            }
        }
    }

    @Test func historyRequestsAreRateLimitedAndBounded() async throws {
        var configuration = testConfiguration(rooms: [("general", chatRoom)])
        configuration.historyRequestLimit = (2, .seconds(60))
        configuration.maxHistoryPage = 2
        try await withDialogue(configuration) { server, url in
            for n in 1...3 { try await server.trigger("general", Message, ChatMessage(text: "m\(n)", senderId: "s")) }
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                try await alice.join("general")
                let first = try await alice.request("dialogue:getHistory", ["roomId": "general", "eventName": "message", "start": 0, "end": 1000])
                #expect(first["end"] == 2 && first["events"]?.arrayValue?.count == 2, "a page is cut to maxHistoryPage")
                let invalid = try await alice.request("dialogue:getHistory", ["roomId": "general", "start": -1])
                #expect(invalid["error"]?["code"] == "INVALID_REQUEST")
                let limited = try await alice.request("dialogue:getHistory", ["roomId": "general", "eventName": "message"])
                #expect(limited["error"] == ["code": "RATE_LIMITED", "message": "Too many history requests. Please wait before trying again.", "roomId": "general"])
            }
            try await TestClient.with(url, auth: ["userId": "alice"]) { otherTab in
                try await otherTab.join("general")
                let allowed = try await otherTab.request("dialogue:getHistory", ["roomId": "general", "eventName": "message"])
                #expect(allowed["ok"] == true, "the limit is per connection")
            }
        }
    }

    @Test func stoppingHandsAllBufferedHistoryToOnCleanup() async throws {
        let archive = ArchiveStore(), loads = Recorder<String>()
        let server = DialogueServer(configuration: Self.configuration(archive: archive, loads: loads), logger: testLogger)
        try await server.start()
        for n in 1...2 { try await server.trigger("general", Message, ChatMessage(text: "m\(n)", senderId: "s")) }
        #expect(archive.count == 0)
        try await server.stop()
        #expect(archive.load("general", "message", 0, 10).map { $0.data["text"] } == ["m2", "m1"], "nothing is lost on stop")
    }
}
