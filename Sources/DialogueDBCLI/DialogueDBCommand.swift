import ArgumentParser
import DialogueDB
import DialogueDBCore
import DialogueDBPostgres
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
        subcommands: [Serve.self, Keys.self, DialogueCommands.self, MessageCommands.self, MemoryCommands.self, Search.self, Summarize.self]
    )
}

/// A database of this machine: an SQLite file, or PostgreSQL.
struct StorageOptions: ParsableArguments {
    @Option(help: "The SQLite database file.") var db: String?
    @Option(help: "A PostgreSQL database instead: postgres://user[:password]@host[:port]/database.") var postgres: String?
    @Option(help: "The PostgreSQL schema of DialogueDB's tables.") var postgresSchema = "dialoguedb"

    var isSet: Bool { db != nil || postgres != nil }

    /// The storage, migrated, with what closes it.
    func open(defaultFile: String? = nil, logger: Logger = quietLogger) async throws -> (storage: any ConversationStorage & APIKeyStorage, close: @Sendable () async -> Void) {
        if let postgres {
            let storage = try PostgresConversationStorage(url: postgres, schema: postgresSchema, logger: logger)
            let pool = Task { await storage.run() }
            do {
                try await storage.migrate()
            } catch {
                pool.cancel()
                throw error
            }
            return (storage, { pool.cancel() })
        }
        guard let file = db ?? defaultFile else { throw ValidationError("give --db FILE or --postgres URL") }
        let storage = try await SQLiteConversationStorage(path: file, logger: logger)
        do {
            try await storage.migrate()
        } catch {
            await storage.close()
            throw error
        }
        return (storage, { await storage.close() })
    }
}

/// Where data commands go: a server (`--endpoint`, `--api-key` or `DIALOGUEDB_ENDPOINT`, `DIALOGUEDB_API_KEY`),
/// or a database file of this machine (`--db`).
struct Target: ParsableArguments {
    @Option(help: "The server (also $DIALOGUEDB_ENDPOINT), e.g. http://127.0.0.1:8787.") var endpoint: String?
    @Option(help: "The API key (also $DIALOGUEDB_API_KEY).") var apiKey: String?
    @OptionGroup(title: "Or a database of this machine instead of a server") var local: StorageOptions
    @Option(help: "With a local database: the project whose data to use (a server takes it from the key).") var project = "local"

    func transport() async throws -> any DialogueDBTransport {
        if local.isSet {
            let (storage, close) = try await local.open()
            return ClosingTransport(inner: EmbeddedTransport(api: DialogueDBAPI(storage: storage), projectId: project), onClose: close)
        }
        let environment = ProcessInfo.processInfo.environment
        guard let key = apiKey ?? environment["DIALOGUEDB_API_KEY"], !key.isEmpty else {
            throw ValidationError("API key required. Set DIALOGUEDB_API_KEY or pass --api-key <key> (or use --db FILE).")
        }
        return RemoteTransport(endpoint: endpoint ?? environment["DIALOGUEDB_ENDPOINT"] ?? "http://127.0.0.1:8787", apiKey: key)
    }

    /// Sends a request and prints the answer; an API error goes to standard error as JSON, exit 1.
    func run(_ request: APIRequest) async throws {
        try await run { transport throws(DialogueDBError) in try await transport.send(request) }
    }

    /// Runs `body` on the transport and prints what it returns, or its error (exit 1).
    func run(_ body: (any DialogueDBTransport) async throws(DialogueDBError) -> SocketValue) async throws {
        let transport = try await transport()
        let result: Result<SocketValue, DialogueDBError>
        do {
            result = .success(try await body(transport))
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

/// An embedded transport that also stops what its storage needs (a PostgreSQL pool) when closed.
struct ClosingTransport: DialogueDBTransport {
    let inner: EmbeddedTransport
    let onClose: @Sendable () async -> Void

    func send(_ request: APIRequest) async throws(DialogueDBError) -> SocketValue { try await inner.send(request) }
    func close() async { await onClose() }
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
    static let configuration = CommandConfiguration(abstract: "Run the REST server (SQLite file by default, or PostgreSQL).")

    @OptionGroup var storage: StorageOptions
    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port to bind.") var port = 8787
    @Option(help: "Requests per API key per minute.") var rateLimit = 600
    @Option(help: "An OpenAI-compatible endpoint for summaries (also $DIALOGUEDB_SUMMARIZER_URL), e.g. http://127.0.0.1:8080/v1; without it summaries are extractive.")
    var summarizerURL: String?
    @Option(help: "The model of --summarizer-url.") var summarizerModel = "gpt-4o-mini"
    @Option(help: "An OpenAI-compatible embeddings endpoint (also $DIALOGUEDB_EMBEDDINGS_URL) for hybrid search ranking.") var embeddingsURL: String?
    @Option(help: "The model of --embeddings-url.") var embeddingsModel = "text-embedding-3-small"
    @Option(help: "Log level.") var logLevel = "info"

    func run() async throws {
        var configured = Logger(label: "dialoguedb")
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown log level \(logLevel)") }
        configured.logLevel = level
        let logger = configured
        let environment = ProcessInfo.processInfo.environment
        let (store, close) = try await storage.open(defaultFile: "dialoguedb.sqlite", logger: logger)
        if try await store.keys().allSatisfy({ $0.revokedAt != nil }) {
            logger.warning("No API key yet: create one with `dialoguedb keys create --project NAME` (and the same --db/--postgres)")
        }
        var api = DialogueDBAPI(storage: store, logger: logger)
        if let url = summarizerURL ?? environment["DIALOGUEDB_SUMMARIZER_URL"] {
            api.summarizer = ChatCompletionsSummarizer(baseURL: url, model: summarizerModel, apiKey: environment["DIALOGUEDB_SUMMARIZER_KEY"])
        }
        if let url = embeddingsURL ?? environment["DIALOGUEDB_EMBEDDINGS_URL"] {
            api.embeddings = OpenAIEmbeddings(baseURL: url, model: embeddingsModel, apiKey: environment["DIALOGUEDB_EMBEDDINGS_KEY"])
        }
        let app = DialogueDBHTTPServer.application(
            api: api, keys: store, configuration: DialogueDBServerConfiguration(host: host, port: port, rateLimit: rateLimit), logger: logger
        ) { port in logger.notice("DialogueDB serving http://\(host):\(port)/api/v1") }
        try await ServiceGroup(configuration: .init(services: [.init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
        await close()
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Manage the server's API keys (stored hashed).", subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key for a project; the key is shown once.")
        @OptionGroup var database: StorageOptions
        @Option(help: "The project the key gives access to.") var project: String
        @Option(help: "A name to recognise the key by.") var name = "default"

        func run() async throws {
            let (storage, close) = try await database.open(defaultFile: "dialoguedb.sqlite")
            let (secret, record) = try await APIKeys.create(projectId: project, name: name, in: storage)
            await close()
            var json = record.json.objectValue ?? [:]
            json["key"] = .string(secret)
            print(Output.pretty(.object(json)))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never the secrets).")
        @OptionGroup var database: StorageOptions

        func run() async throws {
            let (storage, close) = try await database.open(defaultFile: "dialoguedb.sqlite")
            let keys = try await storage.keys()
            await close()
            print(Output.pretty(.array(keys.map(\.json))))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key by its id.")
        @OptionGroup var database: StorageOptions
        @Argument var id: String

        func run() async throws {
            let (storage, close) = try await database.open(defaultFile: "dialoguedb.sqlite")
            let revoked = try await storage.revokeKey(id: id, at: Timestamp.now)
            await close()
            guard revoked else { throw ValidationError("no live key \(id)") }
            print(Output.pretty(["revoked": .string(id)]))
        }
    }
}
