import Dialogue
import Logging
import SocketIO
import SocketIOClient
import TestSupport
import Testing

@Suite("Dialogue hooks")
struct HookTests {
    @Test func authenticateAcceptsRejectsAndFailsClosed() async throws {
        var configuration = testConfiguration()
        configuration.hooks.socket.authenticate = { request in
            switch request.auth["token"]?.stringValue {
            case "good": return .accept(AuthData(jwt: JWTClaims(sub: "user-7", exp: 2_000_000_000, all: ["sub": "user-7", "plan": "pro"])))
            case "boom": throw CancellationError()
            default: return .reject("invalid token")
            }
        }
        try await withDialogue(configuration) { server, url in
            try await TestClient.with(url, auth: ["token": "good", "userId": "claimed-admin", "theme": "dark"]) { client in
                let connected = try #require(server.getClients("user-7").first)
                #expect(connected.auth?.jwt["plan"] == "pro")
                #expect(connected.meta == ["theme": "dark"])
                #expect(server.getClients("claimed-admin").isEmpty, "with an authenticate hook, auth.userId is ignored")
                _ = client
            }
            for (token, reason) in [("bad", "invalid token"), ("boom", "Authentication failed")] {
                try await SocketClient.withConnection(to: url, logger: testLogger) { connection in
                    await #expect(throws: SocketClientError.self) { _ = try await connection.socket(auth: ["token": .string(token)]) }
                    do {
                        _ = try await connection.socket(auth: ["token": .string(token)])
                    } catch let error as SocketClientError {
                        #expect(error.message == reason)
                    }
                }
            }
            #expect(server.getAllClients().count == 0, "a rejected handshake never becomes a client")
        }
    }

    @Test func connectionHooksRunInOrder() async throws {
        let calls = Recorder<String>()
        var configuration = testConfiguration(rooms: [("general", chatRoom)])
        configuration.hooks.socket.onConnect = { context, socket in calls.append("socket.onConnect \(context.clients.count)") }
        configuration.hooks.clients.onConnected = { client in
            calls.append("onConnected \(client.userId)")
            try await client.join("general")
        }
        configuration.hooks.clients.onJoined = { client, roomId in calls.append("onJoined \(roomId)") }
        configuration.hooks.clients.onLeft = { client, roomId in calls.append("onLeft \(roomId)") }
        configuration.hooks.clients.onDisconnected = { client in calls.append("onDisconnected in \(client.rooms())") }
        configuration.hooks.socket.onDisconnect = { _, _, _ in calls.append("socket.onDisconnect") }
        try await withDialogue(configuration) { server, url in
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                try await alice.next("dialogue:joined") { $0["roomId"] == "general" }
            }
            try await calls.wait { $0.count == 6 }
            #expect(calls.all == [
                "socket.onConnect 1", "onConnected alice", "onJoined general",
                "onDisconnected in [\"general\"]", "onLeft general", "socket.onDisconnect",
            ])
        }
    }

    @Test func beforeJoinCanDeny() async throws {
        var configuration = testConfiguration(rooms: [("vip", chatRoom)])
        configuration.hooks.clients.beforeJoin = { request in
            request.client.meta["role"] == "admin" && request.room.name == "General Chat" ? .allow : .deny("VIPs only")
        }
        try await withDialogue(configuration) { server, url in
            try await TestClient.with(url, auth: ["userId": "eve"]) { eve in
                eve.send("dialogue:join", ["roomId": "vip"])
                let error = try await eve.nextError()
                #expect(error.code == "JOIN_DENIED" && error.message == "VIPs only")
                #expect(server.room("vip")?.size() == 0)
                // The server itself is not subject to beforeJoin.
                try await #require(server.getClients("eve").first).join("vip")
                #expect(server.isInRoom("eve", "vip"))
            }
            try await TestClient.with(url, auth: ["userId": "root", "role": "admin"]) { admin in
                try await admin.join("vip")
            }
        }
    }

    @Test func beforeEachBlocksOrTransforms() async throws {
        var configuration = testConfiguration(rooms: [("general", chatRoom)])
        configuration.hooks.events.beforeEach = { request in
            guard case .string(let text)? = request.message.data["text"] else { return .proceed }
            if text.contains("spam") { return .block("No spam") }
            if text.contains("darn") {
                var message = request.message
                message.data = ["text": .string(text.replacingOccurrences(of: "darn", with: "****")), "senderId": request.message.data["senderId"] ?? nil]
                return .replace(message)
            }
            if text == "crash" { throw CancellationError() }
            return .proceed
        }
        try await withDialogue(configuration) { server, url in
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                try await alice.join("general")
                alice.trigger("general", "message", ["text": "buy spam", "senderId": "alice"])
                #expect(try await alice.nextError() == ("EVENT_BLOCKED", "No spam", nil))
                alice.trigger("general", "message", ["text": "crash", "senderId": "alice"])
                #expect(try await alice.nextError().code == "EVENT_BLOCKED", "a failing beforeEach blocks")
                alice.trigger("general", "message", ["text": "oh darn", "senderId": "alice"])
                #expect(try await alice.nextEvent("message")["data"]?["text"] == "oh ****")
                #expect(await server.room("general")?.history("message").map { $0.data["text"] } == ["oh ****"], "history keeps the transformed event")
                #expect(!alice.pendingEventNames.contains("message"), "blocked events were never delivered")
                await #expect(throws: DialogueError(.eventBlocked, "No spam")) {
                    try await server.trigger("general", Message, ChatMessage(text: "spam", senderId: "system"))
                }
            }
        }
    }

    @Test func afterEachOnTriggeredAndHandlers() async throws {
        let seen = Recorder<String>()
        var configuration = testConfiguration(rooms: [("general", chatRoom)])
        configuration.hooks.events.onTriggered = { roomId, message in seen.append("onTriggered \(roomId) \(message.event)") }
        configuration.hooks.events.afterEach = { event in seen.append("afterEach \(event.message.event) to \(event.recipientCount)") }
        try await withDialogue(configuration) { server, url in
            let unsubscribe = server.on("general", Message) { message in seen.append("on \(message.data.text) from \(message.from)") }
            server.room("general")?.on(TypingEvent) { message in seen.append("room.on typing \(message.data.isTyping)") }
            server.on("gen*", event: "*") { message in seen.append("pattern \(message.event)") }
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                try await TestClient.with(url, auth: ["userId": "bob"]) { bob in
                    try await alice.join("general")
                    try await bob.join("general")
                    alice.trigger("general", "message", ["text": "one", "senderId": "alice"])
                    _ = try await bob.nextEvent("message")
                    try await seen.wait { $0.contains { $0.hasPrefix("afterEach") } }
                    #expect(seen.all == ["onTriggered general message", "on one from alice", "pattern message", "afterEach message to 2"])
                    alice.trigger("general", "typing", ["isTyping": true])
                    try await seen.wait { $0.contains("afterEach typing to 0") }
                    #expect(seen.all.contains("room.on typing true"))
                    unsubscribe()
                    try await server.trigger("general", Message, ChatMessage(text: "two", senderId: "system"))
                    #expect(!seen.all.contains("on two from system"))
                    #expect(seen.all.contains("afterEach message to 2"))
                }
            }
        }
    }

    @Test func throwingHooksAreLoggedAndTheServerCarriesOn() async throws {
        struct Failure: Error {}
        let ran = Recorder<String>()
        let logged = Recorder<String>()
        var configuration = testConfiguration(rooms: [("general", chatRoom)])
        configuration.hooks.clients.onConnected = { client in
            ran.append("onConnected \(client.userId)")
            throw Failure()
        }
        configuration.hooks.clients.onJoined = { client, roomId in
            ran.append("onJoined \(client.userId) \(roomId)")
            throw Failure()
        }
        configuration.hooks.events.afterEach = { event in
            ran.append("afterEach \(event.message.event)")
            throw Failure()
        }
        configuration.hooks.clients.beforeJoin = { request in
            guard request.client.userId == "mallory" else { return .allow }
            ran.append("beforeJoin mallory")
            throw Failure()
        }
        let logger = Logger(label: "capture") { _ in LoggingAndIntrospectionTests.CapturingHandler(messages: logged) }
        try await withDialogue(configuration, logger: logger) { server, url in
            server.on("general", Message) { message in
                ran.append("on \(message.data.text)")
                throw Failure()
            }
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                try await alice.join("general")
                alice.trigger("general", "message", ["text": "still here", "senderId": "alice"])
                #expect(try await alice.nextEvent("message")["data"]?["text"] == "still here")
            }
            try await TestClient.with(url, auth: ["userId": "mallory"]) { mallory async throws in
                mallory.send("dialogue:join", ["roomId": "general"])
                #expect(try await mallory.nextError() == ("JOIN_DENIED", "Join denied", nil), "a failing beforeJoin denies")
            }
            // Each hook ran, threw, and its failure was logged with the hook's name.
            try await ran.wait { Set($0).isSuperset(of: ["onConnected alice", "onJoined alice general", "on still here", "afterEach message", "beforeJoin mallory"]) }
            try await logged.wait { lines in
                ["clients.onConnected", "clients.onJoined", "on(general, message)", "events.afterEach"].allSatisfy { lines.contains("error hook failed [\($0)]") }
                    && lines.contains("error beforeJoin hook failed; join denied")
            }
        }
    }
}

@Suite("Dialogue logging and introspection")
struct LoggingAndIntrospectionTests {
    /// Keeps every message logged.
    struct CapturingHandler: LogHandler {
        let messages: Recorder<String>
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        /// "LEVEL MESSAGE", and " [NAME]" after it when the line names a hook.
        func log(event: LogEvent) {
            let hook = event.metadata?["dialogue.hook"].map { " [\($0)]" } ?? ""
            messages.append("\(event.level) \(event.message)\(hook)")
        }
    }

    @Test func warnsAtStartWhenIdentitiesAreClientAsserted() async throws {
        for withHook in [false, true] {
            let messages = Recorder<String>()
            var configuration = testConfiguration()
            if withHook { configuration.hooks.socket.authenticate = { _ in .reject("no") } }
            let server = DialogueServer(configuration: configuration, logger: Logger(label: "capture") { _ in CapturingHandler(messages: messages) })
            try await server.start()
            try await server.stop()
            let warned = messages.all.contains { $0.hasPrefix("warning No socket.authenticate hook: user ids are whatever clients claim") }
            #expect(warned == !withHook)
        }
    }

    @Test func contextAndEventSchemas() async throws {
        let seen = Recorder<String>()
        var configuration = testConfiguration(rooms: [("general", chatRoom)])
        configuration.hooks.clients.beforeJoin = { request in
            seen.append("rooms \(request.context.rooms.keys.sorted()) clients \(request.context.clients.count) io \(request.context.io.configuration.engine.path)")
            return .allow
        }
        try await withDialogue(configuration) { server, url in
            let schemas = try #require(server.room("general")?.eventSchemas)
            #expect(schemas["message"]?["required"] == ["text", "senderId"])
            #expect(schemas["typing"]?["properties"]?["isTyping"] == ["type": "boolean"])
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                try await alice.join("general")
            }
            #expect(seen.all == ["rooms [\"general\"] clients 1 io /socket.io"])
        }
    }
}
