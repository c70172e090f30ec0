import ArgumentParser
import DialogueDB
import DialogueDBCore
import DialogueDBServer
import DialogueDBSQLite
import Foundation
import Logging
import ServiceLifecycle
import SocketIO

/// `dialoguedb`: the DialogueDB server, its API keys, and the API from the command line (JSON out).
@main
struct DialogueDBCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dialoguedb",
        abstract: "DialogueDB: a conversation store for AI apps, API-compatible with the hosted service.",
        subcommands: [Serve.self, Keys.self, DialogueCommands.self, MessageCommands.self, MemoryCommands.self]
    )
}

/// Where data commands go: a server (`--endpoint`, `--api-key` or `DIALOGUEDB_ENDPOINT`, `DIALOGUEDB_API_KEY`),
/// or a database file of this machine (`--db`).
struct Target: ParsableArguments {
    @Option(help: "The server (also $DIALOGUEDB_ENDPOINT), e.g. http://127.0.0.1:8787.") var endpoint: String?
    @Option(help: "The API key (also $DIALOGUEDB_API_KEY).") var apiKey: String?
    @Option(help: "Use this database file directly instead of a server.") var db: String?
    @Option(help: "With --db: the project whose data to use (a server takes it from the key).") var project = "local"

    func transport() async throws -> any DialogueDBTransport {
        if let db {
            let storage = try await SQLiteConversationStorage(path: db, logger: quietLogger)
            try await storage.migrate()
            return EmbeddedTransport(api: DialogueDBAPI(storage: storage), projectId: project)
        }
        let environment = ProcessInfo.processInfo.environment
        guard let key = apiKey ?? environment["DIALOGUEDB_API_KEY"], !key.isEmpty else {
            throw ValidationError("API key required. Set DIALOGUEDB_API_KEY or pass --api-key <key> (or use --db FILE).")
        }
        return RemoteTransport(endpoint: endpoint ?? environment["DIALOGUEDB_ENDPOINT"] ?? "http://127.0.0.1:8787", apiKey: key)
    }

    /// Sends a request and prints the answer; an API error goes to standard error as JSON, exit 1.
    func run(_ request: APIRequest) async throws {
        let transport = try await transport()
        let result: Result<SocketValue, DialogueDBError>
        do {
            result = .success(try await transport.send(request))
        } catch {
            result = .failure(error)
        }
        await transport.close()
        switch result {
        case .success(let answer):
            print(Output.pretty(answer))
        case .failure(let error):
            var fields: JSONObject = [
                "error": .string(error.message), "code": .string(error.code), "type": .string(error.type), "statusCode": .int(Int64(error.statusCode)),
            ]
            if let requestId = error.requestId { fields["requestId"] = .string(requestId) }
            if !error.details.isEmpty { fields["details"] = error.envelope(timestamp: "")["error"]?["details"] ?? .null }
            FileHandle.standardError.write(Data((Output.pretty(.object(fields)) + "\n").utf8))
            throw ExitCode.failure
        }
    }
}

let quietLogger: Logger = {
    var logger = Logger(label: "dialoguedb")
    logger.logLevel = .warning
    return logger
}()

enum Output {
    /// JSON with two-space indentation, keys in their order.
    static func pretty(_ value: SocketValue, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case .array(let items) where !items.isEmpty:
            return "[\n" + items.map { inner + pretty($0, indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let members) where !members.isEmpty:
            return "{\n" + members.map { inner + SocketValue.string($0.key.string).jsonText + ": " + pretty($0.value, indent: inner) }.joined(separator: ",\n") + "\n\(indent)}"
        default:
            return value.jsonText
        }
    }

    /// A flag holding JSON.
    static func json(_ text: String?, flag: String) throws -> SocketValue? {
        guard let text else { return nil }
        do {
            return try SocketValue(jsonText: text)
        } catch {
            throw ValidationError("--\(flag) is not valid JSON: \(error)")
        }
    }

    /// A comma-separated flag: trimmed, empties dropped.
    static func list(_ text: String?) -> SocketValue? {
        text.map { .array($0.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 != "" }) }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the REST server on an SQLite file.")

    @Option(help: "The database file (created if missing).") var db = "dialoguedb.sqlite"
    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port to bind.") var port = 8787
    @Option(help: "Requests per API key per minute.") var rateLimit = 600
    @Option(help: "Log level.") var logLevel = "info"

    func run() async throws {
        var configured = Logger(label: "dialoguedb")
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown log level \(logLevel)") }
        configured.logLevel = level
        let logger = configured
        let storage = try await SQLiteConversationStorage(path: db, logger: logger)
        try await storage.migrate()
        if try await storage.keys().allSatisfy({ $0.revokedAt != nil }) {
            logger.warning("No API key yet: create one with `dialoguedb keys create --db \(db) --project NAME`")
        }
        let app = DialogueDBHTTPServer.application(
            api: DialogueDBAPI(storage: storage), keys: storage,
            configuration: DialogueDBServerConfiguration(host: host, port: port, rateLimit: rateLimit), logger: logger
        ) { port in logger.notice("DialogueDB serving http://\(host):\(port)/api/v1") }
        try await ServiceGroup(configuration: .init(services: [.init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
        await storage.close()
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Manage the server's API keys (stored hashed).", subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Database: ParsableArguments {
        @Option(help: "The server's database file.") var db = "dialoguedb.sqlite"

        func open() async throws -> SQLiteConversationStorage {
            let storage = try await SQLiteConversationStorage(path: db, logger: quietLogger)
            try await storage.migrate()
            return storage
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key for a project; the key is shown once.")
        @OptionGroup var database: Database
        @Option(help: "The project the key gives access to.") var project: String
        @Option(help: "A name to recognise the key by.") var name = "default"

        func run() async throws {
            let storage = try await database.open()
            let (secret, record) = try await APIKeys.create(projectId: project, name: name, in: storage)
            var json = record.json.objectValue ?? [:]
            json["key"] = .string(secret)
            print(Output.pretty(.object(json)))
            await storage.close()
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never the secrets).")
        @OptionGroup var database: Database

        func run() async throws {
            let storage = try await database.open()
            print(Output.pretty(.array(try await storage.keys().map(\.json))))
            await storage.close()
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key by its id.")
        @OptionGroup var database: Database
        @Argument var id: String

        func run() async throws {
            let storage = try await database.open()
            let revoked = try await storage.revokeKey(id: id, at: Timestamp.now)
            await storage.close()
            guard revoked else { throw ValidationError("no live key \(id)") }
            print(Output.pretty(["revoked": .string(id)]))
        }
    }
}
