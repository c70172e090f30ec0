import SocketIO
import SocketIOServer
import Synchronization
import DequeModule

/// One connection of a user, with its identity and room membership. A user may have several.
public final class ConnectedClient: SocketEventDispatcher {
    /// The connection's id (the Socket.IO socket id), sent to it in `dialogue:connected`.
    public let id: String
    /// Who the client is: the JWT `sub` with an authenticate hook, otherwise what the client claimed.
    public let userId: String
    /// The handshake's `auth` object without `userId` and `token`. Client-asserted: trust ``auth`` instead.
    public let meta: SocketValue
    /// The verified identity (JWT verification or an authenticate hook); replaced by `dialogue:refreshToken`.
    public var auth: AuthData? { verified.withLock { $0 } }
    private let verified: Mutex<AuthData?>
    /// The Socket.IO socket.
    public let socket: ServerSocket
    /// The server this client is connected to.
    public let server: DialogueServer
    /// When the connection was accepted, in milliseconds since 1970.
    public let connectedAt: Int64
    /// The client's triggers admitted and not finished yet.
    let triggers = TriggerWindow()

    init(socket: ServerSocket, userId: String, meta: SocketValue, auth: AuthData?, server: DialogueServer) {
        self.id = socket.id
        self.socket = socket
        self.userId = userId
        self.meta = meta
        self.verified = Mutex(auth)
        self.server = server
        self.connectedAt = DialogueServer.now()
    }

    /// Takes a refreshed identity (same user).
    func replaceAuth(_ auth: AuthData) {
        verified.withLock { $0 = auth }
    }

    /// Handles the socket's `dialogue:*` events (the wire contract), one object per client rather than a
    /// closure per event and client.
    public func handleEvent(_ name: String, arguments: [SocketValue], ack: SocketAck?, on socket: ServerSocket) async -> Bool {
        await server.handleWireEvent(name, arguments: arguments, ack: ack, client: self)
    }

    /// Joins a room (creating it from a template if one matches); sends `dialogue:joined`, then history if
    /// the room syncs it, then runs `clients.onJoined`. `clients.beforeJoin` does not run: the server decides.
    /// Joining a room the client is in re-sends `dialogue:joined` and does nothing else.
    /// - Throws: ``DialogueError`` `ROOM_NOT_FOUND`, `ROOM_FULL`, `NOT_CONNECTED`.
    public func join(_ roomId: String) async throws(DialogueError) {
        try await server.join(self, roomId, asked: false)
    }

    /// Leaves a room; sends `dialogue:left` and runs `clients.onLeft`.
    /// - Throws: ``DialogueError`` `NOT_IN_ROOM`.
    public func leave(_ roomId: String) async throws(DialogueError) {
        try await server.leave(self, roomId)
    }

    /// Subscribes to one event name in a joined room (`*` for all).
    /// - Throws: ``DialogueError`` `NOT_IN_ROOM`, `EVENT_NOT_ALLOWED`.
    public func subscribe(_ roomId: String, _ eventName: String) throws(DialogueError) {
        try server.subscribe(self, roomId, eventName)
    }

    /// Subscribes to every event in a joined room.
    /// - Throws: ``DialogueError`` `NOT_IN_ROOM`.
    public func subscribeAll(_ roomId: String) throws(DialogueError) {
        try server.subscribe(self, roomId, "*")
    }

    /// Unsubscribes from one event name (`*` ends the wildcard subscription only).
    /// - Throws: ``DialogueError`` `NOT_IN_ROOM`.
    public func unsubscribe(_ roomId: String, _ eventName: String) throws(DialogueError) {
        try server.unsubscribe(self, roomId, eventName)
    }

    /// The rooms this connection is in, in joining order.
    public func rooms() -> [String] {
        server.state.withLock { Array($0.clients[id]?.subscriptions.keys ?? []) }
    }

    /// The event names this connection is subscribed to in a room.
    public func subscriptions(_ roomId: String) -> [String] {
        server.state.withLock { Array($0.clients[id]?.subscriptions[roomId] ?? []) }
    }

    /// Sends an event to this connection only (outside any room: `client.send("welcome", …)`).
    public func send(_ event: String, _ data: SocketValue) {
        socket.emit(event, data)
    }

    /// Sends a typed payload to this connection only.
    public func send<Payload: Encodable>(_ event: String, encoding data: Payload) throws(SchemaViolation) {
        socket.emit(event, try PayloadCoding.encode(data))
    }

    /// Disconnects this connection (Socket.IO DISCONNECT and the transport closes); hooks run as for any
    /// disconnection.
    public func disconnect() {
        socket.disconnect(close: true)
    }

    func isIn(_ roomId: String) -> Bool {
        server.state.withLock { $0.clients[id]?.subscriptions[roomId] != nil }
    }
}

extension ConnectedClient {
    /// How many of a client's triggers may be admitted and not yet finished (stored, delivered, answered):
    /// enough for kept events to share commits, few enough that a client cannot pile up unbounded work. A
    /// client at the limit waits, and its further events queue in its socket (where a flood is refused).
    final class TriggerWindow: Sendable {
        static let size = 64

        private struct State {
            var inFlight = 0
            var waiters = Deque<CheckedContinuation<Void, Never>>()
        }

        private let state = Mutex(State())

        /// Takes a place, waiting for one if all are taken.
        func enter() async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    guard state.inFlight < Self.size else {
                        state.waiters.append(continuation)
                        return false
                    }
                    state.inFlight += 1
                    return true
                }
                if now { continuation.resume() }
            }
        }

        /// Gives a place back (to the first waiter, if any).
        func leave() {
            let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
                // The place passes to the waiter as it is: `inFlight` stays.
                guard let waiter = state.waiters.popFirst() else {
                    state.inFlight -= 1
                    return nil
                }
                return waiter
            }
            next?.resume()
        }
    }
}
