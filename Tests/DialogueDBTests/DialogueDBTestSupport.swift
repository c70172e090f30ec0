import DialogueDB
import DialogueDBCore
import DialogueDBServer
import DialogueDBPostgres
import DialogueDBSQLite
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import TestSupport
import Testing

let testLogger: Logger = {
    var logger = Logger(label: "dialoguedb-test")
    logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    return logger
}()

/// Where a test's data lives.
enum StorageKind: String, CaseIterable, Sendable {
    case sqlite, postgres

    /// `$DIALOGUE_POSTGRES_URL` (`./scripts/test` starts a throwaway PostgreSQL and sets it).
    static var postgresURL: String? { ProcessInfo.processInfo.environment["DIALOGUE_POSTGRES_URL"] }
}

typealias TestStorage = any ConversationStorage & APIKeyStorage

/// How a test reaches DialogueDB: the same SDK calls, embedded or through the REST server, on each storage.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case embeddedSQLite, restSQLite, embeddedPostgres, restPostgres
    var testDescription: String { rawValue }
    var storage: StorageKind { self == .embeddedSQLite || self == .restSQLite ? .sqlite : .postgres }
    var isREST: Bool { self == .restSQLite || self == .restPostgres }
}

/// A fresh, migrated storage of `kind` (a temporary SQLite file, or a schema of its own in PostgreSQL),
/// removed after `body`.
func withStorage<Result>(_ kind: StorageKind = .sqlite, _ body: (TestStorage) async throws -> Result) async throws -> Result {
    switch kind {
    case .sqlite:
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dialoguedb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let storage = try await SQLiteConversationStorage(path: folder.appendingPathComponent("db.sqlite").path, logger: testLogger)
        do {
            try await storage.migrate()
            let result = try await body(storage)
            await storage.close()
            return result
        } catch {
            await storage.close()
            throw error
        }
    case .postgres:
        let url = try #require(StorageKind.postgresURL, "DIALOGUE_POSTGRES_URL is not set: run ./scripts/test (it starts a throwaway PostgreSQL)")
        let schema = "ddb_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let storage = try PostgresConversationStorage(url: url, schema: String(schema), logger: testLogger)
        let pool = Task { await storage.run() }
        defer { pool.cancel() }
        let result: Swift.Result<Result, any Error>
        do {
            try await storage.migrate()
            result = .success(try await body(storage))
        } catch {
            result = .failure(error)
        }
        try? await storage.dropSchema()
        return try result.get()
    }
}

/// The REST server on a free port over `storage`, with a key of project `project`, while `body` runs.
func withServer<Result: Sendable>(
    _ storage: TestStorage, project: String = "test-project", configuration: DialogueDBServerConfiguration = .init(port: 0),
    _ body: @Sendable (_ url: String, _ key: String) async throws -> Result
) async throws -> Result {
    let (key, _) = try await APIKeys.create(projectId: project, name: "tests", in: storage)
    var configuration = configuration
    configuration.port = 0
    let port = AsyncValue<Int>()
    let app = DialogueDBHTTPServer.application(api: DialogueDBAPI(storage: storage), keys: storage, configuration: configuration, logger: testLogger) { port.set($0) }
    let group = ServiceGroup(services: [app], logger: testLogger)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        let result: Swift.Result<Result, any Error>
        do {
            result = .success(try await body("http://127.0.0.1:\(try await port.value())", key))
        } catch {
            result = .failure(error)
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return try result.get()
    }
}

/// A store of the given backend on a fresh database.
func withStore<Result: Sendable>(_ backend: Backend, _ body: @Sendable (ConversationStore) async throws -> Result) async throws -> Result {
    try await withStorage(backend.storage) { storage in
        guard backend.isREST else { return try await body(ConversationStore(transport: EmbeddedTransport(api: DialogueDBAPI(storage: storage)))) }
        return try await withServer(storage) { url, key in
            try await body(ConversationStore(transport: RemoteTransport(endpoint: url, apiKey: key, retries: 0)))
        }
    }
}

/// The error `body` throws, or a recorded issue.
func dialogueDBError(_ body: () async throws -> Void) async -> DialogueDBError? {
    do {
        try await body()
        Issue.record("expected a DialogueDBError")
        return nil
    } catch let error as DialogueDBError {
        return error
    } catch {
        Issue.record("expected a DialogueDBError, got \(error)")
        return nil
    }
}

/// A local HTTP endpoint (an OpenAI-compatible model server stand-in) on a free port while `body` runs.
func withLocalEndpoint<Result: Sendable>(_ router: Router<BasicRequestContext>, _ body: @Sendable (_ url: String) async throws -> Result) async throws -> Result {
    let port = AsyncValue<Int>()
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: { port.set($0.localAddress?.port ?? 0) }, logger: testLogger)
    let group = ServiceGroup(services: [app], logger: testLogger)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        let result: Swift.Result<Result, any Error>
        do {
            result = .success(try await body("http://127.0.0.1:\(try await port.value())/v1"))
        } catch {
            result = .failure(error)
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return try result.get()
    }
}
