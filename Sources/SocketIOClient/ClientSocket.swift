import Logging
import SocketIO
import Synchronization

/// An event received by a client socket.
public struct ClientEvent: Sendable {
    /// The event name.
    public let name: String
    /// Its arguments.
    public let arguments: [SocketValue]
    /// Answers the server, when it asked for an acknowledgement.
    public let ack: (@Sendable ([SocketValue]) -> Void)?
}

/// What a client presents on a new connection to recover a socket's session, when the server has
/// connection-state recovery on (socket.io ≥ 4.6): the private session id the server gave, and the offset
/// of the last broadcast received.
public struct SocketRecovery: Sendable, Hashable {
    public let pid: String
    public let offset: String?

    public init(pid: String, offset: String?) {
        self.pid = pid
        self.offset = offset
    }
}

/// A client's connection to one namespace.
public final class ClientSocket: Sendable {
    /// The namespace.
    public let namespace: String
    private let connection: SocketClientConnection
    /// Every event the server sends to this namespace, in order. Ends when the socket disconnects.
    public let events: AsyncStream<ClientEvent>
    private let eventsContinuation: AsyncStream<ClientEvent>.Continuation
    private let state = Mutex(State())
    private let acks = PendingAcks()

    enum Phase {
        case connecting(CheckedContinuation<Void, any Error>?)
        case connected(id: String)
        case refused(String)
        case disconnected(String)
    }

    struct State {
        var phase: Phase = .connecting(nil)
        /// The private session id of the CONNECT answer (the server has recovery on).
        var pid: String?
        /// With a `pid`: the last string that ended an event's arguments, the offset socket.io appends.
        var lastOffset: String?
        var recovered = false
    }

    /// The private session id this socket presents, recovering an earlier one.
    private let presentedPID: String?

    init(namespace: String, connection: SocketClientConnection, recovering: SocketRecovery? = nil) {
        self.namespace = namespace
        self.connection = connection
        self.presentedPID = recovering?.pid
        (events, eventsContinuation) = AsyncStream.makeStream()
    }

    /// What to present on a new connection (``SocketClientConnection/socket(namespace:auth:recovering:)``) to
    /// recover this socket's session once it lost its connection; `nil` when the server does not offer
    /// recovery. As with socket.io's JavaScript client, the offset is the last argument of the last event
    /// received that ended with a string, and events keep that argument.
    public var recoveryState: SocketRecovery? {
        state.withLock { state in state.pid.map { SocketRecovery(pid: $0, offset: state.lastOffset) } }
    }

    /// Whether the server recovered the session presented (socket.io's `socket.recovered`): the same socket
    /// id, rooms and data, and the broadcasts missed meanwhile arrive first.
    public var recovered: Bool { state.withLock { $0.recovered } }

    /// The socket id the server gave, once connected.
    public var id: String? {
        if case .connected(let id) = state.withLock({ $0.phase }) { return id }
        return nil
    }

    /// Why the socket disconnected, once it has (`io server disconnect`, `transport close`, …).
    public var disconnectReason: String? {
        if case .disconnected(let reason) = state.withLock({ $0.phase }) { return reason }
        return nil
    }

    /// Sends an event.
    public func emit(_ event: String, _ arguments: [SocketValue]) {
        connection.send(.event(event, arguments, namespace: namespace))
    }

    /// Sends an event.
    public func emit(_ event: String, _ arguments: SocketValue...) {
        emit(event, arguments)
    }

    /// Sends an event and waits for the server's acknowledgement.
    /// - Throws: ``SocketAckError`` `.timeout` or `.disconnected`.
    public func emitWithAck(_ event: String, _ arguments: [SocketValue], timeout: Duration? = nil) async throws -> [SocketValue] {
        guard isConnected else { throw SocketAckError(.disconnected) }
        return try await acks.wait(timeout: timeout ?? connection.configuration.ackTimeout) { id in
            self.connection.send(.event(event, arguments, namespace: self.namespace, id: id))
        }
    }

    /// Sends an event and waits for the server's acknowledgement.
    public func emitWithAck(_ event: String, _ arguments: SocketValue...) async throws -> [SocketValue] {
        try await emitWithAck(event, arguments)
    }

    /// Leaves the namespace (sends DISCONNECT); the connection stays open for other namespaces.
    public func disconnect() {
        guard isConnected else { return }
        connection.send(SocketPacket(type: .disconnect, namespace: namespace))
        connection.forget(self)
        finish(.disconnected("io client disconnect"))
    }

    /// Whether the namespace is connected.
    public var isConnected: Bool {
        if case .connected = state.withLock({ $0.phase }) { return true }
        return false
    }

    // MARK: Internal

    func waitUntilConnected(timeout: Duration) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { continuation in
                        let outcome = self.state.withLock { state -> Result<Void, SocketClientError>? in
                            switch state.phase {
                            case .connecting:
                                state.phase = .connecting(continuation)
                                return nil
                            case .connected: return .success(())
                            case .refused(let message): return .failure(SocketClientError(.connectionRefused, message))
                            case .disconnected(let reason): return .failure(SocketClientError(.disconnected, reason))
                            }
                        }
                        if let outcome { continuation.resume(with: outcome) }
                    }
                } onCancel: {
                    self.finish(.disconnected("connect cancelled"))
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw SocketClientError(.timeout, "no answer to CONNECT on \(self.namespace)")
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    func received(_ packet: SocketPacket) {
        switch packet.type {
        case .connect:
            guard case .string(let id)? = packet.data?["sid"] else { return finish(.refused("CONNECT answer without sid")) }
            let pid = packet.data?["pid"]?.stringValue
            let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard case .connecting(let waiter) = state.phase else { return nil }
                state.phase = .connected(id: id)
                state.recovered = pid != nil && pid == presentedPID
                state.pid = pid
                return waiter
            }
            waiter?.resume()
        case .connectError:
            let message = packet.data?["message"]?.stringValue ?? packet.data?.stringValue ?? "connection refused"
            connection.forget(self)
            finish(.refused(message))
        case .disconnect:
            connection.forget(self)
            finish(.disconnected("io server disconnect"))
        case .event, .binaryEvent:
            guard let (name, arguments) = packet.eventNameAndArguments else { return }
            var ack: (@Sendable ([SocketValue]) -> Void)?
            if let id = packet.id {
                let connection = connection
                let namespace = namespace
                ack = { arguments in connection.send(.ack(id, arguments, namespace: namespace)) }
            }
            if case .string(let offset)? = arguments.last {
                state.withLock { state in
                    if state.pid != nil { state.lastOffset = offset }
                }
            }
            eventsContinuation.yield(ClientEvent(name: name, arguments: arguments, ack: ack))
        case .ack, .binaryAck:
            guard let id = packet.id, let arguments = packet.ackArguments else { return }
            acks.resolve(id, with: arguments)
        }
    }

    func connectionClosed() {
        finish(.disconnected("transport close"))
    }

    /// Moves to a final phase: wakes a pending connect, fails pending acks, ends the event stream.
    private func finish(_ phase: Phase) {
        let (final, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, any Error>?) in
            var waiter: CheckedContinuation<Void, any Error>?
            switch state.phase {
            case .refused, .disconnected: return (false, nil)
            case .connecting(let pending): waiter = pending
            case .connected: break
            }
            state.phase = phase
            return (true, waiter)
        }
        guard final else { return }
        switch phase {
        case .refused(let message): waiter?.resume(throwing: SocketClientError(.connectionRefused, message))
        case .disconnected(let reason): waiter?.resume(throwing: SocketClientError(.disconnected, reason))
        case .connecting, .connected: break
        }
        acks.close()
        eventsContinuation.finish()
    }
}
