import Dialogue
import DialogueApp
import DialogueCluster
import DialogueEvents
import EngineIO
import EngineIOServer
import Foundation
import SocketIO
import TestSupport
import Testing

/// Configuration files of `dialogue serve`: every section read into the server's settings, JSON Schema
/// events validated by the same core as Swift-typed ones, `${ENV}`, and errors that name their path.
@Suite("Configuration files")
struct ConfigurationFileTests {
    static let full = """
    server:
      host: 0.0.0.0
      port: ${PORT:-4000}
      path: /rt
      cors: { origins: [https://app.example.com], credentials: true }
      clientAddressHeader: X-Forwarded-For
    history:
      store: postgres://dialogue:secret@db.internal/app
      postgresSchema: chat
      maxRecoveryEvents: 500
    limits:
      maxPayload: 65536
      maxRoomsPerClient: 20
      historyRequests: { max: 5, per: 30s }
      clientRooms: 0
      pingInterval: 10s
      maxBufferedBytes: 2097152
      maxConnections: 5000
      maxConnectionsPerAddress: 50
      handshakesPerAddress: { max: 20, per: 10s }
    auth:
      jwt: { algorithm: HS512, secret: "${JWT_SECRET}" }
      apiKeys: ["${API_KEY}"]
    admin: { token: "${ADMIN_TOKEN}" }
    metrics: false
    events:
      message:
        description: A chat message
        schema:
          type: object
          properties:
            text: { type: string, minLength: 1, maxLength: 2000 }
            senderId: { type: string }
            replyTo: { type: string }
          required: [text, senderId]
        history: { limit: 100, retention: { maxEvents: 10000, maxAge: 30d } }
      user:joined: { schema: { type: object, properties: { userId: { type: string }, username: { type: string } }, required: [userId, username] } }
      user:left: { schema: { type: object, properties: { userId: { type: string } }, required: [userId] } }
    rooms:
      general:
        name: General Chat
        maxSize: 50
        events: [message, user:joined, user:left, { name: typing, schema: { type: object, properties: { isTyping: { type: boolean } }, required: [isTyping] } }]
        defaultSubscriptions: [message, typing]
        syncHistoryOnJoin: 50
        presence: true
      ops:
        name: Operations
        events: [{ name: "*" }]
        listed: false
        access: [{ claim: role, equals: admin }]
    roomPatterns:
      "user:*":
        name: Inbox of {id}
        events: [message]
        access: [{ owner: "user:{sub}" }]
        removeWhenEmpty: true
    """
    static let environment = [
        "JWT_SECRET": String(repeating: "s", count: 64), "API_KEY": "api-key-0123456789abcdef", "ADMIN_TOKEN": "admin-token-0123456789",
    ]

    @Test(arguments: [("65536", 65536), ("0x10000", 65536), ("0o200000", 65536), ("0200000", 65536), ("0b10000000000000000", 65536), ("65_536", 65536), ("+65536", 65536)])
    func integersInEveryYAMLForm(text: String, value: Int) throws {
        let settings = try ServerSettings(text: "limits: { maxPayload: \(text) }", environment: [:])
        #expect(settings.dialogue.socket.engine.engine.maxPayload == value)
    }

    @Test func everySectionIsRead() throws {
        let settings = try ServerSettings(text: Self.full, environment: Self.environment)
        let dialogue = settings.dialogue
        #expect(dialogue.host == "0.0.0.0" && dialogue.port == 4000, "the ${PORT:-4000} default")
        #expect(dialogue.socket.engine.path == "/rt")
        #expect(dialogue.cors?.origin == .list(["https://app.example.com"]) && dialogue.cors?.credentials == true)
        #expect(settings.store == .postgres(url: "postgres://dialogue:secret@db.internal/app", schema: "chat"))
        #expect(dialogue.maxRecoveryEvents == 500)
        #expect(dialogue.socket.engine.engine.maxPayload == 65536 && dialogue.socket.engine.engine.pingInterval == .seconds(10))
        #expect(dialogue.maxRoomsPerClient == 20 && dialogue.historyRequestLimit.maxRequests == 5 && dialogue.historyRequestLimit.window == .seconds(30))
        #expect(dialogue.clientRooms.limitPerUser == 0)
        #expect(dialogue.socket.engine.engine.maxBufferedBytes == 2_097_152 && dialogue.socket.engine.clientAddressHeader?.rawName == "X-Forwarded-For")
        #expect(dialogue.socket.engine.limits == EngineConnectionLimits(maxConnections: 5000, maxConnectionsPerAddress: 50, maxHandshakesPerAddress: 20, handshakeWindow: .seconds(10)))
        #expect(settings.jwtKeys.count == 1 && dialogue.httpAPI.apiKeys == ["api-key-0123456789abcdef"])
        #expect(settings.adminToken == "admin-token-0123456789" && settings.metrics == false)
        #expect(Array(dialogue.rooms.keys) == ["general", "ops"], "file order")
        let general = try #require(dialogue.rooms["general"])
        #expect(general.name == "General Chat" && general.maxSize == 50 && general.announcesPresence)
        #expect(general.events.map(\.name) == ["message", "user:joined", "user:left", "typing"])
        #expect(general.defaultSubscriptions == ["message", "typing"] && general.syncHistoryOnJoin == .latest(50))
        let history = try #require(general.events.first?.history)
        #expect(history.limit == 100 && history.retention == HistoryRetention(maxEvents: 10_000, maxAge: .seconds(30 * 86_400)))
        let ops = try #require(dialogue.rooms["ops"])
        #expect(!ops.isListed && ops.access == [.claim("role", equals: "admin")] && ops.events.allows("anything"))
        let template = try #require(dialogue.roomTemplates.first)
        #expect(template.pattern == "user:*" && template.removeWhenEmpty && template.room.access == [.owner("user:{sub}")])
        // Secrets never reach the printed configuration.
        let printed = settings.effectiveConfigurationYAML
        #expect(!printed.contains("secret@") && !printed.contains(Self.environment["JWT_SECRET"]!) && !printed.contains("admin-token-0123456789"))
        #expect(printed.contains("postgres://dialogue:***@db.internal/app"))
    }

    @Test func jsonSchemaEventsValidateLikeSwiftTypedOnes() throws {
        let settings = try ServerSettings(text: Self.full, environment: Self.environment)
        let message = try #require(settings.dialogue.rooms["general"]?.events.first)
        #expect(try message.validatedData(["text": "hi", "senderId": "a"]) == ["text": "hi", "senderId": "a"])
        #expect(throws: SchemaViolation(path: "text", reason: "must be at least 1 character long")) {
            try message.validatedData(["text": "", "senderId": "a"])
        }
        #expect(throws: SchemaViolation(path: "senderId", reason: "is required")) { try message.validatedData(["text": "hi"]) }
        // The file's schema and the seed's Swift schema publish the same JSON Schema.
        let swift = Schema.object([
            "text": .string(minLength: 1, maxLength: 2000), "senderId": .string(), "replyTo": .string().optional(),
        ])
        #expect(message.schema?.jsonSchema == swift.jsonSchema)
    }

    @Test func jsonIsAccepted() throws {
        let settings = try ServerSettings(text: #"{"server": {"port": 3100}, "rooms": {"lobby": {"name": "Lobby", "syncHistoryOnJoin": true}}}"#, environment: [:])
        #expect(settings.dialogue.port == 3100 && settings.dialogue.rooms["lobby"]?.syncHistoryOnJoin == .all)
        #expect(settings.store == .sqlite(path: "dialogue-data/history.sqlite"))
    }

    @Test func theSQLiteStoreCommitsToDiskUnlessToldOtherwise() throws {
        #expect(try ServerSettings(text: "history: { store: 'sqlite:h.sqlite' }", environment: [:]).store == .sqlite(path: "./h.sqlite", synchronous: .full))
        let normal = try ServerSettings(text: "history: { sqliteSynchronous: normal }", dataDirectory: "d", environment: [:])
        #expect(normal.store == .sqlite(path: "d/history.sqlite", synchronous: .normal), "the default store takes the setting too")
        #expect(normal.effectiveConfiguration["history"]?["sqliteSynchronous"] == "normal")
    }

    @Test func aClusterSectionMakesANodeOfTheSharedPostgreSQLStore() throws {
        let text = "history: { store: 'postgres://u@h/d' }\ncluster: { node: eu-1, heartbeatInterval: 1s, nodeTimeout: 3s }"
        let settings = try ServerSettings(text: text, environment: [:])
        #expect(settings.cluster == ClusterConfiguration(nodeName: "eu-1", heartbeatInterval: .seconds(1), nodeTimeout: .seconds(3)))
        #expect(settings.effectiveConfiguration["cluster"]?["node"] == "eu-1")
        let defaults = try ServerSettings(text: "history: { store: 'postgres://u@h/d' }\ncluster: {}", environment: [:])
        #expect(defaults.cluster?.heartbeatInterval == .seconds(2) && defaults.cluster?.nodeTimeout == .seconds(10))
        #expect(defaults.cluster?.nodeName.isEmpty == false, "a unique name by default")
        #expect(try ServerSettings(text: "server: { port: 1 }", environment: [:]).effectiveConfiguration["cluster"] == "off: one node")
        // The store may come from the command line (--postgres): the combination is checked once settings are final.
        var sqlite = try ServerSettings(text: "cluster: { node: a }", environment: [:])
        #expect(throws: ConfigurationError(path: "cluster", reason: "a cluster needs the PostgreSQL history store its nodes share (history.store: postgres://…, or --postgres)")) {
            try sqlite.validate()
        }
        sqlite.store = .postgres(url: "postgres://u@h/d", schema: "dialogue")
        try sqlite.validate()
    }

    @Test(arguments: [
        ("serverr: {}", "serverr", "is not a known setting"),
        ("server: { port: 70000 }", "server.port", "must be between 0 and 65535"),
        ("server:\n  port: ${PORT}\n", "server.port", "the environment variable PORT is not set"),
        ("rooms: { chat: { events: [message] } }", "rooms.chat.events[0]", "no event named message"),
        ("events: { m: { schema: { type: object, properties: { text: { type: string, minLength: -1 } } } } }",
         "events.m.schema.properties.text.minLength", "must be a non-negative integer"),
        ("rooms: { chat: { events: [{ name: a }, { name: b, schema: { type: object, properties: { text: { type: sting } } } }] } }",
         "rooms.chat.events[1].schema.properties.text.type", "unknown type \"sting\""),
        ("rooms: { chat: { events: [{ name: a, schema: { type: string, const: x } }] } }", "rooms.chat.events[0].schema.const", "not a supported JSON Schema keyword"),
        ("rooms: { chat: { events: [{ name: a }], defaultSubscriptions: [a, b] } }", "rooms.chat.defaultSubscriptions[1]", "names no event of this room"),
        ("rooms: { chat: { events: [{ name: a }], presence: true } }", "rooms.chat.presence", "user:joined and user:left"),
        ("rooms: { chat: { maxSize: 0 } }", "rooms.chat.maxSize", "must be a positive integer"),
        ("rooms: { chat: { access: [{ owner: user }] } }", "rooms.chat.access[0].owner", "must contain {sub}"),
        ("roomPatterns: { user: {} }", "roomPatterns.user", "needs a *"),
        ("history: { store: mysql://x }", "history.store", "sqlite:PATH, postgres://… or memory"),
        ("history: { sqliteSynchronous: fast }", "history.sqliteSynchronous", "must be full or normal"),
        ("history: { store: memory, sqliteSynchronous: normal }", "history.sqliteSynchronous", "applies to an SQLite store only"),
        ("cluster: { postgres: postgres://x }", "cluster.postgres", "is not a known setting"),
        ("history: { store: 'postgres://u@h/d' }\ncluster: { heartbeatInterval: 5s, nodeTimeout: 6s }", "cluster", "at least twice the heartbeat interval"),
        ("auth: { jwt: { secret: short } }", "auth.jwt.secret", "at least 32 bytes"),
        ("auth: { jwt: { algorithm: HS999, secret: x } }", "auth.jwt.algorithm", "unknown algorithm HS999"),
        ("auth: { jwt: { algorithm: RS256, publicKey: missing.pem } }", "auth.jwt.publicKey", "cannot read"),
        ("admin: { token: short }", "admin.token", "at least 16 characters"),
        ("limits: { historyRequests: { max: 5, per: soon } }", "limits.historyRequests.per", "must be a duration"),
        ("limits: { handshakesPerAddress: { max: 0 } }", "limits.handshakesPerAddress.max", "must be a positive integer"),
        ("limits: { handshakesPerAddress: { max: 5, per: 0s } }", "limits.handshakesPerAddress.per", "must be a duration"),
        ("limits: { maxConnectionsPerAddress: -1 }", "limits.maxConnectionsPerAddress", "must be a positive integer"),
        // Found by scripts/fuzz: Yams's base-60 integers overflowed and trapped; they are text now.
        ("limits: { maxPayload: +2222222322222222228:0 }", "limits.maxPayload", "must be an integer"),
        ("limits: { maxPayload: 1:30 }", "limits.maxPayload", "must be an integer"),
        ("limits: { maxPayload: 99999999999999999999 }", "limits.maxPayload", "must be an integer"),
        ("server: { clientAddressHeader: 'not a header' }", "server.clientAddressHeader", "is not a valid header name"),
        ("rooms: { a: {}, a: {} }", "", "duplicated key(s): 'a'"),
        ("rooms: [", "", "not valid YAML or JSON"),
    ])
    func mistakesNameTheirPath(text: String, path: String, reason: String) throws {
        do {
            _ = try ServerSettings(text: text, environment: [:])
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.path == path, "\(text)")
            #expect(error.reason.contains(reason), "\(error)")
        }
    }

    @Test func theDemoIsAConfigurationFile() throws {
        let settings = try ServerSettings.demo(dataDirectory: "/tmp/somewhere")
        #expect(settings.store == .sqlite(path: "/tmp/somewhere/history.sqlite"))
        let general = try #require(settings.dialogue.rooms["general"])
        #expect(general.events.map(\.name) == ["message", "typing", "user:joined", "user:left"] && general.announcesPresence)
        #expect(general.syncHistoryOnJoin == .latest(50))
        #expect(settings.dialogue.rooms["dashboard"]?.events.map(\.name) == ["stats", "alert"])
    }

    @Test func checkConfigPrintsTheEffectiveConfigurationOrTheMistake() async throws {
        let executable = try #require(ServeProcess.executable, "the dialogue executable is not built: run ./scripts/test (swift build --build-tests)")
        try await withTemporaryDirectory { folder in
            let good = folder.appendingPathComponent("good.yaml"), bad = folder.appendingPathComponent("bad.yaml")
            try "rooms:\n  lobby:\n    name: Lobby\n    syncHistoryOnJoin: 20\n".write(to: good, atomically: true, encoding: .utf8)
            try "rooms:\n  lobby:\n    maxSize: -3\n".write(to: bad, atomically: true, encoding: .utf8)
            let (status, output) = try await runProcess(executable, ["check-config", good.path], timeout: .seconds(30))
            #expect(status == 0, "\(output)")
            #expect(output.contains("lobby:") && output.contains("syncHistoryOnJoin: 20") && output.contains("maxPayload: 1000000"))
            #expect(output.contains("store: \"sqlite:dialogue-data/history.sqlite\""))
            let (failed, message) = try await runProcess(executable, ["check-config", bad.path], timeout: .seconds(30))
            #expect(failed == 1)
            #expect(message.contains("rooms.lobby.maxSize: must be a positive integer"), "\(message)")
            // `serve` refuses to start on the same file, with the same message.
            let (refused, said) = try await runProcess(executable, ["serve", "--config", bad.path, "--port", "0"], timeout: .seconds(30))
            #expect(refused != 0 && said.contains("rooms.lobby.maxSize: must be a positive integer"), "\(said)")
        }
    }
}

extension ConfigurationFileTests {
    /// The example of Docs/Configuration.md stays a valid production configuration.
    @Test func theDocumentedProductionExampleIsValid() async throws {
        let path = InteropPython.packageRoot.appendingPathComponent("Docs/examples/production.yaml").path
        let settings = try ServerSettings(contentsOf: path, environment: [
            "JWT_SECRET": String(repeating: "k", count: 32), "DATABASE_URL": "postgres://dialogue@db/app",
            "DIALOGUE_API_KEY": "publish-key-0123456789", "DIALOGUE_ADMIN_TOKEN": "admin-token-0123456789",
        ])
        #expect(settings.store == .postgres(url: "postgres://dialogue@db/app", schema: "dialogue"))
        #expect(try await settings.makeVerifier() != nil)
        #expect(settings.dialogue.rooms["ops"]?.access == [.claim("role", equals: "admin")])
        #expect(settings.dialogue.roomTemplates.first?.room.access == [.owner("user:{sub}")])
        #expect(throws: ConfigurationError.self, "secrets must be given") { try ServerSettings(contentsOf: path, environment: [:]) }
    }
}
