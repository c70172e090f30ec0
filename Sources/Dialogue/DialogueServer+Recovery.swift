import DialogueHistory
import OrderedCollections
import SocketIO

/// What a reconnecting client says it saw in a room: the last offset, the epoch it belongs to, and the
/// subscriptions to restore.
struct Resume: Sendable {
    let offset: Int64
    let epoch: Int64?
    let subscriptions: [String]?
}

/// What a join did: the room, the `dialogue:joined` payload sent, the client's subscriptions there.
struct JoinOutcome {
    let room: Room
    let joined: SocketValue
    let subscriptions: [String]
}

/// A room as a join found it, taken under the lock while the room's deliveries are held.
struct JoinSnapshot {
    let room: Room
    let created: Room?
    /// Every event of the room up to this offset has been delivered; later ones will reach the client live.
    let delivered: Int64
    let epoch: Int64?
    var isNew = false
    var subscriptions: OrderedSet<String> = []
    /// Whether the join sends history (a sync on join, or a resume that may fail): then `recent` is read.
    var sendsHistory = false
    /// The room's in-memory events up to `delivered`, newest first.
    var recent: [AnyEventMessage] = []

    /// `{roomId, roomName, epoch?, offset, recovered?}`.
    func joinedPayload(recovered: Bool?) -> SocketValue {
        var members: OrderedDictionary<SocketKey, SocketValue> = ["roomId": .string(room.id), "roomName": .string(room.name)]
        if let epoch { members["epoch"] = .int(epoch) }
        members["offset"] = .int(delivered)
        if let recovered { members["recovered"] = .bool(recovered) }
        return .object(members)
    }
}

extension DialogueServer {
    /// Sends a joining client `dialogue:joined`, then either what it missed since its last offset (replayed as
    /// `dialogue:event`s, in order) or history: the room's `syncHistoryOnJoin`, or — when a resume failed —
    /// the newest events. Runs while the room's deliveries are held, so nothing is missed or sent twice.
    /// - Returns: the `dialogue:joined` payload sent.
    func catchUp(_ client: ConnectedClient, _ snapshot: JoinSnapshot, resume: Resume?) async -> SocketValue {
        let roomId = snapshot.room.id
        var replay: [AnyEventMessage]?
        if let resume, resume.epoch == nil || resume.epoch == snapshot.epoch {
            replay = await missedEvents(roomId, after: resume.offset, through: snapshot.delivered)
        }
        let payload = snapshot.joinedPayload(recovered: resume.map { _ in replay != nil })
        client.socket.emit("dialogue:joined", payload)
        let subscribed = snapshot.subscriptions
        if let replay {
            for message in replay where subscribed.contains("*") || subscribed.contains(message.event) {
                client.socket.emit("dialogue:event", message.socketValue)
            }
            return payload
        }
        let limit: Int?? = resume != nil ? .some(snapshot.room.syncHistoryOnJoin.limit ?? 50) : snapshot.room.syncHistoryOnJoin.limit
        guard let limit else { return payload }
        let history = Array(snapshot.recent.prefix(limit ?? snapshot.recent.count))
        if !history.isEmpty || resume != nil {
            client.socket.emit("dialogue:history", ["roomId": .string(roomId), "events": .array(history.map(\.socketValue))])
        }
        return payload
    }

    /// The room's events with offsets in `(offset, through]`, complete and in order, or `nil` when some are
    /// gone (retention, memory limits) or there are more than ``DialogueConfiguration/maxRecoveryEvents``.
    private func missedEvents(_ roomId: String, after offset: Int64, through last: Int64) async -> [AnyEventMessage]? {
        guard offset <= last else { return nil }
        let count = last - offset
        guard count > 0 else { return [] }
        guard count <= Int64(configuration.maxRecoveryEvents) else { return nil }
        guard var events = await loggedEvents(roomId, after: offset, limit: Int(count)) else { return nil }
        events = events.filter { ($0.offset ?? 0) <= last }
        let complete = events.count == Int(count) && events.enumerated().allSatisfy { $0.element.offset == offset + 1 + Int64($0.offset) }
        return complete ? events : nil
    }

    /// The room's logged events (those with history) after `offset`, oldest first, at most `limit`: from the
    /// history store when there is one, else from memory. `nil` when the store cannot be read.
    func loggedEvents(_ roomId: String, after offset: Int64, limit: Int) async -> [AnyEventMessage]? {
        guard let store = configuration.historyStore else {
            return Array(roomLogs.recent(roomId, after: offset).prefix(limit))
        }
        do {
            return try await store.events(roomId: roomId, after: offset, limit: limit).map(\.messageWithOffset)
        } catch {
            logger.error("history store read failed", metadata: ["dialogue.room": .string(roomId), "dialogue.error": "\(error)"])
            return nil
        }
    }
}
