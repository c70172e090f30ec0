import DialogueEvents
import OrderedCollections
import SocketIO
import Synchronization

/// A joined room, from the client's side: the `RoomContext` of the original.
///
/// ```swift
/// let room = try await client.join("general")
/// for await message in room.events(Message) { print(message.data.text) }   // typed
/// let older = try await room.getHistory("message", start: 50, end: 100)
/// try await room.leave()
/// ```
public final class RoomContext: Sendable {
    public let roomId: String
    public let roomName: String
    private unowned let client: DialogueClient
    private let messages = SignalHub<AnyEventMessage>()
    /// Where the client stands in the room's log, and its subscriptions: what a re-join after a reconnection
    /// sends, so the server replays what was missed and restores the subscriptions.
    private let position = Mutex(Position())

    struct Position {
        var epoch: Int64?
        var lastOffset: Int64 = 0
        var subscriptions: OrderedSet<String>?
    }

    init(client: DialogueClient, roomId: String, roomName: String) {
        self.client = client
        self.roomId = roomId
        self.roomName = roomName
    }

    // MARK: Triggering

    /// Triggers a typed event; the server validates it against the room's schema.
    /// - Returns: the event's timestamp (Unix ms) as the server stamped it.
    /// - Throws: ``DialogueError`` (`VALIDATION_FAILED` naming the field, `EVENT_NOT_ALLOWED`, `NOT_IN_ROOM`,
    ///   `EVENT_BLOCKED`), ``DialogueClientError``.
    @discardableResult
    public func trigger<Payload>(_ event: EventDefinition<Payload>, _ data: Payload, meta: SocketValue? = nil) async throws -> Int64 {
        try await trigger(event.name, PayloadCoding.encode(data), meta: meta)
    }

    /// Triggers an event by name with raw JSON.
    @discardableResult
    public func trigger(_ eventName: String, _ data: SocketValue, meta: SocketValue? = nil) async throws -> Int64 {
        var payload: OrderedDictionary<SocketKey, SocketValue> = ["roomId": .string(roomId), "event": .string(eventName), "data": data]
        if let meta { payload["meta"] = meta }
        let answer = try await client.request("dialogue:trigger", .object(payload))
        guard case .int(let timestamp)? = answer["timestamp"] else { throw DialogueClientError(.protocolViolation, "trigger answered without a timestamp") }
        return timestamp
    }

    // MARK: Receiving

    /// Every event of this room this client receives (its subscriptions decide which).
    public var allEvents: ClientSignal<AnyEventMessage> { messages.signal }

    /// Events named `eventName`, as an `AsyncSequence`.
    public func events(_ eventName: String) -> AsyncFilterSequence<ClientSignal<AnyEventMessage>> {
        messages.signal.filter { $0.event == eventName }
    }

    /// Events of a typed definition, decoded. A payload that does not decode is skipped and reported on
    /// the client's ``DialogueClient/errors`` (``DialogueClientError`` `decodingFailed`, naming the field).
    public func events<Payload>(_ event: EventDefinition<Payload>) -> AsyncCompactMapSequence<ClientSignal<AnyEventMessage>, EventMessage<Payload>> {
        messages.signal.compactMap { [client] message in
            guard message.event == event.name else { return nil }
            return Self.decode(message, as: Payload.self, reportingTo: client)
        }
    }

    /// Calls `handler` for each typed event; see ``events(_:)-(EventDefinition<Payload>)``.
    @discardableResult
    public func on<Payload>(_ event: EventDefinition<Payload>, _ handler: @escaping @Sendable (EventMessage<Payload>) -> Void) -> ObservationToken {
        messages.signal.observe { [client] message in
            guard message.event == event.name, let typed = Self.decode(message, as: Payload.self, reportingTo: client) else { return }
            handler(typed)
        }
    }

    /// Calls `handler` for each event named `eventName`.
    @discardableResult
    public func on(_ eventName: String, _ handler: @escaping @Sendable (AnyEventMessage) -> Void) -> ObservationToken {
        messages.signal.observe { message in if message.event == eventName { handler(message) } }
    }

    /// Calls `handler` for every event of the room.
    @discardableResult
    public func onAny(_ handler: @escaping @Sendable (AnyEventMessage) -> Void) -> ObservationToken {
        messages.signal.observe(handler)
    }

    private static func decode<Payload: Decodable & Sendable>(_ message: AnyEventMessage, as type: Payload.Type, reportingTo client: DialogueClient) -> EventMessage<Payload>? {
        do throws(SchemaViolation) {
            return try message.decoded(as: type)
        } catch {
            client.reportDecodingFailure(DialogueClientError(
                .decodingFailed, "'\(message.event)' in '\(message.roomId)' does not decode as \(Payload.self): \(error)",
                field: error.path.isEmpty ? nil : error.path
            ))
            return nil
        }
    }

    func deliver(_ message: AnyEventMessage) {
        if let offset = message.offset {
            position.withLock { $0.lastOffset = max($0.lastOffset, offset) }
        }
        messages.send(message)
    }

    /// Takes the log position and subscriptions from a `dialogue:joined` payload or a join's answer.
    func update(from joined: SocketValue) {
        position.withLock { position in
            if case .int(let epoch)? = joined["epoch"] {
                if position.epoch != epoch { position.lastOffset = 0 }
                position.epoch = epoch
            }
            if case .int(let offset)? = joined["offset"] { position.lastOffset = max(position.lastOffset, offset) }
            if let names = joined["subscriptions"]?.arrayValue { position.subscriptions = OrderedSet(names.compactMap(\.stringValue)) }
        }
    }

    /// The last offset this client saw in the room (its events, or the room's position when it joined).
    public var lastOffset: Int64 { position.withLock { $0.lastOffset } }

    // MARK: Subscriptions

    /// Receives events named `eventName` too.
    public func subscribe(_ eventName: String) async throws {
        try await change("dialogue:subscribe", eventName)
    }

    /// Receives every event of the room.
    public func subscribeAll() async throws {
        try await change("dialogue:subscribeAll", "*")
    }

    /// Stops receiving events named `eventName` (`*` ends only the wildcard subscription).
    public func unsubscribe(_ eventName: String) async throws {
        try await change("dialogue:unsubscribe", eventName)
    }

    private func change(_ event: String, _ eventName: String) async throws {
        _ = try await client.request(event, ["roomId": .string(roomId), "eventName": .string(eventName)])
        position.withLock { position in
            if event == "dialogue:unsubscribe" { position.subscriptions?.remove(eventName) } else { position.subscriptions?.append(eventName) }
        }
    }

    /// After a reconnection: join again, saying what was seen, so the server replays what was missed (in
    /// order, before live events) and restores the subscriptions.
    /// - Returns: whether the server could replay everything missed (`false`: it sent the newest history).
    func rejoin() async throws -> Bool {
        let resume = position.withLock { position in
            var payload: OrderedDictionary<SocketKey, SocketValue> = ["roomId": .string(roomId), "offset": .int(position.lastOffset)]
            if let epoch = position.epoch { payload["epoch"] = .int(epoch) }
            if let subscriptions = position.subscriptions { payload["subscriptions"] = .array(subscriptions.map(SocketValue.string)) }
            return SocketValue.object(payload)
        }
        let answer = try await client.request("dialogue:join", resume, rejoining: true)
        update(from: answer)
        return answer["recovered"] != false
    }

    // MARK: History and leaving

    /// Events `[start, end)` of one name, newest first (memory, then the server's storage).
    /// - Throws: ``DialogueError`` `RATE_LIMITED`, `NOT_IN_ROOM`, …
    public func getHistory(_ eventName: String, start: Int = 0, end: Int = 50) async throws -> [AnyEventMessage] {
        let answer = try await client.request("dialogue:getHistory", [
            "roomId": .string(roomId), "eventName": .string(eventName), "start": .int(Int64(start)), "end": .int(Int64(end)),
        ])
        return (answer["events"]?.arrayValue ?? []).compactMap(AnyEventMessage.init(socketValue:))
    }

    /// Typed history; events that do not decode are skipped and reported on the client's errors.
    public func getHistory<Payload>(_ event: EventDefinition<Payload>, start: Int = 0, end: Int = 50) async throws -> [EventMessage<Payload>] {
        try await getHistory(event.name, start: start, end: end).compactMap { Self.decode($0, as: Payload.self, reportingTo: client) }
    }

    /// Who is in the room, one entry per user: `dialogue:presence` (rooms that announce presence also send
    /// `user:joined`/`user:left` as events).
    ///
    /// ```swift
    /// for user in try await room.presence() { print(user.userId, user.username) }
    /// ```
    /// - Throws: ``DialogueError`` `NOT_IN_ROOM`.
    public func presence() async throws -> [(userId: String, username: String)] {
        let answer = try await client.request("dialogue:presence", ["roomId": .string(roomId)])
        return (answer["users"]?.arrayValue ?? []).compactMap { user in
            guard let userId = user["userId"]?.stringValue else { return nil }
            return (userId, user["username"]?.stringValue ?? userId)
        }
    }

    /// Leaves the room.
    public func leave() async throws {
        client.forget(roomId)
        _ = try await client.request("dialogue:leave", ["roomId": .string(roomId)])
    }
}

extension RoomContext {
    /// This context, after taking the position from a join's answer.
    func updated(from answer: SocketValue) -> RoomContext {
        update(from: answer)
        return self
    }
}
