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
    /// Defaults to allowing every request.
    public var allowRequest: @Sendable (_ headers: HTTPFields, _ query: [String: String]) async -> Bool
    /// How the WebSocket transport writes queued packets. Defaults to ``WebSocketWrites/paced``.
    public var webSocketWrites: WebSocketWrites

    /// Write strategies of the WebSocket transport.
    public enum WebSocketWrites: Sendable, Hashable {
        /// Each packet is written once the previous one reached the socket, as the reference server does.
        /// Clients that handle one message per network read (the public conformance suites' client) then
        /// never see two packets at once.
        case paced
        /// Everything queued is written and flushed at once, then the next batch waits for that flush.
        /// Fewer system calls and wake-ups under broadcast load; every compliant client handles it.
        case batched
    }

    public init(
        engine: EngineConfiguration = .init(),
        path: String = "/engine.io",
        cors: CORSConfiguration? = nil,
        allowRequest: @escaping @Sendable (_ headers: HTTPFields, _ query: [String: String]) async -> Bool = { _, _ in true },
        webSocketWrites: WebSocketWrites = .paced
    ) {
        precondition(path.hasPrefix("/"), "path must start with /")
        self.engine = engine
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        self.cors = cors
        self.allowRequest = allowRequest
        self.webSocketWrites = webSocketWrites
    }
}
