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
    /// Rules that create namespaces on demand, in the order they were added.
    private let dynamicRules = Mutex<[DynamicNamespaceRule]>([])
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
            let created = makeNamespace(name)
            namespaces[name] = created
            return created
        }
    }

    private func makeNamespace(_ name: String) -> SocketNamespace {
        SocketNamespace(name: name, adapter: makeAdapter(name), recovery: configuration.connectionStateRecovery)
    }

    func existingNamespace(_ name: String) -> SocketNamespace? {
        namespaces.withLock { $0[name] }
    }

    /// Decides whether a client connecting to namespace `name`, which does not exist yet, creates it.
    public typealias NamespaceDecider = @Sendable (_ name: String, _ auth: SocketValue) async -> Bool

    struct DynamicNamespaceRule: Sendable {
        let decide: NamespaceDecider
        let setUp: @Sendable (SocketNamespace) -> Void
    }

    /// Namespaces created when a client first connects to them (socket.io's dynamic namespaces,
    /// `io.of(fn)`): `decide` sees the name and the CONNECT's `auth`; a namespace it accepts is created,
    /// handed to `setUp` once (register its middlewares and connection handlers there), and stays. A name
    /// no rule accepts gets the protocol's "Invalid namespace". Rules are asked in the order added.
    public func dynamicNamespaces(_ decide: @escaping NamespaceDecider, setUp: @escaping @Sendable (SocketNamespace) -> Void) {
        dynamicRules.withLock { $0.append(DynamicNamespaceRule(decide: decide, setUp: setUp)) }
    }

    /// Dynamic namespaces whose names match `pattern`, where `*` stands for any characters (`/team-*`):
    /// socket.io's `io.of(/^\/team-.*$/)`. See ``dynamicNamespaces(_:setUp:)``.
    public func dynamicNamespaces(matching pattern: String, setUp: @escaping @Sendable (SocketNamespace) -> Void) {
        dynamicNamespaces({ name, _ in Self.name(name, matches: pattern) }, setUp: setUp)
    }

    /// Whether any dynamic namespace rule was added.
    var createsNamespaces: Bool { dynamicRules.withLock { !$0.isEmpty } }

    /// The namespace a client connecting to `name` gets: the existing one, or one a dynamic rule creates
    /// (set up before anyone can connect to it); `nil` when there is none.
    func namespaceForConnection(_ name: String, auth: SocketValue) async -> SocketNamespace? {
        if let existing = existingNamespace(name) { return existing }
        for rule in dynamicRules.withLock({ $0 }) where await rule.decide(name, auth) {
            if let existing = existingNamespace(name) { return existing }
            let created = makeNamespace(name)
            rule.setUp(created)
            // Two clients may have created it at once: the first one stored wins.
            return namespaces.withLock { namespaces in
                if let first = namespaces[name] { return first }
                namespaces[name] = created
                return created
            }
        }
        return nil
    }

    /// `*` matches any characters (none included); everything else matches itself.
    static func name(_ name: String, matches pattern: String) -> Bool {
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false)
        guard parts.count > 1 else { return name == pattern }
        guard name.hasPrefix(parts[0]), name.hasSuffix(parts[parts.count - 1]),
            name.count >= parts[0].count + parts[parts.count - 1].count
        else { return false }
        var rest = name.dropFirst(parts[0].count).dropLast(parts[parts.count - 1].count)
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let found = rest.range(of: part) else { return false }
            rest = rest[found.upperBound...]
        }
        return true
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
