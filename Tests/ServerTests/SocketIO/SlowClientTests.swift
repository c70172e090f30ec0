import EngineIO
import EngineIOServer
import NIOCore
import SocketIO
import SocketIOServer
import Synchronization
import TestSupport
import Testing

@Suite("Slow clients")
struct SlowClientTests {
    /// A client that stops reading while its room receives 64 KiB frames is closed once 1 MiB waits for it
    /// (after what the kernel and the channel hold: a 64 KiB receive buffer, and the server's send buffer,
    /// at most 4 MiB here), and the rest of the room keeps receiving at pace.
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
                socket.onDisconnect { reason in disconnects.append("\(socket.id) \(reason.rawValue)") }
            }
        }
        try await withSocketServer(SocketServerConfiguration(engine: engine), setUp: setUp) { running, server async throws in
            try await WireWebSocket.withConnection(port: running.port, "/socket.io/?EIO=4&transport=websocket", receiveBuffer: 64 * 1024) { slow async throws in
                _ = try await slow.nextText()
                try await slow.send(text: "40")
                let slowID = try #require(try SocketValue(jsonText: String(try await slow.nextText().dropFirst(2)))["sid"]?.stringValue)
                try await slow.send(text: #"421["join"]"#)
                #expect(try await slow.nextText() == #"431["joined"]"#)
                // From here on the slow client reads nothing. The fast one reads everything, as it comes.
                try await WireWebSocket.withConnection(port: running.port, "/socket.io/?EIO=4&transport=websocket") { fast async throws in
                    _ = try await fast.nextText()
                    try await fast.send(text: "40")
                    _ = try await fast.nextText()
                    try await fast.send(text: #"421["join"]"#)
                    #expect(try await fast.nextText() == #"431["joined"]"#)
                    let count = 160
                    let sentAt = Mutex<[Int: ContinuousClock.Instant]>([:])
                    let latencies = Recorder<Duration>()
                    let receiving = Task {
                        // Each event is a text frame (451-["big",INDEX,{placeholder}]) and its attachment.
                        while latencies.all.count < count, let frame = try await fast.next() {
                            guard frame.opcode == 0x1, frame.text.hasPrefix(#"451-["big","#) else { continue }
                            let index = Int(frame.text.dropFirst(#"451-["big","#.count).prefix { $0.isNumber }) ?? -1
                            if let sent = sentAt.withLock({ $0[index] }) { latencies.append(.now - sent) }
                        }
                    }
                    defer { receiving.cancel() }
                    let payload = SocketValue.binary(ByteBuffer(repeating: 0x2A, count: 64 * 1024))
                    for index in 0..<count {
                        sentAt.withLock { $0[index] = .now }
                        _ = await server.namespace("/").to("room").emit("big", .int(Int64(index)), payload)
                        try await Task.sleep(for: .milliseconds(15))
                    }
                    try await disconnects.wait(timeout: .seconds(5)) { !$0.isEmpty }
                    #expect(disconnects.all == ["\(slowID) slow client"], "only the slow reader is cut off")
                    try await latencies.wait(timeout: .seconds(5)) { $0.count == count }
                    let slowest = latencies.all.max() ?? .zero
                    #expect(slowest < .seconds(2), "the room's other member waited \(slowest) for a frame")
                }
            }
        }
    }
}
