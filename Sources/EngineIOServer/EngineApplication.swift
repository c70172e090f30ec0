import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore

/// Something that serves Engine.IO on a Hummingbird router: ``EngineServer``, or a Socket.IO server.
public protocol EngineEndpoint: Sendable {
    /// The largest message the endpoint accepts; the WebSocket frame limit is set from it.
    var maxPayload: Int { get }
    /// Adds the endpoint's routes.
    func mount<Context: EngineRequestContextProtocol>(on router: Router<Context>, webSocketRouter: Router<Context>)
}

extension EngineServer: EngineEndpoint {
    public var maxPayload: Int { configuration.engine.maxPayload }
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
        let webSocketRouter = Router(context: EngineRequestContext.self)
        for endpoint in endpoints { endpoint.mount(on: router, webSocketRouter: webSocketRouter) }
        configure(router)
        let maxFrameSize = endpoints.map(\.maxPayload).max() ?? 1_000_000
        let webSocketResponder = webSocketRouter.buildResponder()
        return Application(
            router: router,
            server: HTTPServerBuilder { responder in
                QuiescingChildChannel(inner: HTTP1WebSocketUpgradeChannel(
                    responder: responder, webSocketResponder: webSocketResponder,
                    configuration: .init(ws: .init(maxFrameSize: maxFrameSize, autoPing: .disabled))
                ))
            },
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
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

