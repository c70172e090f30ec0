import DequeModule
import Logging
import NIOPosix
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

/// A connection to a database file that runs its statements on a thread of its own.
///
/// sqlite-nio runs each statement as a blocking job on a thread pool, and SQLite's busy handler sleeps
/// inside that job while another connection holds the write lock. A connection holding the lock between
/// two statements of a transaction needs a free thread to go on and release it; on a shared pool (two
/// threads on two cores) two connections waiting for that lock take every thread, and everything on the
/// pool — every store of the process — stops until the busy timeout gives up. With a thread per
/// connection, a waiting connection holds only its own thread, and one connection's statements run one
/// at a time, in the order they were issued.
public final class SQLiteStoreConnection: Sendable {
    private let connection: SQLiteConnection
    private let thread: NIOThreadPool

    fileprivate init(connection: SQLiteConnection, thread: NIOThreadPool) {
        self.connection = connection
        self.thread = thread
    }

    /// Runs one statement; returns its rows.
    @discardableResult
    public func query(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        try await connection.query(sql, binds)
    }

    /// Closes the connection and stops its thread — in a cancelled task too (a server stopping because
    /// another service failed): sqlite-nio's async `close()` gives up on cancellation and leaves the
    /// connection open, which its deinitializer asserts against; the future-based one does not.
    public func close() async {
        try? await connection.close().get()
        try? await thread.shutdownGracefully()
    }
}

/// What every SQLite store of the package shares: opening a file with the same durability settings, and
/// applying named migrations recorded in a table of their own.
public enum SQLiteDatabase {
    /// When a commit returns (SQLite's `synchronous` setting, in WAL mode).
    public enum Synchronous: String, Sendable {
        /// The commit is on disk: it survives a crash of the process and of the machine (one `fsync` per
        /// commit, about 0.3–0.6 ms on this project's test machines).
        case full = "FULL"
        /// The commit is in the operating system's cache: it survives a crash of the process; a power loss
        /// or a crash of the operating system may lose the last commits (never the database's consistency).
        case normal = "NORMAL"
    }

    /// Opens (creating if needed) the file at `path` in WAL mode with `synchronous` (by default `FULL`: a
    /// commit is on disk when it returns), a 5 s busy timeout, and statement journals in memory.
    public static func open(path: String, cacheMegabytes: Int = 64, synchronous: Synchronous = .full, logger: Logger) async throws -> SQLiteStoreConnection {
        let thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        let opened: SQLiteConnection
        do {
            opened = try await SQLiteConnection.open(storage: .file(path: path), threadPool: thread, logger: logger, on: MultiThreadedEventLoopGroup.singleton.any())
        } catch {
            try? await thread.shutdownGracefully()
            throw error
        }
        let connection = SQLiteStoreConnection(connection: opened, thread: thread)
        do {
            for pragma in [
                "PRAGMA journal_mode=WAL", "PRAGMA synchronous=\(synchronous.rawValue)", "PRAGMA busy_timeout=5000", "PRAGMA cache_size=-\(cacheMegabytes * 1024)",
                "PRAGMA temp_store=MEMORY",
            ] {
                try await connection.query(pragma)
            }
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    /// Applies the steps not yet recorded in `table`, in order.
    public static func migrate(_ steps: [SQLiteMigration], table: String, on connection: SQLiteStoreConnection, logger: Logger) async throws {
        try await connection.query("CREATE TABLE IF NOT EXISTS \(table) (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)")
        let applied = Set(try await connection.query("SELECT name FROM \(table)").compactMap { $0.column("name")?.string })
        for step in steps where !applied.contains(step.name) {
            try await connection.query("BEGIN IMMEDIATE")
            do {
                for statement in step.statements { try await connection.query(statement) }
                try await connection.query("INSERT INTO \(table) (name, applied_at) VALUES (?, strftime('%s', 'now'))", [.text(step.name)])
                try await connection.query("COMMIT")
                logger.info("database migrated", metadata: ["db.migration": .string(step.name)])
            } catch {
                _ = try? await connection.query("ROLLBACK")
                throw error
            }
        }
    }
}

/// Writes on one connection, grouped: SQLite allows one transaction per connection, so concurrent callers
/// wait, and all those waiting when a transaction starts share it — each in a savepoint of its own (a
/// failing caller rolls back only its own work) under one `COMMIT`, so one `fsync` serves them all. The
/// first caller leads: it runs the group, then hands the lead to the first caller that arrived meanwhile.
public final class TransactionTurns: Sendable {
    private enum Role { case lead, done }

    private struct Entry {
        let id: Int
        let body: @Sendable () async throws -> any Sendable
        let continuation: CheckedContinuation<Role, Never>
    }

    private struct State {
        var busy = false
        var pending: [Entry] = []
        var outcomes: [Int: Result<any Sendable, any Error>] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Runs `body` in a transaction on `connection` (with the other callers waiting now), committed when it
    /// returns and rolled back (its own part) if it throws.
    public func transaction<Result: Sendable>(on connection: SQLiteStoreConnection, _ body: @escaping @Sendable () async throws -> Result) async throws -> Result {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        let role = await withCheckedContinuation { (continuation: CheckedContinuation<Role, Never>) in
            let lead = state.withLock { state -> Bool in
                state.pending.append(Entry(id: id, body: { try await body() }, continuation: continuation))
                guard !state.busy else { return false }
                state.busy = true
                return true
            }
            if lead { continuation.resume(returning: .lead) }
        }
        if role == .lead { await lead(on: connection, leader: id) }
        let outcome = state.withLock { $0.outcomes.removeValue(forKey: id) }
        switch outcome {
        case .success(let value)?: return value as! Result  // the entry stored this caller's own `Result`
        case .failure(let error)?: throw error
        case nil: preconditionFailure("a transaction finished without an outcome")
        }
    }

    /// Runs the waiting callers' bodies in one transaction, records their outcomes, wakes them, and hands
    /// the lead on.
    private func lead(on connection: SQLiteStoreConnection, leader: Int) async {
        let group = state.withLock { state -> [Entry] in
            defer { state.pending = [] }
            return state.pending
        }
        var outcomes: [Int: Result<any Sendable, any Error>] = [:]
        do {
            try await connection.query("BEGIN IMMEDIATE")
            for entry in group {
                try await connection.query("SAVEPOINT turn")
                do {
                    outcomes[entry.id] = .success(try await entry.body())
                    try await connection.query("RELEASE turn")
                } catch {
                    outcomes[entry.id] = .failure(error)
                    try await connection.query("ROLLBACK TO turn")
                    try await connection.query("RELEASE turn")
                }
            }
            try await connection.query("COMMIT")
        } catch {
            _ = try? await connection.query("ROLLBACK")
            for entry in group { outcomes[entry.id] = .failure(error) }
        }
        let next = state.withLock { state -> Entry? in
            state.outcomes.merge(outcomes) { _, new in new }
            guard let next = state.pending.first else {
                state.busy = false
                return nil
            }
            return next
        }
        for entry in group where entry.id != leader { entry.continuation.resume(returning: .done) }
        next?.continuation.resume(returning: .lead)
    }
}
