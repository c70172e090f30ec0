import EngineIO
import HTTPTypes

/// Configuration of an Engine.IO server endpoint.
public struct EngineServerConfiguration: Sendable {
    /// Protocol parameters (heartbeat, payload limit, transports).
    public var engine: EngineConfiguration
    /// The HTTP path, without a trailing slash. Defaults to `/engine.io` (Socket.IO servers use `/socket.io`).
    public var path: String
    /// Cross-origin rules for long-polling; `nil` sends no CORS headers. Defaults to `nil`.
    public var cors: CORSConfiguration?
    /// Decides whether a handshake may proceed; returning `false` answers 403 (code 4, Forbidden).
    /// Defaults to `nil`: every request may (and a WebSocket upgrade is decided without a task).
    public var allowRequest: (@Sendable (_ headers: HTTPFields, _ query: [String: String]) async -> Bool)?
    /// When several packets wait for one WebSocket, the first is written at once and the rest together
    /// after this pause; with a pause above zero, a packet that follows a write within the pause waits for it
    /// too. Defaults to zero: the rest go out on the next turn of the event loop, so a burst costs two writes,
    /// not one per packet. Clients that handle one WebSocket message per network read need a real pause to
    /// see back-to-back packets apart (the public conformance suites' test client does; `socketio-fixture`
    /// sets 1 ms for it).
    public var webSocketPacing: Duration
    /// How many sessions the server holds, in all and per client address, and how fast an address may open
    /// them. A handshake over a limit is answered 403 (code 4, Forbidden), logged (the first of each
    /// address in a minute) and reported to ``onConnectionRefused``. Defaults to
    /// ``EngineConnectionLimits/init(maxConnections:maxConnectionsPerAddress:maxHandshakesPerAddress:handshakeWindow:)``'s defaults.
    public var limits: EngineConnectionLimits
    /// The header a reverse proxy puts the client's address in (`X-Forwarded-For`, `X-Real-IP`): its
    /// rightmost entry — the one the nearest proxy wrote — is the address ``limits`` count and
    /// ``EngineHandshake/address`` holds. Set it only behind a proxy that sets the header, or clients can
    /// choose their address. Defaults to `nil`: the address of the TCP peer.
    public var clientAddressHeader: HTTPField.Name?
    /// Told of every handshake refused by ``limits`` (on the thread that refused it; return quickly).
    /// Defaults to `nil`.
    public var onConnectionRefused: (@Sendable (EngineConnectionRefusal) -> Void)?

    public init(
        engine: EngineConfiguration = .init(),
        path: String = "/engine.io",
        cors: CORSConfiguration? = nil,
        allowRequest: (@Sendable (_ headers: HTTPFields, _ query: [String: String]) async -> Bool)? = nil,
        webSocketPacing: Duration = .zero,
        limits: EngineConnectionLimits = .init(),
        clientAddressHeader: HTTPField.Name? = nil,
        onConnectionRefused: (@Sendable (EngineConnectionRefusal) -> Void)? = nil
    ) {
        precondition(path.hasPrefix("/"), "path must start with /")
        self.engine = engine
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        self.cors = cors
        self.allowRequest = allowRequest
        self.webSocketPacing = webSocketPacing
        self.limits = limits
        self.clientAddressHeader = clientAddressHeader
        self.onConnectionRefused = onConnectionRefused
    }
}

/// A handshake refused by ``EngineServerConfiguration/limits``.
public struct EngineConnectionRefusal: Sendable, Hashable {
    /// The limit that refused it.
    public let limit: EngineConnectionLimits.Limit
    /// The client's address (see ``EngineServerConfiguration/clientAddressHeader``).
    public let address: String

    public init(limit: EngineConnectionLimits.Limit, address: String) {
        self.limit = limit
        self.address = address
    }
}
