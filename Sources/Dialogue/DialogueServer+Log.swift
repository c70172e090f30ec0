import DialogueHistory
import Foundation
import SocketIO

/// Kept events: durable appends and delivery in offset order (the offsets, turns and memory are ``RoomLogs``').
extension DialogueServer {
    /// Delivers `message` to the room's subscribers.
    func broadcast(_ message: AnyEventMessage) async -> Int {
        await namespace.to(Self.subscriptionRoom(message.roomId, message.event)).to(Self.subscriptionRoom(message.roomId, "*"))
            .emit("dialogue:event", [message.socketValue])
    }

    /// The second half of a kept event: stored durably in the history store, then delivered after every
    /// event of the room with a lower offset. A store that fails does not stop delivery: the failure is
    /// logged with the room and offset, `persisted` is `false`, and the event is stored by the retry task
    /// once the store is back (see ``historyStoreStatus``).
    func deliverLogged(_ message: AnyEventMessage, _ logged: RoomLogs.Stamp) async -> (recipients: Int, persisted: Bool) {
        let roomId = message.roomId
        let offset = message.offset ?? 0
        await cleanup(logged.evictions)
        var persisted = true
        if let store = configuration.historyStore {
            persisted = await persist(StoredEvent(offset: offset, epoch: logged.epoch, message: message), in: store)
        }
        await roomLogs.waitForTurn(roomId, offset)
        let recipients = await broadcast(message)
        roomLogs.finishTurn(roomId, offset)
        return (recipients, persisted)
    }

    /// Starts a new epoch for a room whose history was deleted: memory, store, offsets from 1 again.
    func resetLog(_ roomId: String) async {
        let epoch = Self.newEpoch()
        guard roomLogs.reset(roomId, epoch: epoch) else { return }
        guard let store = configuration.historyStore else { return }
        storeBacklog.drop(roomId: roomId)
        do {
            try await store.reset(roomId: roomId, epoch: epoch)
        } catch {
            logger.error("history store reset failed", metadata: ["dialogue.room": .string(roomId), "dialogue.error": "\(error)"])
        }
    }

    /// Loads the rooms' log positions from the history store (before serving).
    func openStore() async throws {
        guard let store = configuration.historyStore else { return }
        let logs = try await store.open()
        roomLogs.load(logs)
        logger.info("history store open", metadata: ["dialogue.rooms": "\(logs.count)"])
        await warmHistory(from: store, rooms: Set(logs.keys))
    }

    /// Loads the newest stored events of the configured rooms into memory (each event name up to its history
    /// limit), so that history sent on join survives a restart. Rooms made later from templates start empty
    /// in memory; `dialogue:getHistory` still reads them from the store.
    private func warmHistory(from store: any HistoryStore, rooms stored: Set<String>) async {
        let rooms = state.withLock { state in state.rooms.filter { stored.contains($0.key) }.map { ($0.key, $0.value.configuration.events) } }
        for (roomId, events) in rooms {
            var loaded: [(message: AnyEventMessage, limit: Int)] = []
            for event in events where event.name != "*" {
                guard let history = event.history, history.enabled else { continue }
                do {
                    let newest = try await store.events(roomId: roomId, eventName: event.name, start: 0, end: history.limit)
                    loaded += newest.map { ($0.messageWithOffset, history.limit) }
                } catch {
                    logger.error("history store read failed while loading recent history", metadata: ["dialogue.room": .string(roomId), "dialogue.error": "\(error)"])
                }
            }
            loaded.sort { ($0.message.offset ?? 0) < ($1.message.offset ?? 0) }
            roomLogs.remember(loaded)
        }
    }

    /// A new epoch: the current time in milliseconds.
    static func newEpoch() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}

extension StoredEvent {
    /// The message, carrying its offset.
    var messageWithOffset: AnyEventMessage {
        var message = message
        message.offset = offset
        return message
    }
}
