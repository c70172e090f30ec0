import DequeModule
import DialogueHistory
import EngineIO
import EngineIOServer
import Foundation
import Hummingbird
import Logging
import OrderedCollections
import ServiceLifecycle
import SocketIO
import SocketIOServer
import Synchronization

/// A Dialogue server: rooms, typed events, subscriptions, hooks and history over Socket.IO v5, speaking
/// the wire contract of the TypeScript original (`dialogue:*` events). The `createDialogue` of the original.
///
/// Own a port:
/// ```swift
/// let dialogue = DialogueServer(configuration: DialogueConfiguration(port: 3000, rooms: [
///     "chat": RoomConfiguration(name: "Chat", events: [Message], defaultSubscriptions: ["message"]),
/// ]))
/// try await dialogue.start()
/// try await dialogue.trigger("chat", Message, ChatMessage(text: "Hello", senderId: "system"))
/// try await dialogue.stop()
/// ```
/// or mount it on your Hummingbird application and run it in your `ServiceGroup`:
/// ```swift
/// let router = Router(context: EngineRequestContext.self)
/// let webSocketRouter = Router(context: EngineRequestContext.self)
/// dialogue.mount(on: router, webSocketRouter: webSocketRouter)
/// let app = Application(router: router, server: .http1WebSocketUpgrade(webSocketRouter: webSocketRouter))
/// try await ServiceGroup(services: [app, dialogue], logger: logger).run()
/// ```
public final class DialogueServer: Service, EngineEndpoint, Sendable {
    public let configuration: DialogueConfiguration
    public let logger: Logger
    /// The Socket.IO server underneath.
    public let io: SocketServer
    let namespace: SocketNamespace
    /// The directory: rooms, the clients connected and who is in which room. Each room's log, the events
    /// in flight, the store's backlog, the handlers and the streams have owners of their own (`Delivery/`).
    let state: Mutex<State>
    /// Each room's offsets, delivery order and recent events.
    let roomLogs: RoomLogs
    /// Events being delivered now (shutdown waits for them).
    let inFlight = InFlightEvents()
    /// Delivered events waiting for the history store, and its health.
    let storeBacklog: StoreBacklog
    /// A cluster node's kept events on their way to the shared store; `nil` on one node.
    let sharedAppends: SharedAppends?
    /// The other nodes' clients (empty on one node).
    let roster = ClusterRoster()
    /// This node's client changes, in order, for the other nodes.
    let rosterChanges: AsyncStream<RosterChange>
    let rosterOutbox: AsyncStream<RosterChange>.Continuation
    /// Fired once every queued roster change was sent (the outbox finished).
    let rosterSent = OneShotSignal()
    /// The handlers of ``on(_:event:_:)``.
    let handlers = EventHandlers()
    /// The open Server-Sent Events streams.
    let streams = EventStreams()
    private let lifecycle = Mutex<Lifecycle?>(nil)
    /// Fired once the history store is open (at once without a store): events wait for it.
    let ready = OneShotSignal()
    let metrics: DialogueMetrics

    struct State {
        var rooms: OrderedDictionary<String, RoomState> = [:]
        var clients: [String: ClientState] = [:]
        var clientIDsByUser: [String: OrderedSet<String>] = [:]
        var roomsCreatedByUser: [String: Int] = [:]
        var historyRequests: SlidingWindow<String>
    }

    struct RoomState {
        var configuration: RoomConfiguration
        var createdById: String?
        var origin: RoomOrigin
        var members: OrderedSet<String> = []
    }

    enum RoomOrigin: Equatable {
        case configured, server, client
        case template(removeWhenEmpty: Bool)
    }

    struct ClientState {
        let client: ConnectedClient
        /// Joined rooms and the event names subscribed in each.
        var subscriptions: OrderedDictionary<String, OrderedSet<String>> = [:]
        /// Disconnects the client when its token expires (see ``DialogueServer/watchExpiry(of:)``).
        var expiry: Task<Void, Never>?
    }

    private struct Lifecycle {
        let group: ServiceGroup
        let task: Task<Void, any Error>
    }

    /// Creates a server; nothing is bound until ``start()`` or ``run()``.
    /// - Parameter logger: defaults to ``Logger/dialogue``; use ``Logger/silent`` in tests.
    public init(configuration: DialogueConfiguration = DialogueConfiguration(), logger: Logger = .dialogue) {
        self.configuration = configuration
        self.metrics = DialogueMetrics(factory: configuration.metricsFactory)
        self.logger = logger
        var socket = configuration.socket
        let metrics = self.metrics
        socket.engine.onConnectionRefused = { [told = socket.engine.onConnectionRefused] refusal in
            metrics.connectionRefused(limit: refusal.limit.rawValue)
            told?(refusal)
        }
        self.io = SocketServer(configuration: socket, logger: logger)
        self.namespace = io.namespace("/")
        self.storeBacklog = StoreBacklog(capacity: configuration.maxPendingStoreEvents)
        (rosterChanges, rosterOutbox) = AsyncStream.makeStream()
        if let link = configuration.cluster, let store = configuration.historyStore as? any SharedHistoryStore {
            sharedAppends = SharedAppends(store: store, newEpoch: { Self.newEpoch() }) { events in
                await Self.send(events, through: link, logger: logger)
            }
        } else {
            sharedAppends = nil
        }
        self.roomLogs = RoomLogs(memory: HistoryManager(maxRooms: configuration.maxHistoryRooms), newEpoch: { Self.newEpoch() })
        var state = State(
            historyRequests: SlidingWindow(maxEvents: configuration.historyRequestLimit.maxRequests, window: configuration.historyRequestLimit.window)
        )
        for (id, room) in configuration.rooms {
            state.rooms[id] = RoomState(configuration: room, origin: .configured)
        }
        self.state = Mutex(state)
        if configuration.historyStore == nil { ready.fire() }
        if configuration.hooks.socket.authenticate != nil || configuration.jwt != nil {
            namespace.use { [weak self] socket in try await self?.authenticate(socket) }
        }
        namespace.onConnection { [weak self] socket in await self?.connected(socket) }
    }

    // MARK: Lifecycle

    /// Runs the Dialogue layer until graceful shutdown (as a `Service` next to the Hummingbird application
    /// that mounts it). On shutdown every client is disconnected (the Engine.IO close, so clients reconnect
    /// to the next server), their hooks run, and all in-memory history is handed to `events.onCleanup`.
    public func run() async throws {
        if configuration.hooks.socket.authenticate == nil && configuration.jwt == nil {
            logger.warning("No socket.authenticate hook: user ids are whatever clients claim (auth.userId). Fine for development; set an authenticate hook in production.")
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            do {
                if let store = configuration.historyStore { group.addTask { try await store.run() } }
                try await startCluster(in: &group)
                try await openStore()
                ready.fire()
                group.addTask { await self.receiveFromCluster() }
                group.addTask { await self.runRetention() }
                if let store = configuration.historyStore { group.addTask { await self.runStoreRetry(store) } }
                for room in rooms() { await runHook("rooms.onCreated") { try await configuration.hooks.rooms.onCreated?(room) } }
                try await io.run()
            } catch {
                // Cancelled before serving (another service of the group failed: the port was taken, say),
                // or the store would not open: the store is closed all the same.
                if let store = configuration.historyStore {
                    await stopCluster()
                    await store.close()
                }
                group.cancelAll()
                throw error
            }
            await inFlight.stop()
            closeStreams()
            let evictions = roomLogs.forgetAll()
            await cleanup(evictions)
            if let store = configuration.historyStore {
                await retryPendingWrites(store)
                await stopCluster()
                await store.close()
            }
            group.cancelAll()
        }
    }

    /// Binds `configuration.host:configuration.port` and serves in the background until ``stop()``.
    /// - Returns: the bound port (useful with port 0).
    @discardableResult
    public func start() async throws -> Int {
        let port = Mutex<Int?>(nil)
        let ready = OneShotSignal()
        let app = EngineApplication.make(endpoints: [self], host: configuration.host, port: configuration.port, logger: logger) { _ in
        } onServerRunning: { bound in
            port.withLock { $0 = bound }
            ready.fire()
        }
        let group = ServiceGroup(services: [app, self], logger: logger)
        try lifecycle.withLock { current throws(DialogueError) in
            guard current == nil else { throw DialogueError(.invalidRequest, "The server is already started") }
            let task = Task {
                defer { ready.fire() }
                try await group.run()
            }
            current = Lifecycle(group: group, task: task)
        }
        await ready.wait()
        guard let bound = port.withLock({ $0 }) else {
            let failed = lifecycle.withLock { current -> Lifecycle? in
                defer { current = nil }
                return current
            }
            try await failed?.task.value
            throw DialogueError(.invalidRequest, "The server stopped while starting")
        }
        logger.notice("Dialogue server running", metadata: ["dialogue.url": "http://\(configuration.host):\(bound)"])
        return bound
    }

    /// Stops a server started with ``start()``: graceful, see ``run()``.
    public func stop() async throws {
        guard let running = lifecycle.withLock({ current -> Lifecycle? in
            defer { current = nil }
            return current
        }) else { return }
        await running.group.triggerGracefulShutdown()
        try await running.task.value
        logger.info("Dialogue server stopped")
    }

    /// Adds the Socket.IO endpoint, and the browser client at ``browserClientPath``, to an existing router
    /// (see the type's example).
    public func mount<Context: EngineRequestContextProtocol>(on router: Router<Context>, webSocketRouter: Router<Context>) {
        io.mount(on: router, webSocketRouter: webSocketRouter)
        mountHTTP(on: router)
        router.get(RouterPath(Self.browserClientPath)) { _, _ in
            guard let script = BrowserClient.script else { return Response(status: .notFound) }
            return Response(
                status: .ok,
                headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "no-cache"],
                body: .init(byteBuffer: script)
            )
        }
    }

    /// Where ``mount(on:webSocketRouter:)`` serves the browser client, a dependency-free ES module:
    /// `import { createDialogueClient } from "/dialogue/client.js"`.
    public static let browserClientPath = "/dialogue/client.js"

    public var engineServer: EngineServer { io.engine }

    // MARK: Rooms

    /// The room with this id, or `nil`.
    public func room(_ id: String) -> Room? {
        state.withLock { state in state.rooms[id].map { Room(id: id, state: $0, server: self) } }
    }

    /// Every room, configured ones first, then in creation order.
    public func rooms() -> [Room] {
        state.withLock { state in state.rooms.map { Room(id: $0.key, state: $0.value, server: self) } }
    }

    /// Creates a room at runtime and announces it (`dialogue:roomCreated`) to every client.
    /// - Throws: ``DialogueError`` `ROOM_EXISTS`.
    @discardableResult
    public func createRoom(_ id: String, _ room: RoomConfiguration, createdById: String? = nil) async throws(DialogueError) -> Room {
        let created = try await createRoom(id, RoomState(configuration: room, createdById: createdById, origin: .server))
        tellCluster(.serverRoomCreated(roomId: id, createdById: createdById, configuration: room.clusterValue))
        return created
    }

    /// Deletes a room (configured ones too): its participants leave it, its history goes to
    /// `events.onCleanup`, and `dialogue:roomDeleted` is announced.
    /// - Returns: `false` if there was no such room.
    @discardableResult
    public func deleteRoom(_ id: String) async -> Bool {
        await removeRoom(id)
    }

    /// Changes a room's settings (name, description, size, events, subscriptions, …) and runs
    /// `rooms.onUpdated`. Participants keep their current subscriptions.
    /// - Throws: ``DialogueError`` `ROOM_NOT_FOUND`.
    @discardableResult
    public func updateRoom(_ id: String, _ change: (inout RoomConfiguration) -> Void) async throws(DialogueError) -> Room {
        let room = try state.withLock { state throws(DialogueError) -> Room in
            guard var room = state.rooms[id] else { throw .roomNotFound(id) }
            change(&room.configuration)
            state.rooms[id] = room
            return Room(id: id, state: room, server: self)
        }
        await runHook("rooms.onUpdated") { try await configuration.hooks.rooms.onUpdated?(room) }
        return room
    }

    // MARK: Clients

    /// The connections of one user (several tabs or devices).
    public func getClients(_ userId: String) -> [ConnectedClient] {
        state.withLock { state in (state.clientIDsByUser[userId] ?? []).compactMap { state.clients[$0]?.client } }
    }

    /// Every connected client.
    public func getAllClients() -> [ConnectedClient] {
        state.withLock { state in state.clients.values.map(\.client) }
    }

    /// The rooms a user is in, over all of its connections, with helpers to act on them.
    public func getClientRooms(_ userId: String) -> ClientRooms {
        let ids = state.withLock { state -> OrderedSet<String> in
            var ids = OrderedSet<String>()
            for clientID in state.clientIDsByUser[userId] ?? [] { ids.formUnion(state.clients[clientID]?.subscriptions.keys ?? []) }
            return ids
        }.union(roster.clients(ofUser: userId).flatMap(\.rooms)).elements
        return ClientRooms(userId: userId, ids: ids, server: self)
    }

    /// Whether any connection of the user is in the room.
    public func isInRoom(_ userId: String, _ roomId: String) -> Bool {
        state.withLock { state in
            (state.clientIDsByUser[userId] ?? []).contains { state.clients[$0]?.subscriptions[roomId] != nil }
        } || roster.hasClient(ofUser: userId, in: roomId)
    }

    /// The context given to hooks.
    public var context: DialogueContext { DialogueContext(server: self) }

    // MARK: Internal helpers

    /// Runs a hook; an error is logged, never thrown.
    func runHook(_ name: String, _ body: () async throws -> Void) async {
        do {
            try await body()
        } catch {
            logger.error("hook failed", metadata: ["dialogue.hook": .string(name), "dialogue.error": "\(error)"])
        }
    }

    /// Hands evicted history to `events.onCleanup`, oldest first.
    func cleanup(_ evictions: [HistoryManager.Eviction]) async {
        guard let onCleanup = configuration.hooks.events.onCleanup else {
            if !evictions.isEmpty { logger.trace("history evicted without an onCleanup hook") }
            return
        }
        for eviction in evictions where !eviction.events.isEmpty {
            await runHook("events.onCleanup") { try await onCleanup(eviction.roomId, eviction.eventName, eviction.events) }
        }
    }
}

extension Logger {
    /// The default logger of a Dialogue server: label `dialogue`, level `info`.
    public static var dialogue: Logger {
        var logger = Logger(label: "dialogue")
        logger.logLevel = .info
        return logger
    }

    /// A logger that discards everything (for tests).
    public static var silent: Logger {
        Logger(label: "dialogue.silent") { _ in SwiftLogNoOpLogHandler() }
    }
}
