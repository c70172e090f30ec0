import EngineIOServer
import HTTPTypes
import SocketIO
import TestSupport
import Testing

/// RFC 6455 as the server keeps it, frame by frame, over a raw TCP connection.
@Suite("Engine.IO WebSocket framing")
struct WebSocketFramingTests {
    static let handshake = "/engine.io/?EIO=4&transport=websocket"

    /// Runs `body` on an upgraded raw WebSocket to an echo server, after the open packet.
    private func withWire(maxPayload: Int = 1_000_000, _ body: @escaping @Sendable (WireWebSocket) async throws -> Void) async throws {
        try await withEchoServer(testEngine(path: "/engine.io", maxPayload: maxPayload)) { polling, _, _ async throws in
            try await WireWebSocket.withConnection(port: polling.port, Self.handshake) { socket async throws in
                #expect(socket.responseHead.hasPrefix("HTTP/1.1 101"))
                #expect(socket.responseHead.contains("\(WireWebSocket.expectedAccept)"))
                #expect(try await socket.nextText().hasPrefix("0{"))
                try await body(socket)
            }
        }
    }

    @Test func aFragmentedMessageIsReassembled() async throws {
        try await withWire { socket in
            try await socket.send(text: "4hel", fin: false)
            try await socket.send(opcode: 0x9, Array("in between".utf8))  // a ping may come between fragments
            try await socket.send(opcode: 0x0, fin: false, Array("lo wo".utf8))
            try await socket.send(opcode: 0x0, Array("rld".utf8))
            #expect(try await socket.next() == .init(opcode: 0xA, payload: Array("in between".utf8)))
            #expect(try await socket.nextText() == "4hello world")
        }
    }

    @Test func theSessionKeepsTheClientsHeadersButNotTheHandshakes() async throws {
        try await withEchoServer { polling, _, server async throws in
            try await WireWebSocket.withConnection(port: polling.port, Self.handshake, headers: ["X-Client": "wire"]) { socket async throws in
                let open = try SocketValue(jsonText: String(try await socket.nextText().dropFirst()))
                let sid = try #require(open["sid"]?.stringValue)
                let headers = try #require(server.engine.session(id: sid)?.handshake.headers)
                #expect(headers[HTTPField.Name("X-Client")!] == "wire")
                for name in ["Sec-WebSocket-Key", "Sec-WebSocket-Version", "Upgrade", "Connection"] {
                    #expect(headers[HTTPField.Name(name)!] == nil, "\(name)")
                }
            }
        }
    }

    @Test(arguments: [1, 2, 5, 9])
    func aFrameSplitAcrossReadsArrivesWhole(splitAfter: Int) async throws {
        try await withWire { socket in
            let text = "4" + String(repeating: "y", count: 300)  // a 16-bit length
            try await socket.send(opcode: 0x1, Array(text.utf8), splitAfter: splitAfter)
            #expect(try await socket.nextText() == text)
        }
    }

    @Test func reservedBitsOrOpcodesCloseWith1002() async throws {
        try await withWire { socket in
            try await socket.send(opcode: 0x1, rsv: 0b100, Array("4compressed?".utf8))
            #expect(try await socket.closeCode() == 1002)
        }
        try await withWire { socket in
            try await socket.send(opcode: 0x3, Array("4x".utf8))
            #expect(try await socket.closeCode() == 1002)
        }
    }

    @Test func anUnmaskedFrameClosesWith1002() async throws {
        try await withWire { socket in
            try await socket.send(opcode: 0x1, Array("4hello".utf8), masked: false)
            #expect(try await socket.closeCode() == 1002)
        }
    }

    @Test func invalidUTF8ClosesWith1007() async throws {
        try await withWire { socket in
            try await socket.send(opcode: 0x1, [0x34, 0xC3, 0x28])
            #expect(try await socket.closeCode() == 1007)
        }
    }

    @Test func aContinuationWithoutAStartClosesWith1002() async throws {
        try await withWire { socket in
            try await socket.send(opcode: 0x0, Array("4x".utf8))
            #expect(try await socket.closeCode() == 1002)
        }
    }

    @Test func aNewMessageInsideAFragmentedOneClosesWith1002() async throws {
        try await withWire { socket in
            try await socket.send(text: "4a", fin: false)
            try await socket.send(text: "4b")
            #expect(try await socket.closeCode() == 1002)
        }
    }

    @Test func anOversizeControlFrameClosesWith1002() async throws {
        try await withWire { socket in
            try await socket.send(opcode: 0x9, Array(repeating: 0x61, count: 126))
            #expect(try await socket.closeCode() == 1002)
        }
    }

    @Test func aMessageOverMaxPayloadClosesWith1009() async throws {
        try await withWire(maxPayload: 1000) { socket in
            try await socket.send(text: "4" + String(repeating: "x", count: 2000))
            #expect(try await socket.closeCode() == 1009)
        }
    }

    @Test func fragmentsAddingUpToMoreThanMaxPayloadCloseWith1009() async throws {
        try await withWire(maxPayload: 1000) { socket in
            try await socket.send(text: "4" + String(repeating: "x", count: 600), fin: false)
            try await socket.send(opcode: 0x0, Array(repeating: 0x78, count: 600))
            #expect(try await socket.closeCode() == 1009)
        }
    }

    @Test func aPingIsAnsweredWithItsPayload() async throws {
        try await withWire { socket in
            try await socket.send(opcode: 0x9, [1, 2, 3])
            #expect(try await socket.next() == .init(opcode: 0xA, payload: [1, 2, 3]))
        }
    }
}
