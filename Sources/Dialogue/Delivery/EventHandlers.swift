import Synchronization

/// The handlers registered with ``DialogueServer/on(_:event:_:)``: who runs for an event delivered in a room.
final class EventHandlers: Sendable {
    typealias Handler = @Sendable (AnyEventMessage) async throws -> Void

    struct Registration: Sendable {
        let id: Int
        let roomPattern: String
        let eventName: String
        let handler: Handler
    }

    private struct State {
        var registrations: [Registration] = []
        var nextID = 0
    }

    private let state = Mutex(State())

    /// Adds a handler; returns its id for ``remove(_:)``.
    func add(roomPattern: String, eventName: String, _ handler: @escaping Handler) -> Int {
        state.withLock { state in
            state.nextID += 1
            state.registrations.append(Registration(id: state.nextID, roomPattern: roomPattern, eventName: eventName, handler: handler))
            return state.nextID
        }
    }

    func remove(_ id: Int) {
        state.withLock { $0.registrations.removeAll { $0.id == id } }
    }

    /// The handlers of an event delivered in `roomId`, in registration order.
    func matching(_ message: AnyEventMessage) -> [Registration] {
        state.withLock { state in
            state.registrations.filter {
                ($0.eventName == message.event || $0.eventName == "*") && ($0.roomPattern == message.roomId || Glob.matches($0.roomPattern, message.roomId))
            }
        }
    }
}
