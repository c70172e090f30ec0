/// `maxSize` across a cluster: a room with a size limit counts its members in the link's seats (in
/// PostgreSQL), taken before a join and given back when the connection leaves the room, so two nodes cannot
/// both take the last place. On one node — or while the database cannot answer — the count of the room's
/// members (this node's and the roster's) decides.
extension DialogueServer {
    /// Takes a seat for `client` in `room` when the room has a size limit and the server is in a cluster.
    /// - Returns: `true` when a seat was taken (it decides); `false` when the members' count decides.
    /// - Throws: ``DialogueError`` `ROOM_FULL` when every seat is taken.
    func claimSeat(for client: ConnectedClient, in room: Room) async throws(DialogueError) -> Bool {
        guard let link = configuration.cluster, let maxSize = room.maxSize else { return false }
        let seated: Bool
        do {
            seated = try await link.claimSeat(roomId: room.id, clientId: client.id, limit: maxSize)
        } catch {
            logger.warning("the cluster's seats cannot be counted; this join counts the room's members instead", metadata: [
                "dialogue.room": .string(room.id), "dialogue.error": "\(error)",
            ])
            return false
        }
        guard seated else { throw DialogueError(.roomFull, "Room '\(room.id)' is at capacity") }
        return true
    }

    /// Gives back a connection's seat in `roomId` (every seat when `nil`); a failure is logged, and the seat
    /// stays taken until the connection's node leaves the cluster.
    func releaseSeat(of clientId: String, in roomId: String?) async {
        guard let link = configuration.cluster else { return }
        do {
            try await link.releaseSeats(clientId: clientId, roomId: roomId)
        } catch {
            logger.error("a seat of a size-limited room could not be given back; it stays taken until this node leaves the cluster", metadata: [
                "dialogue.client": .string(clientId), "dialogue.room": .string(roomId ?? "*"), "dialogue.error": "\(error)",
            ])
        }
    }
}
