import EngineIO
import EngineIOServer
import Logging
import NIOCore
import SocketIO
import Synchronization

/// The Socket.IO side of one Engine.IO session: decodes its packets and routes them to its sockets, one
/// per namespace.
final class SocketConnection: Sendable {
    let session: EngineSession
    private let server: SocketServer
    private let state: Mutex<State>

    struct State {
        var decoder: SocketDecoder
        var sockets: [String: ServerSocket] = [:]
        /// Closes the session if no namespace connects in time; cancelled by the first connection.
        var connectTimeout: Scheduled<Void>?
    }

    init(session: EngineSession, server: SocketServer) {
        self.session = session
        self.server = server
        self.state = Mutex(State(decoder: SocketDecoder(maxAttachments: server.configuration.maxAttachments)))
    }

    /// Closes the session if no namespace is connected within the connect timeout.
    func scheduleConnectTimeout() {
        let scheduled = session.eventLoop.scheduleTask(in: TimeAmount(server.configuration.connectTimeout)) { [weak self] in
            guard let self, self.state.withLock({ $0.sockets.isEmpty }) else { return }
            self.session.log(.debug, "no namespace connected in time")
            self.session.close(.forcedClose)
        }
        state.withLock { $0.connectTimeout = scheduled }
    }

    private func cancelConnectTimeout() {
        state.withLock { $0.connectTimeout.take() }?.cancel()
    }

    /// Handles one Engine.IO message.
    func received(_ message: EnginePacket.Payload) {
        let decoded: Result<SocketPacket?, SocketDecodingError> = state.withLock { state in
            switch message {
            case .text(let text): Result { () throws(SocketDecodingError) in try state.decoder.decode(text: text) }
            case .binary(let bytes): Result { () throws(SocketDecodingError) in try state.decoder.decode(binary: bytes) }
            case .none: .failure(SocketDecodingError(.emptyPacket))
            }
        }
        switch decoded {
        case .failure(let error):
            session.log(.debug, "invalid socket.io packet", metadata: ["sio.error": "\(error)"])
            session.close(.parseError)
        case .success(nil):
            return
        case .success(let packet?):
            route(packet)
        }
    }

    private func route(_ packet: SocketPacket) {
        let socket = state.withLock { $0.sockets[packet.namespace] }
        switch packet.type {
        case .connect:
            guard socket == nil else { return }
            connect(packet)
        case .disconnect:
            if let socket {
                remove(socket)
                socket.disconnected(.clientNamespaceDisconnect)
            }
        case .event, .binaryEvent:
            guard let socket else { return protocolViolation("event for a namespace that is not connected") }
            if !socket.enqueue(packet) {
                // The flooding socket learns why; the connection's other sockets see a forced close.
                socket.log(.debug, "client is flooding; closing")
                remove(socket)
                socket.disconnected(.flooding)
                session.close(.forcedClose)
            }
        case .ack, .binaryAck:
            guard let socket else { return protocolViolation("ack for a namespace that is not connected") }
            socket.receivedAck(packet)
        case .connectError:
            protocolViolation("CONNECT_ERROR from a client")
        }
    }

    private func protocolViolation(_ what: String) {
        session.log(.debug, "protocol violation; closing", metadata: ["sio.error": .string(what)])
        session.close(.parseError)
    }

    private func connect(_ packet: SocketPacket) {
        if let namespace = server.existingNamespace(packet.namespace) { return connect(packet, to: namespace) }
        guard server.createsNamespaces else { return refuseNamespace(packet.namespace) }
        // A dynamic namespace is decided by application code, which may wait.
        server.handlerTasks.start {
            guard let namespace = await self.server.namespaceForConnection(packet.namespace, auth: packet.data ?? .object([:])) else {
                return self.refuseNamespace(packet.namespace)
            }
            self.connect(packet, to: namespace)
        }
    }

    private func refuseNamespace(_ name: String) {
        session.send(SocketEncoder.encode(SocketPacket(type: .connectError, namespace: name, data: ["message": "Invalid namespace"])))
    }

    private func connect(_ packet: SocketPacket, to namespace: SocketNamespace) {
        let auth = packet.data ?? .object([:])
        // A client that lost its connection presents its private session id and the last offset it saw.
        let restored: (session: RecoveryLog<ContinuousClock.Instant>.Session, missed: [RecoveryLog<ContinuousClock.Instant>.Broadcast])? =
            if case .string(let pid)? = auth["pid"], case .string(let offset)? = auth["offset"] {
                namespace.restore(pid: pid, offset: offset)
            } else {
                nil
            }
        let socket = ServerSocket(
            namespace: namespace,
            connection: self,
            auth: auth,
            maxPendingEvents: server.configuration.maxPendingEvents,
            handlerTasks: server.handlerTasks,
            restoring: restored?.session
        )
        state.withLock { $0.sockets[namespace.name] = socket }
        server.handlerTasks.start { await self.run(socket, rooms: restored?.session.rooms ?? [], missed: restored?.missed ?? []) }
    }

    /// Middlewares (unless a recovered socket skips them), the CONNECT answer — and for a recovered socket
    /// its rooms back and the broadcasts it missed —, connection handlers, then the socket's events until
    /// it disconnects.
    private func run(_ socket: ServerSocket, rooms: Set<String>, missed: [RecoveryLog<ContinuousClock.Instant>.Broadcast]) async {
        let namespace = socket.namespace
        do {
            if !(socket.recovered && namespace.recovery?.skipMiddlewares == true) {
                for middleware in namespace.middlewares { try await middleware(socket) }
            }
        } catch {
            remove(socket)
            let refusal = error as? SocketConnectError ?? SocketConnectError("Connection refused")
            var data: SocketValue = ["message": .string(refusal.message)]
            if let extra = refusal.data, case .object(var members) = data {
                members["data"] = extra
                data = .object(members)
            }
            socket.log(.debug, "connection refused by middleware", metadata: ["sio.error": .string(refusal.message)])
            socket.write(SocketPacket(type: .connectError, namespace: namespace.name, data: data))
            return
        }
        guard !session.isClosed, state.withLock({ $0.sockets[namespace.name] === socket }) else { return }
        namespace.add(socket)
        // Rooms first, then the missed broadcasts: one sent in between arrives twice rather than never.
        for room in rooms where room != socket.id { socket.join(room) }
        let connected: SocketValue = socket.pid.map { ["sid": .string(socket.id), "pid": .string($0)] } ?? ["sid": .string(socket.id)]
        socket.write(SocketPacket(type: .connect, namespace: namespace.name, data: connected))
        for broadcast in missed { socket.write(.event(broadcast.event, broadcast.arguments, namespace: namespace.name)) }
        cancelConnectTimeout()
        socket.log(.debug, socket.recovered ? "socket recovered" : "socket connected", metadata: ["sio.missed": "\(missed.count)"])
        for handler in namespace.connectionHandlers { await handler(socket) }
        await socket.startProcessing()
    }

    /// Forgets a socket (it disconnected from its namespace).
    func remove(_ socket: ServerSocket) {
        state.withLock { state in
            if state.sockets[socket.namespace.name] === socket { state.sockets[socket.namespace.name] = nil }
        }
    }

    /// The session closed: every socket disconnects with the session's reason.
    func closed(_ reason: EngineCloseReason) {
        cancelConnectTimeout()
        let sockets = state.withLock { state in
            defer { state.sockets = [:] }
            return Array(state.sockets.values)
        }
        for socket in sockets { socket.disconnected(SocketDisconnectReason(reason)) }
    }
}
