import EngineIO
import EngineIOServer
import HTTPTypes
import SocketIO
import SocketIOServer
import TestSupport
import Testing

/// Socket.IO at the byte level, as the conformance suite drives it, over a raw WebSocket.
@Suite("Socket.IO wire protocol")
struct SocketProtocolTests {
    static let path = "/socket.io/?EIO=4&transport=websocket"
    /// Neither the heartbeat nor the connect timeout closes a connection within `patience`, so a close the
    /// tests see within it was caused by what they sent.
    static let configuration = SocketServerConfiguration(engine: testEngine(path: "/socket.io", pingInterval: 60_000), connectTimeout: .seconds(60))

    func withRawSocket(_ body: @Sendable @escaping (RawWebSocket, Recorder<String>) async throws -> Void) async throws {
        try await withTestSocketServer(Self.configuration) { _, disconnects, running async throws in
            try await RawWebSocket.withConnection(port: running.port, Self.path) { socket async throws in
                #expect(try await socket.nextText().hasPrefix("0{"))
                try await body(socket, disconnects)
            }
        }
    }

    @Test func connectAnswersWithExactlyTheSid() async throws {
        try await withRawSocket { socket, _ async throws in
            socket.send(#"40{"token":"123"}"#)
            let connect = try await socket.nextText()
            #expect(connect.hasPrefix("40{"))
            let data = try SocketValue(jsonText: String(connect.dropFirst(2)))
            #expect(data.objectValue?.keys.elements == ["sid"])
            #expect(try await socket.nextText() == #"42["auth",{"token":"123"}]"#)
        }
    }

    @Test func connectToACustomNamespaceFirst() async throws {
        try await withRawSocket { socket, _ async throws in
            socket.send("40/custom,")
            #expect(try await socket.nextText().hasPrefix(#"40/custom,{"sid":""#))
            #expect(try await socket.nextText() == #"42/custom,["auth",{}]"#)
        }
    }

    @Test func unknownNamespaceGetsTheReferenceError() async throws {
        try await withRawSocket { socket, _ async throws in
            socket.send("40/random")
            #expect(try await socket.nextText() == #"44/random,{"message":"Invalid namespace"}"#)
        }
    }

    @Test func eventsAndAcksByteForByte() async throws {
        try await withRawSocket { socket, _ async throws in
            socket.send("40")
            _ = try await socket.nextText()
            _ = try await socket.nextText()
            socket.send(#"42["message",1,"2",{"3":[true]}]"#)
            #expect(try await socket.nextText() == #"42["message-back",1,"2",{"3":[true]}]"#)
            socket.send(#"42456["message-with-ack",1,"2",{"3":[false]}]"#)
            #expect(try await socket.nextText() == #"43456[1,"2",{"3":[false]}]"#)
        }
    }

    @Test func binaryEventAndBinaryAck() async throws {
        try await withRawSocket { socket, _ async throws in
            socket.send("40")
            _ = try await socket.nextText()
            _ = try await socket.nextText()
            socket.send(#"452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
            socket.send(binary: [1, 2, 3])
            socket.send(binary: [4, 5, 6])
            #expect(try await socket.nextText() == #"452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
            #expect(try await socket.next() == .binary([1, 2, 3]))
            #expect(try await socket.next() == .binary([4, 5, 6]))
            socket.send(#"452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
            socket.send(binary: [1, 2, 3])
            socket.send(binary: [4, 5, 6])
            #expect(try await socket.nextText() == #"462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
            #expect(try await socket.next() == .binary([1, 2, 3]))
            #expect(try await socket.next() == .binary([4, 5, 6]))
        }
    }

    @Test func clientDisconnectLeavesTheConnectionOpen() async throws {
        try await withRawSocket { socket, disconnects async throws in
            socket.send("40")
            _ = try await socket.nextText()
            _ = try await socket.nextText()
            socket.send("41")
            // The connection stays open: the next thing to arrive is the answer to another CONNECT.
            socket.send("40")
            #expect(try await socket.nextText().hasPrefix("40{"))
            try await disconnects.wait { $0 == ["/ client namespace disconnect"] }
        }
    }

    @Test(arguments: [
        "4abc",  // unknown packet type
        "42{}",  // event payload not an array
        #"42abc["message-with-ack",1]"#,  // invalid ack id
        #"42["connect"]"#,  // reserved event name
        #"43["no id"]"#,  // ack without id
        "4",  // empty Socket.IO packet
    ])
    func invalidPacketsCloseTheConnection(packet: String) async throws {
        try await withRawSocket { socket, disconnects async throws in
            socket.send("40")
            _ = try await socket.nextText()
            _ = try await socket.nextText()
            socket.send(packet)
            try await socket.closed.value(timeout: patience)
            try await disconnects.wait { $0 == ["/ parse error"] }
        }
    }

    @Test func anEventBeforeConnectClosesTheConnection() async throws {
        try await withSocketServer(Self.configuration, setUp: { _ in }) { running, server async throws in
            try await WireWebSocket.withConnection(port: running.port, Self.path) { socket async throws in
                #expect(try await socket.nextText().hasPrefix("0{"))
                try await socket.send(text: #"42["message",1]"#)
                // Closed by the server (a close frame, not the end of the test's patience), long before
                // the connect timeout.
                #expect(try await socket.closeCode() != nil)
            }
            try await eventually("the server closed the session") { server.engine.sessionCount == 0 }
        }
    }

    @Test func noConnectWithinTheTimeoutClosesTheConnection() async throws {
        // One second, so that a client held up on a loaded machine reads the open packet before the close.
        let configuration = SocketServerConfiguration(engine: testEngine(path: "/socket.io", pingInterval: 60_000), connectTimeout: .seconds(1))
        try await withSocketServer(configuration, setUp: { _ in }) { running, server async throws in
            let opened = ContinuousClock.now
            try await WireWebSocket.withConnection(port: running.port, Self.path) { socket async throws in
                #expect(try await socket.nextText().hasPrefix("0{"))
                #expect(try await socket.closeCode() != nil, "the server closes with a close frame")
            }
            #expect(ContinuousClock.now - opened >= .seconds(1), "not before the connect timeout")
            #expect(server.engine.sessionCount == 0)
        }
    }

    @Test func aFloodOfEventsIsCutOff() async throws {
        let configuration = SocketServerConfiguration(engine: testEngine(path: "/socket.io", pingInterval: 60_000), maxPendingEvents: 10)
        let release = AsyncValue<Void>()
        let disconnects = Recorder<SocketDisconnectReason>()
        try await withSocketServer(configuration, setUp: { server in
            server.namespace("/").onConnection { socket in
                socket.on("slow") { _, _, _ in _ = try? await release.value(timeout: .seconds(10)) }
                socket.onDisconnect { disconnects.append($0) }
            }
        }) { running, _ async throws in
            try await RawWebSocket.withConnection(port: running.port, Self.path) { socket async throws in
                _ = try await socket.nextText()
                socket.send("40")
                _ = try await socket.nextText()
                for _ in 0..<50 { socket.send(#"42["slow"]"#) }
                try await socket.closed.value(timeout: patience)
                release.set(())
            }
            try await disconnects.wait { $0 == [.flooding] }
        }
    }
}

@Suite("Socket.IO handshake")
struct SocketHandshakeTests {
    @Test func aSocketSeesItsClientsAddressHeadersQueryAndTime() async throws {
        let seen = Recorder<SocketHandshake>()
        let before = EngineHandshake.now
        try await withSocketServer(setUp: { server in
            server.namespace("/").onConnection { socket in seen.append(socket.handshake) }
        }) { running, _ async throws in
            try await WireWebSocket.withConnection(port: running.port, "/socket.io/?EIO=4&transport=websocket&room=lobby", headers: ["X-Client": "wire"]) { socket async throws in
                _ = try await socket.nextText()
                try await socket.send(text: #"40{"token":"t"}"#)
                #expect(try await socket.nextText().hasPrefix("40{"))
            }
        }
        let handshake = try #require(seen.all.first)
        #expect(handshake.address == "127.0.0.1")
        #expect(handshake.query["room"] == "lobby" && handshake.query["EIO"] == "4")
        #expect(handshake.headers[HTTPField.Name("X-Client")!] == "wire")
        #expect(handshake.auth["token"] == "t")
        #expect(handshake.issued >= before && handshake.issued <= EngineHandshake.now)
        #expect(!handshake.time.isEmpty)
    }
}
