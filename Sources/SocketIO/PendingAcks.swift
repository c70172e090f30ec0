import Synchronization

/// An acknowledgement that did not arrive.
public struct SocketAckError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The peer did not answer within the timeout.
        case timeout
        /// The socket disconnected before the peer answered.
        case disconnected
    }

    public let code: Code
    public init(_ code: Code) { self.code = code }
    public var description: String { "SocketAckError(\(code.rawValue))" }
}

/// The acknowledgements one socket is waiting for, on either side of the connection: ids, waiting with
/// a timeout, delivery, and failure of them all at disconnect.
public final class PendingAcks: Sendable {
    private struct State {
        var nextID = 0
        var waiting: [Int: CheckedContinuation<[SocketValue], any Error>] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    public init() {}

    /// Sends a packet that asks for an acknowledgement and waits for it.
    ///
    /// - Parameters:
    ///   - timeout: How long to wait.
    ///   - send: Sends the packet with the given ack id; called only once the waiter is registered, so an
    ///     answer can never arrive before it is expected.
    /// - Throws: ``SocketAckError`` `.timeout` or `.disconnected`; `CancellationError` if cancelled.
    public func wait(timeout: Duration, send: @escaping @Sendable (_ id: Int) -> Void) async throws -> [SocketValue] {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        return try await withThrowingTaskGroup(of: [SocketValue].self) { group in
            group.addTask {
                try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { continuation in
                        let refusal = self.state.withLock { state -> (any Error)? in
                            // Checked under the lock: a cancellation that ran before this registration finds no waiter.
                            if Task.isCancelled { return CancellationError() }
                            if state.closed { return SocketAckError(.disconnected) }
                            state.waiting[id] = continuation
                            return nil
                        }
                        if let refusal {
                            continuation.resume(throwing: refusal)
                        } else {
                            send(id)
                        }
                    }
                } onCancel: {
                    self.state.withLock { $0.waiting.removeValue(forKey: id) }?.resume(throwing: CancellationError())
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw SocketAckError(.timeout)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// Delivers the acknowledgement `id`; an unknown or late id is ignored.
    public func resolve(_ id: Int, with arguments: [SocketValue]) {
        state.withLock { $0.waiting.removeValue(forKey: id) }?.resume(returning: arguments)
    }

    /// Fails every waiting acknowledgement, and every later one, with `.disconnected`.
    public func close() {
        let waiting = state.withLock { state in
            state.closed = true
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for continuation in waiting { continuation.resume(throwing: SocketAckError(.disconnected)) }
    }
}
