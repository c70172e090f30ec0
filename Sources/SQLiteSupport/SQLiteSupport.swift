import DequeModule
import Logging
import SQLiteNIO
import Synchronization

/// A named schema step: it runs once, in its own transaction, and is never edited once released (a change
/// is a new step).
public struct SQLiteMigration: Sendable {
    public let name: String
    public let statements: [String]

    public init(_ name: String, _ statements: [String]) {
        self.name = name
        self.statements = statements
    }
}

/// What every SQLite store of the package shares: opening a file with the same durability settings, and
/// applying named migrations recorded in a table of their own.
public enum SQLiteDatabase {
    /// Opens (creating if needed) the file at `path` in WAL mode with `synchronous=FULL` (a commit is on disk
    /// when it returns), a 5 s busy timeout, and statement journals in memory.
    public static func open(path: String, cacheMegabytes: Int = 64, logger: Logger) async throws -> SQLiteConnection {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        do {
            for pragma in [
                "PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA busy_timeout=5000", "PRAGMA cache_size=-\(cacheMegabytes * 1024)",
                "PRAGMA temp_store=MEMORY",
            ] {
                _ = try await connection.query(pragma)
            }
        } catch {
            try? await connection.close()
            throw error
        }
        return connection
    }

    /// Applies the steps not yet recorded in `table`, in order.
    public static func migrate(_ steps: [SQLiteMigration], table: String, on connection: SQLiteConnection, logger: Logger) async throws {
        _ = try await connection.query("CREATE TABLE IF NOT EXISTS \(table) (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)")
        let applied = Set(try await connection.query("SELECT name FROM \(table)").compactMap { $0.column("name")?.string })
        for step in steps where !applied.contains(step.name) {
            _ = try await connection.query("BEGIN IMMEDIATE")
            do {
                for statement in step.statements { _ = try await connection.query(statement) }
                _ = try await connection.query("INSERT INTO \(table) (name, applied_at) VALUES (?, strftime('%s', 'now'))", [.text(step.name)])
                _ = try await connection.query("COMMIT")
                logger.info("database migrated", metadata: ["db.migration": .string(step.name)])
            } catch {
                _ = try? await connection.query("ROLLBACK")
                throw error
            }
        }
    }
}

/// Serializes transactions on one connection: tasks take turns, first come first served, without
/// blocking a thread. SQLite allows one transaction per connection; this makes concurrent callers wait.
public final class TransactionTurns: Sendable {
    private let state = Mutex<(busy: Bool, waiting: Deque<CheckedContinuation<Void, Never>>)>((false, []))

    public init() {}

    /// Runs `body` inside `BEGIN IMMEDIATE` … `COMMIT` on `connection` (rolled back if it throws), when it is
    /// this caller's turn.
    public func transaction<Result: Sendable>(on connection: SQLiteConnection, _ body: () async throws -> Result) async throws -> Result {
        await withCheckedContinuation { continuation in
            let runNow = state.withLock { state -> Bool in
                guard state.busy else {
                    state.busy = true
                    return true
                }
                state.waiting.append(continuation)
                return false
            }
            if runNow { continuation.resume() }
        }
        defer {
            let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard let next = state.waiting.popFirst() else {
                    state.busy = false
                    return nil
                }
                return next
            }
            next?.resume()
        }
        _ = try await connection.query("BEGIN IMMEDIATE")
        do {
            let result = try await body()
            _ = try await connection.query("COMMIT")
            return result
        } catch {
            _ = try? await connection.query("ROLLBACK")
            throw error
        }
    }
}
