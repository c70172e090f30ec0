import EngineIO
import EngineIOServer
import Logging
import SocketIO
import Synchronization

/// What a socket's connection request carried.
public struct SocketHandshake: Sendable {
    /// The `auth` object of the CONNECT packet (an empty object when absent).
    public let auth: SocketValue
    /// The HTTP request that opened the Engine.IO session (query and headers).
    public let engine: EngineHandshake
}

/// Answers an event that asked for an acknowledgement.
public struct SocketAck: Sendable {
    let socket: ServerSocket
    let id: Int

    /// Sends the acknowledgement with `arguments`.
    public func callAsFunction(_ arguments: [SocketValue]) {
        socket.write(.ack(id, arguments, namespace: socket.namespace.name))
    }

    /// Sends the acknowledgement with `arguments`.
    public func callAsFunction(_ arguments: SocketValue...) {
        self(arguments)
    }
}

/// Handles one event: the socket, the arguments, and the acknowledgement if the client asked for one.
public typealias SocketEventHandler = @Sendable (_ socket: ServerSocket, _ arguments: [SocketValue], _ ack: SocketAck?) async -> Void

/// One client's connection to one namespace.
public final class ServerSocket: Sendable {
    /// The socket id (distinct from the Engine.IO session id).
    public let id: String
    public let namespace: SocketNamespace
    public let handshake: SocketHandshake
    let session: EngineSession
    /// The connection that routes this socket's packets; it owns the socket, hence weak.
    private weak let connection: SocketConnection?
    let logger: Logger
    private let maxPendingEvents: Int
    private let events: AsyncStream<SocketPacket>
    private let eventsContinuation: AsyncStream<SocketPacket>.Continuation
    private let state = Mutex(State())
    private let acks = PendingAcks()

    struct State {
        var handlers: [String: SocketEventHandler] = [:]
        var anyHandlers: [SocketEventHandler] = []
        var disconnectHandlers: [@Sendable (SocketDisconnectReason) async -> Void] = []
        var data: (any Sendable)?
        var pendingEvents = 0
        var disconnected: SocketDisconnectReason?
    }

    init(namespace: SocketNamespace, connection: SocketConnection, auth: SocketValue, maxPendingEvents: Int) {
        self.id = EngineCodec.makeSessionID()
        self.namespace = namespace
        self.connection = connection
        self.session = connection.session
        self.handshake = SocketHandshake(auth: auth, engine: session.handshake)
        self.maxPendingEvents = maxPendingEvents
        var logger = session.logger
        logger[metadataKey: "sio.nsp"] = .string(namespace.name)
        logger[metadataKey: "sio.id"] = .string(id)
        self.logger = logger
        (events, eventsContinuation) = AsyncStream.makeStream()
    }

    // MARK: Handlers

    /// Handles event `name` from the client. Handlers of one socket run one at a time, in the order the
    /// events arrived; acknowledgements from the client are processed independently, so a handler may
    /// await ``emitWithAck(_:_:timeout:)``.
    public func on(_ name: String, _ handler: @escaping SocketEventHandler) {
        state.withLock { $0.handlers[name] = handler }
    }

    /// Handles every event, after its own handler.
    public func onAny(_ handler: @escaping SocketEventHandler) {
        state.withLock { $0.anyHandlers.append(handler) }
    }

    /// Called once when the socket disconnects, with the reason, after its last event handler returned.
    /// Register it in the namespace's connection handler.
    public func onDisconnect(_ handler: @escaping @Sendable (SocketDisconnectReason) async -> Void) {
        state.withLock { $0.disconnectHandlers.append(handler) }
    }

    /// Application data kept with the socket for its lifetime (socket.io's `socket.data`): a middleware can
    /// leave what it learned for the connection handler.
    public var data: (any Sendable)? {
        get { state.withLock { $0.data } }
        set { state.withLock { $0.data = newValue } }
    }

    /// Whether the socket is still connected.
    public var isConnected: Bool { state.withLock { $0.disconnected == nil } }

    // MARK: Emitting

    /// Sends an event to this client.
    public func emit(_ event: String, _ arguments: [SocketValue]) {
        write(.event(event, arguments, namespace: namespace.name))
    }

    /// Sends an event to this client.
    public func emit(_ event: String, _ arguments: SocketValue...) {
        emit(event, arguments)
    }

    /// Sends an event and waits for the client's acknowledgement.
    /// - Throws: ``SocketAckError`` with `.timeout` or `.disconnected`; `CancellationError` if cancelled.
    public func emitWithAck(_ event: String, _ arguments: [SocketValue], timeout: Duration = .seconds(10)) async throws -> [SocketValue] {
        try await acks.wait(timeout: timeout) { id in
            self.write(.event(event, arguments, namespace: self.namespace.name, id: id))
        }
    }

    /// Writes a packet to this client.
    func write(_ packet: SocketPacket) {
        session.send(SocketEncoder.encode(packet))
    }

    // MARK: Rooms

    /// Joins a room of this namespace.
    public func join(_ room: String) { namespace.adapter.join(id, room: room) }

    /// Leaves a room.
    public func leave(_ room: String) { namespace.adapter.leave(id, room: room) }

    /// The rooms this socket is in (including the one named by its id).
    public var rooms: Set<String> { namespace.adapter.rooms(of: id) }

    /// Broadcasts to a room, excluding this socket.
    public func to(_ room: String) -> BroadcastOperator {
        namespace.to(room).except(id)
    }

    /// Broadcasts to the whole namespace, excluding this socket.
    public var broadcast: BroadcastOperator { namespace.except(id) }

    // MARK: Disconnecting

    /// Disconnects the socket from its namespace (the client gets DISCONNECT, so it does not reconnect);
    /// with `close: true` also closes the underlying connection once that packet is sent.
    public func disconnect(close: Bool = false) {
        if isConnected {
            write(SocketPacket(type: .disconnect, namespace: namespace.name))
            connection?.remove(self)
            disconnected(.serverNamespaceDisconnect)
        }
        if close { session.close(.forcedClose) }
    }

    /// Closes the underlying connection without a Socket.IO DISCONNECT, as a network failure would look to
    /// the client (socket.io's `socket.conn.close()`): a client that reconnects automatically does so.
    public func closeConnection() {
        session.close(.forcedClose)
    }

    // MARK: Internal

    /// Queues an event for this socket's handlers. Returns `false` if the client is flooding.
    func enqueue(_ packet: SocketPacket) -> Bool {
        let accepted = state.withLock { state -> Bool in
            guard state.pendingEvents < maxPendingEvents else { return false }
            state.pendingEvents += 1
            return true
        }
        if accepted { eventsContinuation.yield(packet) }
        return accepted
    }

    /// Delivers an acknowledgement from the client.
    func receivedAck(_ packet: SocketPacket) {
        guard let id = packet.id, let arguments = packet.ackArguments else { return }
        acks.resolve(id, with: arguments)
    }

    /// Runs the socket's handlers on its events until it disconnects, then its disconnect handlers.
    func processEvents() async {
        for await packet in events {
            state.withLock { $0.pendingEvents -= 1 }
            guard let (name, arguments) = packet.eventNameAndArguments else { continue }
            let (handler, anyHandlers) = state.withLock { ($0.handlers[name], $0.anyHandlers) }
            let ack = packet.id.map { SocketAck(socket: self, id: $0) }
            if let handler { await handler(self, arguments, ack) }
            for anyHandler in anyHandlers { await anyHandler(self, [.string(name)] + arguments, ack) }
            if handler == nil && anyHandlers.isEmpty {
                logger.trace("event without handler", metadata: ["sio.event": .string(name)])
            }
        }
        let (reason, handlers) = state.withLock { state in
            defer { state.disconnectHandlers = [] }
            return (state.disconnected ?? .forcedClose, state.disconnectHandlers)
        }
        for handler in handlers { await handler(reason) }
    }

    /// Marks the socket disconnected: leaves its rooms, fails pending acks, ends its event loop.
    func disconnected(_ reason: SocketDisconnectReason) {
        let first = state.withLock { state -> Bool in
            guard state.disconnected == nil else { return false }
            state.disconnected = reason
            return true
        }
        guard first else { return }
        eventsContinuation.finish()
        namespace.remove(self)
        logger.debug("socket disconnected", metadata: ["sio.reason": .string(reason.rawValue)])
        acks.close()
    }
}
