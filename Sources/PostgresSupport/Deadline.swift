import Synchronization

/// A PostgreSQL operation that did not finish in time.
public struct PostgresTimeout: Error, CustomStringConvertible {
    public let limit: Duration
    public var description: String { "no answer from PostgreSQL within \(limit)" }
}

extension PostgresDatabase {
    /// Runs `operation` in a task of its own and returns its result, or throws ``PostgresTimeout`` after
    /// `limit` — cancelling the operation and leaving it behind, without waiting for it to notice.
    ///
    /// For the loops that must go on whatever PostgreSQL does: a query of postgres-nio 1.33 whose server
    /// restarts under it can wait forever (seen in the cluster's restart test: a read of the cluster bus
    /// began as the server shut down and never returned, and the node heard nothing more). The caller retries
    /// on a fresh query; whatever the abandoned one produces is dropped, so `operation` should return its
    /// rows rather than hand them on as it reads them.
    public static func withDeadline<T: Sendable>(_ limit: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        let race = DeadlineRace<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                race.start(continuation, limit: limit, operation)
                if Task.isCancelled { race.finish(.failure(CancellationError())) }
            }
        } onCancel: {
            race.finish(.failure(CancellationError()))
        }
    }
}

/// An operation and its timer: whichever ends first resumes the waiter and cancels the other.
private final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        var waiter: CheckedContinuation<T, any Error>?
        var work: Task<Void, Never>?
        var timer: Task<Void, Never>?
    }

    private let state = Mutex(State())

    func start(_ waiter: CheckedContinuation<T, any Error>, limit: Duration, _ operation: @escaping @Sendable () async throws -> T) {
        state.withLock { state in
            state.waiter = waiter
            state.timer = Task {
                guard (try? await Task.sleep(for: limit)) != nil else { return }
                self.finish(.failure(PostgresTimeout(limit: limit)))
            }
            state.work = Task {
                do { self.finish(.success(try await operation())) } catch { self.finish(.failure(error)) }
            }
        }
    }

    /// Resumes the waiter with the first outcome, and cancels what is still running.
    func finish(_ outcome: Result<T, any Error>) {
        let (waiter, work, timer) = state.withLock { state in
            (state.waiter.take(), state.work.take(), state.timer.take())
        }
        guard let waiter else { return }
        work?.cancel()
        timer?.cancel()
        waiter.resume(with: outcome)
    }
}
