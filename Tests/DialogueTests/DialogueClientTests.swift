import Foundation
import Dialogue
import DialogueClient
import SocketIO
import TestSupport
import Testing

/// Runs `body` with a client of `url`, then disconnects it.
@discardableResult
func withClient<Result: Sendable>(
    _ url: String, auth: SocketValue = [:], reconnectionAttempts: Int = 5,
    backoff: Backoff = Backoff(initial: .milliseconds(20), maximum: .milliseconds(100)),
    _ body: @Sendable (DialogueClient) async throws -> Result
) async throws -> Result {
    let client = DialogueClient(
        // Requests may wait 15 s (5 by default) and connecting 20 s (10): the whole suite runs in parallel on two
        // cores, and a server on PostgreSQL accepts events only once its store is open.
        configuration: DialogueClientConfiguration(
            url: url, auth: auth, reconnectionAttempts: reconnectionAttempts, backoff: backoff, connectTimeout: .seconds(20), requestTimeout: .seconds(15)
        ),
        logger: testLogger
    )
    let result: Swift.Result<Result, any Error>
    do {
        result = .success(try await body(client))
    } catch {
        result = .failure(error)
    }
    await client.disconnect()
    return try result.get()
}

@Suite("Dialogue Swift client")
struct DialogueClientTests {
    @Test func connectJoinTriggerAndReceiveTyped() async throws {
        try await withDialogue(testConfiguration(rooms: [("general", chatRoom)])) { server, url in
            try await withClient(url, auth: ["userId": "alice", "token": "t"]) { alice in
                #expect(alice.state == .disconnected)
                try await alice.connect()
                #expect(alice.isConnected && alice.userId == "alice")
                let room = try await alice.join("general")
                #expect(room.roomName == "General Chat")
                #expect(alice.getRoom("general") === room)
                let typed = Recorder<String>(), any = Recorder<String>()
                room.on(Message) { message in typed.append("\(message.from): \(message.data.text)") }
                room.onAny { message in any.append(message.event) }
                var stream = room.events(Message).makeAsyncIterator()
                try await room.trigger(Message, ChatMessage(text: "hello", senderId: "alice"))
                let first = try #require(await stream.next())
                #expect(first.data == ChatMessage(text: "hello", senderId: "alice") && first.roomId == "general")
                try await typed.wait { $0 == ["alice: hello"] }
                var typingEvents = room.events("typing").makeAsyncIterator()
                var everything = room.allEvents.makeAsyncIterator()
                try await room.subscribe("typing")
                try await room.trigger(TypingEvent, Typing(isTyping: true))
                try await any.wait { $0 == ["message", "typing"] }
                #expect(await typingEvents.next()?.data == ["isTyping": true])
                #expect(await everything.next()?.event == "typing")
                #expect(alice.rooms.map(\.roomId) == ["general"])
                #expect(try await alice.listRooms().map(\.id) == ["general"])
                #expect(try await room.getHistory(Message).map(\.data.text) == ["hello"])
                #expect(server.getClients("alice").first?.subscriptions("general") == ["message", "typing"])
                try await room.leave()
                #expect(alice.getRoom("general") == nil)
                try await eventually("the server saw the leave") { server.room("general")?.size() == 0 }
            }
        }
    }

    @Test func serverErrorsSurfaceWithTheirCodes() async throws {
        try await withDialogue(testConfiguration(rooms: [("general", chatRoom)])) { server, url in
            try await withClient(url, auth: ["userId": "alice"]) { alice in
                await #expect(throws: DialogueError(.roomNotFound, "Room 'nowhere' does not exist")) { _ = try await alice.join("nowhere") }
                let room = try await alice.join("general")
                do {
                    try await room.trigger("message", ["text": "", "senderId": "alice"])
                    Issue.record("an invalid message was accepted")
                } catch let error as DialogueError {
                    #expect(error.code == .validationFailed && error.field == "text")
                }
                await #expect(throws: DialogueError.self) { try await room.trigger("dance", [:]) }
                await #expect(throws: DialogueError.self) { try await alice.deleteRoom("general") }
                // Errors of requests come back to the request, never as stray errors.
                let stray = Recorder<String>()
                alice.errors.observe { stray.append("\($0)") }
                _ = try? await alice.join("nowhere")
                try await room.trigger("message", ["text": "marker", "senderId": "alice"])
                #expect(stray.all.isEmpty)
                // A server-side dialogue:error without a request (none in this protocol) would arrive on `errors`.
                server.getClients("alice").first?.send("dialogue:error", ["code": "CUSTOM", "message": "from the server"])
                try await stray.wait { $0 == ["CUSTOM: from the server"] }
            }
        }
    }

    @Test func refusedConnectionsReportTheServersReason() async throws {
        var configuration = testConfiguration()
        configuration.hooks.socket.authenticate = { request in
            request.auth["token"] == "good" ? .accept(AuthData(jwt: JWTClaims(sub: "verified"))) : .reject("invalid token")
        }
        try await withDialogue(configuration) { _, url in
            try await withClient(url, auth: ["token": "bad"]) { client in
                await #expect(throws: DialogueClientError(.connectionRefused, "invalid token")) { try await client.connect() }
                #expect(client.state == .disconnected)
            }
            try await withClient(url, auth: ["token": "good"]) { client in
                try await client.connect()
                #expect(client.userId == "verified")
            }
        }
    }

    @Test func concurrentRequestsGetTheirOwnAnswers() async throws {
        var configuration = testConfiguration()
        for n in 0..<8 { configuration.rooms["room-\(n)"] = RoomConfiguration(name: "Room \(n)", events: [Message], defaultSubscriptions: ["message"]) }
        try await withDialogue(configuration) { server, url in
            for n in 0..<8 { try await server.trigger("room-\(n)", Message, ChatMessage(text: "only in \(n)", senderId: "s")) }
            try await withClient(url, auth: ["userId": "alice"]) { alice in
                try await alice.connect()
                let results = try await withThrowingTaskGroup(of: (Int, String, [String]).self) { group in
                    for n in 0..<8 {
                        group.addTask {
                            let room = try await alice.join("room-\(n)")
                            async let history = room.getHistory("message")
                            async let rooms = alice.listRooms()
                            _ = try await rooms
                            return (n, room.roomName, try await history.compactMap { $0.data["text"]?.stringValue })
                        }
                    }
                    return try await group.reduce(into: [(Int, String, [String])]()) { $0.append($1) }
                }
                #expect(results.count == 8)
                for (n, name, texts) in results {
                    #expect(name == "Room \(n)" && texts == ["only in \(n)"])
                }
            }
        }
    }

    @Test func typedDecodingFailuresAreReportedWithTheField() async throws {
        struct Strict: Codable, Sendable { var text: String; var priority: Int }
        let strict = EventDefinition("message", of: Strict.self, schema: nil)
        try await withDialogue(testConfiguration(rooms: [("general", chatRoom)])) { server, url in
            try await withClient(url, auth: ["userId": "alice"]) { alice in
                let failures = Recorder<String>()
                alice.errors.observe { error in
                    if let error = error as? DialogueClientError, error.code == .decodingFailed { failures.append(error.field ?? "") }
                }
                let room = try await alice.join("general")
                let received = Recorder<Int>()
                room.on(strict) { received.append($0.data.priority) }
                try await server.trigger("general", Message, ChatMessage(text: "no priority", senderId: "s"))
                try await failures.wait { $0 == ["priority"] }
                #expect(received.all.isEmpty)
            }
        }
    }

    @Test func observationOfHistoryRoomsAndState() async throws {
        try await withDialogue(testConfiguration(rooms: [("general", chatRoom)])) { server, url in
            try await server.trigger("general", Message, ChatMessage(text: "earlier", senderId: "s"))
            try await withClient(url, auth: ["userId": "alice"]) { alice in
                let seen = Recorder<String>()
                alice.history.observe { seen.append("history \($0.roomId) \($0.events.map { $0.data["text"]?.stringValue ?? "" })") }
                alice.roomCreated.observe { seen.append("created \($0.id) by \($0.createdById ?? "")") }
                alice.roomDeleted.observe { seen.append("deleted \($0)") }
                let token = alice.connected.observe { seen.append("connected \($0)") }
                let states = Recorder<DialogueClientState>()
                alice.stateChanges.observe { states.append($0) }
                // autoConnect: the first request connects.
                _ = try await alice.join("general")
                try await seen.wait { $0.contains("history general [\"earlier\"]") && $0.contains("connected alice") }
                token.cancel()
                let created = try await alice.createRoom(id: "side", name: "Side", description: "d", maxSize: 3)
                #expect(created.id == "side" && created.name == "Side" && created.description == "d" && created.maxSize == 3 && created.createdById == "alice")
                try await alice.deleteRoom("side")
                try await seen.wait { $0.contains("deleted side") }
                #expect(seen.all.contains("created side by alice"))
                #expect(states.all == [.connecting, .connected])
                var iterator = alice.disconnected.makeAsyncIterator()
                server.getClients("alice").first?.disconnect()
                #expect(await iterator.next() == "io server disconnect")
                try await eventually("disconnected") { alice.state == .disconnected }
            }
        }
    }

    @Test func reconnectsRejoinsAndKeepsSubscriptions() async throws {
        try await withDialogue(testConfiguration(rooms: [("general", chatRoom)])) { server, url in
            try await withClient(url, auth: ["userId": "alice"]) { alice in
                let room = try await alice.join("general")
                try await room.subscribe("typing")
                try await room.unsubscribe("message")
                let received = Recorder<String>()
                room.onAny { received.append($0.event) }
                let reconnected = Recorder<String>()
                alice.connected.observe { reconnected.append($0) }
                let lost = Recorder<String>()
                alice.disconnected.observe { lost.append($0) }
                // Kill the transport: the client reconnects, re-joins and re-applies its subscriptions.
                let firstConnection = try #require(server.getClients("alice").first)
                firstConnection.socket.closeConnection()
                try await lost.wait { $0 == ["transport close"] }
                try await reconnected.wait { $0 == ["alice"] }
                let second = try #require(server.getClients("alice").first)
                #expect(second.id != firstConnection.id)
                #expect(second.subscriptions("general") == ["typing"], "default subscription to message, then +typing, -message")
                #expect(alice.getRoom("general") === room, "the app's room context survives")
                try await server.trigger("general", TypingEvent, Typing(isTyping: true))
                try await server.trigger("general", Message, ChatMessage(text: "not subscribed", senderId: "s"))
                try await server.trigger("general", TypingEvent, Typing(isTyping: false))
                try await received.wait { $0 == ["typing", "typing"] }
            }
        }
    }

    @Test func pendingRequestsFailWhenTheConnectionDrops() async throws {
        let gate = AsyncValue<Void>()
        var configuration = testConfiguration(rooms: [("general", chatRoom)])
        configuration.hooks.events.beforeEach = { request in
            if request.message.data["text"] == "slow" { try await gate.value(timeout: .seconds(10)) }
            return .proceed
        }
        try await withDialogue(configuration) { server, url in
            try await withClient(url, auth: ["userId": "alice"]) { alice in
                let room = try await alice.join("general")
                let pending = Task { try await room.trigger("message", ["text": "slow", "senderId": "alice"]) }
                try await eventually("the trigger reached the hook") { server.getClients("alice").count == 1 }
                try await Task.sleep(for: .milliseconds(50))
                server.getClients("alice").first?.socket.closeConnection()
                await #expect(throws: DialogueClientError(.disconnected, "the connection dropped before dialogue:trigger was answered")) { _ = try await pending.value }
                gate.set(())
            }
        }
    }

    @Test func givesUpAfterTheConfiguredAttempts() async throws {
        let server = DialogueServer(configuration: testConfiguration(), logger: testLogger)
        let port = try await server.start()
        let url = "http://127.0.0.1:\(port)"
        try await withClient(url, auth: ["userId": "alice"], reconnectionAttempts: 2) { alice in
            try await alice.connect()
            let errors = Recorder<String>()
            alice.errors.observe { errors.append("\($0)") }
            try await server.stop()
            // The port stays taken (bound, not listening: connections are refused), so that another test's
            // server cannot get it and take the client's reconnection attempts.
            let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(holder) }
            var reuse: Int32 = 1
            setsockopt(holder, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            // While the whole suite starts on two cores, one attempt has been seen to take more than 10 s; each
            // gives up after the connect timeout (20 s here), so two attempts end within a minute.
            try await errors.wait(timeout: .seconds(60)) { $0 == ["notConnected: gave up after 2 reconnection attempts"] }
            #expect(alice.state == .disconnected)
            await #expect(throws: DialogueClientError.self) { _ = try await alice.listRooms() }
        }
    }

    @Test func backoffGrowsWithJitterUpToTheMaximum() {
        let backoff = Backoff(initial: .seconds(1), maximum: .seconds(5), multiplier: 2, jitter: 0.5)
        #expect(backoff.delay(attempt: 1, random: 0.5) == .seconds(1))
        #expect(backoff.delay(attempt: 2, random: 0.5) == .seconds(2))
        #expect(backoff.delay(attempt: 10, random: 0.5) == .seconds(5))
        #expect(backoff.delay(attempt: 1, random: 0) == .milliseconds(500))
        #expect(backoff.delay(attempt: 1, random: 1) == .milliseconds(1500))
    }
}
