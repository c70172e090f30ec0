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

    struct State {
        var middlewares: [Middleware] = []
        var connectionHandlers: [ConnectionHandler] = []
        var sockets: [String: ServerSocket] = [:]
    }

    init(name: String, adapter: any SocketAdapter) {
        self.name = name
        self.adapter = adapter
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
        BroadcastOperator(namespace: name, adapter: adapter, target: BroadcastTarget(rooms: [room]))
    }

    /// Broadcasts to everyone except the sockets of a room.
    public func except(_ room: String) -> BroadcastOperator {
        BroadcastOperator(namespace: name, adapter: adapter, target: BroadcastTarget(except: [room]))
    }

    /// Emits an event to every socket of the namespace.
    @discardableResult
    public func emit(_ event: String, _ arguments: SocketValue...) async -> Int {
        await adapter.broadcast(.event(event, arguments, namespace: name), to: BroadcastTarget())
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
