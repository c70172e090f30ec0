import Synchronization

/// The open Server-Sent Events streams, by room (``DialogueServer`` serves them at `/sse/rooms/:roomId`);
/// closed for good when the server stops.
final class EventStreams: Sendable {
    private struct State {
        var byRoom: [String: [Int: DialogueServer.StreamSubscriber]] = [:]
        var nextID = 0
        var closed = false
    }

    private let state = Mutex(State())

    /// Adds a stream; returns its id, or `nil` once closed.
    func register(_ roomId: String, _ subscriber: DialogueServer.StreamSubscriber) -> Int? {
        state.withLock { state in
            guard !state.closed else { return nil }
            state.nextID += 1
            state.byRoom[roomId, default: [:]][state.nextID] = subscriber
            return state.nextID
        }
    }

    func unregister(_ roomId: String, _ id: Int) {
        state.withLock { state in
            state.byRoom[roomId]?[id] = nil
            if state.byRoom[roomId]?.isEmpty == true { state.byRoom[roomId] = nil }
        }
    }

    /// The room's streams now.
    func subscribers(of roomId: String) -> [DialogueServer.StreamSubscriber] {
        state.withLock { $0.byRoom[roomId].map { Array($0.values) } ?? [] }
    }

    /// Refuses new streams and returns the open ones (to be ended).
    func close() -> [DialogueServer.StreamSubscriber] {
        state.withLock { state in
            state.closed = true
            defer { state.byRoom = [:] }
            return state.byRoom.values.flatMap(\.values)
        }
    }
}
