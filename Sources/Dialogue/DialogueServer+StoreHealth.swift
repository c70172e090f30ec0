import DequeModule
import DialogueHistory
import Foundation

/// How the history store is doing, as the server sees it: for `/ready`, metrics and dashboards.
public struct HistoryStoreStatus: Sendable, Equatable {
    /// Whether the server has a history store.
    public var configured: Bool
    /// Whether the latest write to the store (an append or a retry) succeeded.
    public var healthy: Bool
    /// Events delivered but not stored yet: the server retries them in the background, oldest first.
    public var pendingEvents: Int
    /// Events delivered but never stored: given up on when more than
    /// ``DialogueConfiguration/maxPendingStoreEvents`` were waiting. Each was logged with its room and offset.
    public var droppedEvents: Int
    /// Writes that failed since the server started.
    public var failedWrites: Int
    /// The latest failure, if any.
    public var lastError: String?
    public var lastErrorAt: Date?
}

extension DialogueServer {
    /// The history store's state: healthy, or failing with events waiting to be stored.
    public var historyStoreStatus: HistoryStoreStatus {
        storeBacklog.status(configured: configuration.historyStore != nil)
    }

    /// Appends one delivered event to the store. A failure is logged and the event waits for the retry task;
    /// events of the room already waiting go first, so a room's events reach the store in order.
    /// - Returns: whether the event is stored now.
    func persist(_ event: StoredEvent, in store: any HistoryStore) async -> Bool {
        let roomId = event.message.roomId
        if !storeBacklog.isWaiting(roomId: roomId) {
            let started = ContinuousClock.now
            do {
                try await store.append([event])
                metrics.storeAppend(after: .now - started, failed: false)
                storeBacklog.succeeded()
                return true
            } catch {
                metrics.storeAppend(after: .now - started, failed: true)
                recordStoreFailure(error, roomId: roomId, offset: event.offset)
            }
        }
        if let dropped = storeBacklog.enqueue(event) {
            logger.error(
                "history store still failing: an event is given up and will never be stored",
                metadata: ["dialogue.room": .string(dropped.message.roomId), "dialogue.offset": "\(dropped.offset)"]
            )
        }
        return false
    }

    private func recordStoreFailure(_ error: any Error, roomId: String, offset: Int64) {
        storeBacklog.failed(error)
        logger.error(
            "history store append failed: the event is delivered, not stored yet; retrying in the background",
            metadata: ["dialogue.room": .string(roomId), "dialogue.offset": "\(offset)", "dialogue.error": "\(error)"]
        )
    }

    /// Stores the waiting events, every ``DialogueConfiguration/storeRetryInterval``, until cancelled.
    func runStoreRetry(_ store: any HistoryStore) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: configuration.storeRetryInterval)
            } catch {
                return
            }
            await retryPendingWrites(store)
        }
    }

    /// One attempt at storing every waiting event.
    func retryPendingWrites(_ store: any HistoryStore) async {
        let batch = storeBacklog.waiting
        guard let first = batch.first else { return }
        do {
            try await store.append(batch)
            storeBacklog.succeeded(storing: batch)
            logger.notice("history store caught up", metadata: ["dialogue.events": "\(batch.count)"])
        } catch {
            recordStoreFailure(error, roomId: first.message.roomId, offset: first.offset)
        }
    }
}
