import Foundation
import Logging
import PostgresNIO
import PostgresSupport
import ServiceLifecycle
import Synchronization

/// A message one node sends every node (itself included), through PostgreSQL.
public struct ClusterMessage: Sendable, Hashable {
    /// The id of the node that sent it (``ClusterNode/id``).
    public let origin: String
    /// What kind of message it is, for the receiver to dispatch on.
    public let topic: String
    /// Its content, of any size: it is stored in a table, never carried by `NOTIFY`.
    public let payload: String

    public init(origin: String, topic: String, payload: String) {
        self.origin = origin
        self.topic = topic
        self.payload = payload
    }
}

/// How the bus reads and keeps messages.
public struct ClusterBusConfiguration: Sendable, Equatable {
    /// How often a node reads without being woken (a lost `NOTIFY`, a node that crashed before sending
    /// one). Default 250 ms.
    public var pollInterval: Duration
    /// How long a message stays readable: a node whose connection was down longer misses what is older.
    /// Default 5 minutes.
    public var retention: Duration
    /// How long a node gathers its own messages before one `NOTIFY` wakes the others. Default 1 ms.
    public var notifyDelay: Duration
    /// How long one query of the bus (a read, a publish) may take before it is abandoned: a read is tried
    /// again, a publish fails. Default 5 s.
    public var queryTimeout: Duration

    public init(
        pollInterval: Duration = .milliseconds(250), retention: Duration = .seconds(300), notifyDelay: Duration = .milliseconds(1),
        queryTimeout: Duration = .seconds(5)
    ) {
        self.pollInterval = pollInterval
        self.retention = retention
        self.notifyDelay = notifyDelay
        self.queryTimeout = queryTimeout
    }
}

/// Messages between the nodes of a cluster: stored in an outbox table, read by every node in the order of
/// the transactions that wrote them, and announced by a `NOTIFY` that only wakes the readers (see
/// `Docs/ClusterDesign.md`).
///
/// A node reads the rows of the transactions that ended since its last read: those below the *horizon*,
/// the oldest transaction still running (`pg_snapshot_xmin(pg_current_snapshot())`). A row never becomes
/// visible below a horizon already passed, so none is skipped, whatever order transactions commit in. A
/// node whose `LISTEN` connection dropped reconnects and reads from its horizon: what was sent meanwhile
/// arrives, late but in order. `NOTIFY` is sent after the sender's commits, at most once per
/// ``ClusterBusConfiguration/notifyDelay``, in a statement of its own, so the instance-wide lock a
/// notifying commit takes is never held by an insert.
///
/// A `Service`: ``run()`` runs its connection pool, its `LISTEN` session and its reader until cancelled or
/// shut down; ``messages`` ends then.
public final class ClusterBus: Service, Sendable {
    /// Every message, in order, for one consumer.
    public let messages: AsyncStream<ClusterMessage>
    public let nodeID: String
    public let configuration: ClusterBusConfiguration

    private let client: PostgresClient
    private let listenerConfiguration: PostgresConnection.Configuration
    private let schema: String
    private let channel: String
    private let logger: Logger
    private let messageContinuation: AsyncStream<ClusterMessage>.Continuation
    private let wakes: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let notifyPending = Mutex(false)
    private let ready = Mutex<[CheckedContinuation<Void, Never>]?>([])

    /// A bus on the database of `url`, its table in `schema`, for the node `nodeID`.
    public init(url: String, schema: String = "dialogue", nodeID: String, configuration: ClusterBusConfiguration = .init(), logger: Logger) throws {
        try PostgresDatabase.validate(schema: schema)
        self.client = PostgresClient(configuration: try PostgresDatabase.configuration(url: url), backgroundLogger: logger)
        self.listenerConfiguration = try PostgresDatabase.connectionConfiguration(url: url, applicationName: "dialogue-cluster-listener-\(nodeID)")
        self.schema = schema
        self.channel = "\(schema)_cluster"
        self.nodeID = nodeID
        self.configuration = configuration
        self.logger = logger
        (messages, messageContinuation) = AsyncStream.makeStream()
        (wakes, wake) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Stores `payload` for every node; returns once it is committed. Wakes the readers soon after.
    public func publish(topic: String, payload: String) async throws {
        try await bounded {
            _ = try await self.client.query(
                "INSERT INTO \(unescaped: self.schema).dialogue_cluster_outbox (origin, topic, payload) VALUES (\(self.nodeID), \(topic), \(payload))",
                logger: self.logger
            )
        }
        notifySoon()
    }

    /// One query within ``ClusterBusConfiguration/queryTimeout`` (see `PostgresDatabase.withDeadline`).
    private func bounded<T: Sendable>(_ query: @escaping @Sendable () async throws -> T) async throws -> T {
        try await PostgresDatabase.withDeadline(configuration.queryTimeout, query)
    }

    /// Waits until the bus reads — its table exists and its position is taken, so messages published after
    /// this returns reach this node — or until ``run()`` ended without getting there (it threw).
    public func waitUntilReady() async {
        await withCheckedContinuation { continuation in
            let waiting = ready.withLock { waiters -> Bool in
                guard waiters != nil else { return false }
                waiters!.append(continuation)
                return true
            }
            if !waiting { continuation.resume() }
        }
    }

    public func run() async throws {
        defer {
            messageContinuation.finish()
            for waiter in ready.withLock({ $0.take() }) ?? [] { waiter.resume() }
        }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await PostgresDatabase.runPool(self.client) }
            defer { group.cancelAll() }
            try await migrate()
            let start = try await read(after: nil)
            for waiter in ready.withLock({ $0.take() }) ?? [] { waiter.resume() }
            group.addTask { await self.listen() }
            group.addTask { await self.tick() }
            group.addTask { await self.sweep() }
            await cancelWhenGracefulShutdown {
                var horizon = start.horizon
                // Rows held back by an older transaction still running: no notification will come when it
                // ends, so the reader looks again, soon (1 ms). The wait doubles, up to the poll interval,
                // only while the horizon stands still (a long transaction); it is short again as soon as the
                // horizon moves, so steady traffic — where some append is always in flight — is never read late.
                var recheck = Duration.milliseconds(1)
                for await _ in self.wakes {
                    do {
                        let read = try await self.bounded { [horizon] in try await self.read(after: horizon) }
                                        for message in read.messages { self.messageContinuation.yield(message) }
                        if read.horizon != horizon { recheck = .milliseconds(1) }
                        horizon = read.horizon
                        if read.heldBack {
                            let delay = recheck
                            Task {
                                try? await Task.sleep(for: delay)
                                self.wake.yield()
                            }
                            recheck = min(recheck * 2, self.configuration.pollInterval)
                        } else {
                            recheck = .milliseconds(1)
                        }
                    } catch {
                        self.logger.warning("cluster bus read failed; retrying", metadata: ["cluster.error": "\(error)"])
                    }
                }
            }
        }
    }

    // MARK: Reading

    /// One read of the bus: the messages of the transactions that ended since the last, the new horizon, and
    /// whether rows already visible wait behind it (written by a transaction that began after one still running).
    private struct Read: Sendable {
        var horizon: Int64
        var heldBack = false
        var messages: [ClusterMessage] = []
    }

    /// Reads the rows of the transactions that ended since `previous` (all older rows are skipped when
    /// `previous` is `nil`: a node starts from now).
    private func read(after previous: Int64?) async throws -> Read {
        let rows = try await client.query("""
            WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon)
            SELECT h.horizon::text::bigint,
                EXISTS (SELECT 1 FROM \(unescaped: schema).dialogue_cluster_outbox WHERE xid >= h.horizon),
                o.origin, o.topic, o.payload
            FROM h LEFT JOIN \(unescaped: schema).dialogue_cluster_outbox o
                ON \(previous)::bigint IS NOT NULL AND o.xid >= \(previous ?? 0)::text::xid8 AND o.xid < h.horizon
            ORDER BY o.xid, o.id
            """, logger: logger)
        var result = Read(horizon: previous ?? 0)
        for try await (horizon, heldBack, origin, topic, payload) in rows.decode((Int64, Bool, String?, String?, String?).self) {
            (result.horizon, result.heldBack) = (horizon, heldBack)
            if let origin, let topic, let payload { result.messages.append(ClusterMessage(origin: origin, topic: topic, payload: payload)) }
        }
        return result
    }

    /// Wakes the reader every poll interval, whatever the notifications do.
    private func tick() async {
        while (try? await Task.sleep(for: configuration.pollInterval)) != nil { wake.yield() }
    }

    /// Listens on a session of its own; reconnects after a failure, and reads once listening again — what
    /// was sent while the session was down is read then.
    private func listen() async {
        var backoff = Duration.milliseconds(50)
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(configuration: listenerConfiguration, id: 1, logger: logger)
                do {
                    try await connection.listen(on: channel) { notifications in
                        backoff = .milliseconds(50)
                        wake.yield()
                        for try await _ in notifications { wake.yield() }
                    }
                } catch {
                    logger.warning("cluster bus listener lost its connection; reconnecting", metadata: ["cluster.error": "\(error)"])
                }
                try? await connection.close()
            } catch {
                logger.warning("cluster bus listener cannot connect; retrying", metadata: ["cluster.error": "\(error)"])
            }
            guard (try? await Task.sleep(for: backoff)) != nil else { return }
            backoff = min(backoff * 2, .seconds(2))
        }
    }

    /// One `NOTIFY` for the messages committed within the next ``ClusterBusConfiguration/notifyDelay``.
    private func notifySoon() {
        let first = notifyPending.withLock { pending in
            defer { pending = true }
            return !pending
        }
        guard first else { return }
        Task {
            try? await Task.sleep(for: configuration.notifyDelay)
            notifyPending.withLock { $0 = false }
            do {
                try await bounded { _ = try await self.client.query("SELECT pg_notify(\(self.channel), \(self.nodeID))", logger: self.logger) }
            } catch {
                logger.warning("cluster bus notify failed; the others read at their next poll", metadata: ["cluster.error": "\(error)"])
            }
        }
    }

    /// Deletes messages older than the retention, every tenth of it.
    private func sweep() async {
        let seconds = configuration.retention.secondsDouble
        while (try? await Task.sleep(for: configuration.retention / 10)) != nil {
            do {
                try await bounded {
                    _ = try await self.client.query(
                        "DELETE FROM \(unescaped: self.schema).dialogue_cluster_outbox WHERE created_at < now() - make_interval(secs => \(seconds))",
                        logger: self.logger
                    )
                }
            } catch {
                logger.warning("cluster bus sweep failed", metadata: ["cluster.error": "\(error)"])
            }
        }
    }

    private func migrate() async throws {
        try await PostgresDatabase.migrate([
            PostgresMigration("2026-12-07-cluster-outbox", [
                """
                CREATE TABLE \(schema).dialogue_cluster_outbox (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    xid XID8 NOT NULL DEFAULT pg_current_xact_id(),
                    origin TEXT NOT NULL,
                    topic TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )
                """,
                "CREATE INDEX dialogue_cluster_outbox_by_xid ON \(schema).dialogue_cluster_outbox (xid, id)",
                "CREATE INDEX dialogue_cluster_outbox_by_age ON \(schema).dialogue_cluster_outbox (created_at)",
            ]),
        ], table: "dialogue_cluster_bus_migrations", lock: Self.migrationLock, schema: schema, on: client, logger: logger)
    }

    /// The advisory lock the bus's migrations run under.
    static let migrationLock: Int64 = 0x6469_616C_6275_7373
}
