import OrderedCollections
import SocketIO
import Synchronization

/// A connected client anywhere in the cluster, as the nodes tell each other: who, on which node, in which
/// rooms. (A client of this node is also a ``ConnectedClient``, with its socket.)
public struct ClusterClient: Sendable, Equatable {
    public let id: String
    public let userId: String
    public let username: String
    /// The id of the node it is connected to (``ClusterLink/nodeID`` of that node).
    public let node: String
    /// When it connected, in Unix milliseconds.
    public let connectedAt: Int64
    /// The rooms it joined, in joining order.
    public var rooms: OrderedSet<String>

    public init(id: String, userId: String, username: String, node: String, connectedAt: Int64, rooms: OrderedSet<String> = []) {
        self.id = id
        self.userId = userId
        self.username = username
        self.node = node
        self.connectedAt = connectedAt
        self.rooms = rooms
    }
}

/// What a node tells the others about its clients, in order — and what it asks of the node that has a
/// client. A node that starts asks the others for their snapshots; a node that joined again (it had been
/// removed) sends its own.
public enum RosterChange: Sendable, Equatable {
    case connected(ClusterClient)
    case joined(clientId: String, roomId: String)
    case left(clientId: String, roomId: String)
    case disconnected(clientId: String)
    /// Every client of the sending node: replaces what the receiver knew of that node.
    case snapshot([ClusterClient])
    /// Asks every node for its snapshot.
    case snapshotRequested
    /// Asks the node that has this connection to act on it (close it, send to it, join or leave a room).
    case commandRequested(clientId: String, ClientCommand)
    /// Asks every node to take the user's connections out of these rooms (`leaveAll`).
    case leaveRequested(userId: String, roomIds: [String])
    /// A client made a room (`dialogue:createRoom`): every node makes it from its client-room template.
    case clientRoomCreated(ClientRoom)
    /// The server API made a room (`createRoom`): every node makes it from the configuration sent.
    case serverRoomCreated(roomId: String, createdById: String?, configuration: SocketValue)
    /// A room made at run time was deleted: it goes on every node.
    case roomDeleted(roomId: String)
}

/// What one node asks of a connection of another (Socket.IO's remote sockets offer the same).
public enum ClientCommand: Sendable, Equatable {
    /// An event for that connection only, outside any room.
    case send(event: String, data: SocketValue)
    /// Join a room, as the server decides (`clients.beforeJoin` does not run).
    case join(roomId: String)
    case leave(roomId: String)
    /// Close the connection (Socket.IO DISCONNECT, then the transport).
    case disconnect
}

/// A room a client made, as the nodes tell each other (the rest comes from the client-room template).
public struct ClientRoom: Sendable, Equatable {
    public var id: String
    public var name: String
    public var description: String?
    public var maxSize: Int?
    public var createdById: String

    public init(id: String, name: String, description: String?, maxSize: Int?, createdById: String) {
        self.id = id
        self.name = name
        self.description = description
        self.maxSize = maxSize
        self.createdById = createdById
    }
}

/// The clients of the other nodes, kept from their roster changes: the only owner of that view. Local
/// clients are not in it (the server's own state has them), so every answer is "local + roster".
final class ClusterRoster: Sendable {
    private struct State {
        var nodes: [String: OrderedDictionary<String, ClusterClient>] = [:]
    }

    private let state = Mutex(State())

    /// Applies a change a node sent.
    func apply(_ change: RosterChange, from node: String) {
        state.withLock { state in
            switch change {
            case .connected(let client): state.nodes[node, default: [:]][client.id] = client
            case .joined(let clientId, let roomId): state.nodes[node]?[clientId]?.rooms.append(roomId)
            case .left(let clientId, let roomId): state.nodes[node]?[clientId]?.rooms.remove(roomId)
            case .disconnected(let clientId): state.nodes[node]?[clientId] = nil
            case .snapshot(let clients): state.nodes[node] = OrderedDictionary(uniqueKeysWithValues: clients.map { ($0.id, $0) })
            case .snapshotRequested, .commandRequested, .leaveRequested, .clientRoomCreated, .serverRoomCreated, .roomDeleted: break
            }
        }
    }

    /// Forgets a node that left the cluster; returns the clients it had.
    func drop(node: String) -> [ClusterClient] {
        state.withLock { state in state.nodes.removeValue(forKey: node).map { Array($0.values) } ?? [] }
    }

    /// The clients of other nodes, by node, in connection order.
    var clients: [ClusterClient] { state.withLock { state in state.nodes.keys.sorted().flatMap { state.nodes[$0]!.values } } }

    func clients(ofUser userId: String) -> [ClusterClient] { clients.filter { $0.userId == userId } }

    /// How many clients of other nodes joined `roomId`.
    func memberCount(_ roomId: String) -> Int {
        state.withLock { state in state.nodes.values.reduce(0) { $0 + $1.values.filter { $0.rooms.contains(roomId) }.count } }
    }

    /// Whether a client of another node (other than `except`) of `userId` is in `roomId`.
    func hasClient(ofUser userId: String, in roomId: String) -> Bool {
        state.withLock { state in state.nodes.values.contains { $0.values.contains { $0.userId == userId && $0.rooms.contains(roomId) } } }
    }

    /// The users of other nodes in `roomId`, one entry per user, in connection order.
    func users(in roomId: String) -> [(userId: String, username: String)] {
        var users = OrderedDictionary<String, String>()
        for client in clients where client.rooms.contains(roomId) && users[client.userId] == nil { users[client.userId] = client.username }
        return users.map { (userId: $0.key, username: $0.value) }
    }
}

// MARK: Wire form

extension ClusterClient {
    var socketValue: SocketValue {
        [
            "id": .string(id), "userId": .string(userId), "username": .string(username), "node": .string(node),
            "connectedAt": .int(connectedAt), "rooms": .array(rooms.map(SocketValue.string)),
        ]
    }

    init?(socketValue value: SocketValue) {
        guard let id = value["id"]?.stringValue, let userId = value["userId"]?.stringValue, let username = value["username"]?.stringValue,
            let node = value["node"]?.stringValue, case .int(let connectedAt)? = value["connectedAt"], let rooms = value["rooms"]?.arrayValue
        else { return nil }
        self.init(id: id, userId: userId, username: username, node: node, connectedAt: connectedAt, rooms: OrderedSet(rooms.compactMap(\.stringValue)))
    }
}

extension RosterChange {
    /// `{"change": NAME, …}`, for a link to carry.
    public var socketValue: SocketValue {
        switch self {
        case .connected(let client): ["change": "connected", "client": client.socketValue]
        case .joined(let clientId, let roomId): ["change": "joined", "clientId": .string(clientId), "roomId": .string(roomId)]
        case .left(let clientId, let roomId): ["change": "left", "clientId": .string(clientId), "roomId": .string(roomId)]
        case .disconnected(let clientId): ["change": "disconnected", "clientId": .string(clientId)]
        case .snapshot(let clients): ["change": "snapshot", "clients": .array(clients.map(\.socketValue))]
        case .snapshotRequested: ["change": "snapshotRequested"]
        case .commandRequested(let clientId, .send(let event, let data)):
            ["change": "commandRequested", "clientId": .string(clientId), "command": "send", "event": .string(event), "data": data]
        case .commandRequested(let clientId, .join(let roomId)):
            ["change": "commandRequested", "clientId": .string(clientId), "command": "join", "roomId": .string(roomId)]
        case .commandRequested(let clientId, .leave(let roomId)):
            ["change": "commandRequested", "clientId": .string(clientId), "command": "leave", "roomId": .string(roomId)]
        case .commandRequested(let clientId, .disconnect):
            ["change": "commandRequested", "clientId": .string(clientId), "command": "disconnect"]
        case .leaveRequested(let userId, let roomIds):
            ["change": "leaveRequested", "userId": .string(userId), "roomIds": .array(roomIds.map(SocketValue.string))]
        case .clientRoomCreated(let room):
            [
                "change": "clientRoomCreated", "id": .string(room.id), "name": .string(room.name),
                "description": room.description.map(SocketValue.string) ?? .null, "maxSize": room.maxSize.map { .int(Int64($0)) } ?? .null,
                "createdById": .string(room.createdById),
            ]
        case .serverRoomCreated(let roomId, let createdById, let configuration):
            [
                "change": "serverRoomCreated", "roomId": .string(roomId), "createdById": createdById.map(SocketValue.string) ?? .null,
                "configuration": configuration,
            ]
        case .roomDeleted(let roomId): ["change": "roomDeleted", "roomId": .string(roomId)]
        }
    }

    /// Reads the wire form; `nil` when it is not one.
    public init?(socketValue value: SocketValue) {
        switch value["change"]?.stringValue {
        case "connected": guard let client = value["client"].flatMap(ClusterClient.init(socketValue:)) else { return nil }
            self = .connected(client)
        case "joined", "left":
            guard let clientId = value["clientId"]?.stringValue, let roomId = value["roomId"]?.stringValue else { return nil }
            self = value["change"]?.stringValue == "joined" ? .joined(clientId: clientId, roomId: roomId) : .left(clientId: clientId, roomId: roomId)
        case "disconnected": guard let clientId = value["clientId"]?.stringValue else { return nil }
            self = .disconnected(clientId: clientId)
        case "snapshot": guard let clients = value["clients"]?.arrayValue else { return nil }
            self = .snapshot(clients.compactMap(ClusterClient.init(socketValue:)))
        case "snapshotRequested": self = .snapshotRequested
        case "commandRequested":
            guard let clientId = value["clientId"]?.stringValue else { return nil }
            switch (value["command"]?.stringValue, value["event"]?.stringValue, value["roomId"]?.stringValue) {
            case ("send", let event?, _): self = .commandRequested(clientId: clientId, .send(event: event, data: value["data"] ?? .null))
            case ("join", _, let roomId?): self = .commandRequested(clientId: clientId, .join(roomId: roomId))
            case ("leave", _, let roomId?): self = .commandRequested(clientId: clientId, .leave(roomId: roomId))
            case ("disconnect", _, _): self = .commandRequested(clientId: clientId, .disconnect)
            default: return nil
            }
        case "leaveRequested": guard let userId = value["userId"]?.stringValue, let roomIds = value["roomIds"]?.arrayValue else { return nil }
            self = .leaveRequested(userId: userId, roomIds: roomIds.compactMap(\.stringValue))
        case "clientRoomCreated":
            guard let id = value["id"]?.stringValue, let name = value["name"]?.stringValue, let creator = value["createdById"]?.stringValue else { return nil }
            var maxSize: Int?
            if case .int(let size)? = value["maxSize"] { maxSize = Int(size) }
            self = .clientRoomCreated(ClientRoom(id: id, name: name, description: value["description"]?.stringValue, maxSize: maxSize, createdById: creator))
        case "serverRoomCreated":
            guard let roomId = value["roomId"]?.stringValue, let configuration = value["configuration"] else { return nil }
            self = .serverRoomCreated(roomId: roomId, createdById: value["createdById"]?.stringValue, configuration: configuration)
        case "roomDeleted": guard let roomId = value["roomId"]?.stringValue else { return nil }
            self = .roomDeleted(roomId: roomId)
        default: return nil
        }
    }
}
