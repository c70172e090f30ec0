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
    /// Sends `packet` to every socket the target reaches, encoding it once.
    /// - Returns: how many sockets of this process it was written to.
    @discardableResult
    func broadcast(_ packet: SocketPacket, to target: BroadcastTarget) async -> Int
}

/// The single-process adapter: rooms in memory, broadcast by writing the same encoded frames to each
/// member's session. No per-recipient encoding, task or allocation beyond one array of sessions.
public final class InMemoryAdapter: SocketAdapter {
    struct State {
        var sessions: [String: EngineSession] = [:]
        var members: [String: Set<String>] = [:]
        var roomsOfSocket: [String: Set<String>] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func add(_ socket: ServerSocket) {
        state.withLock { state in
            state.sessions[socket.id] = socket.session
            state.members[socket.id, default: []].insert(socket.id)
            state.roomsOfSocket[socket.id, default: []].insert(socket.id)
        }
    }

    public func remove(_ socketID: String) {
        state.withLock { state in
            state.sessions[socketID] = nil
            for room in state.roomsOfSocket.removeValue(forKey: socketID) ?? [] {
                state.members[room]?.remove(socketID)
                if state.members[room]?.isEmpty == true { state.members[room] = nil }
            }
        }
    }

    public func join(_ socketID: String, room: String) {
        state.withLock { state in
            guard state.sessions[socketID] != nil else { return }
            state.members[room, default: []].insert(socketID)
            state.roomsOfSocket[socketID, default: []].insert(room)
        }
    }

    public func leave(_ socketID: String, room: String) {
        state.withLock { state in
            state.roomsOfSocket[socketID]?.remove(room)
            state.members[room]?.remove(socketID)
            if state.members[room]?.isEmpty == true { state.members[room] = nil }
        }
    }

    public func rooms(of socketID: String) -> Set<String> {
        state.withLock { $0.roomsOfSocket[socketID] ?? [] }
    }

    public func socketIDs(for target: BroadcastTarget) -> Set<String> {
        state.withLock { Self.resolve(target, in: $0) }
    }

    @discardableResult
    public func broadcast(_ packet: SocketPacket, to target: BroadcastTarget) async -> Int {
        let frames = SocketEncoder.encode(packet)
        let sessions = state.withLock { state -> [EngineSession] in
            if target.rooms.count == 1, target.except.isEmpty, let members = state.members[target.rooms.first!] {
                // The common case (one room, nobody excluded) needs no intermediate set.
                return members.compactMap { state.sessions[$0] }
            }
            return Self.resolve(target, in: state).compactMap { state.sessions[$0] }
        }
        for session in sessions { session.send(frames) }
        return sessions.count
    }

    private static func resolve(_ target: BroadcastTarget, in state: State) -> Set<String> {
        var excluded = Set<String>()
        for room in target.except { excluded.formUnion(state.members[room] ?? []) }
        var ids = Set<String>()
        if target.rooms.isEmpty {
            ids = Set(state.sessions.keys)
        } else {
            for room in target.rooms { ids.formUnion(state.members[room] ?? []) }
        }
        return ids.subtracting(excluded)
    }
}

/// Chooses recipients for a broadcast: `namespace.to("room").except("other").emit("event", args)`.
public struct BroadcastOperator: Sendable {
    let namespace: String
    let adapter: any SocketAdapter
    var target: BroadcastTarget

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
        await adapter.broadcast(.event(event, arguments, namespace: namespace), to: target)
    }

    /// Emits an event to every socket chosen.
    @discardableResult
    public func emit(_ event: String, _ arguments: SocketValue...) async -> Int {
        await emit(event, arguments)
    }

    /// The ids of the sockets chosen.
    public var socketIDs: Set<String> { adapter.socketIDs(for: target) }
}
