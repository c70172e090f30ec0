import SocketIO
import SocketIOServer

/// A room: its settings, and what can be done with it. A snapshot of the settings at the time it was
/// obtained; its methods always act on the live room.
public struct Room: Sendable {
    public let id: String
    public let name: String
    public let description: String?
    public let maxSize: Int?
    public let events: [any EventDescribing]
    public let defaultSubscriptions: [String]
    public let syncHistoryOnJoin: HistorySync
    /// Whether the room appears in `dialogue:rooms`.
    public let isListed: Bool
    /// Who may join by asking.
    public let access: [AccessRule]
    /// The user who created the room (clients' rooms, or when the server said so).
    public let createdById: String?
    /// The server the room belongs to.
    public let server: DialogueServer

    init(id: String, state: DialogueServer.RoomState, server: DialogueServer) {
        self.id = id
        self.name = state.configuration.name
        self.description = state.configuration.description
        self.maxSize = state.configuration.maxSize
        self.events = state.configuration.events
        self.defaultSubscriptions = state.configuration.defaultSubscriptions
        self.syncHistoryOnJoin = state.configuration.syncHistoryOnJoin
        self.isListed = state.configuration.isListed
        self.access = state.configuration.access
        self.createdById = state.createdById
        self.server = server
    }

    /// Triggers an event here; see ``DialogueServer/trigger(_:_:_:from:meta:)``.
    @discardableResult
    public func trigger<Payload>(_ event: EventDefinition<Payload>, _ data: Payload, from: String? = nil, meta: SocketValue? = nil) async throws(DialogueError) -> AnyEventMessage {
        try await server.trigger(id, event, data, from: from, meta: meta)
    }

    /// Runs `handler` for every `event` delivered here; see ``DialogueServer/on(_:_:_:)``.
    @discardableResult
    public func on<Payload>(_ event: EventDefinition<Payload>, _ handler: @escaping @Sendable (EventMessage<Payload>) async throws -> Void) -> Unsubscribe {
        server.on(id, event, handler)
    }

    /// The number of connections in the room now.
    public func size() -> Int {
        server.state.withLock { $0.rooms[id]?.members.count ?? 0 } + server.remoteMemberCount(id)
    }

    /// Whether the room is at its `maxSize`.
    public func isFull() -> Bool {
        guard let maxSize else { return false }
        return size() >= maxSize
    }

    /// The connections in the room now, in joining order.
    public func participants() -> [ConnectedClient] {
        server.state.withLock { state in (state.rooms[id]?.members ?? []).compactMap { state.clients[$0]?.client } }
    }

    /// Who is in the room on every node of a cluster, this one's clients included, as ``ClusterClient``
    /// values (a connection of another node has no socket here); without a cluster, this node's clients.
    public func clusterParticipants() -> [ClusterClient] {
        server.allClusterClients().filter { $0.rooms.contains(id) }
    }

    /// Events `[start, end)` of one name, newest first: from memory, then from `events.onLoad` for the part
    /// beyond what memory holds (offsets shifted by the number of events in memory).
    public func history(_ eventName: String, start: Int = 0, end: Int = 50) async -> [AnyEventMessage] {
        await server.history(roomId: id, eventName: eventName, start: start, end: end)
    }

    /// The JSON Schemas of the room's events, by event name.
    public var eventSchemas: SocketValue {
        .object(.init(uniqueKeysWithValues: events.map { (SocketKey($0.name), ($0.schema ?? .any).jsonSchema) }))
    }
}

/// Ends a subscription made with `on`: call it (`unsubscribe()`).
public struct Unsubscribe: Sendable {
    let action: @Sendable () -> Void

    public func callAsFunction() { action() }
}

/// The rooms of one user over all of its connections: the `getClientRooms` result of the original.
public struct ClientRooms: Sendable {
    public let userId: String
    /// The room ids.
    public let ids: [String]
    let server: DialogueServer

    /// Runs `body` for each room, without leaving.
    public func forAll(_ body: (String) async throws -> Void) async rethrows {
        for id in ids { try await body(id) }
    }

    /// Runs `callback` for each room (while the user is still in it), then makes every connection of the
    /// user leave every one of these rooms.
    ///
    /// ```swift
    /// await dialogue.getClientRooms(client.userId).leaveAll { roomId in
    ///     try await dialogue.trigger(roomId, UserLeft, .init(userId: client.userId))
    /// }
    /// ```
    public func leaveAll(_ callback: (String) async throws -> Void) async rethrows {
        for id in ids { try await callback(id) }
        await leaveAll()
    }

    /// Makes every connection of the user leave every one of these rooms — on every node of a cluster.
    public func leaveAll() async {
        server.tellCluster(.leaveRequested(userId: userId, roomIds: ids))
        await server.leaveLocally(userId, ids)
    }
}

/// What hooks can see: every client and room, and the server itself.
public struct DialogueContext: Sendable {
    /// The server (trigger events, create rooms, find clients).
    public let server: DialogueServer

    /// Connected clients by client id.
    public var clients: [String: ConnectedClient] {
        Dictionary(uniqueKeysWithValues: server.getAllClients().map { ($0.id, $0) })
    }

    /// Rooms by id.
    public var rooms: [String: Room] {
        Dictionary(uniqueKeysWithValues: server.rooms().map { ($0.id, $0) })
    }

    /// The Socket.IO server.
    public var io: SocketServer { server.io }
}
