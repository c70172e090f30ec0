import OrderedCollections
import SocketIO

/// An event as delivered: the envelope every participant receives as `dialogue:event`.
///
/// `Payload` is the event's payload type in typed handlers, ``SocketValue`` everywhere else.
public struct EventMessage<Payload: Sendable>: Sendable {
    /// The event name.
    public var event: String
    /// The room the event happened in.
    public var roomId: String
    /// The payload, validated by the event's schema.
    public var data: Payload
    /// The sender's user id, `"system"` when the server triggered without one.
    public var from: String
    /// When the event was triggered, in Unix milliseconds.
    public var timestamp: Int64
    /// Free-form metadata (an object), not validated: trace ids, permissions, A/B variants.
    public var meta: SocketValue?
    /// The event's position in its room's history log (1, 2, 3, …), for events whose history is kept;
    /// a client that reconnects tells the server the last one it saw. Absent for ephemeral events.
    public var offset: Int64?

    public init(event: String, roomId: String, data: Payload, from: String, timestamp: Int64, meta: SocketValue? = nil, offset: Int64? = nil) {
        self.event = event
        self.roomId = roomId
        self.data = data
        self.from = from
        self.timestamp = timestamp
        self.meta = meta
        self.offset = offset
    }
}

extension EventMessage: Equatable where Payload: Equatable {}

/// An event message whose payload is raw JSON.
public typealias AnyEventMessage = EventMessage<SocketValue>

extension EventMessage where Payload == SocketValue {
    /// The wire form: `{event, roomId, data, from, timestamp, meta?, offset?}`.
    public var socketValue: SocketValue {
        var members: OrderedDictionary<SocketKey, SocketValue> = [
            "event": .string(event), "roomId": .string(roomId), "data": data, "from": .string(from), "timestamp": .int(timestamp),
        ]
        if let meta { members["meta"] = meta }
        if let offset { members["offset"] = .int(offset) }
        return .object(members)
    }

    /// Reads the wire form; `nil` when a required field is missing or has the wrong type.
    public init?(socketValue value: SocketValue) {
        guard let event = value["event"]?.stringValue, let roomId = value["roomId"]?.stringValue,
            let from = value["from"]?.stringValue, let data = value["data"]
        else { return nil }
        let timestamp: Int64
        switch value["timestamp"] {
        case .int(let integer)?: timestamp = integer
        case .double(let double)? where double.isFinite: timestamp = Int64(double)
        default: return nil
        }
        let meta = value["meta"].flatMap { $0 == .null ? nil : $0 }
        var offset: Int64?
        if case .int(let position)? = value["offset"] { offset = position }
        self.init(event: event, roomId: roomId, data: data, from: from, timestamp: timestamp, meta: meta, offset: offset)
    }

    /// The message with its payload decoded as `Payload`.
    /// - Throws: ``SchemaViolation`` when the payload does not decode.
    public func decoded<Typed: Decodable & Sendable>(as type: Typed.Type) throws(SchemaViolation) -> EventMessage<Typed> {
        EventMessage<Typed>(event: event, roomId: roomId, data: try PayloadCoding.decode(type, from: data), from: from, timestamp: timestamp, meta: meta, offset: offset)
    }
}
