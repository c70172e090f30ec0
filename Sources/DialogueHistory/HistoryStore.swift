import DialogueEvents

/// An event as stored: its message and its place in the room's log.
public struct StoredEvent: Sendable, Equatable {
    /// The room's offset of the event: 1, 2, 3, … per room, monotonic and gap-free within an epoch.
    public var offset: Int64
    /// The room's epoch when the event was stored.
    public var epoch: Int64
    /// The event.
    public var message: AnyEventMessage

    public init(offset: Int64, epoch: Int64, message: AnyEventMessage) {
        self.offset = offset
        self.epoch = epoch
        self.message = message
    }
}

/// Where a room's log stands: its epoch (which changes when its history is reset, e.g. the room was deleted
/// and made again) and the offset of its newest stored event (0 when empty).
public struct RoomLog: Sendable, Equatable {
    public var epoch: Int64
    public var lastOffset: Int64

    public init(epoch: Int64, lastOffset: Int64) {
        self.epoch = epoch
        self.lastOffset = lastOffset
    }
}

/// Durable history: where a Dialogue server keeps every event whose definition has history enabled.
///
/// Implementations: ``InMemoryHistoryStore`` (tests, and servers that need no durability), `SQLiteHistoryStore`
/// (module `DialogueHistorySQLite`, the default of `dialogue serve`). A store is used by one server process.
public protocol HistoryStore: Sendable {
    /// Runs the store's background work (a connection pool, say) until cancelled; the server runs it for
    /// the store's whole life, before ``open()``. Stores without any return at once.
    func run() async throws

    /// Prepares the store (runs its migrations) and returns every room's log position.
    func open() async throws -> [String: RoomLog]

    /// Stores events durably, in order; returns once they would survive a crash of the process.
    /// Events carry the offsets the server assigned; a room's offsets are appended in increasing order.
    func append(_ events: [StoredEvent]) async throws

    /// Events of one room and name, newest first: index 0 is the newest, `[start, end)`.
    func events(roomId: String, eventName: String, start: Int, end: Int) async throws -> [StoredEvent]

    /// How many events of one room and name are stored.
    func count(roomId: String, eventName: String) async throws -> Int

    /// Events of one room with an offset above `offset`, oldest first, at most `limit`.
    func events(roomId: String, after offset: Int64, limit: Int) async throws -> [StoredEvent]

    /// Deletes a room's events named `eventName` beyond the newest `keepingNewest` and those with a timestamp
    /// (milliseconds since 1970) before `olderThan`; `nil` leaves that limit out. Returns how many it deleted.
    func prune(roomId: String, eventName: String, keepingNewest: Int?, olderThan: Int64?) async throws -> Int

    /// Forgets a room's events and starts a new epoch for it.
    func reset(roomId: String, epoch: Int64) async throws

    /// Releases the store's resources.
    func close() async
}

extension HistoryStore {
    public func run() async throws {}
}

/// A history store that several server processes share (the nodes of a cluster): the store, not the
/// process, gives each event its room's next offset, in the transaction that stores it. Events appended by
/// different processes get distinct, gap-free offsets, and a room's events commit in offset order, so an
/// event with offset `n` being visible means every lower offset of its epoch is too.
public protocol SharedHistoryStore: HistoryStore {
    /// Stores `messages`, in order, each with its room's next offset; a room the store has no log for
    /// starts one at epoch `newEpoch`. Returns them as stored, in the same order, once durable.
    func appendAssigningOffsets(_ messages: [AnyEventMessage], newEpoch: Int64) async throws -> [StoredEvent]
}
