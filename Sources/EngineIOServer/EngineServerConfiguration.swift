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

    public init(
        engine: EngineConfiguration = .init(),
        path: String = "/engine.io",
        cors: CORSConfiguration? = nil,
        allowRequest: @escaping @Sendable (_ headers: HTTPFields, _ query: [String: String]) async -> Bool = { _, _ in true }
    ) {
        precondition(path.hasPrefix("/"), "path must start with /")
        self.engine = engine
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        self.cors = cors
        self.allowRequest = allowRequest
    }
}
