import DequeModule

/// Recent events per room and event name, in memory, bounded: the history manager of the original.
///
/// A value: the server keeps one behind its lock. Index 0 is the newest event. Appending beyond an event's
/// limit evicts the oldest events and returns them (the server hands them to `events.onCleanup`).
public struct HistoryManager: Sendable {
    /// The most rooms with history kept at once; beyond it, the room written least recently is evicted
    /// whole. Defaults to 1000.
    public let maxRooms: Int
    private var rooms: [String: RoomHistory] = [:]
    private var sequence: UInt64 = 0

    struct RoomHistory {
        var events: [String: Deque<Entry>] = [:]
        var lastWrite: UInt64 = 0
    }

    struct Entry {
        let sequence: UInt64
        let message: AnyEventMessage
    }

    /// Events evicted from memory, oldest first, with where they came from.
    public struct Eviction: Sendable {
        public let roomId: String
        public let eventName: String
        public let events: [AnyEventMessage]
    }

    public init(maxRooms: Int = 1000) {
        precondition(maxRooms > 0, "maxRooms must be positive")
        self.maxRooms = maxRooms
    }

    /// Stores `message` under its room and event name, keeping at most `limit` of that name.
    /// - Returns: what was evicted to make room (oldest first).
    public mutating func append(_ message: AnyEventMessage, limit: Int) -> [Eviction] {
        var evictions: [Eviction] = []
        if rooms[message.roomId] == nil, rooms.count >= maxRooms,
            let stalest = rooms.min(by: { $0.value.lastWrite < $1.value.lastWrite })?.key
        {
            evictions += removeRoom(stalest)
        }
        sequence += 1
        var room = rooms[message.roomId, default: RoomHistory()]
        room.lastWrite = sequence
        var events = room.events[message.event, default: []]
        events.append(Entry(sequence: sequence, message: message))
        if events.count > limit {
            let evicted = events.prefix(events.count - limit).map(\.message)
            events.removeFirst(events.count - limit)
            evictions.append(Eviction(roomId: message.roomId, eventName: message.event, events: evicted))
        }
        room.events[message.event] = events
        rooms[message.roomId] = room
        return evictions
    }

    /// Events `[start, end)` of one name, newest first.
    public func events(roomId: String, eventName: String, start: Int, end: Int) -> [AnyEventMessage] {
        guard let events = rooms[roomId]?.events[eventName], start < end else { return [] }
        let lower = max(0, start), upper = min(end, events.count)
        guard lower < upper else { return [] }
        return (lower..<upper).map { events[events.count - 1 - $0].message }
    }

    /// How many events of one name are in memory.
    public func count(roomId: String, eventName: String) -> Int {
        rooms[roomId]?.events[eventName]?.count ?? 0
    }

    /// The room's events of every name, newest first, at most `limit` (all when `nil`).
    public func latest(roomId: String, limit: Int? = nil) -> [AnyEventMessage] {
        guard let room = rooms[roomId] else { return [] }
        var all = room.events.values.flatMap { $0 }
        all.sort { $0.sequence > $1.sequence }
        return all.prefix(limit ?? all.count).map(\.message)
    }

    /// The room's events of every name with an offset above `offset`, oldest first.
    public func events(roomId: String, after offset: Int64) -> [AnyEventMessage] {
        guard let room = rooms[roomId] else { return [] }
        return room.events.values.flatMap { $0 }.filter { ($0.message.offset ?? 0) > offset }
            .sorted { $0.sequence < $1.sequence }.map(\.message)
    }

    /// Drops a room's events of one name beyond the newest `keepingNewest` and those with a timestamp before
    /// `olderThan` (milliseconds since 1970); `nil` leaves that limit out. Nothing is returned: retention
    /// forgets, it does not hand events to `onCleanup`.
    public mutating func prune(roomId: String, eventName: String, keepingNewest: Int?, olderThan: Int64?) {
        guard var events = rooms[roomId]?.events[eventName] else { return }
        if let keepingNewest, events.count > keepingNewest { events.removeFirst(events.count - keepingNewest) }
        if let olderThan { events.removeAll { $0.message.timestamp < olderThan } }
        rooms[roomId]?.events[eventName] = events
    }

    /// The event names with history in a room.
    public func eventNames(roomId: String) -> [String] {
        rooms[roomId].map { Array($0.events.keys).sorted() } ?? []
    }

    /// Forgets a room's history and returns it (oldest first per name).
    public mutating func removeRoom(_ roomId: String) -> [Eviction] {
        guard let room = rooms.removeValue(forKey: roomId) else { return [] }
        return room.events.sorted { $0.key < $1.key }.map { Eviction(roomId: roomId, eventName: $0.key, events: $0.value.map(\.message)) }
    }

    /// Forgets everything and returns it.
    public mutating func removeAll() -> [Eviction] {
        rooms.keys.sorted().flatMap { removeRoom($0) }
    }
}
