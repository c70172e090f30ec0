import DialogueDB
import DialogueDBCore
import DialogueDBServer
import DialogueDBSQLite
import Foundation
import Logging
import ServiceLifecycle
import TestSupport
import Testing

let testLogger: Logger = {
    var logger = Logger(label: "dialoguedb-test")
    logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    return logger
}()

/// How a test reaches DialogueDB: the same SDK calls, embedded on a file or through the REST server.
enum Backend: String, CaseIterable, CustomTestStringConvertible {
    case embedded, rest
    var testDescription: String { rawValue }
}

/// A temporary SQLite storage, migrated, closed after `body`.
func withStorage<Result>(_ body: (SQLiteConversationStorage) async throws -> Result) async throws -> Result {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dialoguedb-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let storage = try await SQLiteConversationStorage(path: folder.appendingPathComponent("db.sqlite").path, logger: testLogger)
    try await storage.migrate()
    do {
        let result = try await body(storage)
        await storage.close()
        return result
    } catch {
        await storage.close()
        throw error
    }
}

/// The REST server on a free port over `storage`, with a key of project `project`, while `body` runs.
func withServer<Result: Sendable>(
    _ storage: SQLiteConversationStorage, project: String = "test-project", configuration: DialogueDBServerConfiguration = .init(port: 0),
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
    try await withStorage { storage in
        switch backend {
        case .embedded:
            return try await body(ConversationStore(transport: EmbeddedTransport(api: DialogueDBAPI(storage: storage))))
        case .rest:
            return try await withServer(storage) { url, key in
                try await body(ConversationStore(transport: RemoteTransport(endpoint: url, apiKey: key, retries: 0)))
            }
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
