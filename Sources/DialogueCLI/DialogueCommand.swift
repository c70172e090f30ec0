import ArgumentParser
import Dialogue
import DialogueApp
import DialogueCluster
import Foundation
import Logging
import ServiceLifecycle

/// `dialogue`: runs a Dialogue server from a configuration file, or the built-in demo.
@main
struct DialogueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dialogue",
        abstract: "Dialogue: real-time rooms and typed events over Socket.IO v5.",
        subcommands: [Serve.self, CheckConfig.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the server: the configuration file's, or the built-in demo (chat and dashboard) without one.",
        discussion: "Options given here override the file's settings."
    )

    @Option(help: "A configuration file (YAML or JSON); see Docs/Configuration.md.") var config: String?
    @Option(help: "Address to bind (default: the file's, else 127.0.0.1).") var host: String?
    @Option(help: "Port to bind (default: the file's, else 3000).") var port: Int?
    @Option(help: "Folder of the SQLite history when the file names no store; created if missing.") var data = "dialogue-data"
    @Option(help: "Log level (trace, debug, info, notice, warning, error, critical).") var logLevel = "info"
    @Option(help: "Log format: text, or json (one object per line on standard error).") var logFormat = "text"
    @Option(help: "Keep history in PostgreSQL: postgres://user[:password]@host[:port]/database.") var postgres: String?
    @Option(help: "The PostgreSQL schema of the history tables.") var postgresSchema = "dialogue"
    @Flag(help: "Run as one node of a cluster that shares the PostgreSQL store (--postgres or the file's); see Docs/Cluster.md.") var cluster = false
    @Option(help: "This node's name in the cluster (default: the file's, else the host's name and a random suffix).") var nodeName: String?
    @Option(help: "Verify client tokens with this HMAC secret (also $JWT_SECRET); see --jwt-algorithm.") var jwtSecret: String?
    @Option(help: "Verify client tokens with the public key in this PEM file; see --jwt-algorithm.") var jwtPublicKey: String?
    @Option(help: "Verify client tokens with the keys of this JWKS file.") var jwks: String?
    @Option(help: "The algorithm of --jwt-secret or --jwt-public-key: HS256/384/512, RS256/384/512, ES256/384/512, EdDSA.") var jwtAlgorithm = "HS256"
    @Option(name: .customLong("api-key"), help: "A key for the HTTP publish API (repeatable; also $DIALOGUE_API_KEYS, comma-separated).")
    var apiKeys: [String] = []
    @Option(help: "The admin dashboard's token (also $DIALOGUE_ADMIN_TOKEN); the demo makes one up and logs the link.") var adminToken: String?

    func run() async throws {
        let logger = try makeLogger()
        let environment = ProcessInfo.processInfo.environment
        var settings: ServerSettings
        do {
            settings = try config.map { path throws(ConfigurationError) in try ServerSettings(contentsOf: path, dataDirectory: data) } ?? .demo(dataDirectory: data)
        } catch {
            throw ValidationError("\(config ?? "demo configuration"): \(error)")
        }
        if let host { settings.dialogue.host = host }
        if let port { settings.dialogue.port = port }
        if let postgres { settings.store = .postgres(url: postgres, schema: postgresSchema) }
        if cluster, settings.cluster == nil { settings.cluster = ClusterConfiguration() }
        if let nodeName {
            guard settings.cluster != nil else { throw ValidationError("--node-name needs --cluster (or a cluster section)") }
            settings.cluster?.nodeName = nodeName
        }
        do {
            try settings.validate()
        } catch {
            throw ValidationError("\(config ?? "demo configuration"): \(error)")
        }
        let environmentKeys = environment["DIALOGUE_API_KEYS"]?.split(separator: ",").map(String.init) ?? []
        settings.dialogue.httpAPI.apiKeys.formUnion((apiKeys + environmentKeys).filter { !$0.isEmpty })
        settings.jwtKeys += try jwtKeys(environment: environment)
        if let token = adminToken ?? environment["DIALOGUE_ADMIN_TOKEN"] {
            guard token.count >= 16 else { throw ValidationError("the admin token must be at least 16 characters long") }
            settings.adminToken = token
        } else if config == nil {
            settings.adminToken = (0..<4).map { _ in String(UInt64.random(in: .min ... .max), radix: 16) }.joined()
        }
        let server: StandaloneServer
        do {
            server = try await StandaloneServer(settings: settings, demo: config == nil, logger: logger)
        } catch let error as ConfigurationError {
            throw ValidationError("\(config ?? "demo configuration"): \(error)")
        }
        let group = ServiceGroup(configuration: .init(
            services: server.services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
        ))
        try await group.run()
    }

    private func makeLogger() throws -> Logger {
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown log level: \(logLevel)") }
        var logger: Logger
        switch logFormat {
        case "text": logger = .dialogue
        case "json": logger = Logger(label: "dialogue") { JSONLogHandler(label: $0) }
        default: throw ValidationError("unknown log format: \(logFormat) (text or json)")
        }
        logger.logLevel = level
        return logger
    }

    /// The token keys the options ask for.
    private func jwtKeys(environment: [String: String]) throws -> [JWTVerifier.Key] {
        guard let algorithm = JWTVerifier.Algorithm(rawValue: jwtAlgorithm) else {
            throw ValidationError("unknown --jwt-algorithm \(jwtAlgorithm); one of \(JWTVerifier.Algorithm.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var keys: [JWTVerifier.Key] = []
        if let secret = jwtSecret ?? environment["JWT_SECRET"] { keys.append(.secret(secret, algorithm: algorithm)) }
        if let jwtPublicKey { keys.append(.publicKey(pem: try String(contentsOfFile: jwtPublicKey, encoding: .utf8), algorithm: algorithm)) }
        if let jwks { keys.append(.jwks(json: try String(contentsOfFile: jwks, encoding: .utf8))) }
        return keys
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file and print the effective configuration (defaults filled in, secrets hidden)."
    )

    @Argument(help: "The configuration file (YAML or JSON).") var file: String
    @Option(help: "Folder of the SQLite history when the file names no store.") var data = "dialogue-data"

    func run() async throws {
        do {
            let settings = try ServerSettings(contentsOf: file, dataDirectory: data)
            try settings.validate()
            _ = try await settings.makeVerifier()
            print(settings.effectiveConfigurationYAML, terminator: "")
        } catch {
            FileHandle.standardError.write(Data("\(file): \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
