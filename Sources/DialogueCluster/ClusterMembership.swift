import Foundation
import Logging
import PostgresNIO
import PostgresSupport
import ServiceLifecycle
import Synchronization

/// This node's place in the cluster: it registers the node in PostgreSQL, records its heartbeat every
/// ``ClusterConfiguration/heartbeatInterval``, removes nodes whose heartbeat is older than
/// ``ClusterConfiguration/nodeTimeout``, and reports every change on ``changes``.
///
/// The database's clock is the only clock: heartbeats are `now()` in PostgreSQL and compared there, so the
/// nodes' own clocks may disagree. A node removed while it could not reach the database (or was paused)
/// finds its row gone at its next heartbeat: it reports itself as having left and joins again under a new
/// id — its clients are to be dropped, since the others already accounted for them.
///
/// A `Service`: ``run()`` runs its connection pool and its heartbeat until cancelled; on graceful shutdown
/// it removes its own row, so the others see it leave at once instead of after the timeout.
public final class ClusterMembership: Service, Sendable {
    public let configuration: ClusterConfiguration
    /// Every change, in order, for one consumer. It ends when ``run()`` ends.
    public let changes: AsyncStream<MembershipChange>

    let client: PostgresClient
    let schema: String
    let logger: Logger
    private let continuation: AsyncStream<MembershipChange>.Continuation
    private let state = Mutex(State())

    private struct State {
        var node: ClusterNode?
        var view = MembershipView()
    }

    /// A membership on the database of `url` (`postgres://user[:password]@host[:port]/database`), its
    /// table in `schema` (the history store's, by default `dialogue`).
    public init(url: String, schema: String = "dialogue", configuration: ClusterConfiguration, logger: Logger) throws {
        try PostgresDatabase.validate(schema: schema)
        try configuration.validate()
        self.client = PostgresClient(configuration: try PostgresDatabase.configuration(url: url), backgroundLogger: logger)
        self.schema = schema
        self.configuration = configuration
        self.logger = logger
        (changes, continuation) = AsyncStream.makeStream()
    }

    /// This node, once it joined.
    public var node: ClusterNode? { state.withLock { $0.node } }

    /// The nodes this node knows of, itself included, by the time they joined.
    public var nodes: [ClusterNode] { state.withLock { $0.view.sortedNodes } }

    /// Joins, then records heartbeats until cancelled or until graceful shutdown. Graceful shutdown removes
    /// the node's row; cancellation leaves it, as a crash would, for the others to time out.
    public func run() async throws {
        defer { continuation.finish() }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await PostgresDatabase.runPool(self.client) }
            defer { group.cancelAll() }
            try await migrate()
            try await join()
            try? await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: self.configuration.heartbeatInterval)
                    do {
                        try await self.beat()
                    } catch where Task.isCancelled {
                        return
                    } catch {
                        self.logger.warning("cluster heartbeat failed", metadata: ["cluster.node": .string(self.configuration.nodeName), "cluster.error": "\(error)"])
                    }
                }
            }
            if !Task.isCancelled { await leave() }
        }
    }

    // MARK: Steps

    private func migrate() async throws {
        try await PostgresDatabase.migrate([
            PostgresMigration("2026-12-07-cluster-nodes", [
                """
                CREATE TABLE \(schema).dialogue_cluster_nodes (
                    node_id TEXT PRIMARY KEY,
                    name TEXT NOT NULL UNIQUE,
                    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                    heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )
                """,
            ]),
            PostgresMigration("2026-12-07-cluster-seats", [
                // A seat of a room with a size limit, held by a connection; it goes with its node's row.
                """
                CREATE TABLE \(schema).dialogue_cluster_seats (
                    room_id TEXT NOT NULL,
                    client_id TEXT NOT NULL,
                    node_id TEXT NOT NULL REFERENCES \(schema).dialogue_cluster_nodes (node_id) ON DELETE CASCADE,
                    PRIMARY KEY (room_id, client_id)
                )
                """,
                "CREATE INDEX dialogue_cluster_seats_by_client ON \(schema).dialogue_cluster_seats (client_id)",
                "CREATE INDEX dialogue_cluster_seats_by_node ON \(schema).dialogue_cluster_seats (node_id)",
            ]),
        ], table: "dialogue_cluster_migrations", lock: Self.migrationLock, schema: schema, on: client, logger: logger)
    }

    /// The advisory lock the cluster's migrations run under (distinct from the history store's).
    static let migrationLock: Int64 = 0x6469_616C_636C_7573

    /// Registers a new id under the configured name: a row left by an earlier start of the same name is
    /// taken over if its heartbeat lapsed; a running node with the name is an error.
    private func join() async throws {
        let id = UUID().uuidString.lowercased()
        let name = configuration.nodeName
        let timeout = configuration.nodeTimeout.secondsDouble
        let removed = try await removeExpired(named: name)
        let startedAt = try await bounded {
            let rows = try await self.client.query("""
                INSERT INTO \(unescaped: self.schema).dialogue_cluster_nodes (node_id, name) VALUES (\(id), \(name))
                ON CONFLICT (name) DO NOTHING RETURNING started_at
                """, logger: self.logger)
            var startedAt: Date?
            for try await date in rows.decode(Date.self) { startedAt = date }
            return startedAt
        }
        guard let startedAt else {
            throw ClusterError(.nameTaken, "a running node is named \(name) (its heartbeat is younger than \(timeout) s)")
        }
        let node = ClusterNode(id: id, name: name, startedAt: startedAt)
        state.withLock { $0.node = node }
        logger.info("cluster node joined", metadata: ["cluster.node": .string(name), "cluster.node_id": .string(id)])
        try await look(removedHere: removed)
    }

    /// One heartbeat: records this node's, removes the nodes that stopped, and reports what changed. A
    /// node whose own row is gone was removed by another: it reports that it left and joins again.
    func beat() async throws {
        guard let node = self.node else { throw ClusterError(.notJoined, "the node has not joined") }
        let alive = try await bounded {
            let rows = try await self.client.query(
                "UPDATE \(unescaped: self.schema).dialogue_cluster_nodes SET heartbeat_at = now() WHERE node_id = \(node.id) RETURNING node_id",
                logger: self.logger
            )
            var alive = false
            for try await _ in rows.decode(String.self) { alive = true }
            return alive
        }
        guard alive else {
            logger.warning("this cluster node was removed by another (its heartbeat lapsed): rejoining", metadata: ["cluster.node": .string(node.name)])
            try await look(removedHere: [])
            try await join()
            return
        }
        try await look(removedHere: try await removeExpired(named: nil))
    }

    /// Deletes the nodes whose heartbeat is older than the timeout (only those named `name`, if given),
    /// returning the ones this transaction removed.
    private func removeExpired(named name: String?) async throws -> [ClusterNode] {
        let seconds = configuration.nodeTimeout.secondsDouble
        let ownID = self.node?.id ?? ""
        let removed = try await bounded {
            let rows = try await self.client.query("""
                DELETE FROM \(unescaped: self.schema).dialogue_cluster_nodes
                WHERE heartbeat_at < now() - make_interval(secs => \(seconds)) AND node_id <> \(ownID)
                    AND (\(name)::text IS NULL OR name = \(name))
                RETURNING node_id, name, started_at
                """, logger: self.logger)
            var removed: [ClusterNode] = []
            for try await (id, name, startedAt) in rows.decode((String, String, Date).self) {
                removed.append(ClusterNode(id: id, name: name, startedAt: startedAt))
            }
            return removed
        }
        for node in removed {
            logger.notice("cluster node removed: no heartbeat within the timeout", metadata: ["cluster.node": .string(node.name), "cluster.node_id": .string(node.id)])
        }
        return removed
    }

    /// Reads the node table and reports the changes.
    private func look(removedHere: [ClusterNode]) async throws {
        let listed = try await bounded {
            let rows = try await self.client.query(
                "SELECT node_id, name, started_at FROM \(unescaped: self.schema).dialogue_cluster_nodes", logger: self.logger
            )
            var listed: [ClusterNode] = []
            for try await (id, name, startedAt) in rows.decode((String, String, Date).self) {
                listed.append(ClusterNode(id: id, name: name, startedAt: startedAt))
            }
            return listed
        }
        let changes = state.withLock { $0.view.update(listed: listed, removedHere: removedHere) }
        for change in changes { continuation.yield(change) }
    }

    /// One query within the node timeout, and never less than 5 s (see `PostgresDatabase.withDeadline`): a
    /// query the driver lost fails the heartbeat instead of stopping every later one, while a slow one on a
    /// loaded machine still finishes (a deadline of one short heartbeat interval failed joins under load).
    func bounded<T: Sendable>(_ query: @escaping @Sendable () async throws -> T) async throws -> T {
        try await PostgresDatabase.withDeadline(max(configuration.nodeTimeout, .seconds(5)), query)
    }

    /// Removes this node's row (graceful stop): the others see it leave at their next heartbeat.
    private func leave() async {
        guard let node = state.withLock({ $0.node.take() }) else { return }
        do {
            try await bounded { _ = try await self.client.query("DELETE FROM \(unescaped: self.schema).dialogue_cluster_nodes WHERE node_id = \(node.id)", logger: self.logger) }
            logger.info("cluster node left", metadata: ["cluster.node": .string(node.name)])
        } catch {
            logger.warning("cluster node could not remove itself; the others will after the timeout", metadata: ["cluster.error": "\(error)"])
        }
    }
}

extension Duration {
    var secondsDouble: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
