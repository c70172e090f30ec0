import Dialogue
import DialogueEvents
import SocketIO

/// Rooms, room patterns and events of a configuration file.
extension SettingsReader {
    /// An event definition: `schema` (JSON Schema, validated by the same core as Swift-typed events),
    /// `description`, `history` (`false`, a limit, or `{limit, retention: {maxEvents, maxAge}}`).
    func readEvent(_ value: ConfigValue, name: String) throws(ConfigurationError) -> any EventDescribing {
        guard !name.isEmpty else { throw value.error("event names cannot be empty") }
        let event = try value.object(allowing: ["name", "description", "schema", "history"])
        var schema: Schema?
        if let document = event["schema"] {
            do {
                schema = try Schema(jsonSchema: document.value)
            } catch {
                throw ConfigurationError(path: error.path.isEmpty ? document.path : "\(document.path).\(error.path)", reason: error.reason)
            }
        }
        return EventDefinition(name, schema: schema, description: try event["description"]?.string, history: try readHistory(event["history"]))
    }

    private func readHistory(_ value: ConfigValue?) throws(ConfigurationError) -> EventHistory? {
        guard let value else { return nil }
        switch value.value {
        case .bool(false): return nil
        case .bool(true): return EventHistory(limit: 100)
        case .int: return EventHistory(limit: try value.positiveInt)
        default:
            let history = try value.object(allowing: ["limit", "retention"])
            var retention: HistoryRetention?
            if let rule = history["retention"] {
                let fields = try rule.object(allowing: ["maxEvents", "maxAge"])
                let maxEvents = try fields["maxEvents"]?.positiveInt
                let maxAge = try fields["maxAge"]?.duration
                guard maxEvents != nil || maxAge != nil else { throw rule.error("needs maxEvents or maxAge") }
                retention = HistoryRetention(maxEvents: maxEvents, maxAge: maxAge)
            }
            return EventHistory(limit: try history["limit"]?.positiveInt ?? 100, retention: retention)
        }
    }

    /// A room or a room pattern's room. Its events are names of top-level `events` or inline definitions.
    func readRoom(_ value: ConfigValue, id: String, pattern: Bool) throws(ConfigurationError) -> (configuration: RoomConfiguration, removeWhenEmpty: Bool) {
        var allowed: Set<String> = ["name", "description", "maxSize", "events", "defaultSubscriptions", "syncHistoryOnJoin", "listed", "presence", "access"]
        if pattern { allowed.insert("removeWhenEmpty") }
        let room = try value.object(allowing: allowed)
        var events: [any EventDescribing] = []
        for item in try room["events"]?.array ?? [] {
            let definition: any EventDescribing
            if case .string(let name) = item.value {
                guard let shared = sharedEvents[name] else {
                    throw item.error(name == "*" ? "write {name: \"*\"} to allow any event" : "no event named \(name) in the top-level events")
                }
                definition = shared
            } else {
                definition = try readEvent(item, name: try item.object(allowing: ["name", "description", "schema", "history"]).required("name").nonEmptyString)
            }
            guard !events.contains(where: { $0.name == definition.name }) else { throw item.error("\(definition.name) is listed twice") }
            events.append(definition)
        }
        let subscriptions = try room["defaultSubscriptions"]?.strings ?? []
        for (index, name) in subscriptions.enumerated() where name != "*" && !events.allows(name) {
            throw ConfigurationError(path: "\(value.child("defaultSubscriptions"))[\(index)]", reason: "names no event of this room")
        }
        var sync = HistorySync.off
        if let value = room["syncHistoryOnJoin"] {
            if case .bool(let flag) = value.value { sync = flag ? .all : .off } else { sync = .latest(try value.positiveInt) }
        }
        var access: [AccessRule] = []
        for rule in try room["access"]?.array ?? [] {
            let fields = try rule.object(allowing: ["claim", "equals", "owner"])
            if let owner = fields["owner"] {
                let text = try owner.nonEmptyString
                guard text.contains("{sub}") else { throw owner.error("must contain {sub}, e.g. user:{sub}") }
                access.append(.owner(text))
            } else if let claim = fields["claim"] {
                access.append(.claim(try claim.nonEmptyString, equals: try fields.required("equals").value))
            } else {
                throw rule.error("needs claim and equals, or owner")
            }
        }
        var configuration = RoomConfiguration(
            name: try room["name"]?.nonEmptyString ?? (pattern ? "{id}" : id),
            description: try room["description"]?.string,
            maxSize: try room["maxSize"]?.positiveInt,
            events: events,
            defaultSubscriptions: subscriptions,
            syncHistoryOnJoin: sync,
            isListed: try room["listed"]?.bool ?? !pattern,
            access: access
        )
        if let presence = room["presence"], try presence.bool {
            guard events.allows("user:joined"), events.allows("user:left") else {
                throw presence.error("needs the room to allow the events user:joined and user:left")
            }
            configuration.announcesPresence = true
        }
        return (configuration, try room["removeWhenEmpty"]?.bool ?? false)
    }
}
