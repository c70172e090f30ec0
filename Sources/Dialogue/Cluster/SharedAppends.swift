import DialogueHistory
import Synchronization

/// The kept events of a cluster node on their way to the shared store, in the order they were admitted:
/// whatever waits when the store is free goes in one statement (the store numbers them in that order, so
/// one sender's events keep its order), and the batch goes to the other nodes in one message before the
/// next batch is written — so the others receive the node's kept events in offset order too.
///
/// The only owner of that queue. A trigger takes a ticket while it is admitted (``enqueue(_:)``, in the
/// sender's order) and waits for its numbered event when it finishes (``numbered(_:)``), so one sender's
/// kept events are written together instead of one commit each.
final class SharedAppends: Sendable {
    private struct State {
        var pending: [(ticket: Int, message: AnyEventMessage)] = []
        var nextTicket = 0
        var writing = false
        var results: [Int: Result<StoredEvent, any Error>] = [:]
        var waiters: [Int: CheckedContinuation<Result<StoredEvent, any Error>, Never>] = [:]
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    /// The store the nodes share: it numbers the queue's events, and the others' events are read from it.
    let store: any SharedHistoryStore
    /// Sends a numbered batch to the other nodes (the server logs a failure).
    private let send: @Sendable ([ClusterEvent]) async -> Void
    /// Makes the epoch of a room the store has no log for.
    private let newEpoch: @Sendable () -> Int64

    init(store: any SharedHistoryStore, newEpoch: @escaping @Sendable () -> Int64, send: @escaping @Sendable ([ClusterEvent]) async -> Void) {
        self.store = store
        self.newEpoch = newEpoch
        self.send = send
    }

    /// Queues `message` to be numbered and stored; returns the ticket to wait on. Starts a writer if none
    /// runs.
    func enqueue(_ message: AnyEventMessage) -> Int {
        let (ticket, startWriter) = state.withLock { state -> (Int, Bool) in
            state.nextTicket += 1
            state.pending.append((state.nextTicket, message))
            defer { state.writing = true }
            return (state.nextTicket, !state.writing)
        }
        if startWriter { Task { await self.write() } }
        return ticket
    }

    /// Waits until the ticket's event is stored; returns it numbered, or the store's error.
    func numbered(_ ticket: Int) async -> Result<StoredEvent, any Error> {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Result<StoredEvent, any Error>? in
                if let result = state.results.removeValue(forKey: ticket) { return result }
                state.waiters[ticket] = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Returns once nothing is queued or being written (and sent): before the server leaves the cluster.
    func idle() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                guard state.writing else { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Writes batches until the queue is empty, then wakes whoever waits for ``idle()``.
    private func write() async {
        while true {
            let next = state.withLock { state -> Next in
                guard !state.pending.isEmpty else {
                    // An enqueue from now on finds `writing` unset and starts a writer of its own.
                    state.writing = false
                    defer { state.idleWaiters = [] }
                    return .idle(state.idleWaiters)
                }
                defer { state.pending = [] }
                return .batch(state.pending)
            }
            switch next {
            case .idle(let waiters):
                for waiter in waiters { waiter.resume() }
                return
            case .batch(let batch):
                await write(batch)
            }
        }
    }

    private enum Next {
        case batch([(ticket: Int, message: AnyEventMessage)])
        case idle([CheckedContinuation<Void, Never>])
    }

    /// Numbers and stores one batch, hands each waiter its event, then sends the batch to the other nodes.
    private func write(_ batch: [(ticket: Int, message: AnyEventMessage)]) async {
        let outcome: Result<[StoredEvent], any Error>
        do {
            let stored = try await store.appendAssigningOffsets(batch.map(\.message), newEpoch: newEpoch())
            outcome = stored.count == batch.count ? .success(stored) : .failure(IncompleteNumbering(given: batch.count, numbered: stored.count))
        } catch {
            outcome = .failure(error)
        }
        let resumptions = state.withLock { state in
            batch.enumerated().compactMap { index, entry -> (CheckedContinuation<Result<StoredEvent, any Error>, Never>, Result<StoredEvent, any Error>)? in
                let result = outcome.map { $0[index] }
                guard let waiter = state.waiters.removeValue(forKey: entry.ticket) else {
                    state.results[entry.ticket] = result
                    return nil
                }
                return (waiter, result)
            }
        }
        for (waiter, result) in resumptions { waiter.resume(returning: result) }
        if case .success(let stored) = outcome {
            await send(stored.map { ClusterEvent(message: $0.messageWithOffset, epoch: $0.epoch) })
        }
    }
}

/// The shared store answered with fewer events than it was given (a store that breaks its contract).
struct IncompleteNumbering: Error, CustomStringConvertible {
    let given: Int
    let numbered: Int
    var description: String { "the history store numbered \(numbered) of \(given) events" }
}
