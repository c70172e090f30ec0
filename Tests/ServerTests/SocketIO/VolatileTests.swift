import EngineIOServer
import NIOCore
import SocketIO
import SocketIOServer
import Synchronization
import TestSupport
import Testing

/// socket.io's `volatile`: an event a transport cannot take now is dropped, not queued.
@Suite("Volatile emits")
struct VolatileTests {
    /// The server's side of the tests: every socket, by id, in the room "room".
    final class Sockets: Sendable {
        let byID = Mutex<[String: ServerSocket]>([:])
        func callAsFunction(_ id: String) -> ServerSocket? { byID.withLock { $0[id] } }
    }

    func withServer(_ body: @Sendable (_ running: RunningServer, _ server: SocketServer, _ sockets: Sockets) async throws -> Void) async throws {
        let sockets = Sockets()
        try await withSocketServer(setUp: { server in
            server.namespace("/").onConnection { socket in
                socket.join("room")
                sockets.byID.withLock { $0[socket.id] = socket }
            }
        }) { running, server in try await body(running, server, sockets) }
    }

    @Test func onLongPollingOnlyWhileAGetIsPending() async throws {
        try await withServer { running, server, sockets in
            let polling = Polling(port: running.port, path: "/socket.io")
            let (sid, _) = try await polling.handshake()
            _ = try await polling.post(sid, "40")
            let connected = try await polling.get(sid).text
            let socketID = try #require(try SocketValue(jsonText: String(connected.dropFirst(2)))["sid"]?.stringValue)
            let socket = try #require(sockets(socketID))
            #expect(socket.emitVolatile("position", 1) == false, "no GET pending: dropped")
            async let poll = polling.get(sid)
            try await polling.waitForPendingPoll(sid, on: server.engine)
            #expect(socket.emitVolatile("position", 2) == true)
            #expect(try await poll.text == #"42["position",2]"#)
        }
    }

    @Test func aBackedUpSocketMissesAVolatileBroadcastTheOthersGetIt() async throws {
        try await withServer { running, server, sockets in
            let root = server.namespace("/")
            try await WireWebSocket.withConnection(port: running.port, "/socket.io/?EIO=4&transport=websocket", receiveBuffer: 16 * 1024) { slow async throws in
                _ = try await slow.nextText()
                try await slow.send(text: "40")
                let slowID = try #require(try SocketValue(jsonText: String(try await slow.nextText().dropFirst(2)))["sid"]?.stringValue)
                try await WireWebSocket.withConnection(port: running.port, "/socket.io/?EIO=4&transport=websocket") { fast async throws in
                    _ = try await fast.nextText()
                    try await fast.send(text: "40")
                    _ = try await fast.nextText()
                    try await eventually("both sockets in the room") { root.to("room").socketIDs.count == 2 }
                    #expect(await root.to("room").volatile.emit("position", 0) == 2, "nothing waits yet: both take it")
                    #expect(try await fast.nextText() == #"42["position",0]"#)
                    // The slow client reads nothing: frames sent to it alone pile up once its buffers are full.
                    let slowSocket = try #require(sockets(slowID))
                    let filler = SocketValue.binary(ByteBuffer(repeating: 0, count: 32 * 1024))
                    var sent = 0
                    while slowSocket.emitVolatile("probe") {
                        slowSocket.emit("filler", filler)
                        sent += 1
                        try #require(sent < 2000, "the slow client's frames never piled up")
                        if sent % 16 == 0 { try await Task.sleep(for: .milliseconds(5)) }
                    }
                    #expect(await root.to("room").volatile.emit("position", 1) == 1, "only the fast one takes it")
                    #expect(try await fast.nextText() == #"42["position",1]"#)
                    #expect(await root.to("room").emit("news", 2) == 2, "a regular broadcast is queued for both")
                }
            }
        }
    }
}
