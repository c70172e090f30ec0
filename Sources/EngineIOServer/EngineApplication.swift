import Hummingbird
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
        return Application(
            router: router,
            server: .http1WebSocketUpgrade(
                webSocketRouter: webSocketRouter,
                configuration: .init(ws: .init(maxFrameSize: maxFrameSize, autoPing: .disabled))
            ),
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }
}
