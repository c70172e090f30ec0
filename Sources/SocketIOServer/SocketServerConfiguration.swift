import EngineIO
import EngineIOServer
import SocketIO

/// Configuration of a Socket.IO server, with the reference server's defaults.
public struct SocketServerConfiguration: Sendable {
    /// The Engine.IO endpoint: heartbeat, payload limit, transports, CORS. Its path defaults to `/socket.io`.
    public var engine: EngineServerConfiguration
    /// How long a client may take to connect to a namespace after the Engine.IO handshake before the
    /// connection is closed. Defaults to 45 s.
    public var connectTimeout: Duration
    /// The most binary attachments one packet may carry. Defaults to 10.
    public var maxAttachments: Int
    /// How many received events may wait for a socket's handlers before the client is disconnected as
    /// flooding. Defaults to 1000.
    public var maxPendingEvents: Int
    /// Socket.IO's connection-state recovery. Defaults to `nil` (off), as in socket.io.
    public var connectionStateRecovery: ConnectionStateRecovery?

    public init(
        engine: EngineServerConfiguration = .init(path: "/socket.io"),
        connectTimeout: Duration = .seconds(45),
        maxAttachments: Int = 10,
        maxPendingEvents: Int = 1000,
        connectionStateRecovery: ConnectionStateRecovery? = nil
    ) {
        precondition(connectTimeout > .zero, "connectTimeout must be positive")
        precondition(maxAttachments >= 0 && maxPendingEvents > 0, "limits must be positive")
        self.engine = engine
        self.connectTimeout = connectTimeout
        self.maxAttachments = maxAttachments
        self.maxPendingEvents = maxPendingEvents
        self.connectionStateRecovery = connectionStateRecovery
    }
}

/// Why a socket disconnected; the strings are socket.io's reasons.
public enum SocketDisconnectReason: String, Sendable, Hashable {
    case transportClose = "transport close"
    case transportError = "transport error"
    case pingTimeout = "ping timeout"
    case parseError = "parse error"
    case forcedClose = "forced close"
    case serverShuttingDown = "server shutting down"
    /// The server disconnected the socket (``ServerSocket/disconnect(close:)``).
    case serverNamespaceDisconnect = "server namespace disconnect"
    /// The client sent a DISCONNECT packet for the namespace.
    case clientNamespaceDisconnect = "client namespace disconnect"
    /// The client could not keep up with what was sent to it.
    case slowClient = "slow client"
    /// The client sent more events than its handlers could process.
    case flooding = "flooding"

    /// Whether a socket that disconnected for this reason may recover its session (socket.io's list: the
    /// connection was lost or the server went away, not a decision of the client or the server's code).
    var isRecoverable: Bool {
        switch self {
        case .transportClose, .transportError, .pingTimeout, .forcedClose, .serverShuttingDown: true
        case .parseError, .serverNamespaceDisconnect, .clientNamespaceDisconnect, .slowClient, .flooding: false
        }
    }

    init(_ reason: EngineCloseReason) {
        switch reason {
        case .transportClose: self = .transportClose
        case .transportError: self = .transportError
        case .pingTimeout: self = .pingTimeout
        case .parseError: self = .parseError
        case .forcedClose: self = .forcedClose
        case .serverShutdown: self = .serverShuttingDown
        case .slowClient: self = .slowClient
        }
    }
}

/// Thrown by a connection middleware to refuse a client; the message reaches the client in CONNECT_ERROR.
public struct SocketConnectError: Error, Sendable, Hashable {
    public var message: String
    /// Extra data sent with the error (`{"message": …, "data": …}`).
    public var data: SocketValue?

    public init(_ message: String, data: SocketValue? = nil) {
        self.message = message
        self.data = data
    }
}
