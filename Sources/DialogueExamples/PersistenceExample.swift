import Dialogue
import ServiceLifecycle
import Synchronization

/// Seed example 7: history beyond memory. The newest 100 messages stay in memory; older ones are written
/// by `onCleanup` and read back by `onLoad`, so clients page through all of it with `dialogue:getHistory`.
enum PersistenceExample {
    struct Message: EventPayload {
        var text: String
        var username: String
        static let schema: Schema = .object(["text": .string(minLength: 1, maxLength: 2000), "username": .string()])
    }

    static let message = EventDefinition("message", of: Message.self, history: EventHistory(limit: 100))

    /// Stands in for the database table of the seed (`messages`, newest first by timestamp).
    final class MessageStore: Sendable {
        private let rows = Mutex<[String: [AnyEventMessage]]>([:])

        func insert(roomId: String, eventName: String, _ events: [AnyEventMessage]) {
            rows.withLock { $0["\(roomId)/\(eventName)", default: []].append(contentsOf: events) }
        }

        func load(roomId: String, eventName: String, start: Int, end: Int) -> [AnyEventMessage] {
            rows.withLock { rows in
                let newestFirst = (rows["\(roomId)/\(eventName)"] ?? []).sorted { $0.timestamp > $1.timestamp }
                return Array(newestFirst.dropFirst(start).prefix(end - start))
            }
        }
    }

    static func make(port: Int) -> (DialogueServer, [any Service]) {
        let store = MessageStore()
        var configuration = DialogueConfiguration(port: port, rooms: [
            "general": RoomConfiguration(name: "General Chat", events: [message], defaultSubscriptions: ["message"], syncHistoryOnJoin: 50),
        ])
        configuration.hooks.clients.onConnected = { client in try await client.join("general") }
        configuration.hooks.events.onCleanup = { roomId, eventName, events in
            store.insert(roomId: roomId, eventName: eventName, events)
        }
        configuration.hooks.events.onLoad = { roomId, eventName, start, end in
            store.load(roomId: roomId, eventName: eventName, start: start, end: end)
        }
        return (DialogueServer(configuration: configuration), [])
    }
}
