import Dialogue
import DialogueClient
import SocketIO
import TestSupport
import Testing

/// Rooms that announce presence: `user:joined`/`user:left` once per user (not per tab), and
/// `dialogue:presence` listing who is there.
@Suite("Presence")
struct PresenceTests {
    static let joined = EventDefinition("user:joined", schema: .object(["userId": .string(), "username": .string()]))
    static let left = EventDefinition("user:left", schema: .object(["userId": .string()]))

    static func configuration() -> DialogueConfiguration {
        testConfiguration(rooms: [
            ("lobby", RoomConfiguration(name: "Lobby", events: [joined, left], defaultSubscriptions: ["*"], announcesPresence: true)),
            ("quiet", RoomConfiguration(name: "Quiet", events: [joined, left], defaultSubscriptions: ["*"])),
        ])
    }

    @Test func arrivalsAndDeparturesAreAnnouncedOncePerUser() async throws {
        try await withDialogue(Self.configuration()) { server, url in
            try await TestClient.with(url, auth: ["userId": "alice", "username": "Alice A."]) { alice in
                try await alice.join("lobby")
                try await alice.join("quiet")
                let own = try await alice.nextEvent("user:joined")
                #expect(own["data"] == ["userId": "alice", "username": "Alice A."] && own["from"] == "alice" && own["roomId"] == "lobby")
                try await TestClient.with(url, auth: ["userId": "bob"]) { bob in
                    try await bob.join("lobby")
                    let arrival = try await alice.nextEvent("user:joined")
                    #expect(arrival["data"] == ["userId": "bob", "username": "bob"] && arrival["roomId"] == "lobby", "the user id stands in for a missing name")
                    // A second tab of bob's is not a new arrival, and leaving with one tab is not a departure.
                    try await TestClient.with(url, auth: ["userId": "bob"]) { secondTab in
                        try await secondTab.join("lobby")
                        let answer = try await alice.request("dialogue:presence", ["roomId": "lobby"])
                        #expect(answer == ["ok": true, "roomId": "lobby", "users": [["userId": "alice", "username": "Alice A."], ["userId": "bob", "username": "bob"]]])
                    }
                    _ = try await bob.request("dialogue:leave", ["roomId": "lobby"])
                    let departure = try await alice.nextEvent("user:left")
                    #expect(departure["data"] == ["userId": "bob"])
                }
                #expect(!alice.pendingEventNames.contains("user:joined"), "the second tab was not announced: \(alice.pendingEventNames)")
                #expect(server.presence(in: "quiet")?.map(\.userId) == ["alice"])
                // Membership is required to ask.
                let refused = try await alice.request("dialogue:presence", ["roomId": "elsewhere"])
                #expect(refused["error"]?["code"] == "NOT_IN_ROOM")
            }
            try await eventually("alice gone from the lobby") { server.presence(in: "lobby")?.isEmpty == true }
        }
    }

    @Test func theSwiftClientAsksWhoIsThere() async throws {
        try await withDialogue(Self.configuration()) { _, url in
            try await withClient(url, auth: ["userId": "carol", "name": "Carol"]) { carol in
                try await carol.connect()
                let room = try await carol.join("lobby")
                let users = try await room.presence()
                #expect(users.map(\.userId) == ["carol"] && users.map(\.username) == ["Carol"])
            }
        }
    }
}
