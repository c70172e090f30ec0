import Dialogue
import EngineIOServer
import Hummingbird
import ServiceLifecycle
import SocketIO
import TestSupport
import Testing

@Suite("Dialogue: creating, listing, updating and deleting rooms")
struct RoomManagementTests {
    @Test func serverCreatesUpdatesAndDeletesRooms() async throws {
        let hooks = Recorder<String>()
        var configuration = testConfiguration(rooms: [("general", chatRoom)])
        configuration.hooks.rooms.onCreated = { room in hooks.append("created \(room.id)") }
        configuration.hooks.rooms.onUpdated = { room in hooks.append("updated \(room.id) \(room.name)") }
        configuration.hooks.rooms.onDeleted = { roomId in hooks.append("deleted \(roomId)") }
        configuration.hooks.clients.onLeft = { client, roomId in hooks.append("left \(client.userId) \(roomId)") }
        try await withDialogue(configuration) { server, url in
            try await hooks.wait { $0 == ["created general"] }
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                let project = try await server.createRoom(
                    "project-123", RoomConfiguration(name: "Project", description: "Chat for #123", maxSize: 50, events: [Message], defaultSubscriptions: ["message"]),
                    createdById: "user-456"
                )
                #expect(project.createdById == "user-456" && project.maxSize == 50)
                #expect(try await alice.next("dialogue:roomCreated") == [
                    "id": "project-123", "name": "Project", "description": "Chat for #123", "maxSize": 50, "createdById": "user-456",
                ])
                await #expect(throws: DialogueError(.roomExists, "Room 'project-123' already exists")) {
                    try await server.createRoom("project-123", RoomConfiguration(name: "Again"))
                }
                #expect(server.rooms().map(\.id) == ["general", "project-123"])
                try await alice.join("project-123")
                let updated = try await server.updateRoom("project-123") { $0.name = "Project X" }
                #expect(updated.name == "Project X" && server.room("project-123")?.name == "Project X")
                #expect(await server.deleteRoom("project-123"))
                #expect(try await alice.next("dialogue:roomDeleted") == ["roomId": "project-123"])
                #expect(!(await server.deleteRoom("project-123")))
                #expect(server.getClients("alice").first?.rooms() == [], "participants are out of a deleted room")
                #expect(server.room("project-123") == nil)
                try await hooks.wait { $0.count == 5 }
                #expect(hooks.all == ["created general", "created project-123", "updated project-123 Project X", "left alice project-123", "deleted project-123"])
            }
        }
    }

    @Test func clientsCreateListAndDeleteTheirOwnRoomsWithinLimits() async throws {
        var configuration = testConfiguration(rooms: [("general", chatRoom)])
        configuration.clientRooms = ClientRoomPolicy(limitPerUser: 1)
        configuration.roomTemplates = [RoomTemplate("user:*", room: RoomConfiguration(name: "Inbox", isListed: false))]
        try await withDialogue(configuration) { server, url in
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                try await TestClient.with(url, auth: ["userId": "bob"]) { bob in
                    let created = try await alice.request("dialogue:createRoom", ["id": "book-club", "name": "Book Club", "maxSize": 5])
                    #expect(created == ["ok": true, "room": ["id": "book-club", "name": "Book Club", "maxSize": 5, "createdById": "alice"]])
                    #expect(try await bob.next("dialogue:roomCreated")["id"] == "book-club", "announced to everyone")
                    #expect(try await alice.next("dialogue:roomCreated")["id"] == "book-club", "including the creator")
                    // Client rooms accept any event and subscribe joiners to everything.
                    try await bob.join("book-club")
                    bob.trigger("book-club", "chapter", ["n": 1])
                    #expect(try await bob.nextEvent("chapter")["data"] == ["n": 1])
                    let second = try await alice.request("dialogue:createRoom", ["id": "second", "name": "Second"])
                    #expect(second["error"]?["code"] == "PERMISSION_DENIED", "one room per user")
                    let exists = try await bob.request("dialogue:createRoom", ["id": "general", "name": "Mine now"])
                    #expect(exists["error"]?["code"] == "ROOM_EXISTS")
                    let reserved = try await bob.request("dialogue:createRoom", ["id": "user:alice", "name": "Alice's inbox"])
                    #expect(reserved["error"]?["code"] == "PERMISSION_DENIED", "template ids are reserved")
                    let invalid = try await bob.request("dialogue:createRoom", ["id": "x", "name": 5])
                    #expect(invalid["error"]?["field"] == "name")
                    let listed = try await bob.request("dialogue:listRooms", nil)
                    #expect(listed["rooms"] == [
                        ["id": "general", "name": "General Chat", "size": 0],
                        ["id": "book-club", "name": "Book Club", "size": 1, "maxSize": 5, "createdById": "alice"],
                    ])
                    #expect(try await bob.next("dialogue:rooms") == listed["rooms"])
                    let configured = try await alice.request("dialogue:deleteRoom", ["roomId": "general"])
                    #expect(configured["error"]?["code"] == "PERMISSION_DENIED", "configured rooms cannot be deleted by clients")
                    let notTheirs = try await bob.request("dialogue:deleteRoom", ["roomId": "book-club"])
                    #expect(notTheirs["error"]?["message"] == "Only the room creator can delete this room")
                    #expect(try await alice.request("dialogue:deleteRoom", ["roomId": "book-club"]) == ["ok": true])
                    #expect(try await bob.next("dialogue:roomDeleted") == ["roomId": "book-club"])
                    // Deleting frees the creator's quota.
                    #expect(try await alice.request("dialogue:createRoom", ["id": "second", "name": "Second"])["ok"] == true)
                }
            }
        }
        var closed = testConfiguration()
        closed.clientRooms = .disabled
        try await withDialogue(closed) { _, url in
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                let refused = try await alice.request("dialogue:createRoom", ["id": "mine", "name": "Mine"])
                #expect(refused["error"] == ["code": "PERMISSION_DENIED", "message": "Clients cannot create rooms on this server", "roomId": "mine"])
            }
        }
    }

    @Test func patternRoomsAreMadeOnFirstJoinOrTriggerAndRemovedWhenEmpty() async throws {
        let alert = EventDefinition("alert", schema: .object(["title": .string(), "type": .enumeration("info", "warning", "error", "success")]), history: EventHistory(limit: 10))
        let created = Recorder<String>()
        var configuration = testConfiguration()
        configuration.roomTemplates = [
            RoomTemplate("user:*", room: RoomConfiguration(name: "Notifications for {id}", events: [alert], defaultSubscriptions: ["alert"], syncHistoryOnJoin: true, isListed: false)),
            RoomTemplate("doc:*", removeWhenEmpty: true, room: RoomConfiguration(name: "Document", maxSize: 2, defaultSubscriptions: ["*"])),
        ]
        configuration.hooks.rooms.onCreated = { room in created.append(room.id) }
        configuration.hooks.clients.beforeJoin = { request in
            request.roomId.hasPrefix("user:") && request.roomId != "user:\(request.client.userId)" ? .deny("Not your inbox") : .allow
        }
        try await withDialogue(configuration) { server, url in
            // A notification to a user who is offline creates their room and keeps it in history.
            try await server.trigger("user:alice", event: "alert", data: ["title": "Order shipped", "type": "success"])
            #expect(server.room("user:alice")?.name == "Notifications for user:alice")
            await #expect(throws: DialogueError.self) { try await server.trigger("user:alice", event: "alert", data: ["title": "x", "type": "loud"]) }
            await #expect(throws: DialogueError(.roomNotFound, "Room 'nowhere' does not exist")) { try await server.trigger("nowhere", event: "x", data: nil) }
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                alice.send("dialogue:join", ["roomId": "user:bob"])
                #expect(try await alice.nextError().code == "JOIN_DENIED")
                try await alice.join("user:alice")
                #expect(try await alice.next("dialogue:history")["events"]?.arrayValue?.first?["data"]?["title"] == "Order shipped")
                try await server.trigger("user:alice", event: "alert", data: ["title": "Badge", "type": "info"])
                #expect(try await alice.nextEvent("alert")["data"]?["title"] == "Badge")
                let listed = try await alice.request("dialogue:listRooms", nil)
                #expect(listed["rooms"] == [], "template rooms here are unlisted")
                // doc:* rooms: made on join, removed when the last participant leaves.
                try await alice.join("doc:42")
                #expect(server.room("doc:42")?.defaultSubscriptions == ["*"])
                alice.trigger("doc:42", "cursor:update", ["position": 3])
                #expect(try await alice.nextEvent("cursor:update")["from"] == "alice")
                alice.send("dialogue:leave", ["roomId": "doc:42"])
                try await alice.next("dialogue:left")
                #expect(server.room("doc:42") == nil)
                #expect(server.room("user:bob") == nil, "a denied join creates nothing")
            }
            #expect(server.room("user:alice") != nil, "rooms without removeWhenEmpty stay")
            #expect(created.all == ["user:alice", "doc:42"])
        }
    }

    @Test func aConnectionJoinsABoundedNumberOfRooms() async throws {
        var configuration = testConfiguration()
        configuration.roomTemplates = [RoomTemplate("doc:*", room: RoomConfiguration(name: "Document", defaultSubscriptions: ["*"]))]
        configuration.maxRoomsPerClient = 2
        try await withDialogue(configuration) { server, url in
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                try await alice.join("doc:1")
                try await alice.join("doc:2")
                let refused = try await alice.request("dialogue:join", ["roomId": "doc:3"])
                #expect(refused["error"]?["message"] == "A connection may be in at most 2 rooms; leave one first")
                #expect(server.room("doc:3") == nil, "a refused join creates nothing")
                try await #require(server.getClients("alice").first).join("doc:3")
                #expect(server.getClients("alice").first?.rooms() == ["doc:1", "doc:2", "doc:3"], "the server's own joins are not limited")
                let star = try await alice.request("dialogue:trigger", ["roomId": "doc:1", "event": "*", "data": nil])
                #expect(star["error"]?["code"] == "INVALID_REQUEST")
            }
        }
    }

    @Test func mountsOnAnExistingHummingbirdApplication() async throws {
        var configuration = testConfiguration(rooms: [("general", chatRoom)])
        configuration.httpAPI.healthRoutes = false  // the application has its own /health
        let dialogue = DialogueServer(configuration: configuration, logger: testLogger)
        let port = AsyncValue<Int>()
        let app = EngineApplication.make(endpoints: [dialogue], port: 0, logger: testLogger) { router in
            router.get("/health") { _, _ in "ok" }
        } onServerRunning: { port.set($0) }
        let group = ServiceGroup(services: [app, dialogue], logger: testLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let url = "http://127.0.0.1:\(try await port.value())"
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                try await alice.join("general")
                try await dialogue.trigger("general", Message, ChatMessage(text: "mounted", senderId: "system"))
                #expect(try await alice.nextEvent("message")["from"] == "system")
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func stopDisconnectsClientsAndRunsTheirHooks() async throws {
        let disconnected = Recorder<String>()
        var configuration = testConfiguration(rooms: [("general", chatRoom)])
        configuration.hooks.clients.onDisconnected = { client in disconnected.append(client.userId) }
        let server = DialogueServer(configuration: configuration, logger: testLogger)
        let url = "http://127.0.0.1:\(try await server.start())"
        await #expect(throws: DialogueError.self) { try await server.start() }
        try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
            try await alice.join("general")
            try await server.stop()
            #expect(disconnected.all == ["alice"], "stop returns after the disconnect hooks ran")
            try await eventually("the client saw the server go") { alice.socket.disconnectReason != nil }
        }
    }
}
