import Dialogue
import SocketIO
import SocketIOClient
import SocketIOServer
import TestSupport
import Testing
import Synchronization

@Suite("Dialogue: identity, rooms and events over real sockets")
struct ConnectionAndEventTests {
    @Test func identityComesFromAuthUserIdThenTokenThenSocketId() async throws {
        try await withDialogue(testConfiguration()) { server, url in
            try await TestClient.with(url, auth: ["userId": "alice", "token": "t", "role": "admin"]) { _ in
                let client = try #require(server.getClients("alice").first)
                #expect(client.meta == ["role": "admin"])
                #expect(client.auth == nil)
            }
            try await TestClient.with(url, auth: ["token": "bob-token"]) { _ in
                #expect(server.getClients("bob-token").count == 1)
            }
            try await SocketClient.withConnection(to: url, logger: testLogger) { connection in
                let socket = try await connection.socket()
                let connected = try await TestClient(socket: socket).nextFromStream("dialogue:connected")
                #expect(connected["userId"] == connected["clientId"], "no auth: the socket id is the user id")
                #expect(connected["clientId"]?.stringValue == socket.id)
            }
        }
    }

    @Test func joinTriggerAndReceiveTheEnvelope() async throws {
        try await withDialogue(testConfiguration(rooms: [("general", chatRoom)])) { server, url in
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                let joined = try await alice.request("dialogue:join", ["roomId": "general"])
                #expect(joined == ["ok": true, "roomId": "general", "roomName": "General Chat", "offset": 0, "subscriptions": ["message"]])
                #expect(try await alice.next("dialogue:joined") == ["roomId": "general", "roomName": "General Chat", "offset": 0])
                alice.send("dialogue:trigger", ["roomId": "general", "event": "message", "data": ["text": "hi", "senderId": "alice", "x": 1], "meta": ["trace": "t1"]])
                let message = try await alice.nextEvent("message")
                #expect(message["roomId"] == "general")
                #expect(message["from"] == "alice")
                #expect(message["data"] == ["text": "hi", "senderId": "alice"], "unknown keys are stripped, as Zod does")
                #expect(message["meta"] == ["trace": "t1"])
                #expect(message["timestamp"].map { if case .int(let t) = $0 { t > 1_700_000_000_000 } else { false } } == true)
                #expect(server.room("general")?.size() == 1)
                #expect(server.room("general")?.participants().map(\.userId) == ["alice"])
                // Joining again answers joined again and changes nothing.
                alice.send("dialogue:join", ["roomId": "general"])
                try await alice.next("dialogue:joined")
                #expect(server.room("general")?.size() == 1)
                alice.send("dialogue:leave", ["roomId": "general"])
                #expect(try await alice.next("dialogue:left") == ["roomId": "general"])
                #expect(server.room("general")?.size() == 0)
            }
        }
    }

    @Test func errorPathsCarryTheirCodes() async throws {
        var configuration = testConfiguration(rooms: [("general", chatRoom), ("other", chatRoom)])
        configuration.rooms["tiny"] = RoomConfiguration(name: "Tiny", maxSize: 1)
        try await withDialogue(configuration) { server, url in
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                alice.send("dialogue:join", ["roomId": "nowhere"])
                #expect(try await alice.nextError().code == "ROOM_NOT_FOUND")
                alice.trigger("general", "message", ["text": "hi", "senderId": "a"])
                #expect(try await alice.nextError().code == "NOT_IN_ROOM", "triggering needs membership")
                alice.send("dialogue:getHistory", ["roomId": "general", "eventName": "message"])
                #expect(try await alice.nextError().code == "NOT_IN_ROOM", "reading history needs membership")
                try await alice.join("general")
                alice.trigger("general", "dance", [:])
                #expect(try await alice.nextError().code == "EVENT_NOT_ALLOWED")
                alice.trigger("general", "message", ["text": "", "senderId": "alice"])
                let invalid = try await alice.nextError()
                #expect(invalid.code == "VALIDATION_FAILED")
                #expect(invalid.message == "Event 'message' validation failed: text: must be at least 1 character long")
                #expect(invalid.field == "text")
                alice.send("dialogue:join", "general")
                #expect(try await alice.nextError().code == "INVALID_REQUEST")
                alice.send("dialogue:subscribe", ["roomId": "general"])
                let missing = try await alice.nextError()
                #expect(missing.code == "INVALID_REQUEST" && missing.field == "eventName")
                alice.send("dialogue:subscribe", ["roomId": "other", "eventName": "message"])
                #expect(try await alice.nextError().code == "NOT_IN_ROOM")
                alice.send("dialogue:subscribe", ["roomId": "general", "eventName": "dance"])
                #expect(try await alice.nextError().code == "EVENT_NOT_ALLOWED")
                alice.send("dialogue:leave", ["roomId": "other"])
                #expect(try await alice.nextError().code == "NOT_IN_ROOM")
                let answer = try await alice.request("dialogue:trigger", ["roomId": "general", "event": "typing", "data": ["isTyping": "yes"]])
                #expect(answer["ok"] == false)
                #expect(answer["error"]?["code"] == "VALIDATION_FAILED")
                try await alice.join("tiny")
                try await TestClient.with(url, auth: ["userId": "bob"]) { bob in
                    bob.send("dialogue:join", ["roomId": "tiny"])
                    let full = try await bob.nextError()
                    #expect(full.code == "ROOM_FULL")
                    #expect(full.message == "Room 'tiny' is at capacity")
                }
                #expect(server.room("tiny")?.isFull() == true)
                #expect(server.room("general")?.isFull() == false)
            }
        }
    }

    @Test func onlySubscribersReceiveAnEvent() async throws {
        try await withDialogue(testConfiguration(rooms: [("general", chatRoom)])) { server, url in
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                try await TestClient.with(url, auth: ["userId": "bob"]) { bob in
                    try await alice.join("general")
                    try await bob.join("general")
                    let aliceClient = try #require(server.getClients("alice").first)
                    #expect(aliceClient.subscriptions("general") == ["message"])
                    // Typing is not a default subscription: bob does not get it; the message after it is the marker.
                    alice.trigger("general", "typing", ["isTyping": true])
                    alice.trigger("general", "message", ["text": "marker", "senderId": "alice"])
                    #expect(try await bob.nextEvent("message")["data"]?["text"] == "marker")
                    #expect(!bob.pendingEventNames.contains("typing"))
                    bob.send("dialogue:subscribe", ["roomId": "general", "eventName": "typing"])
                    bob.send("dialogue:unsubscribe", ["roomId": "general", "eventName": "message"])
                    _ = try await bob.request("dialogue:subscribe", ["roomId": "general", "eventName": "typing"])
                    alice.trigger("general", "message", ["text": "unseen", "senderId": "alice"])
                    alice.trigger("general", "typing", ["isTyping": false])
                    #expect(try await bob.nextEvent("typing")["data"] == ["isTyping": false])
                    #expect(!bob.pendingEventNames.contains("message"), "unsubscribed from message")
                    // subscribeAll: every event, including message again.
                    _ = try await bob.request("dialogue:subscribeAll", ["roomId": "general"])
                    #expect(server.getClients("bob").first?.subscriptions("general") == ["typing", "*"])
                    alice.trigger("general", "message", ["text": "all", "senderId": "alice"])
                    #expect(try await bob.nextEvent("message")["data"]?["text"] == "all")
                    // An event reaches each subscriber once even when subscribed by name and by wildcard.
                    alice.trigger("general", "typing", ["isTyping": true])
                    alice.trigger("general", "message", ["text": "after", "senderId": "alice"])
                    _ = try await bob.nextEvent("message")
                    #expect(bob.pendingEventNames.filter { $0 == "typing" }.count == 1)
                }
            }
        }
    }

    @Test func wildcardRoomAcceptsAnyEventAndServerSubscribesClients() async throws {
        let open = RoomConfiguration(name: "Open", events: [EventDefinition("*", history: EventHistory(limit: 10))], defaultSubscriptions: ["*"])
        try await withDialogue(testConfiguration(rooms: [("open", open)])) { server, url in
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                try await alice.join("open")
                let client = try #require(server.getClients("alice").first)
                try client.unsubscribe("open", "*")
                try client.subscribe("open", "custom:thing")
                #expect(client.rooms() == ["open"])
                alice.trigger("open", "custom:other", [1, 2])
                alice.trigger("open", "custom:thing", ["any": ["json": true]])
                #expect(try await alice.nextEvent("custom:thing")["data"] == ["any": ["json": true]])
                #expect(!alice.pendingEventNames.contains("custom:other"))
                #expect(await server.room("open")?.history("custom:other").map(\.data) == [[1, 2]], "the * definition's history applies")
                try client.subscribeAll("open")
                try await server.trigger("open", event: "custom:other", data: "x", from: "robot")
                #expect(try await alice.nextEvent("custom:other")["from"] == "robot")
                #expect(throws: DialogueError.self) { try client.subscribe("elsewhere", "x") }
            }
        }
    }

    @Test func multiConnectionUsersAndClientRooms() async throws {
        let configuration = testConfiguration(rooms: [("general", chatRoom), ("random", chatRoom), ("news", chatRoom)])
        try await withDialogue(configuration) { server, url in
            try await TestClient.with(url, auth: ["userId": "alice"]) { tab1 in
                try await TestClient.with(url, auth: ["userId": "alice"]) { tab2 in
                    try await TestClient.with(url, auth: ["userId": "bob"]) { bob in
                        try await tab1.join("general")
                        try await tab2.join("random")
                        try await bob.join("general")
                        try await bob.join("news")
                        #expect(server.getClients("alice").count == 2)
                        #expect(server.getAllClients().count == 3)
                        #expect(server.isInRoom("alice", "random") && server.isInRoom("alice", "general") && !server.isInRoom("alice", "news"))
                        let rooms = server.getClientRooms("alice")
                        #expect(rooms.ids == ["general", "random"])
                        let visited = Recorder<String>()
                        await rooms.forAll { visited.append($0) }
                        #expect(visited.all == ["general", "random"])
                        #expect(server.isInRoom("alice", "general"))
                        // leaveAll: the callback runs while alice is still in each room, then every tab leaves.
                        let notified = Recorder<String>()
                        try await rooms.leaveAll { roomId in
                            notified.append(roomId)
                            try await server.trigger(roomId, Message, ChatMessage(text: "alice left", senderId: "system"))
                        }
                        #expect(notified.all == ["general", "random"])
                        #expect(try await tab1.nextEvent("message")["data"]?["text"] == "alice left")
                        #expect(try await bob.nextEvent("message")["data"]?["text"] == "alice left")
                        try await tab1.next("dialogue:left")
                        try await tab2.next("dialogue:left")
                        #expect(server.getClientRooms("alice").ids.isEmpty)
                        #expect(!server.isInRoom("alice", "general"))
                        #expect(server.getClientRooms("bob").ids == ["general", "news"])
                        await server.getClientRooms("bob").leaveAll()
                        #expect(!server.isInRoom("bob", "news"))
                    }
                }
            }
            try await eventually("every client gone") { server.getAllClients().isEmpty }
        }
    }

    @Test func sendAndDisconnectFromTheServer() async throws {
        try await withDialogue(testConfiguration()) { server, url in
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                let client = try #require(server.getClients("alice").first)
                client.send("welcome", ["serverTime": 1])
                #expect(try await alice.next("welcome") == ["serverTime": 1])
                try client.send("typed", encoding: Typing(isTyping: true))
                #expect(try await alice.next("typed") == ["isTyping": true])
                client.disconnect()
                try await eventually("the client disconnected") { alice.socket.disconnectReason != nil }
                #expect(alice.socket.disconnectReason == "io server disconnect", "a server disconnect is final: the client does not reconnect")
            }
            try await eventually("the server forgot the client") { server.getAllClients().isEmpty }
        }
    }

    /// A client's socket and the client refer to each other while it is connected; once it left, both are
    /// released — nothing of a connection outlives it.
    @Test func aDisconnectedClientIsReleased() async throws {
        final class Watch: Sendable {
            let client = Mutex<Weak?>(nil)
            struct Weak: Sendable { weak var client: ConnectedClient?; weak var socket: ServerSocket? }
        }
        let watch = Watch()
        try await withDialogue(testConfiguration(rooms: [("general", chatRoom)])) { server, url in
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                _ = try await alice.request("dialogue:join", ["roomId": "general"])
                _ = try await alice.request("dialogue:listRooms", [:])
                let client = try #require(server.getClients("alice").first)
                watch.client.withLock { $0 = Watch.Weak(client: client, socket: client.socket) }
            }
            try await eventually("the server forgot the client") { server.getAllClients().isEmpty }
            try await eventually("the client and its socket were released") {
                watch.client.withLock { $0?.client == nil && $0?.socket == nil }
            }
        }
    }
}

extension TestClient {
    /// Waits for an event straight from the socket's stream (for clients made without ``TestClient/with``).
    func nextFromStream(_ name: String) async throws -> SocketValue {
        for await event in socket.events where event.name == name { return event.arguments.first ?? .null }
        throw TestTimeout(what: name)
    }
}
