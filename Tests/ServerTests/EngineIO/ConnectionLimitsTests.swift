import EngineIO
import EngineIOServer
import HTTPTypes
import HummingbirdTesting
import SocketIO
import TestSupport
import Testing

/// The connection limits over real sockets: both transports refused with the protocol's 403, counted per
/// address (the TCP peer's, or a proxy header's when configured), and reported.
@Suite("Engine.IO connection limits")
struct ConnectionLimitsTests {
    static let handshake = "/engine.io/?EIO=4&transport=websocket"

    func configuration(_ limits: EngineConnectionLimits, header: HTTPField.Name? = nil, refusals: Recorder<EngineConnectionRefusal>) -> EngineServerConfiguration {
        var configuration = testEngine(path: "/engine.io")
        configuration.limits = limits
        configuration.clientAddressHeader = header
        configuration.onConnectionRefused = { refusals.append($0) }
        return configuration
    }

    @Test func connectionsPerAddressAreLimitedOnBothTransports() async throws {
        let refusals = Recorder<EngineConnectionRefusal>()
        try await withEchoServer(configuration(EngineConnectionLimits(maxConnectionsPerAddress: 2), refusals: refusals)) { polling, _, server async throws in
            let (first, _) = try await polling.handshake()
            let (second, _) = try await polling.handshake()
            #expect(server.engine.session(id: second)?.handshake.address == "127.0.0.1")
            let refused = try await polling.request(.get, "EIO=4&transport=polling")
            #expect(refused.status == .forbidden)
            #expect(refused.text == #"{"code":4,"message":"Forbidden"}"#)
            // A WebSocket handshake is refused before the upgrade, with the same answer.
            let head = try await WireWebSocket.withConnection(port: polling.port, Self.handshake) { socket async throws in socket.responseHead }
            #expect(head.hasPrefix("HTTP/1.1 403"))
            #expect(refusals.all == Array(repeating: EngineConnectionRefusal(limit: .maxConnectionsPerAddress, address: "127.0.0.1"), count: 2))
            #expect(server.engine.sessionCount == 2)
            // A session that ends gives its place back.
            _ = try await polling.post(first, "1")
            try await eventually("a new session once one closed") {
                (try? await polling.request(.get, "EIO=4&transport=polling"))?.status == .ok
            }
        }
    }

    @Test func handshakesPerAddressAreRateLimited() async throws {
        // Three at once, then one every 20 s (the refill itself is tested on the state machine, with
        // instants: here a loaded machine could take seconds over the handshakes).
        let refusals = Recorder<EngineConnectionRefusal>()
        let limits = EngineConnectionLimits(maxHandshakesPerAddress: 3, handshakeWindow: .seconds(60))
        try await withEchoServer(configuration(limits, refusals: refusals)) { polling, _, server async throws in
            var sessions: [String] = []
            for _ in 0..<3 { sessions.append(try await polling.handshake().sid) }
            // Closing sessions gives no handshake back: the rate counts handshakes, not open sessions.
            for sid in sessions { _ = try await polling.post(sid, "1") }
            try await eventually("the sessions closed") { server.engine.sessionCount == 0 }
            #expect(try await polling.request(.get, "EIO=4&transport=polling").status == .forbidden)
            #expect(refusals.all.map(\.limit) == [.handshakeRate])
        }
    }

    @Test func theServerWideLimitAndTheProxyHeader() async throws {
        let refusals = Recorder<EngineConnectionRefusal>()
        let forwarded = HTTPField.Name("X-Forwarded-For")!
        let limits = EngineConnectionLimits(maxConnections: 2, maxConnectionsPerAddress: 1)
        try await withEchoServer(configuration(limits, header: forwarded, refusals: refusals)) { polling, _, server async throws in
            func handshake(from chain: String) async throws -> TestClient.Response {
                try await polling.request(.get, "EIO=4&transport=polling", headers: [forwarded: chain])
            }
            // The rightmost entry is the one the nearest proxy wrote: the address counted.
            let first = try await handshake(from: "203.0.113.9, 10.1.1.1")
            #expect(first.status == .ok)
            let sid = try #require(try SocketValue(jsonText: String(first.text.dropFirst()))["sid"]?.stringValue)
            #expect(server.engine.session(id: sid)?.handshake.address == "10.1.1.1")
            #expect(try await handshake(from: "10.1.1.1").status == .forbidden, "one per address")
            #expect(try await handshake(from: "10.2.2.2").status == .ok)
            #expect(try await handshake(from: "10.3.3.3").status == .forbidden, "two in all")
            #expect(refusals.all == [
                EngineConnectionRefusal(limit: .maxConnectionsPerAddress, address: "10.1.1.1"),
                EngineConnectionRefusal(limit: .maxConnections, address: "10.3.3.3"),
            ])
        }
    }

    @Test func withoutTheSettingAProxyHeaderIsIgnored() async throws {
        let refusals = Recorder<EngineConnectionRefusal>()
        try await withEchoServer(configuration(EngineConnectionLimits(maxConnectionsPerAddress: 1), refusals: refusals)) { polling, _, server async throws in
            let response = try await polling.request(.get, "EIO=4&transport=polling", headers: [HTTPField.Name("X-Forwarded-For")!: "10.9.9.9"])
            let sid = try #require(try SocketValue(jsonText: String(response.text.dropFirst()))["sid"]?.stringValue)
            #expect(server.engine.session(id: sid)?.handshake.address == "127.0.0.1")
            let second = try await polling.request(.get, "EIO=4&transport=polling", headers: [HTTPField.Name("X-Forwarded-For")!: "10.8.8.8"])
            #expect(second.status == .forbidden, "a client cannot pick its own address")
        }
    }
}
