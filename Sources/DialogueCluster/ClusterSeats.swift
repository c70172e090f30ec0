import PostgresNIO

/// The seats of rooms with a size limit, counted in PostgreSQL so that `maxSize` holds for the whole cluster
/// even when two nodes take the last seat at the same moment (the roster of connections would learn of the
/// other join only afterwards). A seat belongs to a connection and to its node's membership row: a node that
/// leaves or is removed takes its seats with it.
extension ClusterMembership {
    /// Takes one of the `limit` seats of `roomId` for `clientId` (keeping one it has); `false` when all are
    /// taken. The room's joins take turns on an advisory lock, so the count and the insert are one step.
    public func claimSeat(roomId: String, clientId: String, limit: Int) async throws -> Bool {
        guard let node = node?.id else { throw ClusterError(.notJoined, "the node has not joined") }
        let (schema, logger) = (schema, logger)
        return try await bounded {
            try await self.client.withTransaction(logger: logger) { connection in
                _ = try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\(roomId), \(Self.seatLockSeed)))", logger: logger)
                let rows = try await connection.query("""
                    INSERT INTO \(unescaped: schema).dialogue_cluster_seats (room_id, client_id, node_id)
                    SELECT \(roomId), \(clientId), \(node)
                    WHERE (SELECT count(*) FROM \(unescaped: schema).dialogue_cluster_seats WHERE room_id = \(roomId)) < \(limit)
                        OR EXISTS (SELECT 1 FROM \(unescaped: schema).dialogue_cluster_seats WHERE room_id = \(roomId) AND client_id = \(clientId))
                    ON CONFLICT (room_id, client_id) DO UPDATE SET node_id = excluded.node_id
                    RETURNING 1
                    """, logger: logger)
                var seated = false
                for try await _ in rows.decode(Int.self) { seated = true }
                return seated
            }
        }
    }

    /// Gives back the seat of `clientId` in `roomId`, or in every room when `roomId` is `nil`.
    public func releaseSeats(clientId: String, roomId: String?) async throws {
        try await bounded {
            _ = try await self.client.query(
                "DELETE FROM \(unescaped: self.schema).dialogue_cluster_seats WHERE client_id = \(clientId) AND (\(roomId)::text IS NULL OR room_id = \(roomId))",
                logger: self.logger
            )
        }
    }

    /// The seed of the advisory lock a room's seats are taken under, by room id.
    static let seatLockSeed: Int64 = 0x7365_6174
}
