/// Engine.IO protocol parameters, with the reference server's defaults.
public struct EngineConfiguration: Sendable {
    /// How often the server pings each client. Sent in the handshake in milliseconds. Defaults to 25 s.
    public var pingInterval: Duration
    /// How long the server waits for a pong after a ping before closing the session. Defaults to 20 s.
    public var pingTimeout: Duration
    /// The largest packet or polling payload accepted, in bytes. Defaults to 1 000 000.
    public var maxPayload: Int
    /// How long an upgrade from long-polling to WebSocket may take before the WebSocket is dropped.
    /// Defaults to 10 s.
    public var upgradeTimeout: Duration
    /// Transports a client may use. Defaults to both, long-polling and WebSocket.
    public var transports: Set<EngineTransport>
    /// Whether long-polling sessions may upgrade to WebSocket. Defaults to `true`.
    public var allowUpgrades: Bool
    /// How many frames may wait for a slow client before its session is closed. The reference server
    /// buffers without limit; a bound keeps one slow client from growing the server's memory.
    /// Defaults to 10 000.
    public var maxBufferedFrames: Int
    /// How many bytes of frames may wait for a slow client before its session is closed: with large frames
    /// the byte count, not the frame count, is what holds memory. A frame shared by a broadcast counts
    /// in full for every client it waits for. Past the queue, a WebSocket holds at most one more batch in
    /// its channel, so a slow client costs at most about twice this. Defaults to 4 MiB.
    public var maxBufferedBytes: Int

    /// Creates a configuration.
    /// - Precondition: intervals and sizes are positive (a zero heartbeat would close every session at once).
    public init(
        pingInterval: Duration = .seconds(25),
        pingTimeout: Duration = .seconds(20),
        maxPayload: Int = 1_000_000,
        upgradeTimeout: Duration = .seconds(10),
        transports: Set<EngineTransport> = [.polling, .webSocket],
        allowUpgrades: Bool = true,
        maxBufferedFrames: Int = 10_000,
        maxBufferedBytes: Int = 4 << 20
    ) {
        precondition(pingInterval > .zero && pingTimeout > .zero, "ping interval and timeout must be positive")
        precondition(maxPayload > 0 && maxBufferedFrames > 0 && maxBufferedBytes > 0, "maxPayload, maxBufferedFrames and maxBufferedBytes must be positive")
        precondition(!transports.isEmpty, "at least one transport is needed")
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.maxPayload = maxPayload
        self.upgradeTimeout = upgradeTimeout
        self.transports = transports
        self.allowUpgrades = allowUpgrades
        self.maxBufferedFrames = maxBufferedFrames
        self.maxBufferedBytes = maxBufferedBytes
    }

    /// The upgrades offered in the handshake of a session opened on `transport`.
    public func upgrades(from transport: EngineTransport) -> [String] {
        transport == .polling && allowUpgrades && transports.contains(.webSocket) ? ["websocket"] : []
    }
}

/// The two Engine.IO transports.
public enum EngineTransport: String, Sendable, Hashable, CaseIterable {
    case polling
    case webSocket = "websocket"
}

/// Why a session closed; the strings are the reference server's reasons.
public enum EngineCloseReason: String, Sendable, Hashable, Error {
    /// The client closed the connection or sent a close packet.
    case transportClose = "transport close"
    /// The transport failed or the client broke the protocol (for example a second pending GET).
    case transportError = "transport error"
    /// No pong arrived within the ping timeout.
    case pingTimeout = "ping timeout"
    /// A packet could not be decoded.
    case parseError = "parse error"
    /// The server closed the session on purpose.
    case forcedClose = "forced close"
    /// The server is shutting down.
    case serverShutdown = "forced server close"
    /// The client could not keep up: its buffer of outgoing frames hit a limit (frames or bytes).
    case slowClient = "slow client"
}
