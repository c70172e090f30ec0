import Foundation
import OrderedCollections
import SocketIO

/// A payload type that carries its own validation rules.
///
/// ```swift
/// struct ChatMessage: EventPayload {
///     var text: String
///     var senderId: String
///     var replyTo: String?
///     static let schema: Schema = .object([
///         "text": .string(minLength: 1, maxLength: 2000),
///         "senderId": .string(),
///         "replyTo": .string().optional(),
///     ])
/// }
/// let Message = EventDefinition("message", of: ChatMessage.self, history: EventHistory(limit: 100))
/// ```
public protocol EventPayload: Codable, Sendable {
    /// The constraints beyond what the Swift type says (lengths, ranges, formats), and the published shape.
    static var schema: Schema { get }
}

/// Whether and how much of an event's history a room keeps in memory, and how long the history store keeps it.
public struct EventHistory: Sendable, Equatable {
    /// Whether events of this kind are stored. Defaults to `true`.
    public var enabled: Bool
    /// How many events of this kind each room keeps in memory; older ones go to `events.onCleanup`.
    public var limit: Int
    /// How long the history store keeps them; `nil` (the default) keeps them until the room is deleted.
    public var retention: HistoryRetention?

    public init(enabled: Bool = true, limit: Int, retention: HistoryRetention? = nil) {
        precondition(limit > 0, "history limit must be positive")
        self.enabled = enabled
        self.limit = limit
        self.retention = retention
    }
}

/// How many events of one name a room keeps in the history store, and for how long. The server enforces it
/// in the background (see `DialogueConfiguration.retentionInterval`), not when events are triggered.
///
/// ```swift
/// EventHistory(limit: 100, retention: HistoryRetention(maxEvents: 10_000, maxAge: .seconds(30 * 86_400)))
/// ```
public struct HistoryRetention: Sendable, Equatable {
    /// The most events of this name each room keeps (the newest); `nil` for no count limit.
    public var maxEvents: Int?
    /// The oldest an event may be (by its timestamp); `nil` for no age limit.
    public var maxAge: Duration?

    public init(maxEvents: Int? = nil, maxAge: Duration? = nil) {
        precondition(maxEvents.map { $0 > 0 } ?? true, "retention maxEvents must be positive")
        precondition(maxAge.map { $0 > .zero } ?? true, "retention maxAge must be positive")
        self.maxEvents = maxEvents
        self.maxAge = maxAge
    }
}

/// What every event definition says about itself, whatever its payload type. Rooms list their events as
/// `[any EventDescribing]`, so typed and untyped definitions mix.
public protocol EventDescribing: Sendable {
    /// The event name, unique within a room (`message`, `order:updated`; `*` allows any event).
    var name: String { get }
    /// A human-readable description.
    var description: String? { get }
    /// The payload's rules, if any.
    var schema: Schema? { get }
    /// History settings; `nil` keeps no history.
    var history: EventHistory? { get }
    /// Validates raw data: the schema, then that it decodes as the payload type. Returns the validated value.
    func validatedData(_ data: SocketValue) throws(SchemaViolation) -> SocketValue
}

/// A named event with a typed payload: the `defineEvent` of the original.
///
/// ```swift
/// let Typing = EventDefinition("typing")                       // any JSON
/// let Message = EventDefinition("message", of: ChatMessage.self) // typed, validated by ChatMessage.schema
/// let Badge = EventDefinition("badge", of: BadgeCount.self, schema: .object(["count": .integer(minimum: 0)]))
/// ```
public struct EventDefinition<Payload: Codable & Sendable>: EventDescribing {
    public let name: String
    public let description: String?
    public let schema: Schema?
    public let history: EventHistory?

    /// A definition whose payload is `Payload`, validated by `schema` (or only by decoding when `nil`).
    public init(_ name: String, of payload: Payload.Type, schema: Schema?, description: String? = nil, history: EventHistory? = nil) {
        precondition(!name.isEmpty, "event names cannot be empty")
        self.name = name
        self.description = description
        self.schema = schema
        self.history = history
    }

    public func validatedData(_ data: SocketValue) throws(SchemaViolation) -> SocketValue {
        let validated = try schema?.validate(data) ?? data
        if Payload.self != SocketValue.self { _ = try PayloadCoding.decode(Payload.self, from: validated) }
        return validated
    }

    /// Validates raw data and decodes it: `validateEventData` of the original.
    ///
    /// ```swift
    /// switch Message.validate(["text": "Hello"]) {
    /// case .success(let message): print(message.text)
    /// case .failure(let violation): print(violation)   // senderId: is required
    /// }
    /// ```
    public func validate(_ data: SocketValue) -> Result<Payload, SchemaViolation> {
        Result { () throws(SchemaViolation) in try PayloadCoding.decode(Payload.self, from: validatedData(data)) }
    }

    /// The JSON Schema of the payload, titled with the event name; `{}` (anything) when there is no schema.
    public var jsonSchema: SocketValue {
        var document = (schema ?? .any).jsonSchema.objectValue ?? [:]
        document["title"] = .string(name)
        if let description, document["description"] == nil { document["description"] = .string(description) }
        var published: OrderedDictionary<SocketKey, SocketValue> = ["$schema": "https://json-schema.org/draft/2020-12/schema"]
        published.merge(document) { _, new in new }
        return .object(published)
    }
}

extension EventDefinition where Payload: EventPayload {
    /// A definition validated by the payload type's own ``EventPayload/schema``.
    public init(_ name: String, of payload: Payload.Type, description: String? = nil, history: EventHistory? = nil) {
        self.init(name, of: payload, schema: Payload.schema, description: description, history: history)
    }
}

extension EventDefinition where Payload == SocketValue {
    /// An untyped definition: any JSON, or what `schema` accepts.
    public init(_ name: String, schema: Schema? = nil, description: String? = nil, history: EventHistory? = nil) {
        self.init(name, of: SocketValue.self, schema: schema, description: description, history: history)
    }
}

extension Array where Element == any EventDescribing {
    /// Whether a room with these events accepts `eventName`: yes when the list is empty or contains `*`,
    /// otherwise only listed names. The `isEventAllowed` of the original.
    public func allows(_ eventName: String) -> Bool {
        isEmpty || definition(named: eventName) != nil
    }

    /// The definition that governs `eventName` here: the one with that name, else a `*` definition.
    /// The `getEventByName` of the original (plus the wildcard).
    public func definition(named eventName: String) -> (any EventDescribing)? {
        first { $0.name == eventName } ?? first { $0.name == "*" }
    }
}

/// Converts between typed payloads and ``SocketValue`` through JSON.
package enum PayloadCoding {
    package static func decode<Payload: Decodable>(_ type: Payload.Type, from value: SocketValue) throws(SchemaViolation) -> Payload {
        if let same = value as? Payload { return same }
        do {
            return try JSONDecoder().decode(Payload.self, from: Data(value.jsonText.utf8))
        } catch let error as DecodingError {
            throw SchemaViolation(decodingError: error)
        } catch {
            throw SchemaViolation(path: "", reason: "cannot be decoded as \(Payload.self)")
        }
    }

    package static func encode<Payload: Encodable>(_ payload: Payload) throws(SchemaViolation) -> SocketValue {
        if let same = payload as? SocketValue { return same }
        do {
            let data = try JSONEncoder().encode(payload)
            return try SocketValue(jsonText: String(decoding: data, as: UTF8.self))
        } catch {
            throw SchemaViolation(path: "", reason: "cannot be encoded as JSON (\(Payload.self))")
        }
    }
}

extension SchemaViolation {
    init(decodingError: DecodingError) {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.reduce(into: "") { path, key in
                if let index = key.intValue { path += "[\(index)]" } else { path += path.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
        }
        switch decodingError {
        case .keyNotFound(let key, let context):
            self.init(path: path(context.codingPath + [key]), reason: "is required")
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            self.init(path: path(context.codingPath), reason: "expected a value of type \(type)")
        case .dataCorrupted(let context):
            self.init(path: path(context.codingPath), reason: "is not valid")
        @unknown default:
            self.init(path: "", reason: "is not valid")
        }
    }
}
