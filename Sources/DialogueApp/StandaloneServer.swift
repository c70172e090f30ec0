import AsyncAlgorithms
import Dialogue
import DialogueCluster
import DialogueHistory
import DialogueHistoryPostgres
import DialogueHistorySQLite
import EngineIOServer
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import SocketIO

/// The composition root of `dialogue serve`: from ``ServerSettings`` it opens the history store, builds the
/// ``DialogueServer`` and the HTTP application with the demo page (`/`), the admin dashboard (`/admin`) and
/// `/metrics`, and hands back the services to run.
///
/// ```swift
/// let server = try await StandaloneServer(settings: try ServerSettings(contentsOf: "dialogue.yaml"), logger: logger)
/// try await ServiceGroup(configuration: .init(services: server.services, gracefulShutdownSignals: [.sigterm], logger: logger)).run()
/// ```
public struct StandaloneServer: Sendable {
    /// The Dialogue server.
    public let dialogue: DialogueServer
    /// The HTTP application, the Dialogue server and (for the demo) the dashboard's publisher, in the order
    /// a `ServiceGroup` should run them (it stops them in reverse: publisher, Dialogue, then HTTP).
    public let services: [any Service]

    /// Builds the server.
    /// - Parameters:
    ///   - demo: publishes server statistics to the `dashboard` room every two seconds (the built-in demo).
    ///   - onServerRunning: called with the bound port.
    /// - Throws: ``ConfigurationError`` for token keys that cannot be used; the store's error if it cannot open.
    public init(settings: ServerSettings, demo: Bool = false, logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try settings.validate()
        var configuration = settings.dialogue
        configuration.jwt = try await settings.makeVerifier()
        let registry = PrometheusCollectorRegistry()
        if settings.metrics {
            var factory = PrometheusMetricsFactory(registry: registry)
            // Real-time latencies: from a tenth of a millisecond up.
            factory.defaultDurationHistogramBuckets = [
                .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5),
                .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
            ]
            configuration.metricsFactory = settings.cluster.map { NodeLabelledMetrics(base: factory, node: $0.nodeName) } ?? factory
        }
        let activity = ServerActivity()
        let observer = configuration.hooks.events.onTriggered
        configuration.hooks.events.onTriggered = { roomId, message in
            activity.record(roomId, message)
            try await observer?(roomId, message)
        }
        guard let indexPage = Self.resource("index", "html"), let adminPage = Self.resource("admin", "html") else {
            throw ConfigurationError(path: "", reason: "the pages are missing from the package resources")
        }
        // Last: the store holds files or connections from here on.
        configuration.historyStore = try await Self.openStore(settings.store, logger: logger)
        if let cluster = settings.cluster, case .postgres(let url, let schema) = settings.store {
            configuration.cluster = try PostgresClusterLink(url: url, schema: schema, configuration: cluster, logger: logger)
        }
        let dialogue = DialogueServer(configuration: configuration, logger: logger)
        let admin = settings.adminToken.map { AdminDashboard(token: $0, server: dialogue, activity: activity, page: adminPage) }
        let host = configuration.host
        let app = EngineApplication.make(endpoints: [dialogue], host: host, port: configuration.port, logger: logger) { router in
            router.get("/") { _, _ in Self.html(indexPage) }
            if let admin {
                admin.mount(on: router)
            } else {
                router.get("/admin") { _, _ in
                    Response(status: .notFound, headers: [.contentType: "text/plain; charset=utf-8"],
                             body: .init(byteBuffer: ByteBuffer(string: "The admin dashboard is off: set admin.token in the configuration file, or --admin-token.\n")))
                }
            }
            if settings.metrics {
                router.get("/metrics") { _, _ in
                    dialogue.recordGauges()
                    return Response(
                        status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
                    )
                }
            }
        } onServerRunning: { port in
            logger.notice("Dialogue running: open http://\(host):\(port)/")
            if let token = settings.adminToken, demo {
                logger.notice("Admin dashboard: http://\(host):\(port)/admin#token=\(token)")
            }
            await onServerRunning(port)
        }
        self.dialogue = dialogue
        var services: [any Service] = [app, dialogue]
        if demo { services.append(DashboardPublisher(server: dialogue, activity: activity)) }
        self.services = services
    }

    static func openStore(_ location: HistoryStoreLocation, logger: Logger) async throws -> (any HistoryStore)? {
        switch location {
        case .memory:
            return nil
        case .postgres(let url, let schema):
            return try PostgresHistoryStore(url: url, schema: schema, logger: logger)
        case .sqlite(let path, let synchronous):
            let folder = (path as NSString).deletingLastPathComponent
            if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
            return try await SQLiteHistoryStore(path: path, synchronous: synchronous, logger: logger)
        }
    }

    static func resource(_ name: String, _ ext: String) -> ByteBuffer? {
        Bundle.module.url(forResource: "Public/\(name)", withExtension: ext).flatMap { try? Data(contentsOf: $0) }.map { ByteBuffer(bytes: $0) }
    }

    static func html(_ page: ByteBuffer) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"], body: .init(byteBuffer: page))
    }
}

/// The demo's live dashboard: every two seconds, `stats {connections, rooms, eventsPerSecond, uptimeSeconds}`
/// in the `dashboard` room.
struct DashboardPublisher: Service {
    let server: DialogueServer
    let activity: ServerActivity
    static let room = "dashboard"
    static let interval = Duration.seconds(2)

    func run() async throws {
        for await _ in AsyncTimerSequence(interval: Self.interval, clock: .continuous).cancelOnGracefulShutdown() {
            let now = Int64((Date().timeIntervalSince1970 * 1000).rounded())
            let stats: SocketValue = [
                "connections": .int(Int64(server.getAllClients().count)),
                "rooms": .int(Int64(server.rooms().count)),
                "eventsPerSecond": .double(Double(activity.events(inLast: 10, now: now)) / 10),
                "uptimeSeconds": .int(Int64(-activity.startedAt.timeIntervalSinceNow)),
            ]
            do {
                try await server.trigger(Self.room, event: "stats", data: stats)
            } catch {
                server.logger.warning("dashboard statistics refused", metadata: ["dialogue.error": "\(error)"])
            }
        }
    }
}
