import DialogueEvents
import Synchronization

/// A ``HistoryStore`` in memory: the contract without durability, for tests and ephemeral servers.
public final class InMemoryHistoryStore: HistoryStore {
    private struct Room {
        var epoch: Int64
        var lastOffset: Int64 = 0
        var events: [StoredEvent] = []
    }

    private let rooms = Mutex<[String: Room]>([:])

    public init() {}

    public func open() async throws -> [String: RoomLog] {
        rooms.withLock { rooms in rooms.mapValues { RoomLog(epoch: $0.epoch, lastOffset: $0.lastOffset) } }
    }

    public func append(_ events: [StoredEvent]) async throws {
        rooms.withLock { rooms in
            for event in events {
                var room = rooms[event.message.roomId] ?? Room(epoch: event.epoch)
                // Kept in offset order: appends of one room may arrive out of order (concurrent triggers, retries).
                let index = room.events.lastIndex { $0.offset < event.offset }.map { $0 + 1 } ?? 0
                room.events.insert(event, at: index)
                room.lastOffset = max(room.lastOffset, event.offset)
                rooms[event.message.roomId] = room
            }
        }
    }

    public func events(roomId: String, eventName: String, start: Int, end: Int) async throws -> [StoredEvent] {
        let named = rooms.withLock { $0[roomId]?.events.filter { $0.message.event == eventName } ?? [] }
        let lower = max(0, start), upper = min(end, named.count)
        guard lower < upper else { return [] }
        return (lower..<upper).map { named[named.count - 1 - $0] }
    }

    public func count(roomId: String, eventName: String) async throws -> Int {
        rooms.withLock { $0[roomId]?.events.reduce(0) { $1.message.event == eventName ? $0 + 1 : $0 } ?? 0 }
    }

    public func events(roomId: String, after offset: Int64, limit: Int) async throws -> [StoredEvent] {
        rooms.withLock { Array(($0[roomId]?.events ?? []).filter { $0.offset > offset }.prefix(limit)) }
    }

    public func prune(roomId: String, eventName: String, keepingNewest: Int?, olderThan: Int64?) async throws -> Int {
        rooms.withLock { rooms in
            guard var room = rooms[roomId] else { return 0 }
            let named = room.events.filter { $0.message.event == eventName }
            let beyondCount = Set(named.dropLast(keepingNewest ?? named.count).map(\.offset))
            let before = room.events.count
            room.events.removeAll { event in
                event.message.event == eventName && (beyondCount.contains(event.offset) || olderThan.map { event.message.timestamp < $0 } ?? false)
            }
            rooms[roomId] = room
            return before - room.events.count
        }
    }

    public func reset(roomId: String, epoch: Int64) async throws {
        rooms.withLock { $0[roomId] = Room(epoch: epoch) }
    }

    public func close() async {}
}
