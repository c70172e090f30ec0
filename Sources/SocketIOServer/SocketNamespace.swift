import EngineIOServer
import SocketIO
import Synchronization

/// A Socket.IO namespace: its middlewares, connection handlers, sockets and rooms.
///
/// ```swift
/// let chat = server.namespace("/chat")
/// chat.use { socket in
///     guard socket.handshake.auth["token"] != nil else { throw SocketConnectError("not authorized") }
/// }
/// chat.onConnection { socket in
///     socket.on("message") { socket, arguments, ack in
///         await socket.to("lobby").emit("message", arguments)
///     }
/// }
/// ```
public final class SocketNamespace: Sendable {
    /// A connection middleware: throw ``SocketConnectError`` to refuse the client.
    public typealias Middleware = @Sendable (ServerSocket) async throws -> Void
    /// Called for every socket that connected; register the socket's event handlers here.
    public typealias ConnectionHandler = @Sendable (ServerSocket) async -> Void

    public let name: String
    /// The rooms of this namespace.
    public let adapter: any SocketAdapter
    private let state = Mutex(State())
    /// Connection-state recovery's settings, when it is on.
    let recovery: ConnectionStateRecovery?
    /// The broadcasts and sessions recovery keeps (empty when it is off).
    private let recoveryLog: Mutex<RecoveryLog<ContinuousClock.Instant>>

    struct State {
        var middlewares: [Middleware] = []
        var connectionHandlers: [ConnectionHandler] = []
        var sockets: [String: ServerSocket] = [:]
    }

    init(name: String, adapter: any SocketAdapter, recovery: ConnectionStateRecovery?) {
        self.name = name
        self.adapter = adapter
        self.recovery = recovery
        let prefix = String(UInt32.random(in: .min ... .max), radix: 36) + "-"
        self.recoveryLog = Mutex(RecoveryLog(maxAge: recovery?.maxDisconnectionDuration ?? .seconds(1), prefix: prefix))
    }

    /// Adds a connection middleware; middlewares run in order before the socket connects.
    public func use(_ middleware: @escaping Middleware) {
        state.withLock { $0.middlewares.append(middleware) }
    }

    /// Adds a connection handler. It runs after the client was told it is connected, before any of the
    /// socket's events are handled.
    public func onConnection(_ handler: @escaping ConnectionHandler) {
        state.withLock { $0.connectionHandlers.append(handler) }
    }

    /// The connected sockets.
    public var sockets: [ServerSocket] { state.withLock { Array($0.sockets.values) } }

    /// The socket with this id, if connected.
    public func socket(id: String) -> ServerSocket? { state.withLock { $0.sockets[id] } }

    /// Broadcasts to a room.
    public func to(_ room: String) -> BroadcastOperator {
        BroadcastOperator(namespace: self, target: BroadcastTarget(rooms: [room]))
    }

    /// Broadcasts to everyone except the sockets of a room.
    public func except(_ room: String) -> BroadcastOperator {
        BroadcastOperator(namespace: self, target: BroadcastTarget(except: [room]))
    }

    /// Emits an event to every socket of the namespace.
    @discardableResult
    public func emit(_ event: String, _ arguments: SocketValue...) async -> Int {
        await broadcast(event, arguments, to: BroadcastTarget(), volatile: false)
    }

    /// Every socket of the namespace, dropping the event for those that cannot take it now
    /// (``BroadcastOperator/volatile``).
    public var volatile: BroadcastOperator { BroadcastOperator(namespace: self, target: BroadcastTarget(), isVolatile: true) }

    /// Sends an event to the sockets `target` reaches, numbered and kept when recovery is on (unless volatile).
    func broadcast(_ event: String, _ arguments: [SocketValue], to target: BroadcastTarget, volatile: Bool) async -> Int {
        var arguments = arguments
        if recovery != nil, !volatile {
            arguments = recoveryLog.withLock { $0.record(event: event, arguments: arguments, target: target, now: .now) }
        }
        return await adapter.broadcast(.event(event, arguments, namespace: name), to: target, volatile: volatile)
    }

    /// Keeps the session of a socket that disconnected for a reason it may recover from.
    func persist(_ session: RecoveryLog<ContinuousClock.Instant>.Session) {
        guard recovery != nil else { return }
        recoveryLog.withLock { $0.persist(session) }
    }

    /// The session `pid` and what it missed since `offset`, if it can be recovered.
    func restore(pid: String, offset: String) -> (session: RecoveryLog<ContinuousClock.Instant>.Session, missed: [RecoveryLog<ContinuousClock.Instant>.Broadcast])? {
        guard recovery != nil else { return nil }
        return recoveryLog.withLock { $0.restore(pid: pid, offset: offset, now: .now) }
    }

    // MARK: Internal

    var middlewares: [Middleware] { state.withLock { $0.middlewares } }
    var connectionHandlers: [ConnectionHandler] { state.withLock { $0.connectionHandlers } }

    func add(_ socket: ServerSocket) {
        state.withLock { $0.sockets[socket.id] = socket }
        adapter.add(socket)
    }

    func remove(_ socket: ServerSocket) {
        state.withLock { $0.sockets[socket.id] = nil }
        adapter.remove(socket.id)
    }
}
