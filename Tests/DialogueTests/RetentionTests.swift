@testable import Dialogue
import DialogueHistory
import Foundation
import SocketIO
import TestSupport
import Testing

@Suite("History retention")
struct RetentionTests {
    /// A room whose `note` events keep at most `maxEvents` and whose `ping` events expire after `maxAge`;
    /// `chat` has no retention.
    static func room(maxEvents: Int, maxAge: Duration) -> RoomConfiguration {
        RoomConfiguration(name: "Retained", events: [
            EventDefinition("note", history: EventHistory(limit: 10, retention: HistoryRetention(maxEvents: maxEvents))),
            EventDefinition("ping", history: EventHistory(limit: 10, retention: HistoryRetention(maxAge: maxAge))),
            EventDefinition("chat", history: EventHistory(limit: 10)),
        ])
    }

    @Test(arguments: StoreKind.allCases)
    func theBackgroundServiceKeepsTheNewestAndDropsTheExpired(kind: StoreKind) async throws {
        try await withTemporaryDirectory { directory in
            var configuration = testConfiguration(rooms: [("r", Self.room(maxEvents: 3, maxAge: .milliseconds(400)))])
            let store = try await kind.make(in: directory)
            configuration.historyStore = store
            configuration.retentionInterval = .milliseconds(50)
            try await withDialogue(configuration) { server, _ in
                for n in 1...8 {
                    _ = try await server.trigger("r", event: "note", data: ["n": .int(Int64(n))])
                    _ = try await server.trigger("r", event: "chat", data: ["n": .int(Int64(n))])
                }
                _ = try await server.trigger("r", event: "ping", data: [:])
                // Checked at once: on a loaded machine the pruning below may take longer than the ping's age.
                #expect(try await store.count(roomId: "r", eventName: "ping") == 1, "not expired yet")
                let room = try #require(server.room("r"))
                // Count: the newest 3 notes stay, in memory and in the store; chat is untouched.
                try await eventually("notes pruned to 3") { (try? await store.count(roomId: "r", eventName: "note")) == 3 }
                #expect(await room.history("note", start: 0, end: 10).map { $0.data["n"] } == [8, 7, 6])
                #expect(try await store.count(roomId: "r", eventName: "chat") == 8)
                #expect(await room.history("chat", start: 0, end: 10).count == 8)
                // Age: the ping is gone from both once older than 400 ms.
                try await eventually("the ping expired") { (try? await store.count(roomId: "r", eventName: "ping")) == 0 }
                #expect(await room.history("ping", start: 0, end: 10).isEmpty)
            }
        }
    }

    @Test func aResumeAcrossPrunedEventsFailsInsteadOfSkippingThem() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = testConfiguration(rooms: [("r", Self.room(maxEvents: 2, maxAge: .seconds(3600)))])
            configuration.historyStore = try await StoreKind.sqlite.make(in: directory)
            configuration.retentionInterval = .seconds(3600)
            try await withDialogue(configuration) { server, url in
                try await TestClient.with(url, auth: ["userId": "raw"]) { raw in
                    let first = try await raw.request("dialogue:join", ["roomId": "r", "offset": 0])
                    _ = try await raw.request("dialogue:leave", ["roomId": "r"])
                    for n in 1...5 { _ = try await server.trigger("r", event: "note", data: ["n": .int(Int64(n))]) }
                    _ = try await server.trigger("r", event: "chat", data: [:])
                    #expect(await server.enforceRetention() == 3, "notes at offsets 1…3 go")
                    #expect(await server.enforceRetention() == 0)
                    // Seen up to offset 1: 2 and 3 are gone, so an exact replay is impossible.
                    let failed = try await raw.request("dialogue:join", ["roomId": "r", "offset": 1, "epoch": first["epoch"] ?? nil])
                    #expect(failed["recovered"] == false && failed["offset"] == 6)
                    _ = try await raw.request("dialogue:leave", ["roomId": "r"])
                    // Seen up to offset 3: 4, 5 and the chat at 6 are all there.
                    let recovered = try await raw.request("dialogue:join", ["roomId": "r", "offset": 3, "epoch": first["epoch"] ?? nil, "subscriptions": ["*"]])
                    #expect(recovered["recovered"] == true)
                    #expect(try await raw.nextEvent("note")["offset"] == 4)
                    #expect(try await raw.nextEvent("note")["offset"] == 5)
                    #expect(try await raw.nextEvent("chat")["offset"] == 6)
                }
            }
        }
    }
}
