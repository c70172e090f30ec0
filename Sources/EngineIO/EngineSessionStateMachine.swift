/// The life of one Engine.IO session as a value: heartbeat, upgrade and close.
///
/// It does no I/O and reads no clock. The shell that owns it feeds it events with the current instant
/// (``timerFired(now:)``, ``receivedPacket(_:on:now:)``, …) and executes the actions it returns. Because
/// time is an argument, tests drive the heartbeat and the upgrade through any sequence of instants
/// without sleeping.
///
/// Heartbeat (server-initiated, as in Engine.IO v4): `pingInterval` after opening the server sends a
/// ping and waits `pingTimeout` for the pong; the pong schedules the next ping `pingInterval` later;
/// no pong in time closes the session with ``EngineCloseReason/pingTimeout``.
public struct EngineSessionStateMachine<Instant: InstantProtocol>: Sendable
where Instant.Duration == Duration, Instant: Sendable {
    /// Where the session stands.
    public enum State: Sendable, Equatable {
        /// Long-polling is the transport.
        case polling
        /// A WebSocket has been opened for this session; `probed` once it sent `2probe`.
        case upgrading(deadline: Instant, probed: Bool)
        /// WebSocket is the transport.
        case webSocket
        /// The session is over.
        case closed(EngineCloseReason)
    }

    @usableFromInline
    enum Heartbeat: Sendable {
        case pingDue(Instant)
        case awaitingPong(deadline: Instant)
    }

    /// What the shell must do when the timer fires.
    public enum TimerAction: Sendable, Equatable {
        /// Nothing is due yet; sleep until ``nextDeadline``.
        case none
        /// Queue a ping packet for the client.
        case sendPing
        /// The upgrade took too long: close the WebSocket that was opened for it; the session stays on polling.
        case abortUpgrade
        /// Close the session.
        case close(EngineCloseReason)
    }

    /// What the shell must do with a packet received from the client.
    public enum PacketAction: Sendable, Equatable {
        /// Hand the message to the layer above.
        case deliver
        /// Nothing to do (a pong, a noop).
        case ignore
        /// Answer `3probe` on the WebSocket and release a pending poll with a noop.
        case answerProbe
        /// The upgrade is complete: write from now on through the WebSocket only.
        case completeUpgrade
        /// Close the session.
        case close(EngineCloseReason)
        /// The packet arrived on a transport that is not (or no longer) the session's: close that transport only.
        case rejectTransport
    }

    public private(set) var state: State
    /// The transport that carried the session when it closed: a long-polling client may still collect
    /// its last frames (or a noop) with one more GET.
    public private(set) var transportAtClose: EngineTransport?
    @usableFromInline
    var heartbeat: Heartbeat
    private let pingInterval: Duration
    private let pingTimeout: Duration
    private let upgradeTimeout: Duration

    /// A session just opened on `transport` at `now`.
    public init(transport: EngineTransport, configuration: EngineConfiguration, now: Instant) {
        self.state = transport == .polling ? .polling : .webSocket
        self.pingInterval = configuration.pingInterval
        self.pingTimeout = configuration.pingTimeout
        self.upgradeTimeout = configuration.upgradeTimeout
        self.heartbeat = .pingDue(now.advanced(by: configuration.pingInterval))
    }

    // The getters below are inlinable so that a shell in another module reads them specialized for its
    // `Instant`: unspecialized, each read looks up generic metadata at run time, and the shell reads them
    // for every frame it queues.

    /// Whether the session has closed.
    @inlinable
    public var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// The transport that carries the session's outgoing frames, or `nil` once closed.
    @inlinable
    public var activeTransport: EngineTransport? {
        switch state {
        case .polling, .upgrading: .polling
        case .webSocket: .webSocket
        case .closed: nil
        }
    }

    /// Whether a waiting poll must be answered at once: after the probe, the client expects its pending
    /// GET to return (with a noop) so that it can pause polling and complete the upgrade.
    @inlinable
    public var releasesPolling: Bool {
        if case .upgrading(_, probed: true) = state { return true }
        return false
    }

    /// The earliest instant at which ``timerFired(now:)`` has something to do, or `nil` once closed.
    @inlinable
    public var nextDeadline: Instant? {
        let heartbeatDeadline: Instant
        switch heartbeat {
        case .pingDue(let due): heartbeatDeadline = due
        case .awaitingPong(let deadline): heartbeatDeadline = deadline
        }
        switch state {
        case .closed: return nil
        case .upgrading(let deadline, _): return min(deadline, heartbeatDeadline)
        case .polling, .webSocket: return heartbeatDeadline
        }
    }

    /// The timer fired at `now`. Call again until it returns ``TimerAction/none``: several things can be due at once.
    public mutating func timerFired(now: Instant) -> TimerAction {
        switch state {
        case .closed:
            return .none
        case .upgrading(let deadline, _) where deadline <= now:
            state = .polling
            return .abortUpgrade
        case .polling, .upgrading, .webSocket:
            switch heartbeat {
            case .pingDue(let due) where due <= now:
                heartbeat = .awaitingPong(deadline: now.advanced(by: pingTimeout))
                return .sendPing
            case .awaitingPong(let deadline) where deadline <= now:
                enterClosed(.pingTimeout)
                return .close(.pingTimeout)
            case .pingDue, .awaitingPong:
                return .none
            }
        }
    }

    /// A WebSocket asks to take over this session. Returns `false` (refuse it) unless the session is on
    /// long-polling with no other upgrade in progress.
    public mutating func webSocketOpened(now: Instant) -> Bool {
        switch state {
        case .polling:
            state = .upgrading(deadline: now.advanced(by: upgradeTimeout), probed: false)
            return true
        case .upgrading, .webSocket, .closed:
            return false
        }
    }

    /// The WebSocket opened for an upgrade went away before the upgrade completed.
    public mutating func upgradeWebSocketClosed() {
        if case .upgrading = state { state = .polling }
    }

    /// A packet arrived from the client on `transport` at `now`.
    public mutating func receivedPacket(_ packet: EnginePacket, on transport: EngineTransport, now: Instant) -> PacketAction {
        switch state {
        case .closed:
            return .ignore
        case .upgrading(let deadline, let probed) where transport == .webSocket:
            // The WebSocket under trial may only carry the probe and then the upgrade packet.
            switch packet.type {
            case .ping where packet.text == "probe" && !probed:
                state = .upgrading(deadline: deadline, probed: true)
                return .answerProbe
            case .upgrade where probed:
                state = .webSocket
                return .completeUpgrade
            case .noop:
                return .ignore
            default:
                state = .polling
                return .rejectTransport
            }
        case .polling, .upgrading, .webSocket:
            guard transport == activeTransport else {
                return .rejectTransport
            }
            switch packet.type {
            case .message:
                return .deliver
            case .pong:
                if case .awaitingPong = heartbeat {
                    heartbeat = .pingDue(now.advanced(by: pingInterval))
                }
                return .ignore
            case .noop:
                return .ignore
            case .close:
                enterClosed(.transportClose)
                return .close(.transportClose)
            case .open, .ping, .upgrade:
                // Engine.IO v4 clients never send these on an established transport.
                enterClosed(.parseError)
                return .close(.parseError)
            }
        }
    }

    /// The active transport failed or was closed by the client.
    public mutating func transportClosed(_ transport: EngineTransport) -> Bool {
        guard transport == activeTransport else {
            if transport == .webSocket { upgradeWebSocketClosed() }
            return false
        }
        enterClosed(.transportClose)
        return true
    }

    private mutating func enterClosed(_ reason: EngineCloseReason) {
        transportAtClose = activeTransport
        state = .closed(reason)
    }

    /// The server closes the session for `reason`. Returns `false` if it was closed already.
    public mutating func close(_ reason: EngineCloseReason) -> Bool {
        if isClosed { return false }
        enterClosed(reason)
        return true
    }
}
