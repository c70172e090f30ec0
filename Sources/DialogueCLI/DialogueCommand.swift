import ArgumentParser
import Dialogue
import DialoguePostgres
import DialogueSQLite
import EngineIOServer
import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

/// `dialogue`: runs a Dialogue server.
@main
struct DialogueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dialogue",
        abstract: "Dialogue: real-time rooms and typed events over Socket.IO v5.",
        subcommands: [Serve.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server with its demo page.")

    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port to bind.") var port = 3000
    @Option(help: "Log level (trace, debug, info, notice, warning, error, critical).") var logLevel = "info"
    @Option(help: "Log format: text, or json (one object per line on standard error).") var logFormat = "text"
    @Option(help: "Folder of the history database (SQLite); created if missing.") var data = "dialogue-data"
    @Option(help: "Keep history in PostgreSQL instead of SQLite: postgres://user[:password]@host[:port]/database.") var postgres: String?
    @Option(help: "The PostgreSQL schema of the history tables.") var postgresSchema = "dialogue"
    @Option(help: "Verify client tokens with this HMAC secret (also $JWT_SECRET); see --jwt-algorithm.") var jwtSecret: String?
    @Option(help: "Verify client tokens with the public key in this PEM file; see --jwt-algorithm.") var jwtPublicKey: String?
    @Option(help: "Verify client tokens with the keys of this JWKS file.") var jwks: String?
    @Option(help: "The algorithm of --jwt-secret or --jwt-public-key: HS256/384/512, RS256/384/512, ES256/384/512, EdDSA.") var jwtAlgorithm = "HS256"
    @Option(name: .customLong("api-key"), help: "A key for the HTTP publish API (repeatable; also $DIALOGUE_API_KEYS, comma-separated).")
    var apiKeys: [String] = []

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown log level: \(logLevel)") }
        var mutableLogger: Logger
        switch logFormat {
        case "text": mutableLogger = .dialogue
        case "json": mutableLogger = Logger(label: "dialogue") { JSONLogHandler(label: $0) }
        default: throw ValidationError("unknown log format: \(logFormat) (text or json)")
        }
        mutableLogger.logLevel = level
        let logger = mutableLogger
        var configuration = DemoRooms.configuration(host: host, port: port)
        let environmentKeys = ProcessInfo.processInfo.environment["DIALOGUE_API_KEYS"]?.split(separator: ",").map(String.init) ?? []
        configuration.httpAPI.apiKeys = Set((apiKeys + environmentKeys).filter { !$0.isEmpty })
        configuration.jwt = try await jwtVerifier()
        let registry = PrometheusCollectorRegistry()
        var metricsFactory = PrometheusMetricsFactory(registry: registry)
        // Real-time latencies: from a tenth of a millisecond up.
        metricsFactory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
        ]
        configuration.metricsFactory = metricsFactory
        guard let page = Bundle.module.url(forResource: "Public/index", withExtension: "html").flatMap({ try? Data(contentsOf: $0) }) else {
            throw ValidationError("the demo page is missing from the package resources")
        }
        // Last, once every option checked out: the store holds files or connections from here on.
        if let postgres {
            configuration.historyStore = try PostgresHistoryStore(url: postgres, schema: postgresSchema, logger: logger)
        } else {
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            configuration.historyStore = try await SQLiteHistoryStore(path: (data as NSString).appendingPathComponent("history.sqlite"), logger: logger)
        }
        let dialogue = DialogueServer(configuration: configuration, logger: logger)
        let app = EngineApplication.make(endpoints: [dialogue], host: host, port: port, logger: logger) { router in
            router.get("/") { _, _ in
                Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: page)))
            }
            router.get("/metrics") { _, _ in
                dialogue.recordGauges()
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
                )
            }
        } onServerRunning: { port in
            logger.notice("Dialogue demo running: open http://\(host):\(port)/")
        }
        let group = ServiceGroup(configuration: .init(services: [.init(service: app), .init(service: dialogue)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The token verifier the options ask for, or `nil` (identities asserted by clients).
    func jwtVerifier() async throws -> JWTVerifier? {
        guard let algorithm = JWTVerifier.Algorithm(rawValue: jwtAlgorithm) else {
            throw ValidationError("unknown --jwt-algorithm \(jwtAlgorithm); one of \(JWTVerifier.Algorithm.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var keys: [JWTVerifier.Key] = []
        if let secret = jwtSecret ?? ProcessInfo.processInfo.environment["JWT_SECRET"] { keys.append(.secret(secret, algorithm: algorithm)) }
        if let jwtPublicKey { keys.append(.publicKey(pem: try String(contentsOfFile: jwtPublicKey, encoding: .utf8), algorithm: algorithm)) }
        if let jwks { keys.append(.jwks(json: try String(contentsOfFile: jwks, encoding: .utf8))) }
        guard !keys.isEmpty else { return nil }
        do {
            return try await JWTVerifier(keys: keys)
        } catch {
            throw ValidationError("JWT configuration: \(error)")
        }
    }
}
