import OrderedCollections
import SocketIO

/// Who is connected where, across a cluster: this node tells the others about its clients (in order, one
/// sender task), follows theirs in ``ClusterRoster``, and answers "who is in this room" for the cluster.
/// On one node the roster stays empty and every answer is the node's own.
extension DialogueServer {
    /// Queues a change of this node's clients for the other nodes (nothing on one node).
    func tellCluster(_ change: RosterChange) {
        guard configuration.cluster != nil else { return }
        rosterOutbox.yield(change)
    }

    /// Sends the queued roster changes, in order, until the server stops.
    func sendRoster(through link: any ClusterLink) async {
        defer { rosterSent.fire() }
        // A change made before the node joined waits for it (the link cannot send before).
        try? await link.waitUntilReady()
        for await change in rosterChanges {
            do {
                try await link.send(change)
            } catch {
                logger.error("sending a roster change to the cluster failed; the other nodes' view of this one is stale until its next snapshot",
                             metadata: ["dialogue.error": "\(error)"])
            }
        }
    }

    /// Answers a node that asked for snapshots: this node's clients, and the rooms made at run time it has
    /// (the asking node makes those it lacks; every node that has a room may say so).
    func sendSnapshot() {
        tellCluster(.snapshot(localRoster()))
        let made = state.withLock { state in state.rooms.filter { $0.value.origin == .client || $0.value.origin == .server } }
        for (id, room) in made {
            if room.origin == .client, let creator = room.createdById {
                let configuration = room.configuration
                tellCluster(.clientRoomCreated(ClientRoom(
                    id: id, name: configuration.name, description: configuration.description, maxSize: configuration.maxSize, createdById: creator
                )))
            } else {
                tellCluster(.serverRoomCreated(roomId: id, createdById: room.createdById, configuration: room.configuration.clusterValue))
            }
        }
    }

    /// This node's clients, in the roster's form.
    func localRoster() -> [ClusterClient] {
        let node = configuration.cluster?.nodeID ?? ""
        return state.withLock { state in
            state.clients.values.map { entry in
                ClusterClient(
                    id: entry.client.id, userId: entry.client.userId, username: entry.client.username, node: node,
                    connectedAt: entry.client.connectedAt, rooms: OrderedSet(entry.subscriptions.keys)
                )
            }.sorted { ($0.connectedAt, $0.id) < ($1.connectedAt, $1.id) }
        }
    }

    /// A node left the cluster: its clients leave every answer. The one node that removed it announces
    /// `user:left` in each room where none of the user's connections remains anywhere.
    func nodeLeft(_ node: String, announcedHere: Bool) async {
        let gone = roster.drop(node: node)
        logger.notice("cluster node left; its clients are gone", metadata: ["dialogue.node": .string(node), "dialogue.clients": "\(gone.count)"])
        guard announcedHere else { return }
        var announced = Set<[String]>()
        for client in gone {
            for roomId in client.rooms where announced.insert([roomId, client.userId]).inserted {
                guard announcesPresence(roomId), !isInRoom(client.userId, roomId) else { continue }
                await announce("user:left", ["userId": .string(client.userId)], in: roomId, from: client.userId)
            }
        }
    }

    // MARK: Answers for the whole cluster

    /// Every connection in the cluster, this node's first, then by node; on one node, this node's.
    public func allClusterClients() -> [ClusterClient] {
        localRoster() + roster.clients
    }

    /// The user's connections anywhere in the cluster.
    public func clusterClients(_ userId: String) -> [ClusterClient] {
        localRoster().filter { $0.userId == userId } + roster.clients(ofUser: userId)
    }

    /// Closes a connection wherever it is: one of this node's at once, another node's through that node.
    /// - Returns: `false` when no node is known to have it.
    @discardableResult
    public func disconnect(clientId: String) -> Bool {
        if let local = state.withLock({ $0.clients[clientId]?.client }) {
            local.disconnect()
            return true
        }
        guard roster.clients.contains(where: { $0.id == clientId }) else { return false }
        tellCluster(.commandRequested(clientId: clientId, .disconnect))
        return true
    }

    /// Sends an event to one connection wherever it is, outside any room (as ``ConnectedClient/send(_:_:)``).
    /// - Returns: `false` when no node is known to have it.
    @discardableResult
    public func send(_ event: String, _ data: SocketValue, toClient clientId: String) async -> Bool {
        (try? await command(.send(event: event, data: data), clientId)) ?? false
    }

    /// Joins a connection, wherever it is, to a room (as ``ConnectedClient/join(_:)``). A connection of
    /// another node joins there; a refusal (`ROOM_FULL`, `ROOM_NOT_FOUND`) is logged by that node.
    /// - Returns: `false` when no node is known to have it.
    /// - Throws: ``DialogueError`` as ``ConnectedClient/join(_:)`` for a connection of this node.
    @discardableResult
    public func join(clientId: String, _ roomId: String) async throws(DialogueError) -> Bool {
        try await command(.join(roomId: roomId), clientId)
    }

    /// Takes a connection, wherever it is, out of a room (as ``ConnectedClient/leave(_:)``).
    /// - Returns: `false` when no node is known to have it.
    /// - Throws: ``DialogueError`` `NOT_IN_ROOM` for a connection of this node.
    @discardableResult
    public func leave(clientId: String, _ roomId: String) async throws(DialogueError) -> Bool {
        try await command(.leave(roomId: roomId), clientId)
    }

    /// Acts on a connection of this node at once, or asks the node that has it.
    private func command(_ command: ClientCommand, _ clientId: String) async throws(DialogueError) -> Bool {
        if let local = state.withLock({ $0.clients[clientId]?.client }) {
            try await perform(command, on: local)
            return true
        }
        guard roster.clients.contains(where: { $0.id == clientId }) else { return false }
        tellCluster(.commandRequested(clientId: clientId, command))
        return true
    }

    /// Does what another node asked of a connection of this one (nothing if it is gone meanwhile).
    func performRequested(_ command: ClientCommand, clientId: String) async {
        guard let local = state.withLock({ $0.clients[clientId]?.client }) else { return }
        do {
            try await perform(command, on: local)
        } catch {
            logger.warning("a command from another node failed", metadata: ["dialogue.client": .string(clientId), "dialogue.error": "\(error)"])
        }
    }

    private func perform(_ command: ClientCommand, on client: ConnectedClient) async throws(DialogueError) {
        switch command {
        case .send(let event, let data): client.send(event, data)
        case .join(let roomId): try await client.join(roomId)
        case .leave(let roomId): try await client.leave(roomId)
        case .disconnect: client.disconnect()
        }
    }

    /// Takes the user's connections of this node out of `roomIds` (those they are in).
    func leaveLocally(_ userId: String, _ roomIds: [String]) async {
        for client in getClients(userId) {
            for roomId in roomIds where client.isIn(roomId) {
                do { try await client.leave(roomId) } catch {}  // left meanwhile: nothing to do
            }
        }
    }

    /// Makes a room a client of another node made, from this node's client-room template.
    func makeClientRoom(_ made: ClientRoom) async {
        var room = configuration.clientRooms.template
        room.name = made.name
        room.description = made.description
        room.maxSize = made.maxSize
        await makeRoom(made.id, RoomState(configuration: room, createdById: made.createdById, origin: .client))
    }

    /// Makes a room the server API of another node made, from the configuration it sent.
    func makeServerRoom(_ id: String, createdById: String?, _ sent: SocketValue) async {
        guard let room = RoomConfiguration(clusterValue: sent) else {
            logger.error("a room made on another node does not decode; it exists there only", metadata: ["dialogue.room": .string(id)])
            return
        }
        await makeRoom(id, RoomState(configuration: room, createdById: createdById, origin: .server))
    }

    /// Adds a room another node made, unless one of that id exists here, and announces it to this node's
    /// clients (the hooks ran where it was made).
    private func makeRoom(_ id: String, _ room: RoomState) async {
        let handle = state.withLock { state -> Room? in
            guard state.rooms[id] == nil else { return nil }
            state.rooms[id] = room
            if room.origin == .client, let creator = room.createdById { state.roomsCreatedByUser[creator, default: 0] += 1 }
            return Room(id: id, state: room, server: self)
        }
        if let handle { await announceCreated(handle, fromCluster: true) }
    }

    /// How many connections of other nodes joined `roomId`.
    func remoteMemberCount(_ roomId: String) -> Int {
        configuration.cluster == nil ? 0 : roster.memberCount(roomId)
    }

    func announcesPresence(_ roomId: String) -> Bool {
        state.withLock { $0.rooms[roomId]?.configuration.announcesPresence ?? false }
    }
}
