import DialogueEvents
import SocketIO
import SocketIOClient

/// Settings of a ``DialogueClient``, with the TypeScript client's defaults.
public struct DialogueClientConfiguration: Sendable {
    /// The server, `http://host:port`.
    public var url: String
    /// The handshake's `auth` object: `userId`, `token`, and any extra keys (they become `client.meta`).
    public var auth: SocketValue
    /// Whether requests made while disconnected connect first (instead of failing with `notConnected`).
    /// Defaults to `true`.
    public var autoConnect: Bool
    /// Whether to reconnect after the connection drops. Defaults to `true`.
    public var reconnection: Bool
    /// How many reconnection attempts in a row before giving up. Defaults to 5.
    public var reconnectionAttempts: Int
    /// Delay between attempts. Defaults to 1 s doubling up to 5 s, ±50 % jitter (socket.io-client's).
    public var backoff: Backoff
    /// How long ``DialogueClient/connect()`` waits for the server. Defaults to 10 s.
    public var connectTimeout: Duration
    /// How long a request (join, history, …) waits for its answer. Defaults to 5 s.
    public var requestTimeout: Duration
    /// The Socket.IO layer (path, payload limit).
    public var socket: SocketClientConfiguration

    public init(
        url: String,
        auth: SocketValue = [:],
        autoConnect: Bool = true,
        reconnection: Bool = true,
        reconnectionAttempts: Int = 5,
        backoff: Backoff = Backoff(),
        connectTimeout: Duration = .seconds(10),
        requestTimeout: Duration = .seconds(5),
        socket: SocketClientConfiguration = SocketClientConfiguration()
    ) {
        precondition(reconnectionAttempts >= 0, "reconnectionAttempts cannot be negative")
        precondition(auth.objectValue != nil, "auth must be an object")
        self.url = url
        self.auth = auth
        self.autoConnect = autoConnect
        self.reconnection = reconnection
        self.reconnectionAttempts = reconnectionAttempts
        self.backoff = backoff
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        var socket = socket
        socket.connectTimeout = connectTimeout
        socket.ackTimeout = requestTimeout
        self.socket = socket
    }
}

/// Exponential backoff with jitter.
public struct Backoff: Sendable, Equatable {
    /// The first delay. Defaults to 1 s.
    public var initial: Duration
    /// The longest delay. Defaults to 5 s.
    public var maximum: Duration
    /// Growth per attempt. Defaults to 2.
    public var multiplier: Double
    /// Random spread, 0…1: a delay `d` becomes a value in `d × (1 ± jitter)`. Defaults to 0.5.
    public var jitter: Double

    public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(5), multiplier: Double = 2, jitter: Double = 0.5) {
        precondition(initial > .zero && maximum >= initial && multiplier >= 1 && (0...1).contains(jitter), "invalid backoff")
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
    }

    /// The delay before attempt `attempt` (1 for the first retry), with `random` in 0…1.
    public func delay(attempt: Int, random: Double = .random(in: 0...1)) -> Duration {
        let base = min(initial * pow2(multiplier, attempt - 1), maximum)
        return base * (1 + jitter * (2 * random - 1))
    }

    private func pow2(_ base: Double, _ exponent: Int) -> Double {
        (0..<max(0, exponent)).reduce(1) { result, _ in min(result * base, 1e6) }
    }
}

/// Where the client stands.
public enum DialogueClientState: String, Sendable, Equatable {
    case disconnected, connecting, connected, reconnecting
}

/// A failure on the client's side; errors the server reports arrive as ``DialogueError`` with their code.
public struct DialogueClientError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// The server refused the connection; the message is its reason (e.g. from the authenticate hook).
        case connectionRefused
        /// Not connected (and `autoConnect` is off, or the client gave up reconnecting).
        case notConnected
        /// The connection dropped before the answer came; the request may or may not have been applied.
        case disconnected
        /// No answer in time.
        case timeout
        /// An event's payload does not decode as the Swift type asked for; ``field`` names the field.
        case decodingFailed
        /// The server answered something that is not the Dialogue protocol.
        case protocolViolation
    }

    public let code: Code
    public let message: String
    /// For ``Code/decodingFailed``, the offending field.
    public let field: String?

    public init(_ code: Code, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// A room as the server lists it.
public struct RoomInfo: Sendable, Equatable {
    public let id: String
    public let name: String
    public let description: String?
    /// Participants when listed (`nil` in creation announcements).
    public let size: Int?
    public let maxSize: Int?
    public let createdById: String?

    init?(_ value: SocketValue) {
        guard let id = value["id"]?.stringValue, let name = value["name"]?.stringValue else { return nil }
        self.id = id
        self.name = name
        self.description = value["description"]?.stringValue
        self.size = value["size"]?.intValue
        self.maxSize = value["maxSize"]?.intValue
        self.createdById = value["createdById"]?.stringValue
    }
}

/// Whether a reconnection recovered everything missed in a room.
public struct Recovery: Sendable, Equatable {
    public let roomId: String
    /// `true`: every missed event was replayed, in order, before live ones.
    public let recovered: Bool

    public init(roomId: String, recovered: Bool) {
        self.roomId = roomId
        self.recovered = recovered
    }
}

/// History the server sent when a room was joined.
public struct JoinHistory: Sendable {
    public let roomId: String
    /// Newest first.
    public let events: [AnyEventMessage]
}

