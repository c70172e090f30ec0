import EngineIO
import EngineIOServer
import Hummingbird
import HummingbirdWebSocket
import Logging
import ServiceLifecycle
import SocketIO
import Synchronization

/// A Socket.IO v5 server over Engine.IO v4.
///
/// ```swift
/// let io = SocketServer(configuration: .init(), logger: logger)
/// io.namespace("/").onConnection { socket in
///     socket.on("echo") { _, arguments, ack in ack?(arguments) }
/// }
/// let router = Router(context: EngineRequestContext.self)
/// let webSocketRouter = Router(context: EngineRequestContext.self)
/// io.mount(on: router, webSocketRouter: webSocketRouter)
/// let app = Application(router: router, server: .http1WebSocketUpgrade(webSocketRouter: webSocketRouter))
/// try await ServiceGroup(services: [app, io], logger: logger).run()
/// ```
public final class SocketServer: Service, Sendable {
    public let configuration: SocketServerConfiguration
    let logger: Logger
    private let makeAdapter: @Sendable (String) -> any SocketAdapter
    private let namespaces = Mutex<[String: SocketNamespace]>([:])
    private let connections = Mutex<[String: SocketConnection]>([:])
    private let engineStorage = Mutex<EngineServer?>(nil)
    /// The handler work of every socket, run as children of ``run()``.
    let handlerTasks = HandlerTasks()

    /// Creates a server. `adapter` makes the adapter of each namespace; defaults to ``InMemoryAdapter``.
    public init(
        configuration: SocketServerConfiguration = .init(),
        logger: Logger,
        adapter: @escaping @Sendable (_ namespace: String) -> any SocketAdapter = { _ in InMemoryAdapter() }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.makeAdapter = adapter
        _ = namespace("/")
    }

    /// The Engine.IO server underneath.
    public var engine: EngineServer {
        engineStorage.withLock { storage in
            if let engine = storage { return engine }
            let engine = EngineServer(configuration: configuration.engine, handler: EngineHandler(server: self), logger: logger)
            storage = engine
            return engine
        }
    }

    /// The namespace with this name, created on first use.
    public func namespace(_ name: String = "/") -> SocketNamespace {
        namespaces.withLock { namespaces in
            if let existing = namespaces[name] { return existing }
            let created = SocketNamespace(name: name, adapter: makeAdapter(name), recovery: configuration.connectionStateRecovery)
            namespaces[name] = created
            return created
        }
    }

    func existingNamespace(_ name: String) -> SocketNamespace? {
        namespaces.withLock { $0[name] }
    }

    /// Adds the Socket.IO endpoint to a router and the WebSocket router given to the server builder.
    public func mount<Context: EngineRequestContextProtocol>(on router: Router<Context>, webSocketRouter: Router<Context>) {
        engine.mount(on: router, webSocketRouter: webSocketRouter)
    }

    /// Runs until graceful shutdown; every client is then disconnected with "server shutting down", and
    /// `run()` returns once their handlers (disconnect handlers included) have returned.
    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask {
                try? await self.engine.run()
                self.handlerTasks.finish()
            }
            await handlerTasks.run()
        }
    }

    fileprivate func opened(_ session: EngineSession) -> SocketConnection {
        let connection = SocketConnection(session: session, server: self)
        connections.withLock { $0[session.id] = connection }
        return connection
    }

    fileprivate func connection(for session: EngineSession) -> SocketConnection? {
        connections.withLock { $0[session.id] }
    }

    fileprivate func closed(_ session: EngineSession) -> SocketConnection? {
        connections.withLock { $0.removeValue(forKey: session.id) }
    }
}

/// Connects the Engine.IO sessions to the Socket.IO server. The server owns the engine that owns this
/// handler, so the handler holds the server weakly.
private struct EngineHandler: EngineSessionHandler {
    weak let server: SocketServer?

    func engineSessionOpened(_ session: EngineSession) {
        guard let connection = server?.opened(session) else {
            session.close(.serverShutdown)
            return
        }
        connection.scheduleConnectTimeout()
    }

    func engineSession(_ session: EngineSession, received message: EnginePacket.Payload) {
        server?.connection(for: session)?.received(message)
    }

    func engineSessionClosed(_ session: EngineSession, reason: EngineCloseReason) {
        server?.closed(session)?.closed(reason)
    }
}

extension SocketServer: EngineEndpoint {
    public var engineServer: EngineServer { engine }
}
