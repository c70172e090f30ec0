import EngineIO
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import SocketIO
import Synchronization

/// One Engine.IO connection of a client and its namespaces.
public final class SocketClientConnection: Sendable {
    let configuration: SocketClientConfiguration
    let logger: Logger
    private let state = Mutex(State())
    /// Fires once the Engine.IO handshake arrived, or the connection closed before it did.
    private let handshakeOver = OneShotSignal()

    struct State {
        var frames: [EngineFrame] = []
        var writer: CheckedContinuation<[EngineFrame]?, Never>?
        var closed = false
        var decoder = SocketDecoder(maxAttachments: 64)
        var sockets: [String: ClientSocket] = [:]
        var pingInterval: Duration = .seconds(25)
        var pingTimeout: Duration = .seconds(20)
        /// When the server last proved alive (handshake or ping).
        var lastPing = ContinuousClock.now
        var engineSessionID: String?
    }

    init(configuration: SocketClientConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// The Engine.IO session id, once open.
    public var engineSessionID: String? { state.withLock { $0.engineSessionID } }

    /// Whether the connection has closed.
    public var isClosed: Bool { state.withLock { $0.closed } }

    func webSocketURL(base: String) -> String {
        var url = base
        if url.hasPrefix("http://") { url = "ws://" + url.dropFirst("http://".count) }
        if url.hasPrefix("https://") { url = "wss://" + url.dropFirst("https://".count) }
        while url.hasSuffix("/") { url.removeLast() }
        var query = configuration.query
        query["EIO"] = "4"
        query["transport"] = "websocket"
        let encoded = query.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
        return "\(url)\(configuration.path)/?\(encoded)"
    }

    // MARK: Namespaces

    /// Connects to a namespace and returns its socket once the server accepted.
    /// - Parameter recovering: the ``ClientSocket/recoveryState`` of a socket whose connection was lost: its
    ///   private session id and last offset go with `auth` (whose own members win), and the new socket's
    ///   ``ClientSocket/recovered`` says whether the server recovered the session.
    /// - Throws: ``SocketClientError`` `.connectionRefused` with the server's message, `.timeout`, `.disconnected`.
    public func socket(namespace: String = "/", auth: SocketValue? = nil, recovering: SocketRecovery? = nil) async throws -> ClientSocket {
        let socket = ClientSocket(namespace: namespace, connection: self, recovering: recovering)
        var auth = auth
        if let recovering {
            var members = auth?.objectValue ?? [:]
            if members["pid"] == nil { members["pid"] = .string(recovering.pid) }
            if members["offset"] == nil, let offset = recovering.offset { members["offset"] = .string(offset) }
            auth = .object(members)
        }
        let existing = state.withLock { state -> ClientSocket? in
            if let existing = state.sockets[namespace] { return existing }
            state.sockets[namespace] = socket
            return nil
        }
        if let existing { return existing }
        send(SocketPacket(type: .connect, namespace: namespace, data: auth))
        do {
            try await socket.waitUntilConnected(timeout: configuration.connectTimeout)
        } catch {
            state.withLock { state in
                if state.sockets[namespace] === socket { state.sockets[namespace] = nil }
            }
            throw error
        }
        return socket
    }

    func forget(_ socket: ClientSocket) {
        state.withLock { state in
            if state.sockets[socket.namespace] === socket { state.sockets[socket.namespace] = nil }
        }
    }

    // MARK: Writing

    func send(_ packet: SocketPacket) {
        send(SocketEncoder.encode(packet))
    }

    private func send(_ frames: [EngineFrame]) {
        let ready = state.withLock { state -> (CheckedContinuation<[EngineFrame]?, Never>, [EngineFrame])? in
            guard !state.closed else { return nil }
            state.frames.append(contentsOf: frames)
            guard let writer = state.writer.take() else { return nil }
            defer { state.frames = [] }
            return (writer, state.frames)
        }
        if let (writer, batch) = ready { writer.resume(returning: batch) }
    }

    private func nextFrames() async -> [EngineFrame]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> [EngineFrame]?? in
                    if !state.frames.isEmpty {
                        defer { state.frames = [] }
                        return .some(state.frames)
                    }
                    if state.closed || Task.isCancelled { return .some(nil) }
                    state.writer = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            state.withLock { $0.writer.take() }?.resume(returning: nil)
        }
    }

    /// Closes the connection: namespaces disconnect, the WebSocket closes.
    public func close() {
        let (writer, sockets) = state.withLock { state -> (CheckedContinuation<[EngineFrame]?, Never>?, [ClientSocket]) in
            guard !state.closed else { return (nil, []) }
            state.closed = true
            defer { state.sockets = [:] }
            return (state.writer.take(), Array(state.sockets.values))
        }
        writer?.resume(returning: nil)
        for socket in sockets { socket.connectionClosed() }
        handshakeOver.fire()
    }

    // MARK: Running

    func waitUntilOpen() async throws {
        guard await handshakeOver.wait(timeout: configuration.connectTimeout) else {
            throw SocketClientError(.timeout, "no Engine.IO handshake")
        }
        guard engineSessionID != nil, !isClosed else {
            throw SocketClientError(.disconnected, "connection closed during the handshake")
        }
    }

    /// Reads and writes the WebSocket until either side closes.
    func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while let frames = await self.nextFrames() {
                    do {
                        for frame in frames {
                            try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: frame.isBinary ? .binary : .text, data: frame.bytes)))
                        }
                    } catch {
                        break
                    }
                }
            }
            group.addTask {
                await self.read(inbound)
                self.close()
            }
            group.addTask { await self.watchHeartbeat() }
            await group.next()
            self.close()
            group.cancelAll()
        }
    }

    /// Returns when the server has not pinged for `pingInterval + pingTimeout`: it is gone.
    private func watchHeartbeat() async {
        // The deadline only moves later once the handshake has set the server's intervals.
        await handshakeOver.wait()
        while !Task.isCancelled {
            let deadline = state.withLock { $0.lastPing + $0.pingInterval + $0.pingTimeout }
            if ContinuousClock.now >= deadline {
                logger.debug("server stopped pinging; closing")
                return
            }
            try? await Task.sleep(until: deadline, clock: .continuous)
        }
    }

    private func read(_ inbound: WebSocketInboundStream) async {
        do {
            for try await message in inbound.messages(maxSize: configuration.maxPayload) {
                switch message {
                case .text(let text):
                    guard let packet = try? EngineCodec.decodeText(text) else { return violation("undecodable Engine.IO packet") }
                    guard handle(packet) else { return }
                case .binary(let bytes):
                    guard deliver(.binary(bytes)) else { return }
                }
            }
        } catch {
            logger.debug("websocket read failed", metadata: ["eio.error": "\(error)"])
        }
    }

    /// Handles one Engine.IO packet; returns `false` when the connection must end.
    private func handle(_ packet: EnginePacket) -> Bool {
        switch packet.type {
        case .open:
            guard case .text(let json) = packet.payload, let open = try? SocketValue(jsonText: json),
                case .string(let sid)? = open["sid"], case .int(let pingInterval)? = open["pingInterval"],
                case .int(let pingTimeout)? = open["pingTimeout"]
            else {
                violation("invalid open packet")
                return false
            }
            state.withLock { state in
                state.engineSessionID = sid
                state.pingInterval = .milliseconds(pingInterval)
                state.pingTimeout = .milliseconds(pingTimeout)
                state.lastPing = .now
            }
            handshakeOver.fire()
            return true
        case .ping:
            state.withLock { $0.lastPing = .now }
            send([EngineFrame(EnginePacket(.pong))])
            return true
        case .message:
            return deliver(packet.payload)
        case .close:
            return false
        case .pong, .noop, .upgrade:
            return true
        }
    }

    private func deliver(_ payload: EnginePacket.Payload) -> Bool {
        let decoded: Result<SocketPacket?, SocketDecodingError> = state.withLock { state in
            switch payload {
            case .text(let text): Result { () throws(SocketDecodingError) in try state.decoder.decode(text: text) }
            case .binary(let bytes): Result { () throws(SocketDecodingError) in try state.decoder.decode(binary: bytes) }
            case .none: .failure(SocketDecodingError(.emptyPacket))
            }
        }
        guard case .success(let packet) = decoded else {
            violation("invalid Socket.IO packet")
            return false
        }
        guard let packet else { return true }
        let socket = state.withLock { $0.sockets[packet.namespace] }
        socket?.received(packet)
        return true
    }

    private func violation(_ what: String) {
        logger.debug("protocol violation from server", metadata: ["sio.error": .string(what)])
    }
}
