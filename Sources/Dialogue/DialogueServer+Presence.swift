import OrderedCollections
import SocketIO

/// Who is in a room: `user:joined`/`user:left` announcements for rooms that ask for them
/// (``RoomConfiguration/announcesPresence``) and the `dialogue:presence` request.
extension DialogueServer {
    /// The users in a room, one entry per user however many connections it has there, in joining order.
    /// - Returns: `nil` when there is no such room.
    public func presence(in roomId: String) -> [(userId: String, username: String)]? {
        state.withLock { state -> OrderedDictionary<String, String>? in
            guard let room = state.rooms[roomId] else { return nil }
            var users = OrderedDictionary<String, String>()
            for clientID in room.members {
                guard let client = state.clients[clientID]?.client, users[client.userId] == nil else { continue }
                users[client.userId] = client.username
            }
            return users
        }.map { local in
            var users = local
            for remote in roster.users(in: roomId) where users[remote.userId] == nil { users[remote.userId] = remote.username }
            return users.map { (userId: $0.key, username: $0.value) }
        }
    }

    /// `{roomId, users: [{userId, username}]}` for a participant of the room.
    func presenceRequest(_ roomId: String, client: ConnectedClient) throws(DialogueError) -> OrderedDictionary<SocketKey, SocketValue> {
        guard client.rooms().contains(roomId), let users = presence(in: roomId) else { throw .notInRoom(roomId) }
        let list = users.map { SocketValue.object(["userId": .string($0.userId), "username": .string($0.username)]) }
        return ["roomId": .string(roomId), "users": .array(list)]
    }

    /// Announces `user:joined {userId, username}` when the user's first connection joins a room that
    /// announces presence, or `user:left {userId}` when its last connection there leaves — counting the
    /// connections of every node of a cluster.
    func announcePresence(of client: ConnectedClient, in roomId: String, joined: Bool) async {
        let announce = state.withLock { state -> Bool in
            guard let room = state.rooms[roomId], room.configuration.announcesPresence else { return false }
            let others = room.members.filter { $0 != client.id && state.clients[$0]?.client.userId == client.userId }
            return others.isEmpty
        }
        guard announce, !roster.hasClient(ofUser: client.userId, in: roomId) else { return }
        if joined {
            await self.announce("user:joined", ["userId": .string(client.userId), "username": .string(client.username)], in: roomId, from: client.userId)
        } else {
            await self.announce("user:left", ["userId": .string(client.userId)], in: roomId, from: client.userId)
        }
    }

    /// Triggers a presence event from the server.
    func announce(_ event: String, _ data: SocketValue, in roomId: String, from userId: String) async {
        do {
            _ = try await dispatch(roomId, event, data, from: userId, meta: nil, sender: nil, definition: nil)
        } catch {
            logger.error("presence announcement refused", metadata: ["dialogue.room": .string(roomId), "dialogue.event": .string(event), "dialogue.error": "\(error)"])
        }
    }
}

extension ConnectedClient {
    /// A name to show for the user: the token's `name` or `username` claim, else the handshake's
    /// `username` or `name`, else the user id.
    public var username: String {
        let claims = auth?.jwt
        return claims?["name"]?.stringValue ?? claims?["username"]?.stringValue
            ?? meta["username"]?.stringValue ?? meta["name"]?.stringValue ?? userId
    }
}
