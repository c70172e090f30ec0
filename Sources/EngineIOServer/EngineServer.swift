import EngineIO
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import ServiceLifecycle
import Synchronization

/// An Engine.IO v4 server: the long-polling transport on a Hummingbird router, the WebSocket transport,
/// and the registry of sessions.
///
/// ``EngineApplication`` serves its WebSockets with plain NIO handlers (no task per connection). Mounted on
/// an application of your own, as below, WebSockets go through HummingbirdWebSocket's route instead, which
/// works the same but holds a task group and streams per connection.
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
    private let registry: Mutex<Registry>

    struct Registry {
        var sessions: [String: EngineSession] = [:]
        /// `false` once graceful shutdown began: new sessions are refused.
        var accepting = true
        /// The open sessions per client address, and the handshake rate of each.
        var admission: ConnectionAdmission<EngineInstant>
    }

    public init(configuration: EngineServerConfiguration, handler: some EngineSessionHandler, logger: Logger) {
        self.configuration = configuration
        self.handler = handler
        self.logger = logger
        self.registry = Mutex(Registry(admission: ConnectionAdmission(limits: configuration.limits)))
    }

    /// The number of open sessions.
    public var sessionCount: Int { registry.withLock { $0.sessions.count } }

    /// The open session with this id.
    public func session(id: String) -> EngineSession? { registry.withLock { $0.sessions[id] } }

    /// Waits for graceful shutdown, then stops accepting sessions and closes every open one with the
    /// protocol's close. Sessions need no task of their own: their timers run on their event loops and
    /// their transports drive them.
    public func run() async throws {
        try? await gracefulShutdown()
        let open = registry.withLock { registry in
            registry.accepting = false
            return Array(registry.sessions.values)
        }
        for session in open { session.close(.serverShutdown) }
    }

    /// Opens a session (registered before the handler learns of it). Throws once shutdown began, or when
    /// a connection limit refuses it.
    private func openSession(query: [String: String], headers: HTTPFields, transport: EngineTransport, address: String, eventLoop: any EventLoop) throws(EngineError) -> EngineSession {
        let session = EngineSession(
            id: EngineCodec.makeSessionID(),
            handshake: EngineHandshake(query: query, headers: headers, transport: transport, address: address),
            server: self,
            eventLoop: eventLoop
        )
        enum Outcome { case opened, shuttingDown, refused(EngineConnectionLimits.Limit) }
        let outcome = registry.withLock { registry -> Outcome in
            guard registry.accepting else { return .shuttingDown }
            if let limit = registry.admission.admit(address, now: .now) { return .refused(limit) }
            registry.sessions[session.id] = session
            return .opened
        }
        switch outcome {
        case .opened: break
        case .shuttingDown: throw EngineError(.badRequest, context: "server shutting down")
        case .refused(let limit): throw refused(address, by: limit)
        }
        session.log(.debug, "engine.io session opened", metadata: ["eio.transport": .string(transport.rawValue)])
        session.start()
        return session
    }

    /// Called once per session, when it is over and no poll needs it any more: the registry forgets it.
    func sessionFinished(_ session: EngineSession) {
        registry.withLock { registry in
            guard registry.sessions.removeValue(forKey: session.id) != nil else { return }
            registry.admission.release(session.handshake.address)
        }
    }

    /// Reports a handshake refused by a connection limit (logged once a minute per address, always told
    /// to ``EngineServerConfiguration/onConnectionRefused``) and returns the protocol's error for it.
    private func refused(_ address: String, by limit: EngineConnectionLimits.Limit) -> EngineError {
        if registry.withLock({ $0.admission.shouldLogRefusal(of: address, by: limit, now: .now) }) {
            logger.warning(
                "connection refused: \(limit.rawValue) reached (further refusals of this address in the next minute are counted, not logged)",
                metadata: ["eio.address": .string(address)]
            )
        }
        configuration.onConnectionRefused?(EngineConnectionRefusal(limit: limit, address: address))
        return EngineError(.forbidden, context: limit.rawValue)
    }

    /// The client address the connection limits count: the rightmost entry of the proxy header when one is
    /// configured and present (`forwarded`), otherwise the TCP peer's IP address.
    func clientAddress(forwarded: String?, peer: SocketAddress?) -> String {
        if configuration.clientAddressHeader != nil, let forwarded,
            let last = forwarded.split(separator: ",").last?.trimmingCharacters(in: .whitespaces), !last.isEmpty
        {
            return last
        }
        return peer?.ipAddress ?? "unknown"
    }

    /// ``clientAddress(forwarded:peer:)`` of a request.
    func clientAddress(_ request: Request, channel: any Channel) -> String {
        clientAddress(forwarded: configuration.clientAddressHeader.flatMap { request.headers[$0] }, peer: channel.remoteAddress)
    }

    /// Adds the transports' routes: `GET`/`POST`/`OPTIONS` for long-polling on `router`, and the WebSocket
    /// upgrade on `webSocketRouter` (the router given to `.http1WebSocketUpgrade(webSocketRouter:)`).
    public func mount<Context: EngineRequestContextProtocol>(on router: Router<Context>, webSocketRouter: Router<Context>) {
        let path = RouterPath(configuration.path)
        router.on(path, method: .get) { request, context in
            await self.poll(request, address: self.clientAddress(request, channel: context.channel), eventLoop: context.channel.eventLoop)
        }
        router.on(path, method: .post) { request, _ in await self.post(request) }
        router.on(path, method: .options) { request, _ in self.preflight(request) }
        router.on(path, method: .put) { request, _ in self.errorResponse(EngineError(.badHandshakeMethod), request: request) }
        webSocketRouter.ws(path) { request, context in
            let address = self.clientAddress(request, channel: context.channel)
            return await self.shouldUpgrade(headers: request.headers, query: Self.query(of: request.uri), address: address) ? .upgrade([:]) : .dontUpgrade
        } onUpgrade: { inbound, outbound, context in
            await self.serveWebSocket(inbound: inbound, outbound: outbound, channel: context.requestContext.channel, request: context.request)
        }
    }

    // MARK: Requests

    static func query(of uri: URI) -> [String: String] {
        var query: [String: String] = [:]
        for (key, value) in uri.queryParameters where query[String(key)] == nil {
            query[String(key)] = String(value)
        }
        return query
    }

    /// The checks every request goes through; returns the session for requests that carry a `sid`.
    /// `address` is the client's, for a request that may be a handshake.
    private func verify(method: HTTPRequest.Method, headers: HTTPFields, query: [String: String], upgrade: Bool, address: String?) async throws(EngineError) -> EngineSession? {
        if let session = try check(method: method, query: query, upgrade: upgrade, address: address, report: true) { return session }
        if let allowRequest = configuration.allowRequest, await !allowRequest(headers, query) { throw EngineError(.forbidden) }
        return nil
    }

    /// The checks of ``verify(method:headers:query:upgrade:address:)`` that need no application code: all but
    /// ``EngineServerConfiguration/allowRequest``, which a handshake (no `sid`) must pass too. A handshake
    /// over a connection limit is refused here, and reported when `report` is set.
    private func check(method: HTTPRequest.Method, query: [String: String], upgrade: Bool, address: String?, report: Bool) throws(EngineError) -> EngineSession? {
        guard let transportName = query["transport"], let transport = EngineTransport(rawValue: transportName),
            configuration.engine.transports.contains(transport)
        else { throw EngineError(.unknownTransport, context: "transport=\(query["transport"] ?? "")") }
        guard query["EIO"] == "4" else {
            throw EngineError(.unsupportedProtocolVersion, context: "EIO=\(query["EIO"] ?? "")")
        }
        if let sid = query["sid"] {
            guard let session = session(id: sid) else { throw EngineError(.unknownSessionID) }
            if !upgrade && transport != .polling { throw EngineError(.badRequest, context: "websocket request without upgrade") }
            return session
        }
        guard method == .get else { throw EngineError(.badHandshakeMethod) }
        if let address, let limit = registry.withLock({ $0.admission.refusal(for: address, now: .now) }) {
            throw report ? refused(address, by: limit) : EngineError(.forbidden, context: limit.rawValue)
        }
        if transport == .webSocket && !upgrade { throw EngineError(.badRequest, context: "websocket handshake without upgrade") }
        return nil
    }

    private func poll(_ request: Request, address: String, eventLoop: any EventLoop) async -> Response {
        let query = Self.query(of: request.uri)
        do {
            let verified = try await verify(method: request.method, headers: request.headers, query: query, upgrade: false, address: address)
            let session = try verified ?? openSession(query: query, headers: request.headers, transport: .polling, address: address, eventLoop: eventLoop)
            try session.beginPoll()
            defer { session.endPoll() }
            guard let frames = await session.nextPollFrames() else {
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
        let query = Self.query(of: request.uri)
        do {
            guard query["sid"] != nil else { throw EngineError(.badHandshakeMethod) }
            guard let session = try await verify(method: request.method, headers: request.headers, query: query, upgrade: false, address: nil) else {
                throw EngineError(.unknownSessionID)
            }
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
                session.log(.debug, "invalid polling payload", metadata: ["eio.error": "\(error)"])
                session.close(.parseError)
                throw EngineError(.badRequest, context: "\(error)")
            }
            for packet in packets where session.received(packet, on: .polling) == .rejectTransport {
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

    /// Whether a WebSocket upgrade request may proceed. With `report` unset, a refusal by a connection
    /// limit is not reported: the request is only being looked at, and will be checked again.
    func shouldUpgrade(headers: HTTPFields, query: [String: String], address: String, report: Bool = true) async -> Bool {
        await upgradeRefusal(headers: headers, query: query, address: address, report: report) == nil
    }

    /// Why a WebSocket upgrade request is refused: the protocol's error to answer it with, or `nil` when
    /// it may proceed.
    func upgradeRefusal(headers: HTTPFields, query: [String: String], address: String, report: Bool = true) async -> EngineError? {
        switch upgradeDecision(query: query, address: address, report: report) {
        case .upgrade: nil
        case .refuse(let error): error
        case .askApplication: await configuration.allowRequest?(headers, query) ?? true ? nil : EngineError(.forbidden)
        }
    }

    /// What ``upgradeRefusal(headers:query:address:report:)`` decides without a task.
    enum UpgradeDecision {
        case upgrade
        case refuse(EngineError)
        /// Only the application's ``EngineServerConfiguration/allowRequest`` can decide.
        case askApplication
    }

    /// ``upgradeRefusal(headers:query:address:report:)`` as far as it needs no task.
    func upgradeDecision(query: [String: String], address: String, report: Bool = true) -> UpgradeDecision {
        guard query["transport"] == EngineTransport.webSocket.rawValue else {
            return .refuse(EngineError(.badRequest, context: "upgrade to a WebSocket with transport=\(query["transport"] ?? "")"))
        }
        do {
            if let session = try check(method: .get, query: query, upgrade: true, address: address, report: report) {
                // An upgrade is possible only from long-polling; the rest is decided once the socket is open.
                return session.isClosed ? .refuse(EngineError(.badRequest, context: "session closed")) : .upgrade
            }
            return configuration.allowRequest == nil ? .upgrade : .askApplication
        } catch {
            return .refuse(error)
        }
    }

    /// A WebSocket opened: it serves a new session, or joins the session named by `sid` for an upgrade.
    /// Returns `nil` when it must be closed at once (the session cannot upgrade now, or shutdown began).
    func webSocketOpened(query: [String: String], headers: HTTPFields, address: String, writer: WebSocketWriter, eventLoop: any EventLoop) -> EngineSession? {
        guard let sid = query["sid"] else {
            guard let session = try? openSession(query: query, headers: headers, transport: .webSocket, address: address, eventLoop: eventLoop) else { return nil }
            return session.attachWebSocket(writer) ? session : nil
        }
        guard let existing = session(id: sid), existing.attachWebSocket(writer) else {
            logger.debug("websocket refused for session", metadata: ["eio.sid": .string(sid)])
            return nil
        }
        return existing
    }

    /// Serves a WebSocket upgraded by a Hummingbird route (``mount(on:webSocketRouter:)`` on an application
    /// of your own). ``EngineApplication`` serves WebSockets with plain NIO handlers instead, which holds
    /// far less memory per connection.
    private func serveWebSocket(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, channel: any Channel, request: Request) async {
        let address = clientAddress(request, channel: channel)
        let closeRequested = OneShotSignal()
        let writer = WebSocketWriter(
            sink: .framed(channel, close: { closeRequested.fire() }), eventLoop: channel.eventLoop, pacing: configuration.webSocketPacing
        )
        let query = Self.query(of: request.uri)
        let session = try? await channel.eventLoop.submit {
            let session = self.webSocketOpened(query: query, headers: request.headers, address: address, writer: writer, eventLoop: channel.eventLoop)
            writer.session = session
            writer.write()
            return session
        }.get()
        guard let session = session ?? nil else {
            try? await outbound.close(.policyViolation, reason: "session cannot upgrade")
            return
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await closeRequested.wait() }
            group.addTask { await self.readWebSocket(inbound, session: session) }
            await group.next()
            // The session is over (or this WebSocket lost its trial, or the client left): start the close
            // handshake from this task, which is not cancelled. Closing from a cancelled child could mark the
            // socket closing without sending the frame, and then the client would wait for it; and the
            // reader, blocked on a silent client, ends only once the client answers the close.
            try? await outbound.close(.goingAway, reason: nil)
            group.cancelAll()
        }
        session.webSocketClosed(writer)
    }

    private func readWebSocket(_ inbound: WebSocketInboundStream, session: EngineSession) async {
        do {
            for try await message in inbound.messages(maxSize: configuration.engine.maxPayload) {
                let received = switch message {
                case .text(let text): session.receivedWebSocketText(text)
                case .binary(let bytes): session.received(.message(bytes), on: .webSocket)
                }
                if received == .rejectTransport || session.isClosed { return }
            }
        } catch {
            session.log(.debug, "websocket read failed", metadata: ["eio.error": "\(error)"])
        }
    }
}
