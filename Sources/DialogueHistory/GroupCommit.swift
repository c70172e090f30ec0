import Synchronization

/// Batches concurrent appends into one write (group commit) without a background task: the first append
/// to arrive writes everything waiting at that moment in one transaction, then hands the lead to the first
/// append that arrived meanwhile. Every append returns once its own events are written.
public final class GroupCommit: Sendable {
    private let queue = Mutex(Queue())

    private struct Queue {
        var pending: [Entry] = []
        var writing = false
        var nextID = 0
    }

    private struct Entry {
        let id: Int
        let events: [StoredEvent]
        let continuation: CheckedContinuation<Role, any Error>
    }

    private enum Role { case done, lead }

    public init() {}

    /// Appends `events` with `write`, together with whatever other appends are waiting.
    public func append(_ events: [StoredEvent], write: ([StoredEvent]) async throws -> Void) async throws {
        guard !events.isEmpty else { return }
        let id = queue.withLock { queue in
            queue.nextID += 1
            return queue.nextID
        }
        let role = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Role, any Error>) in
            let lead = queue.withLock { queue -> Bool in
                queue.pending.append(Entry(id: id, events: events, continuation: continuation))
                if queue.writing { return false }
                queue.writing = true
                return true
            }
            if lead { continuation.resume(returning: .lead) }
        }
        guard role == .lead else { return }
        let batch = queue.withLock { queue in
            defer { queue.pending = [] }
            return queue.pending
        }
        let result: Result<Role, any Error>
        do {
            try await write(batch.flatMap(\.events))
            result = .success(.done)
        } catch {
            result = .failure(error)
        }
        for entry in batch where entry.id != id { entry.continuation.resume(with: result) }
        let next = queue.withLock { queue -> Entry? in
            guard let first = queue.pending.first else {
                queue.writing = false
                return nil
            }
            return first
        }
        next?.continuation.resume(returning: .lead)
        _ = try result.get()
    }
}
