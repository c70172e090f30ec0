import DequeModule
import EngineIO
import EngineIOServer
import Foundation
import HTTPTypes
import Logging
import SocketIO
import Synchronization

/// What a socket's connection request carried (socket.io's `socket.handshake`).
public struct SocketHandshake: Sendable {
    /// The `auth` object of the CONNECT packet (an empty object when absent).
    public let auth: SocketValue
    /// The HTTP request that opened the Engine.IO session (query and headers).
    public let engine: EngineHandshake

    /// The client's address (``EngineHandshake/address``).
    public var address: String { engine.address }
    /// The headers of the request that opened the connection.
    public var headers: HTTPFields { engine.headers }
    /// The query of the request that opened the connection.
    public var query: [String: String] { engine.query }
    /// When the connection opened, in milliseconds since 1970.
    public var issued: Int64 { engine.issued }
    /// When the connection opened, as socket.io's `handshake.time` gives it (the date's string form).
    public var time: String { Date(timeIntervalSince1970: Double(issued) / 1000).description }
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

/// Handles a socket's events in one object (``ServerSocket/dispatchEvents(to:)``): what ``ServerSocket/on(_:_:)``
/// does with a closure per event, without costing every connection an allocation per event — the Dialogue
/// layer's clients handle their `dialogue:*` events this way.
public protocol SocketEventDispatcher: AnyObject, Sendable {
    /// Handles event `name`; returns `false` if it has no handler for it.
    func handleEvent(_ name: String, arguments: [SocketValue], ack: SocketAck?, on socket: ServerSocket) async -> Bool
}

/// One client's connection to one namespace.
public final class ServerSocket: Sendable {
    /// The socket id (distinct from the Engine.IO session id).
    public let id: String
    public let namespace: SocketNamespace
    public let handshake: SocketHandshake
    /// Whether this socket took over the session of one that lost its connection (connection-state
    /// recovery, ``SocketServerConfiguration/connectionStateRecovery``): same id, rooms and ``data``, and the
    /// broadcasts it missed were sent after the CONNECT answer.
    public let recovered: Bool
    /// The private session id a client presents to recover this socket (with recovery on).
    let pid: String?
    let session: EngineSession
    /// The connection that routes this socket's packets; it owns the socket, hence weak.
    private weak let connection: SocketConnection?
    private let maxPendingEvents: Int
    private let handlerTasks: HandlerTasks
    private let state: Mutex<State>
    private let acks = PendingAcks()

    struct State {
        /// A few names each, so a list: a dictionary would cost every connection more than its lookups save.
        var handlers: [(name: String, handler: SocketEventHandler)] = []
        var anyHandlers: [SocketEventHandler] = []
        /// Handles the events that have no handler of their own.
        var dispatcher: (any SocketEventDispatcher)?
        var disconnectHandlers: [@Sendable (SocketDisconnectReason) async -> Void] = []
        var data: (any Sendable)?
        /// Events waiting for the handlers, in arrival order.
        var events = Deque<SocketPacket>()
        /// The connection handlers have run: events may be handled.
        var ready = false
        /// A task is running the handlers (at most one, so a socket's events are handled in order).
        var processing = false
        var disconnected: SocketDisconnectReason?
        var disconnectHandled = false
    }

    /// A new socket, or — with `restoring` — the recovered one of a session that lost its connection.
    init(
        namespace: SocketNamespace, connection: SocketConnection, auth: SocketValue, maxPendingEvents: Int, handlerTasks: HandlerTasks,
        restoring restored: RecoveryLog<ContinuousClock.Instant>.Session? = nil
    ) {
        self.id = restored?.socketID ?? EngineCodec.makeSessionID()
        self.pid = restored?.pid ?? (namespace.recovery != nil ? EngineCodec.makeSessionID() : nil)
        self.recovered = restored != nil
        self.state = Mutex(State(data: restored?.data))
        self.namespace = namespace
        self.connection = connection
        self.session = connection.session
        self.handshake = SocketHandshake(auth: auth, engine: session.handshake)
        self.maxPendingEvents = maxPendingEvents
        self.handlerTasks = handlerTasks
    }

    /// Logs a message about the socket, with its session's id, namespace and id added to `metadata`;
    /// nothing is built unless `level` is enabled.
    func log(_ level: Logger.Level, _ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata = [:]) {
        session.log(level, message(), metadata: metadata().merging(["sio.nsp": .string(namespace.name), "sio.id": .string(id)]) { own, _ in own })
    }

    // MARK: Handlers

    /// Handles event `name` from the client. Handlers of one socket run one at a time, in the order the
    /// events arrived; acknowledgements from the client are processed independently, so a handler may
    /// await ``emitWithAck(_:_:timeout:)``.
    public func on(_ name: String, _ handler: @escaping SocketEventHandler) {
        state.withLock { state in
            if let index = state.handlers.firstIndex(where: { $0.name == name }) {
                state.handlers[index].handler = handler
            } else {
                state.handlers.append((name, handler))
            }
        }
    }

    /// Hands every event that has no handler of its own (``on(_:_:)``) to `dispatcher`, in the same order
    /// and with the same guarantees. The socket holds it until it disconnects.
    public func dispatchEvents(to dispatcher: some SocketEventDispatcher) {
        state.withLock { $0.dispatcher = dispatcher }
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

    /// Sends an event unless the transport cannot take it now (frames already wait for the client, or no
    /// long-polling GET is pending): socket.io's `socket.volatile.emit`. Returns whether it was sent.
    @discardableResult
    public func emitVolatile(_ event: String, _ arguments: [SocketValue]) -> Bool {
        session.send(SocketEncoder.encode(.event(event, arguments, namespace: namespace.name)), volatile: true)
    }

    /// Sends an event unless the transport cannot take it now; see ``emitVolatile(_:_:)``.
    @discardableResult
    public func emitVolatile(_ event: String, _ arguments: SocketValue...) -> Bool {
        emitVolatile(event, arguments)
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
        let (accepted, start) = state.withLock { state -> (Bool, Bool) in
            guard state.events.count < maxPendingEvents else { return (false, false) }
            state.events.append(packet)
            return (true, Self.claimProcessing(&state))
        }
        if start { handlerTasks.start { await self.processEvents() } }
        return accepted
    }

    /// Whether the caller must start processing now (and is now the one doing it).
    private static func claimProcessing(_ state: inout State) -> Bool {
        guard state.ready, !state.processing else { return false }
        state.processing = true
        return true
    }

    /// Delivers an acknowledgement from the client.
    func receivedAck(_ packet: SocketPacket) {
        guard let id = packet.id, let arguments = packet.ackArguments else { return }
        acks.resolve(id, with: arguments)
    }

    /// The connection handlers have run: handles the events that arrived meanwhile, and from now on a task
    /// is started whenever events arrive.
    func startProcessing() async {
        let start = state.withLock { state in
            state.ready = true
            return Self.claimProcessing(&state)
        }
        if start { await processEvents() }
    }

    /// Runs the socket's handlers on its waiting events, one at a time, and once it disconnected (after its
    /// last event) its disconnect handlers; returns when nothing is left to do.
    private func processEvents() async {
        enum Step {
            case event(SocketPacket, SocketEventHandler?, (any SocketEventDispatcher)?, [SocketEventHandler])
            case disconnect(SocketDisconnectReason, [@Sendable (SocketDisconnectReason) async -> Void])
            case idle
        }
        while true {
            let step = state.withLock { state -> Step in
                if let packet = state.events.popFirst() {
                    // An idle socket does not keep the storage of its last burst.
                    if state.events.isEmpty { state.events = [] }
                    let name = packet.eventNameAndArguments?.name
                    return .event(packet, state.handlers.first { $0.name == name }?.handler, state.dispatcher, state.anyHandlers)
                }
                if let reason = state.disconnected, !state.disconnectHandled {
                    state.disconnectHandled = true
                    // Handlers capture what refers back to the socket: let go of them all.
                    defer {
                        state.disconnectHandlers = []
                        state.handlers = []
                        state.anyHandlers = []
                        state.dispatcher = nil
                    }
                    return .disconnect(reason, state.disconnectHandlers)
                }
                state.processing = false
                return .idle
            }
            switch step {
            case .event(let packet, let handler, let dispatcher, let anyHandlers):
                guard let (name, arguments) = packet.eventNameAndArguments else { continue }
                let ack = packet.id.map { SocketAck(socket: self, id: $0) }
                var handled = false
                if let handler {
                    await handler(self, arguments, ack)
                    handled = true
                } else if let dispatcher {
                    handled = await dispatcher.handleEvent(name, arguments: arguments, ack: ack, on: self)
                }
                for anyHandler in anyHandlers { await anyHandler(self, [.string(name)] + arguments, ack) }
                if !handled && anyHandlers.isEmpty {
                    log(.trace, "event without handler", metadata: ["sio.event": .string(name)])
                }
            case .disconnect(let reason, let handlers):
                for handler in handlers { await handler(reason) }
            case .idle:
                return
            }
        }
    }

    /// Marks the socket disconnected: leaves its rooms, fails pending acks, ends its event loop.
    func disconnected(_ reason: SocketDisconnectReason) {
        let (first, start) = state.withLock { state -> (Bool, Bool) in
            guard state.disconnected == nil else { return (false, false) }
            state.disconnected = reason
            return (true, Self.claimProcessing(&state))
        }
        guard first else { return }
        if start { handlerTasks.start { await self.processEvents() } }
        // Kept only once removed, so that a socket recovering it cannot be added before this one is gone.
        let keptRooms = pid != nil && namespace.recovery != nil && reason.isRecoverable ? rooms : nil
        namespace.remove(self)
        if let pid, let keptRooms {
            namespace.persist(.init(socketID: id, pid: pid, rooms: keptRooms, data: data, disconnectedAt: .now))
        }
        log(.debug, "socket disconnected", metadata: ["sio.reason": .string(reason.rawValue)])
        acks.close()
    }
}
