import EngineIO
import EngineIOServer
import NIOCore
import SocketIO
import SocketIOClient
import SocketIOServer
import Synchronization
import TestSupport
import Testing

@Suite("Slow clients")
struct SlowClientTests {
    /// A client that stops reading while its room receives 64 KiB frames is closed once 1 MiB waits for it
    /// (after what the kernel and the channel hold), and the rest of the room keeps receiving at pace.
    @Test func aSlowReaderOfLargeFramesIsCutOffAndItsRoomKeepsItsPace() async throws {
        var engine = testEngine(path: "/socket.io")
        engine.engine.maxBufferedBytes = 1 << 20
        let disconnects = Recorder<String>()
        let setUp: (SocketServer) -> Void = { server in
            server.namespace("/").onConnection { socket in
                socket.on("join") { socket, _, ack in
                    socket.join("room")
                    ack?("joined")
                }
                socket.onDisconnect { reason in disconnects.append(reason.rawValue) }
            }
        }
        try await withSocketServer(SocketServerConfiguration(engine: engine), setUp: setUp) { running, server async throws in
            try await WireWebSocket.withConnection(port: running.port, "/socket.io/?EIO=4&transport=websocket") { slow async throws in
                _ = try await slow.nextText()
                try await slow.send(text: "40")
                _ = try await slow.nextText()
                try await slow.send(text: #"421["join"]"#)
                #expect(try await slow.nextText() == #"431["joined"]"#)
                // From here on the slow client reads nothing.
                try await SocketClient.withConnection(to: "http://127.0.0.1:\(running.port)", logger: testLogger) { connection async throws in
                    let fast = try await connection.socket()
                    #expect(try await fast.emitWithAck("join") == ["joined"])
                    let count = 160
                    let sentAt = Mutex<[Int: ContinuousClock.Instant]>([:])
                    let latencies = Recorder<Duration>()
                    let events = fast.events
                    let receiving = Task {
                        for await event in events where event.name == "big" {
                            guard case .int(let index)? = event.arguments.first else { continue }
                            if let sent = sentAt.withLock({ $0[Int(index)] }) { latencies.append(.now - sent) }
                            if latencies.all.count == count { return }
                        }
                    }
                    defer { receiving.cancel() }
                    let payload = SocketValue.binary(ByteBuffer(repeating: 0x2A, count: 64 * 1024))
                    for index in 0..<count {
                        sentAt.withLock { $0[index] = .now }
                        _ = await server.namespace("/").to("room").emit("big", .int(Int64(index)), payload)
                        try await Task.sleep(for: .milliseconds(10))
                    }
                    try await disconnects.wait { $0.contains("slow client") }
                    try await latencies.wait { $0.count == count }
                    #expect(disconnects.all == ["slow client"], "only the slow reader is cut off")
                    let slowest = latencies.all.max() ?? .zero
                    #expect(slowest < .seconds(2), "the room's other member waited \(slowest) for a frame")
                }
            }
        }
    }
}
