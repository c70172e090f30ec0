import DialogueEvents
import OrderedCollections
import SocketIO

/// A room's configuration as it travels between the nodes of a cluster, when the server API makes a room
/// on one of them. Events travel as name, description, JSON Schema and history settings: another node
/// checks its clients' triggers against the JSON Schema (a typed event's Swift decoding check stays with
/// the node that made the room).
extension RoomConfiguration {
    var clusterValue: SocketValue {
        var members: OrderedDictionary<SocketKey, SocketValue> = ["name": .string(name)]
        if let description { members["description"] = .string(description) }
        if let maxSize { members["maxSize"] = .int(Int64(maxSize)) }
        members["events"] = .array(events.map(Self.wire))
        members["defaultSubscriptions"] = .array(defaultSubscriptions.map(SocketValue.string))
        members["syncHistoryOnJoin"] = switch syncHistoryOnJoin {
        case .off: "off"
        case .all: "all"
        case .latest(let count): .int(Int64(count))
        }
        members["isListed"] = .bool(isListed)
        members["access"] = .array(access.map { rule in
            switch rule {
            case .claim(let claim, let value): ["claim": .string(claim), "equals": value]
            case .owner(let pattern): ["owner": .string(pattern)]
            }
        })
        members["presence"] = .bool(announcesPresence)
        return .object(members)
    }

    /// Reads the wire form; `nil` when it is not one (a schema that does not parse, say).
    init?(clusterValue value: SocketValue) {
        guard let name = value["name"]?.stringValue, let eventValues = value["events"]?.arrayValue else { return nil }
        var events: [any EventDescribing] = []
        for event in eventValues {
            guard let definition = Self.event(event) else { return nil }
            events.append(definition)
        }
        var maxSize: Int?
        if case .int(let size)? = value["maxSize"], size > 0 { maxSize = Int(size) }
        let sync: HistorySync = switch value["syncHistoryOnJoin"] {
        case .string("all")?: .all
        case .int(let count)?: .latest(Int(count))
        default: .off
        }
        let access: [AccessRule] = (value["access"]?.arrayValue ?? []).compactMap { rule in
            if let claim = rule["claim"]?.stringValue, let equals = rule["equals"] { return .claim(claim, equals: equals) }
            return rule["owner"]?.stringValue.map(AccessRule.owner)
        }
        self.init(
            name: name, description: value["description"]?.stringValue, maxSize: maxSize, events: events,
            defaultSubscriptions: (value["defaultSubscriptions"]?.arrayValue ?? []).compactMap(\.stringValue), syncHistoryOnJoin: sync,
            isListed: value["isListed"] != false, access: access, announcesPresence: value["presence"] == true
        )
    }

    private static func wire(_ event: any EventDescribing) -> SocketValue {
        var members: OrderedDictionary<SocketKey, SocketValue> = ["name": .string(event.name)]
        if let description = event.description { members["description"] = .string(description) }
        if let schema = event.schema { members["schema"] = schema.jsonSchema }
        if let history = event.history {
            var kept: OrderedDictionary<SocketKey, SocketValue> = ["enabled": .bool(history.enabled), "limit": .int(Int64(history.limit))]
            if let retention = history.retention {
                var rule: OrderedDictionary<SocketKey, SocketValue> = [:]
                if let maxEvents = retention.maxEvents { rule["maxEvents"] = .int(Int64(maxEvents)) }
                if let maxAge = retention.maxAge { rule["maxAgeMilliseconds"] = .int(Int64(maxAge / .milliseconds(1))) }
                kept["retention"] = .object(rule)
            }
            members["history"] = .object(kept)
        }
        return .object(members)
    }

    private static func event(_ value: SocketValue) -> (any EventDescribing)? {
        guard let name = value["name"]?.stringValue else { return nil }
        var schema: Schema?
        if let document = value["schema"] {
            guard let parsed = try? Schema(jsonSchema: document) else { return nil }
            schema = parsed
        }
        var history: EventHistory?
        if let kept = value["history"], case .int(let limit)? = kept["limit"], limit > 0 {
            var retention: HistoryRetention?
            if let rule = kept["retention"] {
                var maxEvents: Int?
                var maxAge: Duration?
                if case .int(let count)? = rule["maxEvents"], count > 0 { maxEvents = Int(count) }
                if case .int(let milliseconds)? = rule["maxAgeMilliseconds"], milliseconds > 0 { maxAge = .milliseconds(milliseconds) }
                retention = HistoryRetention(maxEvents: maxEvents, maxAge: maxAge)
            }
            history = EventHistory(enabled: kept["enabled"] != false, limit: Int(limit), retention: retention)
        }
        return EventDefinition(name, schema: schema, description: value["description"]?.stringValue, history: history)
    }
}
