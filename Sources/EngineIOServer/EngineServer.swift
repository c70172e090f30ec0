import EngineIO
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import ServiceLifecycle
import Synchronization

/// An Engine.IO v4 server: long-polling and WebSocket transports mounted on a Hummingbird router, and
/// the registry of sessions.
///
/// It is a `Service`: run it in the same `ServiceGroup` as the Hummingbird application, after it, so that
/// graceful shutdown closes every session (with the protocol's close) before the HTTP server stops.
///
/// ```swift
/// let engine = EngineServer(configuration: .init(path: "/engine.io"), handler: myHandler, logger: logger)
/// let router = Router(context: EngineRequestContext.self)
/// let webSocketRouter = Router(context: EngineRequestContext.self)
/// engine.mount(on: router, webSocketRouter: webSocketRouter)
/// let app = Application(router: router, server: .http1WebSocketUpgrade(webSocketRouter: webSocketRouter))
/// try await ServiceGroup(services: [app, engine], logger: logger).run()
/// ```
public final class EngineServer: Service, Sendable {
    public let configuration: EngineServerConfiguration
    let handler: any EngineSessionHandler
    let logger: Logger
    private let sessions = Mutex<[String: EngineSession]>([:])
    private let newSessions: AsyncStream<EngineSession>
    private let newSessionsContinuation: AsyncStream<EngineSession>.Continuation

    public init(configuration: EngineServerConfiguration, handler: some EngineSessionHandler, logger: Logger) {
        self.configuration = configuration
        self.handler = handler
        self.logger = logger
        (newSessions, newSessionsContinuation) = AsyncStream.makeStream()
    }

    /// The number of open sessions.
    public var sessionCount: Int { sessions.withLock { $0.count } }

    /// The open session with this id.
    public func session(id: String) -> EngineSession? { sessions.withLock { $0[id] } }

    /// Runs every session's task until graceful shutdown, then closes the sessions and waits for them.
    public func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await session in newSessions {
                    group.addTask {
                        await session.run(handler: self.handler)
                        self.sessions.withLock { _ = $0.removeValue(forKey: session.id) }
                    }
                }
            }
        } onGracefulShutdown: {
            self.shutdown()
        }
    }

    /// Stops accepting sessions and closes every open one.
    private func shutdown() {
        newSessionsContinuation.finish()
        let open = sessions.withLock { Array($0.values) }
        for session in open { session.close(.serverShutdown) }
    }

    /// Adds the transports' routes: `GET`/`POST`/`OPTIONS` for long-polling on `router`, and the WebSocket
    /// upgrade on `webSocketRouter` (the router given to `.http1WebSocketUpgrade(webSocketRouter:)`).
    public func mount<Context: EngineRequestContextProtocol>(on router: Router<Context>, webSocketRouter: Router<Context>) {
        let path = RouterPath(configuration.path)
        router.on(path, method: .get) { request, _ in await self.poll(request) }
        router.on(path, method: .post) { request, _ in await self.post(request) }
        router.on(path, method: .options) { request, _ in self.preflight(request) }
        router.on(path, method: .put) { request, _ in self.errorResponse(EngineError(.badHandshakeMethod), request: request) }
        webSocketRouter.ws(path) { request, _ in
            await self.shouldUpgrade(request)
        } onUpgrade: { inbound, outbound, context in
            await self.serveWebSocket(inbound: inbound, outbound: outbound, channel: context.requestContext.channel, request: context.request)
        }
    }

    // MARK: Requests

    private static func query(of request: Request) -> [String: String] {
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters where query[String(key)] == nil {
            query[String(key)] = String(value)
        }
        return query
    }

    /// The checks every request goes through; returns the session for requests that carry a `sid`.
    private func verify(_ request: Request, query: [String: String], upgrade: Bool) async throws(EngineError) -> EngineSession? {
        guard let transportName = query["transport"], let transport = EngineTransport(rawValue: transportName),
            configuration.engine.transports.contains(transport)
        else { throw EngineError(.unknownTransport, context: "transport=\(query["transport"] ?? "")") }
        guard query["EIO"] == "4" else {
            throw EngineError(.unsupportedProtocolVersion, context: "EIO=\(query["EIO"] ?? "")")
        }
        if let sid = query["sid"] {
            guard let session = sessions.withLock({ $0[sid] }) else { throw EngineError(.unknownSessionID) }
            if !upgrade && transport != .polling { throw EngineError(.badRequest, context: "websocket request without upgrade") }
            return session
        }
        guard request.method == .get else { throw EngineError(.badHandshakeMethod) }
        if transport == .webSocket && !upgrade { throw EngineError(.badRequest, context: "websocket handshake without upgrade") }
        guard await configuration.allowRequest(request.headers, query) else { throw EngineError(.forbidden) }
        return nil
    }

    private func openSession(_ request: Request, query: [String: String], transport: EngineTransport) -> EngineSession {
        let session = EngineSession(
            id: EngineCodec.makeSessionID(),
            handshake: EngineHandshake(query: query, headers: request.headers, transport: transport),
            configuration: configuration.engine,
            logger: logger
        )
        sessions.withLock { $0[session.id] = session }
        newSessionsContinuation.yield(session)
        session.logger.debug("engine.io session opened", metadata: ["eio.transport": .string(transport.rawValue)])
        return session
    }

    private func poll(_ request: Request) async -> Response {
        let query = Self.query(of: request)
        do {
            let session = try await verify(request, query: query, upgrade: false)
                ?? openSession(request, query: query, transport: .polling)
            try session.beginPoll()
            defer { session.endPoll() }
            guard let frames = await session.nextFrames(for: .polling) else {
                throw EngineError(.badRequest, context: "session closed or upgraded")
            }
            var headers = responseHeaders(request, preflight: false)
            headers[.contentType] = "text/plain; charset=UTF-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: EngineCodec.encodePayload(frames)))
        } catch {
            return errorResponse(error, request: request)
        }
    }

    private func post(_ request: Request) async -> Response {
        let query = Self.query(of: request)
        do {
            guard query["sid"] != nil else { throw EngineError(.badHandshakeMethod) }
            guard let session = try await verify(request, query: query, upgrade: false) else { throw EngineError(.unknownSessionID) }
            try session.beginPost()
            defer { session.endPost() }
            var request = request
            let limit = configuration.engine.maxPayload
            if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
                return tooLarge(request)
            }
            guard let body = try? await request.collectBody(upTo: limit) else { return tooLarge(request) }
            let packets: [EnginePacket]
            do {
                packets = try EngineCodec.decodePayload(body)
            } catch {
                session.logger.debug("invalid polling payload", metadata: ["eio.error": "\(error)"])
                session.close(.parseError)
                throw EngineError(.badRequest, context: "\(error)")
            }
            for packet in packets where await session.received(packet, on: .polling) == .rejectTransport {
                throw EngineError(.badRequest, context: "packet not allowed on polling")
            }
            var headers = responseHeaders(request, preflight: false)
            headers[.contentType] = "text/html"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "ok")))
        } catch {
            return errorResponse(error, request: request)
        }
    }

    private func tooLarge(_ request: Request) -> Response {
        logger.debug("polling payload over maxPayload")
        return Response(status: .contentTooLarge, headers: responseHeaders(request, preflight: false))
    }

    private func preflight(_ request: Request) -> Response {
        guard configuration.cors != nil else { return Response(status: .badRequest, headers: responseHeaders(request, preflight: false)) }
        var headers = responseHeaders(request, preflight: true)
        headers[.contentLength] = "0"
        return Response(status: .noContent, headers: headers)
    }

    /// Headers every response carries: CORS, and `Connection: close` when the client asked for it (the
    /// server closes such connections; saying so keeps keep-alive clients from reusing them).
    private func responseHeaders(_ request: Request, preflight: Bool) -> HTTPFields {
        var headers = configuration.cors?.responseHeaders(for: request.headers, preflight: preflight) ?? [:]
        if request.headers[.connection]?.lowercased().contains("close") == true {
            headers[.connection] = "close"
        }
        return headers
    }

    private func errorResponse(_ error: any Error, request: Request) -> Response {
        let engineError = error as? EngineError ?? EngineError(.badRequest, context: "\(error)")
        logger.debug("engine.io request refused", metadata: ["eio.error": "\(engineError)"])
        var headers = responseHeaders(request, preflight: false)
        headers[.contentType] = "application/json"
        return Response(
            status: .init(code: engineError.httpStatus),
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: engineError.jsonBody))
        )
    }

    // MARK: WebSocket

    private func shouldUpgrade(_ request: Request) async -> RouterShouldUpgrade {
        let query = Self.query(of: request)
        guard query["transport"] == EngineTransport.webSocket.rawValue else { return .dontUpgrade }
        do {
            if let session = try await verify(request, query: query, upgrade: true) {
                // An upgrade is possible only from long-polling; the rest is decided once the socket is open.
                return session.isClosed ? .dontUpgrade : .upgrade([:])
            }
            return .upgrade([:])
        } catch {
            // The request continues as plain HTTP, where the same checks answer with the protocol's error.
            return .dontUpgrade
        }
    }

    private func serveWebSocket(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, channel: any Channel, request: Request) async {
        let query = Self.query(of: request)
        let session: EngineSession
        if let sid = query["sid"] {
            guard let existing = sessions.withLock({ $0[sid] }), existing.webSocketOpened() else {
                logger.debug("websocket refused for session", metadata: ["eio.sid": .string(sid)])
                try? await outbound.close(.policyViolation, reason: "session cannot upgrade")
                return
            }
            session = existing
        } else {
            session = openSession(request, query: query, transport: .webSocket)
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while let frames = await session.nextFrames(for: .webSocket) {
                    do {
                        try await Self.write(frames, to: channel, writes: self.configuration.webSocketWrites)
                    } catch {
                        break
                    }
                }
            }
            group.addTask {
                await self.readWebSocket(inbound, session: session)
            }
            await group.next()
            // The session is over (or this WebSocket lost its trial, or the client left): start the close
            // handshake from this task, which is not cancelled. Closing from a cancelled child could mark the
            // socket closing without sending the frame, and then the client would wait for it; and the
            // reader, blocked on a silent client, ends only once the client answers the close.
            try? await outbound.close(.goingAway, reason: nil)
            group.cancelAll()
        }
        session.transportClosed(.webSocket)
    }

    /// Writes frames to an upgraded channel; returns once they reached the socket.
    private static func write(_ frames: [EngineFrame], to channel: any Channel, writes: EngineServerConfiguration.WebSocketWrites) async throws {
        func frame(_ frame: EngineFrame) -> WebSocketFrame {
            WebSocketFrame(fin: true, opcode: frame.isBinary ? .binary : .text, data: frame.bytes)
        }
        switch writes {
        case .paced:
            for each in frames { try await channel.writeAndFlush(frame(each)).get() }
        case .batched:
            guard let last = frames.last else { return }
            for each in frames.dropLast() { channel.write(frame(each), promise: nil) }
            try await channel.writeAndFlush(frame(last)).get()
        }
    }

    private func readWebSocket(_ inbound: WebSocketInboundStream, session: EngineSession) async {
        do {
            for try await message in inbound.messages(maxSize: configuration.engine.maxPayload) {
                let packet: EnginePacket
                switch message {
                case .text(let text):
                    do {
                        packet = try EngineCodec.decodeText(text)
                    } catch {
                        session.logger.debug("invalid websocket packet", metadata: ["eio.error": "\(error)"])
                        session.close(.parseError)
                        return
                    }
                case .binary(let bytes):
                    packet = .message(bytes)
                }
                if await session.received(packet, on: .webSocket) == .rejectTransport { return }
            }
        } catch {
            session.logger.debug("websocket read failed", metadata: ["eio.error": "\(error)"])
        }
    }
}
