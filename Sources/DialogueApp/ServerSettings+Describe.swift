import Dialogue
import DialogueEvents
import OrderedCollections
import SocketIO
import Yams

extension ServerSettings {
    /// The settings in the configuration file's own shape, defaults filled in, secrets replaced by `(set)`.
    func describe() -> SocketValue {
        let engine = dialogue.socket.engine
        var server: OrderedDictionary<SocketKey, SocketValue> = [
            "host": .string(dialogue.host), "port": .int(Int64(dialogue.port)), "path": .string(engine.path),
        ]
        if let cors = dialogue.cors {
            let origins: SocketValue = switch cors.origin {
            case .any, .reflect: "*"
            case .list(let list): .array(list.map(SocketValue.string))
            }
            server["cors"] = ["origins": origins, "credentials": .bool(cors.credentials)]
        }
        if let header = engine.clientAddressHeader { server["clientAddressHeader"] = .string(header.rawName) }
        let storeText: String = switch store {
        case .sqlite(let path, _): "sqlite:\(path)"
        case .postgres(let url, _): Self.redactedURL(url)
        case .memory: "memory"
        }
        var history: OrderedDictionary<SocketKey, SocketValue> = ["store": .string(storeText)]
        if case .postgres(_, let schema) = store { history["postgresSchema"] = .string(schema) }
        if case .sqlite(_, let synchronous) = store { history["sqliteSynchronous"] = .string(synchronous.rawValue) }
        history["retentionInterval"] = .string(Self.text(dialogue.retentionInterval))
        history["maxRecoveryEvents"] = .int(Int64(dialogue.maxRecoveryEvents))
        let limits: SocketValue = [
            "maxPayload": .int(Int64(engine.engine.maxPayload)),
            "maxRoomsPerClient": .int(Int64(dialogue.maxRoomsPerClient)),
            "historyRequests": ["max": .int(Int64(dialogue.historyRequestLimit.maxRequests)), "per": .string(Self.text(dialogue.historyRequestLimit.window))],
            "maxHistoryPage": .int(Int64(dialogue.maxHistoryPage)),
            "clientRooms": .int(Int64(dialogue.clientRooms.limitPerUser)),
            "maxPublishBody": .int(Int64(dialogue.httpAPI.maxBodySize)),
            "pingInterval": .string(Self.text(engine.engine.pingInterval)),
            "pingTimeout": .string(Self.text(engine.engine.pingTimeout)),
            "maxBufferedBytes": .int(Int64(engine.engine.maxBufferedBytes)),
            "maxConnections": .int(Int64(engine.limits.maxConnections)),
            "maxConnectionsPerAddress": .int(Int64(engine.limits.maxConnectionsPerAddress)),
            "handshakesPerAddress": ["max": .int(Int64(engine.limits.maxHandshakesPerAddress)), "per": .string(Self.text(engine.limits.handshakeWindow))],
        ]
        var auth: OrderedDictionary<SocketKey, SocketValue> = ["apiKeys": .int(Int64(dialogue.httpAPI.apiKeys.count))]
        auth["jwt"] = jwtKeys.isEmpty ? "off: identities are asserted by clients" : .array(jwtKeys.map(Self.describe))
        var rooms = OrderedDictionary<SocketKey, SocketValue>()
        for (id, room) in dialogue.rooms { rooms[SocketKey(id)] = Self.describe(room) }
        var patterns = OrderedDictionary<SocketKey, SocketValue>()
        for template in dialogue.roomTemplates {
            var room = Self.describe(template.room).objectValue ?? [:]
            room["removeWhenEmpty"] = .bool(template.removeWhenEmpty)
            patterns[SocketKey(template.pattern)] = .object(room)
        }
        let clusterText: SocketValue = cluster.map {
            [
                "node": .string($0.nodeName), "heartbeatInterval": .string(Self.text($0.heartbeatInterval)),
                "nodeTimeout": .string(Self.text($0.nodeTimeout)),
            ]
        } ?? "off: one node"
        return [
            "server": .object(server), "history": .object(history), "cluster": clusterText, "limits": limits, "auth": .object(auth),
            "admin": adminToken == nil ? "off" : ["token": "(set)"], "metrics": .bool(metrics),
            "rooms": .object(rooms), "roomPatterns": .object(patterns),
        ]
    }

    /// The effective configuration as YAML, for people.
    public var effectiveConfigurationYAML: String {
        (try? Yams.serialize(node: Self.node(effectiveConfiguration))) ?? effectiveConfiguration.jsonText
    }

    private static func node(_ value: SocketValue) -> Node {
        switch value {
        case .null: Node("null", Tag(.null))
        case .bool(let flag): Node(flag ? "true" : "false", Tag(.bool))
        case .int(let number): Node(String(number), Tag(.int))
        case .double(let number): Node(String(number), Tag(.float))
        case .string(let text): Node(text, Tag(.str), .doubleQuoted)
        case .binary: Node("(binary)")
        case .array(let items): Node(items.map(node))
        case .object(let members): Node(members.map { (Node($0.key.string), node($0.value)) })
        }
    }

    private static func describe(_ room: RoomConfiguration) -> SocketValue {
        var fields: OrderedDictionary<SocketKey, SocketValue> = ["name": .string(room.name)]
        if let description = room.description { fields["description"] = .string(description) }
        if let maxSize = room.maxSize { fields["maxSize"] = .int(Int64(maxSize)) }
        fields["events"] = .array(room.events.map { event in
            var definition: OrderedDictionary<SocketKey, SocketValue> = ["name": .string(event.name)]
            if let description = event.description { definition["description"] = .string(description) }
            if let schema = event.schema { definition["schema"] = schema.jsonSchema }
            if let history = event.history, history.enabled {
                var kept: OrderedDictionary<SocketKey, SocketValue> = ["limit": .int(Int64(history.limit))]
                if let retention = history.retention {
                    var rule = OrderedDictionary<SocketKey, SocketValue>()
                    if let maxEvents = retention.maxEvents { rule["maxEvents"] = .int(Int64(maxEvents)) }
                    if let maxAge = retention.maxAge { rule["maxAge"] = .string(text(maxAge)) }
                    kept["retention"] = .object(rule)
                }
                definition["history"] = .object(kept)
            }
            return .object(definition)
        })
        fields["defaultSubscriptions"] = .array(room.defaultSubscriptions.map(SocketValue.string))
        fields["syncHistoryOnJoin"] = switch room.syncHistoryOnJoin {
        case .off: false
        case .all: true
        case .latest(let count): .int(Int64(count))
        }
        fields["listed"] = .bool(room.isListed)
        fields["presence"] = .bool(room.announcesPresence)
        if !room.access.isEmpty {
            fields["access"] = .array(room.access.map { rule in
                switch rule {
                case .claim(let name, let value): ["claim": .string(name), "equals": value]
                case .owner(let pattern): ["owner": .string(pattern)]
                }
            })
        }
        return .object(fields)
    }

    private static func describe(_ key: JWTVerifier.Key) -> SocketValue {
        switch key {
        case .secret(_, let algorithm): ["algorithm": .string(algorithm.rawValue), "secret": "(set)"]
        case .publicKey(_, let algorithm): ["algorithm": .string(algorithm.rawValue), "publicKey": "(PEM)"]
        case .jwks: ["jwks": "(key set)"]
        }
    }

    /// `postgres://user:***@host/db`: the URL without its password.
    static func redactedURL(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url.range(of: "@", range: scheme.upperBound..<url.endIndex),
              let colon = url.range(of: ":", range: scheme.upperBound..<at.lowerBound) else { return url }
        return url.replacingCharacters(in: colon.upperBound..<at.lowerBound, with: "***")
    }

    /// `250ms`, `30s`, `5m`, `2h`, `30d`: the largest unit that divides the duration.
    static func text(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] where milliseconds % size == 0 && milliseconds >= size {
            return "\(milliseconds / size)\(unit)"
        }
        return "\(milliseconds)ms"
    }
}
