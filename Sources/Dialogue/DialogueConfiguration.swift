import CoreMetrics
import DialogueHistory
import EngineIO
import EngineIOServer
import OrderedCollections
import SocketIOServer

/// The settings of a ``DialogueServer``, with the original's defaults.
///
/// ```swift
/// var configuration = DialogueConfiguration(port: 3000, rooms: [
///     "general": RoomConfiguration(name: "General Chat", events: [Message], defaultSubscriptions: ["message"]),
/// ])
/// configuration.roomTemplates = [RoomTemplate("user:*", room: RoomConfiguration(name: "Notifications", isListed: false))]
/// configuration.hooks.clients.onConnected = { client in try await client.join("user:\(client.userId)") }
/// ```
public struct DialogueConfiguration: Sendable {
    /// Address to bind when the server owns its port (``DialogueServer/start()``). Defaults to `127.0.0.1`.
    public var host: String
    /// Port to bind when the server owns its port; 0 picks a free one. Defaults to 3000.
    public var port: Int
    /// The rooms that exist from the start, in listing order. Clients cannot delete them.
    public var rooms: OrderedDictionary<String, RoomConfiguration>
    /// Templates for rooms made on demand (`user:*`, `doc:*`), tried in order.
    public var roomTemplates: [RoomTemplate]
    /// Lifecycle hooks.
    public var hooks: DialogueHooks
    /// The Socket.IO layer: path (`/socket.io`), heartbeat (25 s / 20 s), max payload (1 MB), connect timeout.
    public var socket: SocketServerConfiguration
    /// Limit on `dialogue:getHistory` per connection. Defaults to 20 per minute, as the original.
    public var historyRequestLimit: (maxRequests: Int, window: Duration)
    /// The most events one `dialogue:getHistory` returns; larger ranges are cut. Defaults to 100.
    public var maxHistoryPage: Int
    /// The most rooms with in-memory history. Defaults to 1000.
    public var maxHistoryRooms: Int
    /// Whether and how much clients may create rooms with `dialogue:createRoom`.
    public var clientRooms: ClientRoomPolicy
    /// The most events replayed to a reconnecting client; one that missed more gets the newest history
    /// instead (and is told recovery failed). Defaults to 1000.
    public var maxRecoveryEvents: Int
    /// Where kept events are stored durably (every event whose definition has history enabled); `nil` keeps
    /// history in memory only (bounded by each event's limit, evictions go to `events.onCleanup`). The server
    /// opens it when it starts and closes it when it stops. Defaults to `nil`.
    public var historyStore: (any HistoryStore)?
    /// The other nodes of a cluster (`DialogueCluster`'s `PostgresClusterLink`): events triggered on any
    /// node reach the subscribers of every node. Needs a ``SharedHistoryStore`` as ``historyStore``: the
    /// server refuses to start without one. Defaults to `nil`: one node.
    public var cluster: (any ClusterLink)? = nil
    /// The most rooms one connection may join by asking (`dialogue:join`); joins made by the server are not
    /// counted against it. Bounds what a client can make the server hold through room templates. Defaults to 100.
    public var maxRoomsPerClient: Int
    /// How often the server enforces each event's `EventHistory.retention` on the history store and memory.
    /// Defaults to one minute.
    public var retentionInterval: Duration
    /// The most delivered events waiting for a failing history store; beyond it the oldest are given up
    /// (logged, and counted in ``DialogueServer/historyStoreStatus``). Defaults to 100 000.
    public var maxPendingStoreEvents: Int
    /// How often events waiting for a failing history store are retried. Defaults to one second.
    public var storeRetryInterval: Duration
    /// Where the server's metrics go (see the series in `Docs/Operations.md`). Defaults to the process-wide
    /// `MetricsSystem.factory` (which discards them until a backend is bootstrapped).
    public var metricsFactory: any MetricsFactory
    /// Publishing over HTTP (`POST /api/rooms/{roomId}/events/{event}`): off until API keys are set.
    public var httpAPI: HTTPAPIConfiguration
    /// Verifies the token every client sends in its handshake (`auth.token`); `sub` becomes its user id.
    /// Runs before `socket.authenticate`, which then sees the claims. Defaults to `nil`.
    public var jwt: JWTVerifier?

    public init(
        host: String = "127.0.0.1",
        port: Int = 3000,
        rooms: OrderedDictionary<String, RoomConfiguration> = [:],
        roomTemplates: [RoomTemplate] = [],
        hooks: DialogueHooks = DialogueHooks(),
        cors: CORSConfiguration? = CORSConfiguration(origin: .reflect, credentials: true, methods: ["GET", "POST", "OPTIONS"]),
        socket: SocketServerConfiguration? = nil,
        historyRequestLimit: (maxRequests: Int, window: Duration) = (20, .seconds(60)),
        maxHistoryPage: Int = 100,
        maxHistoryRooms: Int = 1000,
        clientRooms: ClientRoomPolicy = ClientRoomPolicy(),
        maxRoomsPerClient: Int = 100,
        maxRecoveryEvents: Int = 1000,
        historyStore: (any HistoryStore)? = nil,
        retentionInterval: Duration = .seconds(60),
        maxPendingStoreEvents: Int = 100_000,
        storeRetryInterval: Duration = .seconds(1),
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        httpAPI: HTTPAPIConfiguration = HTTPAPIConfiguration(),
        jwt: JWTVerifier? = nil
    ) {
        precondition(maxPendingStoreEvents >= 0 && storeRetryInterval > .zero, "store retry settings must be positive")
        precondition(retentionInterval > .zero, "retentionInterval must be positive")
        precondition(maxRoomsPerClient > 0, "maxRoomsPerClient must be positive")
        precondition(historyRequestLimit.maxRequests > 0 && historyRequestLimit.window > .zero, "history request limit must be positive")
        precondition(maxHistoryPage > 0 && maxHistoryRooms > 0, "history limits must be positive")
        self.host = host
        self.port = port
        self.rooms = rooms
        self.roomTemplates = roomTemplates
        self.hooks = hooks
        var socket = socket ?? SocketServerConfiguration()
        if socket.engine.cors == nil { socket.engine.cors = cors }
        self.socket = socket
        self.historyRequestLimit = historyRequestLimit
        self.maxHistoryPage = maxHistoryPage
        self.maxHistoryRooms = maxHistoryRooms
        self.clientRooms = clientRooms
        self.maxRoomsPerClient = maxRoomsPerClient
        self.historyStore = historyStore
        self.maxRecoveryEvents = maxRecoveryEvents
        self.retentionInterval = retentionInterval
        self.maxPendingStoreEvents = maxPendingStoreEvents
        self.storeRetryInterval = storeRetryInterval
        self.metricsFactory = metricsFactory
        self.httpAPI = httpAPI
        self.jwt = jwt
    }

    /// Cross-origin rules for long-polling. Defaults to reflecting the request's origin with credentials,
    /// as the original (development-friendly); restrict it in production.
    public var cors: CORSConfiguration? {
        get { socket.engine.cors }
        set { socket.engine.cors = newValue }
    }
}

/// What clients may do with `dialogue:createRoom`.
public struct ClientRoomPolicy: Sendable {
    /// The most rooms one user may have created and not deleted; 0 forbids creating rooms. Defaults to 10.
    public var limitPerUser: Int
    /// The settings of a client-created room; its name, description and max size come from the request.
    /// Defaults to a room that allows any event, subscribes joiners to everything (`*`) and keeps no history.
    public var template: RoomConfiguration

    public init(limitPerUser: Int = 10, template: RoomConfiguration = RoomConfiguration(name: "", defaultSubscriptions: ["*"])) {
        precondition(limitPerUser >= 0, "limitPerUser cannot be negative")
        self.limitPerUser = limitPerUser
        self.template = template
    }

    /// Clients cannot create rooms.
    public static let disabled = ClientRoomPolicy(limitPerUser: 0)
}
