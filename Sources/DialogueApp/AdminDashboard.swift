import Dialogue
import DequeModule
import Foundation
import HTTPTypes
import Hummingbird
import OrderedCollections
import SocketIO
import Synchronization

/// What the admin dashboard shows beyond the server's own state: the latest events and each room's rate.
/// Fed by `events.onTriggered`; bounded (50 events, one minute of per-second counts per room).
final class ServerActivity: Sendable {
    struct Entry: Sendable {
        let roomId: String
        let event: String
        let from: String
        let timestamp: Int64
        let offset: Int64?
    }

    private struct State {
        var recent: Deque<Entry> = []
        /// Per room, events counted per second (the last 60 seconds).
        var perSecond: [String: Deque<(second: Int64, count: Int)>] = [:]
        var total: Int = 0
    }

    static let recentLimit = 50
    private let state = Mutex(State())
    let startedAt = Date()

    func record(_ roomId: String, _ message: AnyEventMessage) {
        let second = message.timestamp / 1000
        state.withLock { state in
            state.total += 1
            state.recent.prepend(Entry(roomId: roomId, event: message.event, from: message.from, timestamp: message.timestamp, offset: message.offset))
            if state.recent.count > Self.recentLimit { state.recent.removeLast() }
            // Mutated in place: a copy out of the dictionary and back would copy the whole minute per event.
            state.perSecond[roomId, default: []].tally(second)
        }
    }

    /// Events in the room during the last minute.
    func eventsPerMinute(_ roomId: String, now: Int64) -> Int {
        state.withLock { state in (state.perSecond[roomId] ?? []).filter { $0.second > now / 1000 - 60 }.reduce(0) { $0 + $1.count } }
    }

    /// Events in every room during the last `seconds` seconds.
    func events(inLast seconds: Int64, now: Int64) -> Int {
        state.withLock { state in
            state.perSecond.values.reduce(0) { sum, counts in sum + counts.filter { $0.second > now / 1000 - seconds }.reduce(0) { $0 + $1.count } }
        }
    }

    var recent: [Entry] { state.withLock { Array($0.recent) } }
}

extension Deque where Element == (second: Int64, count: Int) {
    /// Counts one event in `second`, keeping the last minute.
    mutating func tally(_ second: Int64) {
        if last?.second == second { self[count - 1].count += 1 } else { append((second, 1)) }
        while let first, first.second <= second - 60 { removeFirst() }
    }
}

/// `/admin` (the page) and `/admin/api/…` (state, disconnect a client — of any node of a cluster —, delete a
/// runtime room), behind a bearer token compared in constant time.
struct AdminDashboard: Sendable {
    let token: String
    let server: DialogueServer
    let activity: ServerActivity
    let page: ByteBuffer

    func mount<Context: RequestContext>(on router: Router<Context>) {
        router.get("/admin") { _, _ in StandaloneServer.html(page) }
        router.get("/admin/api/state") { request, _ in
            guard authorized(request) else { return Self.unauthorized }
            return DialogueServer.json(.ok, snapshot())
        }
        router.post("/admin/api/clients/:id/disconnect") { request, context in
            guard authorized(request) else { return Self.unauthorized }
            let id = context.parameters.get("id") ?? ""
            guard server.disconnect(clientId: id) else { return Self.failure(.notFound, "NOT_CONNECTED", "No connection \(id)") }
            return DialogueServer.json(.ok, ["ok": true])
        }
        router.delete("/admin/api/rooms/:id") { request, context in
            guard authorized(request) else { return Self.unauthorized }
            let id = context.parameters.get("id") ?? ""
            guard server.configuration.rooms[id] == nil else {
                return Self.failure(.conflict, "PERMISSION_DENIED", "\(id) is defined in the configuration; only rooms made at runtime can be deleted")
            }
            guard await server.deleteRoom(id) else { return Self.failure(.notFound, "ROOM_NOT_FOUND", "No room \(id)") }
            return DialogueServer.json(.ok, ["ok": true])
        }
    }

    private func authorized(_ request: Request) -> Bool {
        DialogueServer.bearerToken(request).map { DialogueServer.constantTimeEquals($0, token) } ?? false
    }

    private static var unauthorized: Response { failure(.unauthorized, "UNAUTHORIZED", "The admin token is missing or wrong") }

    private static func failure(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        DialogueServer.json(status, ["ok": false, "error": ["code": .string(code), "message": .string(message)]])
    }

    /// Connections, rooms with sizes and rates, the latest events and the history store's status.
    func snapshot() -> SocketValue {
        let now = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        let cluster = server.configuration.cluster?.status
        let nodeNames = Dictionary(cluster?.nodes.map { ($0.id, $0.name) } ?? [], uniquingKeysWith: { first, _ in first })
        let clients = server.allClusterClients().sorted { $0.connectedAt < $1.connectedAt }
        let connections: [SocketValue] = clients.map { client in
            var fields: OrderedDictionary<SocketKey, SocketValue> = [
                "id": .string(client.id), "userId": .string(client.userId), "username": .string(client.username),
                "rooms": .array(client.rooms.map(SocketValue.string)), "connectedAt": .int(client.connectedAt),
            ]
            if cluster != nil { fields["node"] = .string(nodeNames[client.node] ?? client.node) }
            return .object(fields)
        }
        let rooms: [SocketValue] = server.rooms().map { room in
            [
                "id": .string(room.id), "name": .string(room.name), "size": .int(Int64(room.size())),
                "maxSize": room.maxSize.map { .int(Int64($0)) } ?? .null,
                "eventsPerMinute": .int(Int64(activity.eventsPerMinute(room.id, now: now))),
                "configured": .bool(server.configuration.rooms[room.id] != nil), "listed": .bool(room.isListed),
            ]
        }
        let events: [SocketValue] = activity.recent.map { entry in
            var fields: OrderedDictionary<SocketKey, SocketValue> = [
                "roomId": .string(entry.roomId), "event": .string(entry.event), "from": .string(entry.from), "timestamp": .int(entry.timestamp),
            ]
            if let offset = entry.offset { fields["offset"] = .int(offset) }
            return .object(fields)
        }
        let store = server.historyStoreStatus
        var clusterView: SocketValue = .null
        if let cluster {
            clusterView = ["node": .string(cluster.node), "nodes": .array(cluster.nodes.map { .string($0.name) })]
        }
        return [
            "cluster": clusterView,
            "server": ["uptimeSeconds": .int(Int64(-activity.startedAt.timeIntervalSinceNow)), "startedAt": .int(Int64(activity.startedAt.timeIntervalSince1970 * 1000))],
            "connections": .array(connections),
            "rooms": .array(rooms),
            "recentEvents": .array(events),
            "historyStore": [
                "configured": .bool(store.configured), "healthy": .bool(store.healthy), "pendingEvents": .int(Int64(store.pendingEvents)),
                "droppedEvents": .int(Int64(store.droppedEvents)), "failedWrites": .int(Int64(store.failedWrites)),
                "lastError": store.lastError.map(SocketValue.string) ?? .null,
            ],
        ]
    }
}
