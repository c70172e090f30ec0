import EngineIO
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
import Synchronization

/// Something that serves Engine.IO on a Hummingbird router: ``EngineServer``, or a Socket.IO server.
public protocol EngineEndpoint: Sendable {
    /// The Engine.IO server of the endpoint: ``EngineApplication`` serves its WebSockets directly.
    var engineServer: EngineServer { get }
    /// Adds the endpoint's routes (on an application of your own, WebSockets go through `webSocketRouter`).
    func mount<Context: EngineRequestContextProtocol>(on router: Router<Context>, webSocketRouter: Router<Context>)
}

extension EngineServer: EngineEndpoint {
    public var engineServer: EngineServer { self }
}

/// Builds the Hummingbird application that serves one or more Engine.IO endpoints on one port.
public enum EngineApplication {
    /// An application serving `endpoints` (and whatever `configure` adds to the router) on `host:port`.
    ///
    /// Run it in a `ServiceGroup` before the endpoints' own services. `onServerRunning` receives the bound
    /// port (useful with port 0).
    public static func make(
        endpoints: [any EngineEndpoint],
        host: String = "127.0.0.1",
        port: Int,
        logger: Logger,
        configure: (Router<EngineRequestContext>) -> Void = { _ in },
        onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router(context: EngineRequestContext.self)
        // WebSockets to the endpoints' paths are served by NIO handlers (`EngineChildChannel`), not by a
        // router: the routes this adds are for applications of your own.
        let unusedWebSocketRouter = Router(context: EngineRequestContext.self)
        for endpoint in endpoints { endpoint.mount(on: router, webSocketRouter: unusedWebSocketRouter) }
        configure(router)
        let engines = endpoints.map(\.engineServer)
        return Application(
            router: router,
            server: HTTPServerBuilder { responder in
                QuiescingChildChannel(inner: EngineChildChannel(responder: responder, engines: engines))
            },
            // A deep accept queue (the kernel caps it at net.core.somaxconn): when thousands of clients
            // reconnect at once — after a restart, say — Hummingbird's default of 256 overflows, and each
            // connection dropped waits for the client's SYN retry (1 s, then 3 s, …).
            configuration: .init(address: .hostname(host, port: port), serverName: nil, backlog: 4096),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }
}

/// An HTTP/1.1 connection that either upgrades to an Engine.IO WebSocket, served from then on by plain NIO
/// handlers (``EngineWebSocketHandler``: no task, stream or buffer per connection), or serves HTTP through
/// Hummingbird (long-polling, pages, APIs).
struct EngineChildChannel: ServerChildChannel, HTTPChannelHandler {
    enum UpgradeResult: Sendable {
        /// The channel is a WebSocket now; its handlers own it.
        case webSocket
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        /// A WebSocket upgrade was asked for and refused: the request cannot go on as HTTP (NIO's decoder
        /// stops at an upgrade request), so the protocol's error is written and the connection closed.
        case refusedUpgrade(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, EngineError)
    }

    /// Why the upgrader refused this connection's upgrade, for the not-upgrading path to answer with.
    final class UpgradeRefusal: Sendable {
        let error = Mutex<EngineError?>(nil)
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let engines: [EngineServer]
    private let http1 = HTTP1Channel.Configuration()

    init(responder: @escaping HTTPChannelHandler.Responder, engines: [EngineServer]) {
        self.responder = Self.redirectingLateUpgrades(responder, engines: engines)
        self.engines = engines
    }

    /// NIO upgrades only a connection's first request. A client that asks for a WebSocket on a keep-alive
    /// connection it already used for long-polling (aiohttp, under python-socketio, does) is sent to the same
    /// URI again with `Connection: close`, so that it retries on a new connection, where the upgrade happens.
    /// An upgrade that would be refused anyway gets the protocol's error from the router instead.
    private static func redirectingLateUpgrades(_ responder: @escaping HTTPChannelHandler.Responder, engines: [EngineServer]) -> HTTPChannelHandler.Responder {
        struct ClosingAfterRedirect: Error {}
        return { request, responseWriter, channel in
            guard request.headers[.upgrade]?.lowercased() == "websocket", let (engine, query) = route(request.uri, engines),
                await engine.shouldUpgrade(headers: request.headers, query: query, address: engine.clientAddress(request, channel: channel), report: false)
            else {
                return try await responder(request, responseWriter, channel)
            }
            let location = request.uri.query.map { "\(request.uri.path)?\($0)" } ?? request.uri.path
            try await responseWriter.writeResponse(HTTPResponse(status: .temporaryRedirect, headerFields: [.connection: "close", .location: location]))
            throw ClosingAfterRedirect()
        }
    }

    /// The engine serving the path of `uri`, and the query.
    static func route(_ uri: URI, _ engines: [EngineServer]) -> (EngineServer, [String: String])? {
        var path = uri.path
        if path.count > 1, path.hasSuffix("/") { path.removeLast() }
        guard let engine = engines.first(where: { $0.configuration.path == path }) else { return nil }
        return (engine, EngineServer.query(of: uri))
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // Every channel keeps its last read buffer for the next read: start it small (NIO's default is
            // 2 KiB); it grows with what a connection actually sends.
            try channel.syncOptions?.setOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536))
            let refusal = UpgradeRefusal()
            let serverUpgrade = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [EngineWebSocketUpgrader(engines: engines, refusal: refusal)],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try pipeline.addHandlers(http1.additionalChannelHandlers())
                        try pipeline.addHandler(HTTPConnectionStateHandler(idleTimeout: http1.idleTimeout.map { .init($0) }, logger: logger))
                        let http = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true)
                        )
                        if let error = refusal.error.withLock({ $0 }) { return .refusedUpgrade(http, error) }
                        return .http(http)
                    }
                }
            )
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration<UpgradeResult>(upgradeConfiguration: serverUpgrade)
            configuration.enablePipelining = false  // HTTP is pipelined by NIOAsyncChannel
            configuration.enableErrorHandling = false  // handled by Hummingbird
            configuration.enableResponseHeaderValidation = false  // Swift HTTP Types validate
            let upgradeResult = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
            return Value(upgradeResult: upgradeResult, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case .webSocket:
                return
            case .http(let http1):
                await handleHTTP(asyncChannel: http1, logger: logger)
            case .refusedUpgrade(let http1, let error):
                try await http1.executeThenClose { _, outbound in
                    let body = ByteBuffer(string: error.jsonBody)
                    let headers: HTTPFields = [.connection: "close", .contentType: "application/json", .contentLength: "\(body.readableBytes)"]
                    try await outbound.write(contentsOf: [.head(HTTPResponse(status: .init(code: error.httpStatus), headerFields: headers)), .body(body), .end(nil)])
                }
            }
        } catch {
            logger.debug("connection ended before its first request was handled", metadata: ["error.type": "\(error)"])
        }
    }
}

/// Closes connections that have not sent a byte when the server starts its graceful shutdown.
///
/// hummingbird-websocket 2.8 installs the handler that reacts to the shutdown (`ChannelShouldQuiesceEvent`)
/// only once a connection's first request arrives, so one idle connection — browsers and `URLSession` open
/// them ahead of time — held `dialogue serve` open after SIGTERM, even past cancellation. A connection
/// that has already sent something is left to the handlers that know its state.
struct QuiescingChildChannel<Inner: ServerChildChannel>: ServerChildChannel {
    let inner: Inner

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Inner.Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(CloseSilentConnectionOnQuiesce(), position: .first)
        }.flatMap { inner.setup(channel: channel, logger: logger) }
    }

    func handle(value: Inner.Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

final class CloseSilentConnectionOnQuiesce: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private var heardFrom = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        heardFrom = true
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, !heardFrom {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

