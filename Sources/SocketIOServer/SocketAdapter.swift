import EngineIO
import EngineIOServer
import SocketIO
import Synchronization

/// Where a broadcast goes: the sockets in any of `rooms` (every socket of the namespace when empty),
/// minus the sockets in any of `except`.
public struct BroadcastTarget: Sendable, Hashable {
    public var rooms: Set<String>
    public var except: Set<String>

    public init(rooms: Set<String> = [], except: Set<String> = []) {
        self.rooms = rooms
        self.except = except
    }
}

/// Keeps the rooms of one namespace and delivers broadcasts to their members.
///
/// Every socket is in the room named by its own id. The in-memory adapter serves one process; a
/// multi-node adapter implements the same protocol and also forwards broadcasts to the other nodes.
public protocol SocketAdapter: Sendable {
    /// Adds a connected socket; it joins the room named by its id.
    func add(_ socket: ServerSocket)
    /// Removes a socket from every room.
    func remove(_ socketID: String)
    /// Adds a socket to a room.
    func join(_ socketID: String, room: String)
    /// Removes a socket from a room.
    func leave(_ socketID: String, room: String)
    /// The rooms a socket is in.
    func rooms(of socketID: String) -> Set<String>
    /// The ids of the sockets a target reaches.
    func socketIDs(for target: BroadcastTarget) -> Set<String>
    /// Sends `packet` to every socket the target reaches, encoding it once; with `volatile`, only to
    /// those whose transport can take it now (``EngineIOServer/EngineSession/send(_:volatile:)``).
    /// - Returns: how many sockets of this process it was written to.
    @discardableResult
    func broadcast(_ packet: SocketPacket, to target: BroadcastTarget, volatile: Bool) async -> Int
}

/// The single-process adapter: rooms in memory, broadcast by writing the same encoded frames to each
/// member's session.
///
/// A room maps its members' socket ids to their sessions, so a broadcast to one room reads the sessions
/// straight out of it (no lookup or hashing per recipient); only a broadcast to several rooms, or with
/// exclusions, builds a set, of session identities.
public final class InMemoryAdapter: SocketAdapter {
    struct State {
        /// Every socket: its session and the rooms it joined.
        var sockets: [String: Member] = [:]
        /// The rooms sockets joined: member socket ids to sessions. The room named by a socket's own id
        /// is not stored here (it would cost every connection a dictionary): see ``members(of:)``.
        var rooms: [String: [String: EngineSession]] = [:]

        struct Member {
            var session: EngineSession
            /// The rooms joined, besides its own.
            var rooms: Set<String> = []
            /// Whether it is in the room named by its id (it is, unless it left it).
            var inOwnRoom = true
        }

        /// A room's members: those that joined it, and the socket it is named after.
        func members(of room: String) -> [String: EngineSession]? {
            guard let owner = sockets[room], owner.inOwnRoom else { return rooms[room] }
            var members = rooms[room] ?? [:]
            members[room] = owner.session
            return members
        }

        mutating func leave(_ socketID: String, room: String) {
            if room == socketID {
                sockets[socketID]?.inOwnRoom = false
                return
            }
            sockets[socketID]?.rooms.remove(room)
            rooms[room]?[socketID] = nil
            if rooms[room]?.isEmpty == true { rooms[room] = nil }
        }
    }

    private let state = Mutex(State())

    public init() {}

    public func add(_ socket: ServerSocket) {
        state.withLock { $0.sockets[socket.id] = State.Member(session: socket.session) }
    }

    public func remove(_ socketID: String) {
        state.withLock { state in
            guard let socket = state.sockets[socketID] else { return }
            for room in socket.rooms { state.leave(socketID, room: room) }
            state.sockets[socketID] = nil
        }
    }

    public func join(_ socketID: String, room: String) {
        state.withLock { state in
            guard let session = state.sockets[socketID]?.session else { return }
            if room == socketID {
                state.sockets[socketID]?.inOwnRoom = true
                return
            }
            state.sockets[socketID]?.rooms.insert(room)
            state.rooms[room, default: [:]][socketID] = session
        }
    }

    public func leave(_ socketID: String, room: String) {
        state.withLock { $0.leave(socketID, room: room) }
    }

    public func rooms(of socketID: String) -> Set<String> {
        state.withLock { state in
            guard let socket = state.sockets[socketID] else { return [] }
            return socket.inOwnRoom ? socket.rooms.union([socketID]) : socket.rooms
        }
    }

    public func socketIDs(for target: BroadcastTarget) -> Set<String> {
        Set(state.withLock { Self.recipients(of: target, in: $0) }.keys)
    }

    @discardableResult
    public func broadcast(_ packet: SocketPacket, to target: BroadcastTarget, volatile: Bool) async -> Int {
        let frames = SocketEncoder.encode(packet)
        let recipients = state.withLock { Self.recipients(of: target, in: $0) }
        return EngineSession.broadcast(frames, to: recipients.values, volatile: volatile)
    }

    /// The sockets a target reaches, with their sessions. The common case (one room with members, nobody
    /// excluded) is the room itself, not a copy; otherwise sessions are told apart by identity.
    private static func recipients(of target: BroadcastTarget, in state: State) -> [String: EngineSession] {
        let rooms = target.rooms.isEmpty ? [state.sockets.mapValues(\.session)] : target.rooms.compactMap { state.members(of: $0) }
        if target.except.isEmpty, rooms.count <= 1 { return rooms.first ?? [:] }
        var seen = Set<ObjectIdentifier>()
        for room in target.except {
            for session in (state.members(of: room) ?? [:]).values { seen.insert(ObjectIdentifier(session)) }
        }
        var recipients: [String: EngineSession] = [:]
        for members in rooms {
            for (id, session) in members where seen.insert(ObjectIdentifier(session)).inserted { recipients[id] = session }
        }
        return recipients
    }
}

/// Chooses recipients for a broadcast: `namespace.to("room").except("other").emit("event", args)`.
public struct BroadcastOperator: Sendable {
    let namespace: SocketNamespace
    var target: BroadcastTarget
    var isVolatile = false

    /// The same recipients, but the event is dropped for those whose transport cannot take it now (frames
    /// already wait for them, or no long-polling GET is pending) instead of queued — socket.io's
    /// `volatile`: for what is stale once late (positions, typing). A volatile event is not kept for
    /// connection-state recovery.
    public var volatile: BroadcastOperator {
        var copy = self
        copy.isVolatile = true
        return copy
    }

    /// Adds a room to send to.
    public func to(_ room: String) -> BroadcastOperator {
        var copy = self
        copy.target.rooms.insert(room)
        return copy
    }

    /// Excludes the sockets of a room.
    public func except(_ room: String) -> BroadcastOperator {
        var copy = self
        copy.target.except.insert(room)
        return copy
    }

    /// Emits an event to every socket chosen, encoding it once.
    /// - Returns: how many sockets of this process it was written to.
    @discardableResult
    public func emit(_ event: String, _ arguments: [SocketValue]) async -> Int {
        await namespace.broadcast(event, arguments, to: target, volatile: isVolatile)
    }

    /// Emits an event to every socket chosen.
    @discardableResult
    public func emit(_ event: String, _ arguments: SocketValue...) async -> Int {
        await emit(event, arguments)
    }

    /// Emits an event to every socket chosen on this node, each asked for an acknowledgement, and waits
    /// for them all (socket.io's `timeout(ms).emitWithAck`): the answers by socket id.
    ///
    /// Each recipient is written its own packet (its own ack id), not the broadcast's shared frames: a
    /// broadcast that waits for every answer is not the hot path.
    /// - Throws: ``SocketBroadcastAckError`` with the answers that came and the sockets that did not
    ///   answer within `timeout` (or disconnected first).
    public func emitWithAck(_ event: String, _ arguments: [SocketValue], timeout: Duration) async throws(SocketBroadcastAckError) -> [String: [SocketValue]] {
        let recipients = socketIDs.compactMap { namespace.socket(id: $0) }
        let outcomes = await withTaskGroup(of: (String, [SocketValue]?).self) { group in
            for socket in recipients {
                group.addTask { (socket.id, try? await socket.emitWithAck(event, arguments, timeout: timeout)) }
            }
            return await group.reduce(into: [(String, [SocketValue]?)]()) { $0.append($1) }
        }
        var answers: [String: [SocketValue]] = [:]
        var missing: Set<String> = []
        for (id, answer) in outcomes {
            if let answer { answers[id] = answer } else { missing.insert(id) }
        }
        guard missing.isEmpty else { throw SocketBroadcastAckError(answers: answers, missing: missing) }
        return answers
    }

    /// Emits an event to every socket chosen and waits for every acknowledgement; see
    /// ``emitWithAck(_:_:timeout:)``.
    public func emitWithAck(_ event: String, _ arguments: SocketValue..., timeout: Duration) async throws(SocketBroadcastAckError) -> [String: [SocketValue]] {
        try await emitWithAck(event, arguments, timeout: timeout)
    }

    /// The ids of the sockets chosen.
    public var socketIDs: Set<String> { namespace.adapter.socketIDs(for: target) }
}

/// Some recipients of a broadcast with acknowledgements did not answer in time (or disconnected first).
public struct SocketBroadcastAckError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The answers that came, by socket id.
    public let answers: [String: [SocketValue]]
    /// The sockets that did not answer.
    public let missing: Set<String>

    public var description: String { "SocketBroadcastAckError(\(missing.count) of \(missing.count + answers.count) did not answer: \(missing.sorted()))" }
}
