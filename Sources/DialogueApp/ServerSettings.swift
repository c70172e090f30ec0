import Dialogue
import DialogueCluster
import DialogueHistorySQLite
import EngineIOServer
import Foundation
import HTTPTypes
import OrderedCollections
import SocketIO

/// Where a standalone server keeps history.
public enum HistoryStoreLocation: Sendable, Equatable {
    /// An SQLite file (created with its folder if missing), committed with `synchronous` (`history.sqliteSynchronous`).
    case sqlite(path: String, synchronous: SQLiteHistoryStore.Synchronous = .full)
    /// A PostgreSQL database, tables in `schema`.
    case postgres(url: String, schema: String)
    /// Memory only: history is lost on restart.
    case memory
}

/// Everything a standalone `dialogue serve` needs, read from a configuration file (or the built-in demo):
/// the ``DialogueConfiguration`` plus what only a process has — the history store's location, token keys,
/// the admin credential, whether `/metrics` is served.
///
/// ```swift
/// let settings = try ServerSettings(contentsOf: "dialogue.yaml")
/// print(settings.effectiveConfiguration.jsonText)
/// ```
public struct ServerSettings: Sendable {
    /// The server's rooms, events, templates, limits, CORS and API keys.
    public var dialogue: DialogueConfiguration
    /// Where history is kept. Defaults to `sqlite:dialogue-data/history.sqlite`.
    public var store: HistoryStoreLocation
    /// Keys that verify client tokens; none means identities are asserted by clients.
    public var jwtKeys: [JWTVerifier.Key]
    /// The bearer token of the admin dashboard (`/admin`); `nil` turns the dashboard off.
    public var adminToken: String?
    /// Whether `GET /metrics` serves Prometheus text. Defaults to `true`.
    public var metrics: Bool
    /// This server as one node of a cluster (the `cluster` section, or `--cluster`); needs a PostgreSQL
    /// store. `nil` (the default) runs one node.
    public var cluster: ClusterConfiguration?
    /// The settings with defaults filled in and secrets hidden, in the file's shape: what `dialogue
    /// check-config` prints. Computed, so it follows changes made after reading (`--port`, …).
    public var effectiveConfiguration: SocketValue { describe() }

    /// The default store when a file names none: `DIR/history.sqlite`.
    public static func defaultStore(dataDirectory: String) -> HistoryStoreLocation {
        .sqlite(path: (dataDirectory as NSString).appendingPathComponent("history.sqlite"))
    }

    /// Reads a configuration file (YAML, or JSON).
    /// - Parameters:
    ///   - path: the file; relative paths inside it (SQLite file, PEM keys, JWKS) are relative to its folder.
    ///   - dataDirectory: the folder of the SQLite history when the file names no store.
    ///   - environment: what `${NAME}` is replaced from. Defaults to the process environment.
    /// - Throws: ``ConfigurationError`` naming the path of the first mistake.
    public init(contentsOf path: String, dataDirectory: String = "dialogue-data", environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(path: "", reason: "cannot read \(path): \(error.localizedDescription)")
        }
        let folder = (path as NSString).deletingLastPathComponent
        try self.init(text: text, baseDirectory: folder.isEmpty ? "." : folder, dataDirectory: dataDirectory, environment: environment)
    }

    /// Reads the text of a configuration file; see ``init(contentsOf:dataDirectory:environment:)``.
    public init(text: String, baseDirectory: String = ".", dataDirectory: String = "dialogue-data", environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) {
        let root = ConfigValue(try ConfigText.parse(text, environment: environment))
        var reader = SettingsReader(baseDirectory: baseDirectory)
        self = try reader.read(root, defaultStore: Self.defaultStore(dataDirectory: dataDirectory))
    }

    init(
        dialogue: DialogueConfiguration, store: HistoryStoreLocation, jwtKeys: [JWTVerifier.Key], adminToken: String?, metrics: Bool,
        cluster: ClusterConfiguration? = nil
    ) {
        self.dialogue = dialogue
        self.store = store
        self.jwtKeys = jwtKeys
        self.adminToken = adminToken
        self.metrics = metrics
        self.cluster = cluster
    }

    /// Checks what only the combination of settings can break: a cluster needs a PostgreSQL store (its
    /// nodes share it) and valid cluster values. Run it once the settings are final — after command-line
    /// options (`dialogue serve` and `check-config` do); ``StandaloneServer`` runs it too.
    public func validate() throws(ConfigurationError) {
        guard let cluster else { return }
        guard case .postgres = store else {
            throw ConfigurationError(path: "cluster", reason: "a cluster needs the PostgreSQL history store its nodes share (history.store: postgres://…, or --postgres)")
        }
        do {
            try cluster.validate()
        } catch {
            throw ConfigurationError(path: "cluster", reason: error.message)
        }
    }
}

/// Reads the top level of a configuration file into ``ServerSettings``; rooms and events are read by
/// `SettingsReader+Rooms.swift`.
struct SettingsReader {
    let baseDirectory: String
    /// Event definitions shared by rooms (`events:` at the top level), by name.
    var sharedEvents: [String: any EventDescribing] = [:]

    init(baseDirectory: String) { self.baseDirectory = baseDirectory }

    func resolve(_ file: String) -> String {
        file.hasPrefix("/") ? file : (baseDirectory as NSString).appendingPathComponent(file)
    }

    func readFile(_ value: ConfigValue) throws(ConfigurationError) -> String {
        let path = resolve(try value.nonEmptyString)
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw value.error("cannot read \(path)")
        }
    }

    mutating func read(_ root: ConfigValue, defaultStore: HistoryStoreLocation) throws(ConfigurationError) -> ServerSettings {
        let top = try root.object(allowing: ["server", "history", "cluster", "limits", "auth", "admin", "metrics", "events", "rooms", "roomPatterns"])
        var dialogue = DialogueConfiguration()
        if let server = top["server"] { try readServer(server, into: &dialogue) }
        let cluster = try top["cluster"].map { value throws(ConfigurationError) in try readCluster(value) }
        let store = try top["history"].map { value throws(ConfigurationError) in try readHistory(value, into: &dialogue, defaultStore: defaultStore) } ?? defaultStore
        if let limits = top["limits"] { try readLimits(limits, into: &dialogue) }
        var jwtKeys: [JWTVerifier.Key] = []
        if let auth = top["auth"] { jwtKeys = try readAuth(auth, into: &dialogue) }
        var adminToken: String?
        if let admin = top["admin"] {
            let token = try admin.object(allowing: ["token"]).required("token")
            adminToken = try token.string
            guard adminToken!.count >= 16 else { throw token.error("must be at least 16 characters long") }
        }
        let metrics = try top["metrics"]?.bool ?? true
        if let events = top["events"] {
            for (name, definition) in try events.entries {
                sharedEvents[name] = try readEvent(definition, name: name)
            }
        }
        if let rooms = top["rooms"] {
            for (id, room) in try rooms.entries {
                guard !id.isEmpty, !id.contains("*") else { throw room.error("room ids cannot be empty or contain *; use roomPatterns") }
                dialogue.rooms[id] = try readRoom(room, id: id, pattern: false).configuration
            }
        }
        if let patterns = top["roomPatterns"] {
            for (pattern, room) in try patterns.entries {
                guard pattern.contains("*") else { throw room.error("a room pattern needs a * (user:*, doc:*)") }
                let (configuration, removeWhenEmpty) = try readRoom(room, id: pattern, pattern: true)
                dialogue.roomTemplates.append(RoomTemplate(pattern, removeWhenEmpty: removeWhenEmpty, room: configuration))
            }
        }
        return ServerSettings(dialogue: dialogue, store: store, jwtKeys: jwtKeys, adminToken: adminToken, metrics: metrics, cluster: cluster)
    }

    private func readCluster(_ value: ConfigValue) throws(ConfigurationError) -> ClusterConfiguration {
        let section = try value.object(allowing: ["node", "heartbeatInterval", "nodeTimeout"])
        var cluster = ClusterConfiguration()
        if let node = section["node"] { cluster.nodeName = try node.nonEmptyString }
        if let interval = section["heartbeatInterval"] { cluster.heartbeatInterval = try interval.duration }
        if let timeout = section["nodeTimeout"] { cluster.nodeTimeout = try timeout.duration }
        do {
            try cluster.validate()
        } catch {
            throw value.error(error.message)
        }
        return cluster
    }

    private func readServer(_ value: ConfigValue, into dialogue: inout DialogueConfiguration) throws(ConfigurationError) {
        let server = try value.object(allowing: ["host", "port", "path", "cors", "clientAddressHeader"])
        if let host = server["host"] { dialogue.host = try host.nonEmptyString }
        if let port = server["port"] {
            let number = try port.int
            guard (0...65_535).contains(number) else { throw port.error("must be between 0 and 65535") }
            dialogue.port = number
        }
        if let path = server["path"] {
            let text = try path.nonEmptyString
            guard text.hasPrefix("/") else { throw path.error("must start with /") }
            dialogue.socket.engine.path = text
        }
        if let header = server["clientAddressHeader"] {
            guard let name = HTTPField.Name(try header.nonEmptyString) else { throw header.error("is not a valid header name") }
            dialogue.socket.engine.clientAddressHeader = name
        }
        if let cors = server["cors"] {
            let rules = try cors.object(allowing: ["origins", "credentials"])
            let origin: CORSConfiguration.AllowedOrigin
            switch rules["origins"]?.value {
            case nil, .string("*")?: origin = .reflect
            case .string(let one)?: origin = .list([one])
            default: origin = .list(try rules.required("origins").strings)
            }
            dialogue.cors = CORSConfiguration(origin: origin, credentials: try rules["credentials"]?.bool ?? (origin != .any), methods: ["GET", "POST", "OPTIONS"])
        }
    }

    private func readHistory(_ value: ConfigValue, into dialogue: inout DialogueConfiguration, defaultStore: HistoryStoreLocation) throws(ConfigurationError) -> HistoryStoreLocation {
        let history = try value.object(allowing: ["store", "postgresSchema", "sqliteSynchronous", "retentionInterval", "maxRecoveryEvents", "maxPendingStoreEvents"])
        if let interval = history["retentionInterval"] { dialogue.retentionInterval = try interval.duration }
        if let count = history["maxRecoveryEvents"] { dialogue.maxRecoveryEvents = try count.positiveInt }
        if let count = history["maxPendingStoreEvents"] { dialogue.maxPendingStoreEvents = try count.positiveInt }
        let schema = try history["postgresSchema"]?.nonEmptyString ?? "dialogue"
        var synchronous = SQLiteHistoryStore.Synchronous.full
        if let value = history["sqliteSynchronous"] {
            guard let chosen = SQLiteHistoryStore.Synchronous(rawValue: try value.nonEmptyString.lowercased()) else { throw value.error("must be full or normal") }
            synchronous = chosen
        }
        guard let store = history["store"] else {
            guard case .sqlite(let path, _) = defaultStore else { return defaultStore }
            return .sqlite(path: path, synchronous: synchronous)
        }
        let location = try store.nonEmptyString
        if !location.hasPrefix("sqlite:"), let setting = history["sqliteSynchronous"] {
            throw setting.error("applies to an SQLite store only")
        }
        if location == "memory" { return .memory }
        if location.hasPrefix("sqlite:") { return .sqlite(path: resolve(String(location.dropFirst("sqlite:".count))), synchronous: synchronous) }
        if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") { return .postgres(url: location, schema: schema) }
        throw store.error("must be sqlite:PATH, postgres://… or memory")
    }

    private func readLimits(_ value: ConfigValue, into dialogue: inout DialogueConfiguration) throws(ConfigurationError) {
        let limits = try value.object(allowing: [
            "maxPayload", "maxRoomsPerClient", "historyRequests", "maxHistoryPage", "clientRooms", "maxPublishBody", "pingInterval", "pingTimeout",
            "maxBufferedBytes", "maxConnections", "maxConnectionsPerAddress", "handshakesPerAddress",
        ])
        if let size = limits["maxPayload"] { dialogue.socket.engine.engine.maxPayload = try size.positiveInt }
        if let count = limits["maxRoomsPerClient"] { dialogue.maxRoomsPerClient = try count.positiveInt }
        if let count = limits["maxHistoryPage"] { dialogue.maxHistoryPage = try count.positiveInt }
        if let size = limits["maxPublishBody"] { dialogue.httpAPI.maxBodySize = try size.positiveInt }
        if let interval = limits["pingInterval"] { dialogue.socket.engine.engine.pingInterval = try interval.duration }
        if let timeout = limits["pingTimeout"] { dialogue.socket.engine.engine.pingTimeout = try timeout.duration }
        if let size = limits["maxBufferedBytes"] { dialogue.socket.engine.engine.maxBufferedBytes = try size.positiveInt }
        if let count = limits["maxConnections"] { dialogue.socket.engine.limits.maxConnections = try count.positiveInt }
        if let count = limits["maxConnectionsPerAddress"] { dialogue.socket.engine.limits.maxConnectionsPerAddress = try count.positiveInt }
        if let handshakes = limits["handshakesPerAddress"] {
            let rule = try handshakes.object(allowing: ["max", "per"])
            dialogue.socket.engine.limits.maxHandshakesPerAddress = try rule.required("max").positiveInt
            if let per = rule["per"] { dialogue.socket.engine.limits.handshakeWindow = try per.duration }
        }
        if let requests = limits["historyRequests"] {
            let rule = try requests.object(allowing: ["max", "per"])
            dialogue.historyRequestLimit = (try rule.required("max").positiveInt, try rule["per"]?.duration ?? .seconds(60))
        }
        if let rooms = limits["clientRooms"] {
            let count = try rooms.int
            guard count >= 0 else { throw rooms.error("must be 0 (clients cannot create rooms) or more") }
            dialogue.clientRooms.limitPerUser = count
        }
    }

    private func readAuth(_ value: ConfigValue, into dialogue: inout DialogueConfiguration) throws(ConfigurationError) -> [JWTVerifier.Key] {
        let auth = try value.object(allowing: ["jwt", "apiKeys"])
        if let keys = auth["apiKeys"] {
            for key in try keys.array {
                let text = try key.string
                guard text.count >= 16 else { throw key.error("an API key must be at least 16 characters long") }
                dialogue.httpAPI.apiKeys.insert(text)
            }
        }
        guard let jwt = auth["jwt"] else { return [] }
        let settings = try jwt.object(allowing: ["algorithm", "secret", "publicKey", "jwks"])
        let algorithmValue = settings["algorithm"]
        let name = try algorithmValue?.string ?? "HS256"
        guard let algorithm = JWTVerifier.Algorithm(rawValue: name) else {
            throw (algorithmValue ?? jwt).error("unknown algorithm \(name); one of \(JWTVerifier.Algorithm.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var keys: [JWTVerifier.Key] = []
        if let secret = settings["secret"] {
            let text = try secret.nonEmptyString
            guard let minimum = algorithm.minimumSecretLength else { throw secret.error("a secret is for HS256, HS384 or HS512, not \(name)") }
            guard text.utf8.count >= minimum else { throw secret.error("an \(name) secret must be at least \(minimum) bytes") }
            keys.append(.secret(text, algorithm: algorithm))
        }
        if let publicKey = settings["publicKey"] {
            guard !name.hasPrefix("HS") else { throw publicKey.error("a public key is for RS*, ES* or EdDSA, not \(name)") }
            keys.append(.publicKey(pem: try readFile(publicKey), algorithm: algorithm))
        }
        if let jwks = settings["jwks"] { keys.append(.jwks(json: try readFile(jwks))) }
        guard !keys.isEmpty else { throw jwt.error("needs a secret, a publicKey or a jwks file") }
        return keys
    }
}

extension ServerSettings {
    /// The built-in demo (`Public/demo.yaml`): seed 001's chat room with presence and a dashboard room,
    /// history in SQLite under `dataDirectory`.
    public static func demo(dataDirectory: String = "dialogue-data") throws(ConfigurationError) -> ServerSettings {
        guard let url = Bundle.module.url(forResource: "Public/demo", withExtension: "yaml"), let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw ConfigurationError(path: "", reason: "the demo configuration is missing from the package resources")
        }
        return try ServerSettings(text: text, dataDirectory: dataDirectory, environment: [:])
    }
}

extension ServerSettings {
    /// The verifier of the token keys, `nil` without keys.
    /// - Throws: ``ConfigurationError`` at `auth.jwt` when a key cannot be used (PEM or JWKS that does not parse).
    public func makeVerifier() async throws(ConfigurationError) -> JWTVerifier? {
        guard !jwtKeys.isEmpty else { return nil }
        do {
            return try await JWTVerifier(keys: jwtKeys)
        } catch {
            throw ConfigurationError(path: "auth.jwt", reason: "\(error)")
        }
    }
}
