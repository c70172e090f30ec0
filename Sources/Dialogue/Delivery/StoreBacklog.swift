import DequeModule
import DialogueHistory
import Foundation
import Synchronization

/// Delivered events the history store has not taken yet (oldest first, bounded), and how the store is
/// doing: the state behind ``DialogueServer/historyStoreStatus`` and the retry task.
final class StoreBacklog: Sendable {
    private struct State {
        var waiting = Deque<StoredEvent>()
        var status = HistoryStoreStatus(configured: false, healthy: true, pendingEvents: 0, droppedEvents: 0, failedWrites: 0)
    }

    private let state = Mutex(State())
    /// Beyond this many waiting events the oldest is given up on.
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// The store's state as last seen.
    func status(configured: Bool) -> HistoryStoreStatus {
        state.withLock { state in
            var status = state.status
            status.configured = configured
            status.pendingEvents = state.waiting.count
            return status
        }
    }

    /// Whether events of the room wait (a newer one must queue behind them, so the room's events reach the
    /// store in order).
    func isWaiting(roomId: String) -> Bool {
        state.withLock { state in state.waiting.contains { $0.message.roomId == roomId } }
    }

    /// Queues an event for the retry task. Returns the event given up on to stay within capacity, if any.
    func enqueue(_ event: StoredEvent) -> StoredEvent? {
        state.withLock { state -> StoredEvent? in
            state.waiting.append(event)
            guard state.waiting.count > capacity else { return nil }
            state.status.droppedEvents += 1
            return state.waiting.removeFirst()
        }
    }

    /// What waits now, oldest first.
    var waiting: [StoredEvent] { state.withLock { Array($0.waiting) } }

    /// Forgets the waiting events of a room whose history was reset.
    func drop(roomId: String) {
        state.withLock { $0.waiting.removeAll { $0.message.roomId == roomId } }
    }

    /// A write succeeded: `stored` (a batch of the waiting events) is in the store; events queued meanwhile
    /// stay, and a reset meanwhile may have removed some of the batch already.
    func succeeded(storing stored: [StoredEvent] = []) {
        state.withLock { state in
            if !stored.isEmpty {
                let keys = Set(stored.map(Key.init))
                state.waiting.removeAll { keys.contains(Key($0)) }
            }
            state.status.healthy = true
        }
    }

    /// A write failed.
    func failed(_ error: any Error) {
        state.withLock { state in
            state.status.healthy = false
            state.status.failedWrites += 1
            state.status.lastError = "\(error)"
            state.status.lastErrorAt = Date()
        }
    }

    private struct Key: Hashable {
        let roomId: String
        let offset: Int64
        let epoch: Int64

        init(_ event: StoredEvent) {
            roomId = event.message.roomId
            offset = event.offset
            epoch = event.epoch
        }
    }
}
