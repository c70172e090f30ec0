import OrderedCollections
import SocketIO
import SocketIOServer

/// Connections, identity and room membership.
extension DialogueServer {
    /// The Socket.IO room that carries one room's event name to its subscribers (`*` for wildcard ones).
    static func subscriptionRoom(_ roomId: String, _ eventName: String) -> String {
        "\u{1}dialogue\u{1}\(roomId)\u{1}\(eventName)"
    }

    // MARK: Connecting

    /// The namespace middleware when JWT verification or an authenticate hook is set: the token (handshake
    /// `auth.token`) is verified first, then the hook decides, seeing the verified claims.
    func authenticate(_ socket: ServerSocket) async throws {
        var verified: JWTClaims?
        if let jwt = configuration.jwt {
            guard let token = socket.handshake.auth["token"]?.stringValue, !token.isEmpty else {
                throw SocketConnectError("Authentication required: send a token in auth.token")
            }
            do {
                verified = try await jwt.verify(token)
            } catch {
                logger.info("token refused", metadata: ["dialogue.reason": .string(error.reason)])
                throw SocketConnectError(error.reason)
            }
            socket.data = AuthData(jwt: verified!)
        }
        guard let hook = configuration.hooks.socket.authenticate else { return }
        let result: AuthenticationResult
        do {
            result = try await hook(AuthenticationRequest(context: context, socket: socket, token: verified))
        } catch {
            logger.error("authenticate hook failed; connection refused", metadata: ["dialogue.error": "\(error)"])
            throw SocketConnectError("Authentication failed")
        }
        switch result {
        case .reject(let reason):
            logger.info("authentication rejected", metadata: ["dialogue.reason": .string(reason)])
            throw SocketConnectError(reason)
        case .accept(let auth):
            socket.data = auth
        }
    }

    func connected(_ socket: ServerSocket) async {
        await ready.wait()
        let auth = socket.data as? AuthData
        let handshake = socket.handshake.auth
        let claimed = handshake["userId"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? handshake["token"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        let userId = auth?.jwt.sub ?? claimed ?? socket.id
        var meta = handshake.objectValue ?? [:]
        meta["userId"] = nil
        meta["token"] = nil
        let client = ConnectedClient(socket: socket, userId: userId, meta: .object(meta), auth: auth, server: self)
        state.withLock { state in
            state.clients[client.id] = ClientState(client: client)
            state.clientIDsByUser[userId, default: []].append(client.id)
        }
        tellCluster(.connected(ClusterClient(
            id: client.id, userId: userId, username: client.username, node: configuration.cluster?.nodeID ?? "", connectedAt: client.connectedAt
        )))
        watchExpiry(of: client)
        socket.dispatchEvents(to: client)
        socket.onDisconnect { [weak self] reason in await self?.disconnected(client, reason: reason) }
        await runHook("socket.onConnect") { try await configuration.hooks.socket.onConnect?(context, socket) }
        socket.emit("dialogue:connected", ["clientId": .string(client.id), "userId": .string(userId)])
        logger.debug("client connected", metadata: ["dialogue.client": .string(client.id), "dialogue.user": .string(userId)])
        await runHook("clients.onConnected") { try await configuration.hooks.clients.onConnected?(client) }
    }

    func disconnected(_ client: ConnectedClient, reason: SocketDisconnectReason) async {
        await runHook("clients.onDisconnected") { try await configuration.hooks.clients.onDisconnected?(client) }
        let (left, emptied, limited) = state.withLock { state -> ([String], [String], Bool) in
            guard let removed = state.clients.removeValue(forKey: client.id) else { return ([], [], false) }
            removed.expiry?.cancel()
            state.clientIDsByUser[client.userId]?.remove(client.id)
            if state.clientIDsByUser[client.userId]?.isEmpty == true { state.clientIDsByUser[client.userId] = nil }
            state.historyRequests.reset(client.id)
            var emptied: [String] = []
            for roomId in removed.subscriptions.keys {
                state.rooms[roomId]?.members.remove(client.id)
                if let room = state.rooms[roomId], room.removesWhenEmpty, room.members.isEmpty { emptied.append(roomId) }
            }
            let limited = removed.subscriptions.keys.contains { state.rooms[$0]?.configuration.maxSize != nil }
            return (Array(removed.subscriptions.keys), emptied, limited)
        }
        tellCluster(.disconnected(clientId: client.id))
        if limited { await releaseSeat(of: client.id, in: nil) }
        for roomId in left {
            await announcePresence(of: client, in: roomId, joined: false)
            await runHook("clients.onLeft") { try await configuration.hooks.clients.onLeft?(client, roomId) }
        }
        for roomId in emptied { await removeRoom(roomId, ifEmpty: true) }
        await runHook("socket.onDisconnect") { try await configuration.hooks.socket.onDisconnect?(context, client.socket, reason) }
        logger.debug("client disconnected", metadata: ["dialogue.client": .string(client.id), "sio.reason": .string(reason.rawValue)])
        metrics.disconnected(reason: reason.rawValue)
    }

    // MARK: Membership

    private enum JoinTarget {
        case joined(Room)
        case existing(Room)
        case fromTemplate(RoomState)
    }

    /// Joins `client` to a room; `asked` when the client asked (then `clients.beforeJoin` decides); `resume`
    /// when a reconnecting client says what it saw (then it gets what it missed, or is told it cannot).
    @discardableResult
    func join(_ client: ConnectedClient, _ roomId: String, asked: Bool, resume: Resume? = nil) async throws(DialogueError) -> JoinOutcome {
        let target = try state.withLock { state throws(DialogueError) -> JoinTarget in
            guard let clientState = state.clients[client.id] else { throw DialogueError(.notConnected, "The client is not connected") }
            if let room = state.rooms[roomId] {
                let handle = Room(id: roomId, state: room, server: self)
                return clientState.subscriptions[roomId] != nil ? .joined(handle) : .existing(handle)
            }
            guard let template = configuration.roomTemplates.first(where: { $0.matches(roomId) }) else { throw .roomNotFound(roomId) }
            return .fromTemplate(RoomState(configuration: template.configuration(for: roomId), origin: .template(removeWhenEmpty: template.removeWhenEmpty)))
        }
        let prospective: RoomState?
        let room: Room
        switch target {
        case .joined(let joined):
            let payload: SocketValue = ["roomId": .string(roomId), "roomName": .string(joined.name)]
            client.socket.emit("dialogue:joined", payload)
            return JoinOutcome(room: joined, joined: payload, subscriptions: client.subscriptions(roomId))
        case .existing(let existing):
            (room, prospective) = (existing, nil)
        case .fromTemplate(let roomState):
            (room, prospective) = (Room(id: roomId, state: roomState, server: self), roomState)
        }
        if asked, let refusal = room.access.refusal(client.auth, roomId: roomId) {
            logger.info("join refused by an access rule", metadata: ["dialogue.room": .string(roomId), "dialogue.reason": .string(refusal.message)])
            throw refusal
        }
        if asked, let beforeJoin = configuration.hooks.clients.beforeJoin {
            let decision: JoinDecision
            do {
                decision = try await beforeJoin(JoinRequest(context: context, client: client, roomId: roomId, room: room))
            } catch {
                logger.error("beforeJoin hook failed; join denied", metadata: ["dialogue.room": .string(roomId), "dialogue.error": "\(error)"])
                decision = .deny("Join denied")
            }
            if case .deny(let reason) = decision { throw DialogueError(.joinDenied, reason) }
        }
        let seated = try await claimSeat(for: client, in: room)
        // Held from the snapshot until the catch-up is sent, so live delivery resumes exactly after it.
        let gated = await roomLogs.acquireGate(roomId)
        let (delivered, epoch) = roomLogs.joinPosition(roomId)
        var snapshot: JoinSnapshot
        do {
            snapshot = try state.withLock { state throws(DialogueError) -> JoinSnapshot in
                guard let joinedRooms = state.clients[client.id]?.subscriptions.count else { throw DialogueError(.notConnected, "The client is not connected") }
                if asked, joinedRooms >= configuration.maxRoomsPerClient {
                    throw DialogueError(.permissionDenied, "A connection may be in at most \(configuration.maxRoomsPerClient) rooms; leave one first")
                }
                var created: Room?
                if state.rooms[roomId] == nil {
                    guard let prospective else { throw .roomNotFound(roomId) }
                    state.rooms[roomId] = prospective
                    created = Room(id: roomId, state: prospective, server: self)
                }
                guard var room = state.rooms[roomId] else { throw .roomNotFound(roomId) }
                let handle = Room(id: roomId, state: room, server: self)
                var snapshot = JoinSnapshot(room: handle, created: created, delivered: delivered, epoch: epoch)
                if state.clients[client.id]?.subscriptions[roomId] != nil { return snapshot }
                if !seated, let maxSize = room.configuration.maxSize, room.members.count + remoteMemberCount(roomId) >= maxSize {
                    throw DialogueError(.roomFull, "Room '\(roomId)' is at capacity")
                }
                let subscriptions = OrderedSet(resume?.subscriptions ?? room.configuration.defaultSubscriptions)
                if let refused = subscriptions.first(where: { $0 != "*" && !room.configuration.events.allows($0) }) {
                    throw .eventNotAllowed(refused, roomId)
                }
                room.members.append(client.id)
                state.rooms[roomId] = room
                state.clients[client.id]?.subscriptions[roomId] = subscriptions
                for eventName in subscriptions { client.socket.join(Self.subscriptionRoom(roomId, eventName)) }
                snapshot.isNew = true
                snapshot.subscriptions = subscriptions
                // Only when history will be sent: a sync on join, or a resume that may fail.
                snapshot.sendsHistory = room.configuration.syncHistoryOnJoin != .off || resume != nil
                return snapshot
            }
        } catch {
            if gated { roomLogs.releaseGate(roomId) }
            if seated { await releaseSeat(of: client.id, in: roomId) }
            throw error
        }
        if snapshot.sendsHistory { snapshot.recent = roomLogs.recent(roomId, upTo: delivered) }
        if let created = snapshot.created { await announceCreated(created) }
        guard snapshot.isNew else {
            if gated { roomLogs.releaseGate(roomId) }
            let payload = snapshot.joinedPayload(recovered: nil)
            client.socket.emit("dialogue:joined", payload)
            return JoinOutcome(room: snapshot.room, joined: payload, subscriptions: client.subscriptions(roomId))
        }
        let payload = await catchUp(client, snapshot, resume: resume)
        if gated { roomLogs.releaseGate(roomId) }
        logger.debug("client joined", metadata: ["dialogue.client": .string(client.id), "dialogue.room": .string(roomId)])
        tellCluster(.joined(clientId: client.id, roomId: roomId))
        await announcePresence(of: client, in: roomId, joined: true)
        await runHook("clients.onJoined") { try await configuration.hooks.clients.onJoined?(client, roomId) }
        return JoinOutcome(room: snapshot.room, joined: payload, subscriptions: Array(snapshot.subscriptions))
    }

    func leave(_ client: ConnectedClient, _ roomId: String) async throws(DialogueError) {
        let (emptied, limited) = try state.withLock { state throws(DialogueError) -> (Bool, Bool) in
            guard let subscriptions = state.clients[client.id]?.subscriptions.removeValue(forKey: roomId) else { throw .notInRoom(roomId) }
            for eventName in subscriptions { client.socket.leave(Self.subscriptionRoom(roomId, eventName)) }
            state.rooms[roomId]?.members.remove(client.id)
            guard let room = state.rooms[roomId] else { return (false, false) }
            return (room.removesWhenEmpty && room.members.isEmpty, room.configuration.maxSize != nil)
        }
        if limited { await releaseSeat(of: client.id, in: roomId) }
        client.socket.emit("dialogue:left", ["roomId": .string(roomId)])
        tellCluster(.left(clientId: client.id, roomId: roomId))
        await announcePresence(of: client, in: roomId, joined: false)
        await runHook("clients.onLeft") { try await configuration.hooks.clients.onLeft?(client, roomId) }
        if emptied { await removeRoom(roomId, ifEmpty: true) }
    }

    func subscribe(_ client: ConnectedClient, _ roomId: String, _ eventName: String) throws(DialogueError) {
        try state.withLock { state throws(DialogueError) in
            guard state.clients[client.id]?.subscriptions[roomId] != nil else { throw .notInRoom(roomId) }
            if eventName != "*", let room = state.rooms[roomId], !room.configuration.events.allows(eventName) {
                throw .eventNotAllowed(eventName, roomId)
            }
            if state.clients[client.id]?.subscriptions[roomId]?.append(eventName).inserted == true {
                client.socket.join(Self.subscriptionRoom(roomId, eventName))
            }
        }
    }

    func unsubscribe(_ client: ConnectedClient, _ roomId: String, _ eventName: String) throws(DialogueError) {
        try state.withLock { state throws(DialogueError) in
            guard state.clients[client.id]?.subscriptions[roomId] != nil else { throw .notInRoom(roomId) }
            if state.clients[client.id]?.subscriptions[roomId]?.remove(eventName) != nil {
                client.socket.leave(Self.subscriptionRoom(roomId, eventName))
            }
        }
    }

    // MARK: Creating and deleting rooms

    /// Adds a room after `check` (run under the lock) passed; announces it and runs `rooms.onCreated`.
    func createRoom(_ id: String, _ room: RoomState, check: (inout State) throws(DialogueError) -> Void = { _ in }) async throws(DialogueError) -> Room {
        let handle = try state.withLock { state throws(DialogueError) -> Room in
            guard state.rooms[id] == nil else { throw DialogueError(.roomExists, "Room '\(id)' already exists") }
            try check(&state)
            state.rooms[id] = room
            return Room(id: id, state: room, server: self)
        }
        await announceCreated(handle)
        return handle
    }

    /// Announces a new room (`dialogue:roomCreated` to everyone, if it is listed) and runs `rooms.onCreated`
    /// — unless the room was made on another node of the cluster, which runs the hook.
    func announceCreated(_ room: Room, fromCluster: Bool = false) async {
        if room.isListed { await namespace.emit("dialogue:roomCreated", room.announcement) }
        logger.debug("room created", metadata: ["dialogue.room": .string(room.id)])
        guard !fromCluster else { return }
        await runHook("rooms.onCreated") { try await configuration.hooks.rooms.onCreated?(room) }
    }

    /// Deletes a room: participants leave it, its history goes to `onCleanup`, `dialogue:roomDeleted` goes
    /// to everyone (listed rooms) or to its former participants, and `rooms.onDeleted` runs.
    /// A room deleted (rather than an empty template room removed) also has its stored history deleted and
    /// starts a new epoch if it is made again.
    ///
    /// In a cluster, deleting a room made at run time deletes it on every node. A deletion that comes
    /// `fromCluster` leaves the shared store and the hooks to the node it was made on.
    @discardableResult
    func removeRoom(_ id: String, ifEmpty: Bool = false, fromCluster: Bool = false) async -> Bool {
        let removed = state.withLock { state -> (RoomState, [ConnectedClient])? in
            guard let room = state.rooms[id], !ifEmpty || room.members.isEmpty else { return nil }
            state.rooms[id] = nil
            var members: [ConnectedClient] = []
            for clientID in room.members {
                guard let subscriptions = state.clients[clientID]?.subscriptions.removeValue(forKey: id), let client = state.clients[clientID]?.client else { continue }
                for eventName in subscriptions { client.socket.leave(Self.subscriptionRoom(id, eventName)) }
                members.append(client)
            }
            if room.origin == .client, let creator = room.createdById {
                state.roomsCreatedByUser[creator, default: 1] -= 1
                if state.roomsCreatedByUser[creator] == 0 { state.roomsCreatedByUser[creator] = nil }
            }
            return (room, members)
        }
        guard let (room, members) = removed else { return false }
        let forgotten = roomLogs.forget(id)
        if !fromCluster {
            await cleanup(forgotten)
            if !ifEmpty { await resetLog(id) }
            if !ifEmpty, room.origin == .client || room.origin == .server { tellCluster(.roomDeleted(roomId: id)) }
        }
        for client in members {
            if room.configuration.maxSize != nil { await releaseSeat(of: client.id, in: id) }
            tellCluster(.left(clientId: client.id, roomId: id))
            await runHook("clients.onLeft") { try await configuration.hooks.clients.onLeft?(client, id) }
        }
        if room.configuration.isListed {
            await namespace.emit("dialogue:roomDeleted", ["roomId": .string(id)])
        } else {
            for client in members { client.socket.emit("dialogue:roomDeleted", ["roomId": .string(id)]) }
        }
        logger.debug("room deleted", metadata: ["dialogue.room": .string(id)])
        guard !fromCluster else { return true }
        await runHook("rooms.onDeleted") { try await configuration.hooks.rooms.onDeleted?(id) }
        return true
    }
}

extension DialogueServer.RoomState {
    var removesWhenEmpty: Bool { origin == .template(removeWhenEmpty: true) }
}

extension Room {
    /// `{id, name, description?, maxSize?, createdById?}`: the `dialogue:roomCreated` payload.
    var announcement: SocketValue { summary(size: nil) }

    /// `{id, name, description?, size, maxSize?, createdById?}`: an entry of `dialogue:rooms`.
    var listing: SocketValue { summary(size: size()) }

    private func summary(size: Int?) -> SocketValue {
        var members: OrderedDictionary<SocketKey, SocketValue> = ["id": .string(id), "name": .string(name)]
        if let description { members["description"] = .string(description) }
        if let size { members["size"] = .int(Int64(size)) }
        if let maxSize { members["maxSize"] = .int(Int64(maxSize)) }
        if let createdById { members["createdById"] = .string(createdById) }
        return .object(members)
    }
}
