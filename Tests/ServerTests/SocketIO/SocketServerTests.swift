import EngineIO
import EngineIOServer
import Hummingbird
import HummingbirdWebSocket
import Logging
import ServiceLifecycle
import SocketIO
import SocketIOClient
import SocketIOServer
import TestSupport
import Testing

/// The conformance suites' Socket.IO server plus what the interop and Swift client tests need.
func installTestHandlers(on server: SocketServer, disconnects: Recorder<String>) {
    for name in ["/", "/custom"] {
        server.namespace(name).onConnection { socket in
            socket.emit("auth", socket.handshake.auth)
            socket.onDisconnect { reason in disconnects.append("\(name) \(reason.rawValue)") }
        }
    }
    server.namespace("/forbidden").use { _ in throw SocketConnectError("not allowed") }
    let root = server.namespace("/")
    root.onConnection { socket in
        socket.on("message") { socket, arguments, _ in socket.emit("message-back", arguments) }
        socket.on("message-with-ack") { _, arguments, ack in ack?(arguments) }
        socket.on("ask-me") { socket, arguments, _ in
            guard let reply = try? await socket.emitWithAck("server-ask", arguments, timeout: .seconds(5)) else { return }
            socket.emit("server-got", reply)
        }
        socket.on("binary-please") { socket, _, _ in
            socket.emit("binary-back", .binary(.init(bytes: [0, 1, 2, 255])), ["nested": .binary(.init(bytes: [0x10, 0x20])), "n": 1])
        }
        socket.on("join") { socket, arguments, ack in
            guard case .string(let room)? = arguments.first else { return }
            socket.join(room)
            ack?("joined")
        }
        socket.on("to-room") { socket, arguments, _ in
            guard arguments.count == 2, case .string(let room) = arguments[0] else { return }
            await socket.to(room).emit("room-message", arguments[1])
        }
        socket.on("kick-me") { socket, _, _ in socket.disconnect() }
    }
}

@discardableResult
func withTestSocketServer<Result: Sendable>(
    _ configuration: SocketServerConfiguration = .init(engine: testEngine(path: "/socket.io")),
    _ body: @Sendable (_ url: String, _ disconnects: Recorder<String>, _ running: RunningServer) async throws -> Result
) async throws -> Result {
    let disconnects = Recorder<String>()
    return try await withSocketServer(configuration, setUp: { installTestHandlers(on: $0, disconnects: disconnects) }) { running, _ in
        try await body("http://127.0.0.1:\(running.port)", disconnects, running)
    }
}

extension ClientSocket {
    /// The next event named `name`, skipping others.
    func next(_ name: String, timeout: Duration = patience) async throws -> ClientEvent {
        let stream = events
        return try await withThrowingTaskGroup(of: ClientEvent?.self) { group in
            group.addTask {
                for await event in stream where event.name == name { return event }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw TestTimeout()
            }
            defer { group.cancelAll() }
            guard let event = try await group.next()! else { throw RawWebSocket.ConnectionClosed() }
            return event
        }
    }
}

@Suite("Socket.IO server with the Swift client")
struct SocketServerTests {
    @Test func connectWithAuthAndReceiveIt() async throws {
        try await withTestSocketServer { url, _, _ async throws in
            try await SocketClient.withConnection(to: url, logger: testLogger) { connection async throws in
                let socket = try await connection.socket(namespace: "/", auth: ["userId": "u1", "token": "t"])
                #expect(socket.id != nil)
                let auth = try await socket.next("auth")
                #expect(auth.arguments == [["userId": "u1", "token": "t"]])
            }
        }
    }

    @Test func twoNamespacesShareOneConnection() async throws {
        try await withTestSocketServer { url, _, _ async throws in
            try await SocketClient.withConnection(to: url, logger: testLogger) { connection async throws in
                let root = try await connection.socket(namespace: "/", auth: ["a": 1])
                let custom = try await connection.socket(namespace: "/custom", auth: ["b": 2])
                #expect(try await root.next("auth").arguments == [["a": 1]])
                #expect(try await custom.next("auth").arguments == [["b": 2]])
                #expect(root.id != custom.id)
            }
        }
    }

    @Test func unknownNamespaceIsRefused() async throws {
        try await withTestSocketServer { url, _, _ async throws in
            try await SocketClient.withConnection(to: url, logger: testLogger) { connection async throws in
                await #expect(throws: SocketClientError(.connectionRefused, "Invalid namespace")) {
                    try await connection.socket(namespace: "/nope")
                }
                // The connection stays usable.
                _ = try await connection.socket(namespace: "/")
            }
        }
    }

    @Test func middlewareRejectionReachesTheClient() async throws {
        try await withTestSocketServer { url, _, _ async throws in
            try await SocketClient.withConnection(to: url, logger: testLogger) { connection async throws in
                await #expect(throws: SocketClientError(.connectionRefused, "not allowed")) {
                    try await connection.socket(namespace: "/forbidden")
                }
            }
        }
    }

    @Test func middlewareRunsInOrderAndSeesTheAuth() async throws {
        let order = Recorder<String>()
        try await withSocketServer(setUp: { server in
            let namespace = server.namespace("/guarded")
            namespace.use { _ in order.append("first") }
            namespace.use { socket in
                order.append("second")
                guard socket.handshake.auth["token"] == "good" else { throw SocketConnectError("bad token", data: ["retry": false]) }
            }
        }) { running, _ async throws in
            try await SocketClient.withConnection(to: "http://127.0.0.1:\(running.port)", logger: testLogger) { connection async throws in
                await #expect(throws: SocketClientError(.connectionRefused, "bad token")) {
                    try await connection.socket(namespace: "/guarded", auth: ["token": "bad"])
                }
                let socket = try await connection.socket(namespace: "/guarded", auth: ["token": "good"])
                #expect(socket.isConnected)
            }
            #expect(order.all == ["first", "second", "first", "second"])
        }
    }

    @Test func eventsAndAcksFromTheClient() async throws {
        try await withTestSocketServer { url, _, _ async throws in
            try await SocketClient.withConnection(to: url, logger: testLogger) { connection async throws in
                let socket = try await connection.socket()
                socket.emit("message", 1, "2", ["3": [true]])
                #expect(try await socket.next("message-back").arguments == [1, "2", ["3": [true]]])
                let reply = try await socket.emitWithAck("message-with-ack", [1.5, nil, ["k": "v"]])
                #expect(reply == [1.5, nil, ["k": "v"]])
            }
        }
    }

    @Test func acksFromServerToClient() async throws {
        try await withTestSocketServer { url, _, _ async throws in
            try await SocketClient.withConnection(to: url, logger: testLogger) { connection async throws in
                let socket = try await connection.socket()
                socket.emit("ask-me", "ping")
                let ask = try await socket.next("server-ask")
                #expect(ask.arguments == ["ping"])
                try #require(ask.ack != nil)
                ask.ack?(["pong!"])
                #expect(try await socket.next("server-got").arguments == ["pong!"])
            }
        }
    }

    @Test func serverAckTimesOutWhenTheClientNeverAnswers() async throws {
        let outcome = AsyncValue<String>()
        try await withSocketServer(setUp: { server in
            server.namespace("/").onConnection { socket in
                socket.on("start") { socket, _, _ in
                    do {
                        _ = try await socket.emitWithAck("silence", [], timeout: .milliseconds(100))
                        outcome.set("answered")
                    } catch let error as SocketAckError {
                        outcome.set(error.code.rawValue)
                    } catch {
                        outcome.set("\(error)")
                    }
                }
            }
        }) { running, _ async throws in
            try await SocketClient.withConnection(to: "http://127.0.0.1:\(running.port)", logger: testLogger) { connection async throws in
                let socket = try await connection.socket()
                socket.emit("start")
                #expect(try await outcome.value() == "timeout")
            }
        }
    }

    @Test func clientAckTimesOut() async throws {
        try await withTestSocketServer { url, _, _ async throws in
            try await SocketClient.withConnection(to: url, logger: testLogger) { connection async throws in
                let socket = try await connection.socket()
                await #expect(throws: SocketAckError(.timeout)) {
                    try await socket.emitWithAck("no-such-handler", [], timeout: .milliseconds(100))
                }
            }
        }
    }

    @Test func binaryBothWays() async throws {
        try await withTestSocketServer { url, _, _ async throws in
            try await SocketClient.withConnection(to: url, logger: testLogger) { connection async throws in
                let socket = try await connection.socket()
                let blob: SocketValue = .binary(.init(bytes: [1, 2, 3]))
                socket.emit("message", blob, ["inner": .binary(.init(bytes: [0xFE, 0xFF])), "k": "v"])
                let back = try await socket.next("message-back")
                #expect(back.arguments == [blob, ["inner": .binary(.init(bytes: [0xFE, 0xFF])), "k": "v"]])
                socket.emit("binary-please")
                let binary = try await socket.next("binary-back")
                #expect(binary.arguments == [.binary(.init(bytes: [0, 1, 2, 255])), ["nested": .binary(.init(bytes: [0x10, 0x20])), "n": 1]])
                let acked = try await socket.emitWithAck("message-with-ack", [blob])
                #expect(acked == [blob])
            }
        }
    }

    @Test func broadcastToARoomExceptTheSender() async throws {
        try await withTestSocketServer { url, _, _ async throws in
            try await SocketClient.withConnection(to: url, logger: testLogger) { first async throws in
                try await SocketClient.withConnection(to: url, logger: testLogger) { second async throws in
                    try await SocketClient.withConnection(to: url, logger: testLogger) { outsider async throws in
                        let a = try await first.socket()
                        let b = try await second.socket()
                        let c = try await outsider.socket()
                        #expect(try await a.emitWithAck("join", "room1") == ["joined"])
                        #expect(try await b.emitWithAck("join", "room1") == ["joined"])
                        a.emit("to-room", "room1", "hello")
                        #expect(try await b.next("room-message").arguments == ["hello"])
                        // The sender and the socket outside the room get nothing; a later direct event proves
                        // the room message would have arrived before it.
                        c.emit("message", "marker")
                        let cEvent = try await c.next("message-back")
                        #expect(cEvent.arguments == ["marker"])
                        a.emit("message", "marker")
                        var received: [String] = []
                        for await event in a.events {
                            received.append(event.name)
                            if event.name == "message-back" { break }
                        }
                        #expect(!received.contains("room-message"))
                    }
                }
            }
        }
    }

    @Test func serverDisconnectReachesTheClient() async throws {
        try await withTestSocketServer { url, disconnects, _ async throws in
            try await SocketClient.withConnection(to: url, logger: testLogger) { connection async throws in
                let socket = try await connection.socket()
                socket.emit("kick-me")
                for await _ in socket.events {}
                #expect(socket.disconnectReason == "io server disconnect")
                try await disconnects.wait { $0 == ["/ server namespace disconnect"] }
            }
        }
    }

    @Test func clientDisconnectKeepsTheConnection() async throws {
        try await withTestSocketServer { url, disconnects, _ async throws in
            try await SocketClient.withConnection(to: url, logger: testLogger) { connection async throws in
                let custom = try await connection.socket(namespace: "/custom")
                let root = try await connection.socket()
                custom.disconnect()
                try await disconnects.wait { $0 == ["/custom client namespace disconnect"] }
                #expect(try await root.emitWithAck("message-with-ack", "still") == ["still"])
            }
            try await disconnects.wait { $0.count == 2 && $0[1] == "/ transport close" }
        }
    }

    @Test func shutdownDisconnectsClients() async throws {
        try await withTestSocketServer { url, disconnects, running async throws in
            try await SocketClient.withConnection(to: url, logger: testLogger) { connection async throws in
                let socket = try await connection.socket()
                await running.shutdown()
                for await _ in socket.events {}
                #expect(!socket.isConnected)
            }
            try await disconnects.wait { $0 == ["/ server shutting down"] }
        }
    }
}

@Suite("Swift client heartbeat")
struct ClientHeartbeatTests {
    @Test func theClientAnswersPingsAndStaysConnected() async throws {
        // 5 s of pings every 100 ms outlast the 4 s ping timeout: a client that did not answer would be closed.
        // (The timeout is that long because the whole suite starts at once: a fresh CI run once stalled
        // every test for about 4 s, and a 1.5 s timeout then closed a client that had answered.)
        let configuration = SocketServerConfiguration(engine: testEngine(path: "/socket.io", pingInterval: 100, pingTimeout: 4000))
        try await withTestSocketServer(configuration) { url, disconnects, _ async throws in
            try await SocketClient.withConnection(to: url, logger: testLogger) { connection async throws in
                let socket = try await connection.socket()
                try await Task.sleep(for: .seconds(5))
                #expect(try await socket.emitWithAck("message-with-ack", "alive") == ["alive"])
                #expect(disconnects.all.isEmpty)
            }
        }
    }

    @Test func theClientNoticesAServerThatStoppedPinging() async throws {
        // A bare WebSocket server that completes the Engine.IO handshake and then never pings. The client gives
        // up 2 s after the handshake: long enough for the handshake itself to finish on a busy machine.
        let webSocketRouter = Router(context: BasicWebSocketRequestContext.self)
        webSocketRouter.ws("/socket.io") { inbound, outbound, _ in
            try await outbound.write(.text(#"0{"sid":"silent","upgrades":[],"pingInterval":1000,"pingTimeout":1000,"maxPayload":1000000}"#))
            for try await _ in inbound {}
        }
        let port = AsyncValue<Int>()
        let app = Application(
            router: Router(context: BasicWebSocketRequestContext.self),
            server: .http1WebSocketUpgrade(webSocketRouter: webSocketRouter),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { port.set($0.localAddress?.port ?? 0) },
            logger: testLogger
        )
        let group = ServiceGroup(services: [app], logger: testLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let url = "http://127.0.0.1:\(try await port.value())"
            try await SocketClient.withConnection(to: url, logger: testLogger) { connection async throws in
                let deadline = ContinuousClock.now + patience
                while !connection.isClosed {
                    guard ContinuousClock.now < deadline else { throw TestTimeout() }
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}
