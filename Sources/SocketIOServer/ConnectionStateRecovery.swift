import DequeModule
import SocketIO

/// Socket.IO's connection-state recovery (socket.io ≥ 4.6): a client that loses its connection and comes
/// back within ``maxDisconnectionDuration`` gets its socket id, rooms and `data` back, and every broadcast
/// it missed.
///
/// With it on, the CONNECT answer carries a private session id (`pid`) besides the `sid`, and every event
/// broadcast without an acknowledgement carries its offset as its last argument (a string, as socket.io
/// sends it: clients keep the last one they saw). A client reconnecting with `{pid, offset}` in its CONNECT
/// data is recovered when its session is still kept and the offset is still in the log: its
/// ``ServerSocket/recovered`` is set and the missed events follow the CONNECT answer. Events sent to one
/// socket (``ServerSocket/emit(_:_:)``) are not kept, as in socket.io.
///
/// Every broadcast is kept in memory for ``maxDisconnectionDuration``: at 1 000 broadcasts a second that is
/// 120 000 events by default.
public struct ConnectionStateRecovery: Sendable, Hashable {
    /// How long a disconnected client's session and the broadcasts it may miss are kept. Defaults to 2 minutes.
    public var maxDisconnectionDuration: Duration
    /// Whether a recovered socket skips the namespace's middlewares (it passed them when it first
    /// connected). Defaults to `true`.
    public var skipMiddlewares: Bool

    public init(maxDisconnectionDuration: Duration = .seconds(120), skipMiddlewares: Bool = true) {
        precondition(maxDisconnectionDuration > .zero, "maxDisconnectionDuration must be positive")
        self.maxDisconnectionDuration = maxDisconnectionDuration
        self.skipMiddlewares = skipMiddlewares
    }
}

/// What a namespace keeps for recovery: the recent broadcasts, numbered, and the sessions of sockets that
/// disconnected for a reason they may recover from. A value with an injected clock; its namespace owns it.
struct RecoveryLog<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    /// A disconnected socket, as it will be restored.
    struct Session: Sendable {
        let socketID: String
        let pid: String
        /// Its rooms, the one named by its id included.
        let rooms: Set<String>
        let data: (any Sendable)?
        var disconnectedAt: Instant
    }

    /// A broadcast as it was sent: its arguments end with its offset.
    struct Broadcast: Sendable {
        let sequence: UInt64
        let target: BroadcastTarget
        let event: String
        let arguments: [SocketValue]
        let sentAt: Instant
    }

    private let maxAge: Duration
    /// Starts every offset, so that an offset from another process (or namespace) is never taken for one
    /// of these.
    private let prefix: String
    private var nextSequence: UInt64 = 0
    private var broadcasts = Deque<Broadcast>()
    private var sessions: [String: Session] = [:]
    private var sweepAt = 1024

    init(maxAge: Duration, prefix: String) {
        self.maxAge = maxAge
        self.prefix = prefix
    }

    /// Numbers a broadcast sent at `now` and keeps it; returns its arguments with the offset appended.
    mutating func record(event: String, arguments: [SocketValue], target: BroadcastTarget, now: Instant) -> [SocketValue] {
        forgetOld(now: now)
        let sequence = nextSequence
        nextSequence += 1
        let numbered = arguments + [.string(prefix + String(sequence, radix: 36))]
        broadcasts.append(Broadcast(sequence: sequence, target: target, event: event, arguments: numbered, sentAt: now))
        return numbered
    }

    /// Keeps the session of a socket that disconnected at `now`.
    mutating func persist(_ session: Session) {
        sessions[session.pid] = session
        if sessions.count >= sweepAt {
            let now = session.disconnectedAt
            sessions = sessions.filter { $0.value.disconnectedAt.advanced(by: maxAge) >= now }
            sweepAt = Swift.max(1024, sessions.count * 2)
        }
    }

    /// The session `pid` (forgotten here: a session is restored once) with the broadcasts after `offset`
    /// that reached its rooms — or `nil` when it is unknown, expired, or the offset is not in the log
    /// (socket.io's rule: the client then connects afresh).
    mutating func restore(pid: String, offset: String, now: Instant) -> (session: Session, missed: [Broadcast])? {
        forgetOld(now: now)
        guard let session = sessions.removeValue(forKey: pid), session.disconnectedAt.advanced(by: maxAge) >= now else { return nil }
        guard offset.hasPrefix(prefix), let sequence = UInt64(offset.dropFirst(prefix.count), radix: 36), let first = broadcasts.first?.sequence,
            sequence >= first, sequence < nextSequence
        else { return nil }
        let missed = Array(broadcasts.dropFirst(Int(sequence - first) + 1).lazy.filter { Self.reaches($0.target, session.rooms) })
        return (session, missed)
    }

    /// Whether a broadcast to `target` reached a socket in `rooms` (socket.io's rule).
    private static func reaches(_ target: BroadcastTarget, _ rooms: Set<String>) -> Bool {
        (target.rooms.isEmpty || !target.rooms.isDisjoint(with: rooms)) && target.except.isDisjoint(with: rooms)
    }

    private mutating func forgetOld(now: Instant) {
        while let oldest = broadcasts.first, oldest.sentAt.advanced(by: maxAge) < now { broadcasts.removeFirst() }
    }
}
