import Synchronization

/// Ends an observation made with a callback: call ``cancel()``.
public struct ObservationToken: Sendable {
    let action: @Sendable () -> Void

    /// Stops the callback.
    public func cancel() { action() }
}

/// Something a client can observe, both ways: a callback (``observe(_:)``) or an `AsyncSequence`
/// (`for await value in signal`). Each iteration of the sequence is its own subscription, starting now.
///
/// ```swift
/// let token = client.disconnected.observe { reason in print("lost: \(reason)") }
/// for await room in client.roomCreated { print("new room \(room.name)") }
/// ```
public struct ClientSignal<Value: Sendable>: AsyncSequence, Sendable {
    public typealias Element = Value
    let hub: SignalHub<Value>

    /// Calls `handler` for every value from now on, until the token is cancelled.
    @discardableResult
    public func observe(_ handler: @escaping @Sendable (Value) -> Void) -> ObservationToken {
        let id = hub.add(handler)
        return ObservationToken { [hub] in hub.remove(id) }
    }

    public func makeAsyncIterator() -> AsyncStream<Value>.Iterator {
        let (stream, continuation) = AsyncStream<Value>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        let id = hub.add { continuation.yield($0) }
        continuation.onTermination = { [hub] _ in hub.remove(id) }
        return stream.makeAsyncIterator()
    }
}

/// The observers of one signal.
final class SignalHub<Value: Sendable>: Sendable {
    private let observers = Mutex<(next: Int, handlers: [Int: @Sendable (Value) -> Void])>((0, [:]))

    init() {}

    var signal: ClientSignal<Value> { ClientSignal(hub: self) }

    func add(_ handler: @escaping @Sendable (Value) -> Void) -> Int {
        observers.withLock { observers in
            observers.next += 1
            observers.handlers[observers.next] = handler
            return observers.next
        }
    }

    func remove(_ id: Int) {
        observers.withLock { _ = $0.handlers.removeValue(forKey: id) }
    }

    /// Delivers `value` to every observer, in the order they subscribed.
    func send(_ value: Value) {
        let handlers = observers.withLock { $0.handlers.sorted { $0.key < $1.key }.map(\.value) }
        for handler in handlers { handler(value) }
    }
}
