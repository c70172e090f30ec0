import Synchronization

/// The events being delivered (and stored) now, counted so that a stopping server closes its history store
/// only after their writes; once stopping, new events are refused.
final class InFlightEvents: Sendable {
    private struct State {
        var count = 0
        var stopping = false
        var drained: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Counts an event in; `false` once the server is stopping.
    func enter() -> Bool {
        state.withLock { state in
            guard !state.stopping else { return false }
            state.count += 1
            return true
        }
    }

    /// Counts an event out (delivered, or refused after ``enter()``).
    func leave() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.count -= 1
            guard state.count == 0 else { return [] }
            defer { state.drained = [] }
            return state.drained
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Refuses new events from now on and waits for those in flight to finish.
    func stop() async {
        await withCheckedContinuation { continuation in
            let drained = state.withLock { state -> Bool in
                state.stopping = true
                guard state.count > 0 else { return true }
                state.drained.append(continuation)
                return false
            }
            if drained { continuation.resume() }
        }
    }
}
