import EngineIO
import EngineIOServer
import Logging
import SocketIO
import Synchronization

/// The Socket.IO side of one Engine.IO session: decodes its packets and routes them to its sockets, one
/// per namespace.
final class SocketConnection: Sendable {
    let session: EngineSession
    private let server: SocketServer
    private let state: Mutex<State>
    private let firstConnect = OneShotSignal()

    struct State {
        var decoder: SocketDecoder
        var sockets: [String: ServerSocket] = [:]
    }

    init(session: EngineSession, server: SocketServer) {
        self.session = session
        self.server = server
        self.state = Mutex(State(decoder: SocketDecoder(maxAttachments: server.configuration.maxAttachments)))
    }

    /// Closes the session if no namespace is connected within the connect timeout.
    func enforceConnectTimeout() async {
        let connected = await firstConnect.wait(timeout: server.configuration.connectTimeout)
        if !connected && state.withLock({ $0.sockets.isEmpty }) {
            session.logger.debug("no namespace connected in time")
            session.close(.forcedClose)
        }
    }

    /// Handles one Engine.IO message.
    func received(_ message: EnginePacket.Payload) async -> EngineSessionWork? {
        let decoded: Result<SocketPacket?, SocketDecodingError> = state.withLock { state in
            switch message {
            case .text(let text): Result { () throws(SocketDecodingError) in try state.decoder.decode(text: text) }
            case .binary(let bytes): Result { () throws(SocketDecodingError) in try state.decoder.decode(binary: bytes) }
            case .none: .failure(SocketDecodingError(.emptyPacket))
            }
        }
        switch decoded {
        case .failure(let error):
            session.logger.debug("invalid socket.io packet", metadata: ["sio.error": "\(error)"])
            session.close(.parseError)
            return nil
        case .success(nil):
            return nil
        case .success(let packet?):
            return route(packet)
        }
    }

    private func route(_ packet: SocketPacket) -> EngineSessionWork? {
        let socket = state.withLock { $0.sockets[packet.namespace] }
        switch packet.type {
        case .connect:
            guard socket == nil else { return nil }
            return connect(packet)
        case .disconnect:
            if let socket {
                remove(socket)
                socket.disconnected(.clientNamespaceDisconnect)
            }
        case .event, .binaryEvent:
            guard let socket else { return protocolViolation("event for a namespace that is not connected") }
            if !socket.enqueue(packet) {
                socket.logger.debug("client is flooding; closing")
                session.close(.forcedClose)
            }
        case .ack, .binaryAck:
            guard let socket else { return protocolViolation("ack for a namespace that is not connected") }
            socket.receivedAck(packet)
        case .connectError:
            return protocolViolation("CONNECT_ERROR from a client")
        }
        return nil
    }

    private func protocolViolation(_ what: String) -> EngineSessionWork? {
        session.logger.debug("protocol violation; closing", metadata: ["sio.error": .string(what)])
        session.close(.parseError)
        return nil
    }

    private func connect(_ packet: SocketPacket) -> EngineSessionWork? {
        guard let namespace = server.existingNamespace(packet.namespace) else {
            session.send(SocketEncoder.encode(SocketPacket(type: .connectError, namespace: packet.namespace, data: ["message": "Invalid namespace"])))
            return nil
        }
        let socket = ServerSocket(
            namespace: namespace,
            connection: self,
            auth: packet.data ?? .object([:]),
            maxPendingEvents: server.configuration.maxPendingEvents
        )
        state.withLock { $0.sockets[namespace.name] = socket }
        return { await self.run(socket) }
    }

    /// Middlewares, the CONNECT answer, connection handlers, then the socket's events until it disconnects.
    private func run(_ socket: ServerSocket) async {
        let namespace = socket.namespace
        do {
            for middleware in namespace.middlewares { try await middleware(socket) }
        } catch {
            remove(socket)
            let refusal = error as? SocketConnectError ?? SocketConnectError("Connection refused")
            var data: SocketValue = ["message": .string(refusal.message)]
            if let extra = refusal.data, case .object(var members) = data {
                members["data"] = extra
                data = .object(members)
            }
            socket.logger.debug("connection refused by middleware", metadata: ["sio.error": .string(refusal.message)])
            socket.write(SocketPacket(type: .connectError, namespace: namespace.name, data: data))
            return
        }
        guard !session.isClosed, state.withLock({ $0.sockets[namespace.name] === socket }) else { return }
        namespace.add(socket)
        socket.write(SocketPacket(type: .connect, namespace: namespace.name, data: ["sid": .string(socket.id)]))
        firstConnect.fire()
        socket.logger.debug("socket connected")
        for handler in namespace.connectionHandlers { await handler(socket) }
        await socket.processEvents()
    }

    /// Forgets a socket (it disconnected from its namespace).
    func remove(_ socket: ServerSocket) {
        state.withLock { state in
            if state.sockets[socket.namespace.name] === socket { state.sockets[socket.namespace.name] = nil }
        }
    }

    /// The session closed: every socket disconnects with the session's reason.
    func closed(_ reason: EngineCloseReason) {
        firstConnect.fire()
        let sockets = state.withLock { state in
            defer { state.sockets = [:] }
            return Array(state.sockets.values)
        }
        for socket in sockets { socket.disconnected(SocketDisconnectReason(reason)) }
    }
}
