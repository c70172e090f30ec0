import EngineIOServer
import SocketIO
import SocketIOClient
@testable import SocketIOServer
import TestSupport
import Testing

/// Socket.IO's connection-state recovery, on the wire as socket.io ≥ 4.6 speaks it and with the Swift
/// client.
@Suite("Socket.IO connection-state recovery")
struct ConnectionStateRecoveryTests {
    static let path = "/socket.io/?EIO=4&transport=websocket"

    /// What the server saw of each connection: the socket id, whether it was recovered, its data.
    final class Seen: Sendable {
        let connections = Recorder<String>()
        let middlewareRuns = Recorder<String>()
    }

    func withRecoveringServer(
        _ recovery: ConnectionStateRecovery = ConnectionStateRecovery(),
        _ body: @Sendable (_ running: RunningServer, _ server: SocketServer, _ seen: Seen) async throws -> Void
    ) async throws {
        let seen = Seen()
        let configuration = SocketServerConfiguration(engine: testEngine(path: "/socket.io"), connectionStateRecovery: recovery)
        try await withSocketServer(configuration, setUp: { server in
            let root = server.namespace("/")
            root.use { socket in
                seen.middlewareRuns.append(socket.id)
                socket.data = "token of \(socket.id)"
            }
            root.onConnection { socket in
                seen.connections.append("\(socket.id) recovered=\(socket.recovered) data=\(socket.data as? String ?? "-")")
                socket.on("join") { socket, arguments, ack in
                    guard case .string(let room)? = arguments.first else { return }
                    socket.join(room)
                    ack?("joined")
                }
            }
        }) { running, server in try await body(running, server, seen) }
    }

    /// Connects over a raw WebSocket with `auth`, returns the CONNECT answer's sid and pid.
    func connect(_ socket: RawWebSocket, auth: String = "") async throws -> (sid: String, pid: String) {
        #expect(try await socket.nextText().hasPrefix("0{"))
        socket.send("40\(auth)")
        let answer = try await socket.nextText()
        #expect(answer.hasPrefix("40{"))
        let data = try SocketValue(jsonText: String(answer.dropFirst(2)))
        return (try #require(data["sid"]?.stringValue), try #require(data["pid"]?.stringValue))
    }

    @Test func aClientThatComesBackGetsItsIdRoomsDataAndWhatItMissed() async throws {
        try await withRecoveringServer { running, server, seen in
            let root = server.namespace("/")
            let (sid, pid, offset) = try await RawWebSocket.withConnection(port: running.port, Self.path) { socket async throws in
                let (sid, pid) = try await connect(socket)
                socket.send(#"421["join","room"]"#)
                #expect(try await socket.nextText() == #"431["joined"]"#)
                await root.to("room").emit("news", 1)
                // The offset rides as the last argument, a string.
                let news = try SocketValue(jsonText: String(try await socket.nextText().dropFirst(2)))
                let arguments = try #require(news.arrayValue)
                #expect(arguments.prefix(2) == ["news", 1])
                return (sid, pid, try #require(arguments.last?.stringValue))
            }
            // Gone (the connection closed, a recoverable reason); three broadcasts meanwhile, one elsewhere.
            try await eventually("the socket disconnected") { root.sockets.isEmpty }
            await root.to("room").emit("news", 2)
            await root.to("elsewhere").emit("news", -1)
            await root.emit("everyone", 3)
            try await RawWebSocket.withConnection(port: running.port, Self.path) { socket async throws in
                let (recoveredSID, recoveredPID) = try await connect(socket, auth: #"{"pid":"\#(pid)","offset":"\#(offset)"}"#)
                #expect(recoveredSID == sid && recoveredPID == pid)
                #expect(try await socket.nextText().hasPrefix(#"42["news",2,""#))
                #expect(try await socket.nextText().hasPrefix(#"42["everyone",3,""#))
                // Back in its room.
                await root.to("room").emit("news", 4)
                #expect(try await socket.nextText().hasPrefix(#"42["news",4,""#))
            }
            #expect(seen.connections.all == ["\(sid) recovered=false data=token of \(sid)", "\(sid) recovered=true data=token of \(sid)"])
            #expect(seen.middlewareRuns.all == [sid], "a recovered socket skips the middlewares")
        }
    }

    @Test(arguments: ["unknown pid", "offset not in the log", "expired", "left on purpose"])
    func aSessionThatCannotBeRecoveredConnectsAfresh(why: String) async throws {
        try await withRecoveringServer(ConnectionStateRecovery(maxDisconnectionDuration: .milliseconds(300))) { running, server, seen in
            let root = server.namespace("/")
            let (sid, pid, offset) = try await RawWebSocket.withConnection(port: running.port, Self.path) { socket async throws in
                let (sid, pid) = try await connect(socket)
                await root.emit("hello")
                let hello = try SocketValue(jsonText: String(try await socket.nextText().dropFirst(2)))
                if why == "left on purpose" {
                    socket.send("41")
                    try await eventually("the server saw the DISCONNECT") { root.sockets.isEmpty }
                }
                return (sid, pid, try #require(hello.arrayValue?.last?.stringValue))
            }
            try await eventually("the socket disconnected") { root.sockets.isEmpty }
            if why == "expired" { try await Task.sleep(for: .milliseconds(500)) }
            let presented = switch why {
            case "unknown pid": #"{"pid":"nope","offset":"\#(offset)"}"#
            case "offset not in the log": #"{"pid":"\#(pid)","offset":"zz-1"}"#
            default: #"{"pid":"\#(pid)","offset":"\#(offset)"}"#
            }
            try await RawWebSocket.withConnection(port: running.port, Self.path) { socket async throws in
                let (newSID, newPID) = try await connect(socket, auth: presented)
                #expect(newSID != sid && newPID != pid)
            }
            #expect(seen.connections.all.last?.hasSuffix("recovered=false data=token of \(seen.middlewareRuns.all.last ?? "")") == true)
            #expect(seen.middlewareRuns.all.count == 2)
        }
    }

    @Test func theSwiftClientRecoversAsTheJavaScriptOneDoes() async throws {
        try await withRecoveringServer { running, server, _ in
            let root = server.namespace("/")
            let url = "http://127.0.0.1:\(running.port)"
            let (firstID, state) = try await SocketClient.withConnection(to: url, logger: testLogger) { connection async throws in
                let socket = try await connection.socket()
                #expect(!socket.recovered)
                #expect(try await socket.emitWithAck("join", "room") == ["joined"])
                await root.to("room").emit("news", 1)
                _ = try await socket.next("news")
                return (try #require(socket.id), try #require(socket.recoveryState))
            }
            try await eventually("the socket disconnected") { root.sockets.isEmpty }
            await root.to("room").emit("news", 2)
            try await SocketClient.withConnection(to: url, logger: testLogger) { connection async throws in
                let socket = try await connection.socket(recovering: state)
                #expect(socket.recovered && socket.id == firstID)
                let missed = try await socket.next("news")
                #expect(missed.arguments.first == 2)
                #expect(socket.recoveryState?.offset == missed.arguments.last?.stringValue)
            }
        }
    }

    /// The log on its own, with instants.
    @Test func theLogKeepsWhatASessionsRoomsMissedForTheConfiguredTime() {
        typealias Log = RecoveryLog<ContinuousClock.Instant>
        let t0 = ContinuousClock.now
        var log = Log(maxAge: .seconds(60), prefix: "p-")
        let first = log.record(event: "a", arguments: [1], target: BroadcastTarget(rooms: ["room"]), now: t0)
        #expect(first == [1, "p-0"])
        _ = log.record(event: "b", arguments: [2], target: BroadcastTarget(rooms: ["room"], except: ["sid"]), now: t0)
        _ = log.record(event: "c", arguments: [3], target: BroadcastTarget(rooms: ["other"]), now: t0)
        _ = log.record(event: "d", arguments: [4], target: BroadcastTarget(), now: t0)
        log.persist(.init(socketID: "sid", pid: "pid", rooms: ["sid", "room"], data: nil, disconnectedAt: t0))
        let restored = log.restore(pid: "pid", offset: "p-0", now: t0.advanced(by: .seconds(30)))
        #expect(restored?.missed.map(\.event) == ["d"], "b excluded its room, c went elsewhere")
        let again = log.restore(pid: "pid", offset: "p-0", now: t0)
        #expect(again == nil, "a session is restored once")
        log.persist(.init(socketID: "sid", pid: "pid", rooms: ["sid"], data: nil, disconnectedAt: t0))
        let expired = log.restore(pid: "pid", offset: "p-0", now: t0.advanced(by: .seconds(61)))
        #expect(expired == nil, "expired, and the broadcasts with it")
    }
}
