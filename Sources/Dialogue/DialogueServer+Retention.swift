import DialogueHistory
import Foundation

/// Retention: the history store keeps each event's history as long as its `EventHistory.retention` says,
/// enforced by a background task of the server (never on the trigger path).
extension DialogueServer {
    /// One rule to enforce: a room, an event name, and how much of it to keep.
    struct RetentionRule: Equatable {
        let roomId: String
        let eventName: String
        let retention: HistoryRetention
    }

    /// The rules of every room with a stored log, from its live settings or else from the configured room
    /// or template that would make it again (a template room that was removed keeps its stored history).
    func retentionRules() -> [RetentionRule] {
        let roomIds = roomLogs.roomIds
        let live = state.withLock { state in state.rooms.mapValues(\.configuration) }
        return roomIds.flatMap { roomId -> [RetentionRule] in
            let room = live[roomId] ?? configuration.rooms[roomId]
                ?? configuration.roomTemplates.first(where: { $0.matches(roomId) })?.configuration(for: roomId)
            return (room?.events ?? []).compactMap { definition in
                guard definition.name != "*", let retention = definition.history?.retention else { return nil }
                return RetentionRule(roomId: roomId, eventName: definition.name, retention: retention)
            }
        }
    }

    /// Applies every rule once, to the history store and to the in-memory cache (what retention removes is
    /// gone, not handed to `events.onCleanup`). A store error is logged and the next rule goes on.
    /// - Returns: how many stored events were deleted.
    @discardableResult
    func enforceRetention(now: Date = Date()) async -> Int {
        let nowMilliseconds = Int64((now.timeIntervalSince1970 * 1000).rounded())
        var deleted = 0
        for rule in retentionRules() {
            let olderThan = rule.retention.maxAge.map { nowMilliseconds - Int64($0 / .milliseconds(1)) }
            roomLogs.prune(rule.roomId, eventName: rule.eventName, keepingNewest: rule.retention.maxEvents, olderThan: olderThan)
            guard let store = configuration.historyStore else { continue }
            do {
                deleted += try await store.prune(roomId: rule.roomId, eventName: rule.eventName, keepingNewest: rule.retention.maxEvents, olderThan: olderThan)
            } catch {
                logger.error(
                    "history retention failed", metadata: ["dialogue.room": .string(rule.roomId), "dialogue.event": .string(rule.eventName), "dialogue.error": "\(error)"]
                )
            }
        }
        if deleted > 0 { logger.info("history retention deleted stored events", metadata: ["dialogue.deleted": "\(deleted)"]) }
        return deleted
    }

    /// Enforces retention every ``DialogueConfiguration/retentionInterval`` until cancelled.
    func runRetention() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: configuration.retentionInterval)
            } catch {
                return
            }
            await enforceRetention()
        }
    }
}
