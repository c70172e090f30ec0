import Dialogue
import DialogueClient
import DialogueHistory
import SocketIO
import TestSupport
import Testing

@Suite("Connection-state recovery")
struct RecoveryTests {
    /// While the client is away, the room goes on; after reconnecting it gets what it missed, in order,
    /// then live events: no gap, no duplicate.
    @Test(arguments: StoreKind.allCases)
    func theSwiftClientRecoversWhatItMissed(store: StoreKind) async throws {
        try await store.withChatRoom { configuration in
            try await withDialogue(configuration) { server, url in
                // A long first backoff keeps the client away while the room goes on; many attempts, so that a
                // loaded machine (the whole suite runs in parallel) cannot make it give up before it is back.
                let backoff = Backoff(initial: .milliseconds(400), maximum: .milliseconds(400), jitter: 0)
                try await withClient(url, auth: ["userId": "alice"], reconnectionAttempts: 50, backoff: backoff) { alice in
                    let room = try await alice.join("general")
                    let received = Recorder<String>(), recoveries = Recorder<Recovery>()
                    room.on(Message) { received.append("\($0.offset ?? -1) \($0.data.text)") }
                    alice.recoveries.observe { recoveries.append($0) }
                    try await server.trigger("general", Message, ChatMessage(text: "before", senderId: "s"))
                    try await received.wait { $0 == ["1 before"] }
                    server.getClients("alice").first?.socket.closeConnection()
                    for n in 1...3 { try await server.trigger("general", Message, ChatMessage(text: "missed \(n)", senderId: "s")) }
                    try await recoveries.wait { $0 == [Recovery(roomId: "general", recovered: true)] }
                    try await server.trigger("general", Message, ChatMessage(text: "live", senderId: "s"))
                    try await received.wait { $0.count == 5 }
                    #expect(received.all == ["1 before", "2 missed 1", "3 missed 2", "4 missed 3", "5 live"])
                    #expect(room.lastOffset == 5)
                }
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func recoveryFailsWhenTooMuchWasMissedOrTheEpochChanged(store: StoreKind) async throws {
        try await store.withChatRoom { chat in
            var configuration = chat
            configuration.maxRecoveryEvents = 2
            try await withDialogue(configuration) { server, url in
                try await TestClient.with(url, auth: ["userId": "raw"]) { raw in
                    for n in 1...5 { try await server.trigger("general", Message, ChatMessage(text: "m\(n)", senderId: "s")) }
                    // Five missed, two allowed: told it failed, given the newest history instead.
                    let failed = try await raw.request("dialogue:join", ["roomId": "general", "offset": 0, "epoch": nil])
                    #expect(failed["recovered"] == false && failed["offset"] == 5)
                    let history = try await raw.next("dialogue:history")
                    #expect(history["events"]?.arrayValue?.compactMap { $0["offset"] } == [5, 4, 3], "the newest the room holds in memory")
                    _ = try await raw.request("dialogue:leave", ["roomId": "general"])
                    // Two missed: replayed in order.
                    let recovered = try await raw.request("dialogue:join", ["roomId": "general", "offset": 3, "epoch": failed["epoch"] ?? nil, "subscriptions": ["message"]])
                    #expect(recovered["recovered"] == true && recovered["subscriptions"] == ["message"])
                    #expect(try await raw.nextEvent("message")["offset"] == 4)
                    #expect(try await raw.nextEvent("message")["offset"] == 5)
                    _ = try await raw.request("dialogue:leave", ["roomId": "general"])
                    // Another epoch (the room was deleted and made again): nothing to replay from.
                    let wrongEpoch = try await raw.request("dialogue:join", ["roomId": "general", "offset": 4, "epoch": 12345])
                    #expect(wrongEpoch["recovered"] == false)
                }
            }
        }
    }

    /// Joins that resume from offset 0 while a producer triggers continuously each receive every event of the
    /// room exactly once, in order: the replay up to the join's snapshot, then live ones.
    @Test(arguments: StoreKind.allCases)
    func resumingDuringAStreamMissesNothingAndDuplicatesNothing(store: StoreKind) async throws {
        try await store.withChatRoom { configuration in
            try await withDialogue(configuration) { server, url in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for n in 1...200 { try await server.trigger("general", Message, ChatMessage(text: "m\(n)", senderId: "s")) }
                    }
                    for joiner in 0..<3 {
                        group.addTask {
                            try await Task.sleep(for: .milliseconds(20 * joiner))
                            try await TestClient.with(url, auth: ["userId": .string("joiner-\(joiner)")]) { client in
                                let answer = try await client.request("dialogue:join", ["roomId": "general", "offset": 0])
                                #expect(answer["recovered"] == true)
                                var offsets: [Int64] = []
                                while offsets.count < 200 {
                                    guard case .int(let offset)? = try await client.nextEvent("message")["offset"] else { break }
                                    offsets.append(offset)
                                }
                                #expect(offsets == Array(1...200), "joiner \(joiner)")
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
        }
    }
}
