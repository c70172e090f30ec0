import DequeModule
import DialogueStorage
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
        state.withLock { state in
            var status = state.storeStatus
            status.configured = configuration.historyStore != nil
            status.pendingEvents = state.unpersisted.count
            return status
        }
    }

    /// Appends one delivered event to the store. A failure is logged and the event waits for the retry task;
    /// events of the room already waiting go first, so a room's events reach the store in order.
    /// - Returns: whether the event is stored now.
    func persist(_ event: StoredEvent, in store: any HistoryStore) async -> Bool {
        let roomId = event.message.roomId
        let waiting = state.withLock { state in state.unpersisted.contains { $0.message.roomId == roomId } }
        if !waiting {
            let started = ContinuousClock.now
            do {
                try await store.append([event])
                metrics.storeAppend(after: .now - started, failed: false)
                state.withLock { $0.storeStatus.healthy = true }
                return true
            } catch {
                metrics.storeAppend(after: .now - started, failed: true)
                recordStoreFailure(error, roomId: roomId, offset: event.offset)
            }
        }
        let dropped = state.withLock { state -> StoredEvent? in
            state.unpersisted.append(event)
            guard state.unpersisted.count > configuration.maxPendingStoreEvents else { return nil }
            state.storeStatus.droppedEvents += 1
            return state.unpersisted.removeFirst()
        }
        if let dropped {
            logger.error(
                "history store still failing: an event is given up and will never be stored",
                metadata: ["dialogue.room": .string(dropped.message.roomId), "dialogue.offset": "\(dropped.offset)"]
            )
        }
        return false
    }

    private func recordStoreFailure(_ error: any Error, roomId: String, offset: Int64) {
        state.withLock { state in
            state.storeStatus.healthy = false
            state.storeStatus.failedWrites += 1
            state.storeStatus.lastError = "\(error)"
            state.storeStatus.lastErrorAt = Date()
        }
        logger.error(
            "history store append failed: the event is delivered, not stored yet; retrying in the background",
            metadata: ["dialogue.room": .string(roomId), "dialogue.offset": "\(offset)", "dialogue.error": "\(error)"]
        )
    }

    /// Forgets the waiting events of a room whose history was reset.
    func dropPendingWrites(roomId: String) {
        state.withLock { $0.unpersisted.removeAll { $0.message.roomId == roomId } }
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
        let batch = state.withLock { Array($0.unpersisted) }
        guard let first = batch.first else { return }
        do {
            try await store.append(batch)
            state.withLock { state in
                // Events queued meanwhile stay; a reset meanwhile may have removed some of the batch already.
                let stored = Set(batch.map { StoredKey(roomId: $0.message.roomId, offset: $0.offset, epoch: $0.epoch) })
                state.unpersisted.removeAll { stored.contains(StoredKey(roomId: $0.message.roomId, offset: $0.offset, epoch: $0.epoch)) }
                state.storeStatus.healthy = true
            }
            logger.notice("history store caught up", metadata: ["dialogue.events": "\(batch.count)"])
        } catch {
            recordStoreFailure(error, roomId: first.message.roomId, offset: first.offset)
        }
    }

    private struct StoredKey: Hashable {
        let roomId: String
        let offset: Int64
        let epoch: Int64
    }

    /// Refuses new events (`SERVER_STOPPING`) and waits for those being delivered to finish their store writes.
    func stopAcceptingEvents() async {
        await withCheckedContinuation { continuation in
            let drained = state.withLock { state -> Bool in
                state.stopping = true
                guard state.inFlight > 0 else { return true }
                state.drained.append(continuation)
                return false
            }
            if drained { continuation.resume() }
        }
    }

    func finishedDispatch() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.inFlight -= 1
            guard state.inFlight == 0 else { return [] }
            defer { state.drained = [] }
            return state.drained
        }
        for waiter in waiters { waiter.resume() }
    }
}
