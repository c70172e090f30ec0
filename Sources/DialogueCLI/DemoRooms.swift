import Dialogue

/// The demo's rooms: two chat rooms with typed events and history, plus rooms visitors create.
enum DemoRooms {
    struct ChatText: EventPayload {
        var text: String
        static let schema: Schema = .object(["text": .string(minLength: 1, maxLength: 2000)])
    }

    struct TypingState: EventPayload {
        var isTyping: Bool
        static let schema: Schema = .object(["isTyping": .boolean])
    }

    struct Presence: EventPayload {
        var userId: String
        static let schema: Schema = .object(["userId": .string()])
    }

    static let message = EventDefinition("message", of: ChatText.self, description: "A chat message", history: EventHistory(limit: 100))
    static let typing = EventDefinition("typing", of: TypingState.self, description: "Typing indicator")
    static let userJoined = EventDefinition("user:joined", of: Presence.self, history: EventHistory(limit: 20))
    static let userLeft = EventDefinition("user:left", of: Presence.self, history: EventHistory(limit: 20))

    static func chat(_ name: String, description: String) -> RoomConfiguration {
        RoomConfiguration(
            name: name, description: description, events: [message, typing, userJoined, userLeft],
            defaultSubscriptions: ["message", "typing", "user:joined", "user:left"], syncHistoryOnJoin: 50
        )
    }

    /// The demo server's configuration on `host:port`: arrivals and departures are announced in each room.
    static func configuration(host: String, port: Int) -> DialogueConfiguration {
        var configuration = DialogueConfiguration(host: host, port: port, rooms: [
            "general": chat("General", description: "Everyone's here"),
            "random": chat("Random", description: "Off topic"),
        ])
        configuration.clientRooms = ClientRoomPolicy(
            limitPerUser: 3,
            template: RoomConfiguration(name: "", events: [EventDefinition("*", history: EventHistory(limit: 50))], defaultSubscriptions: ["*"], syncHistoryOnJoin: 50)
        )
        configuration.hooks.clients.onJoined = { client, roomId in
            guard let room = client.server.room(roomId), room.events.allows(userJoined.name) else { return }
            try await room.trigger(userJoined, Presence(userId: client.userId), from: client.userId)
        }
        configuration.hooks.clients.onLeft = { client, roomId in
            guard let room = client.server.room(roomId), room.events.allows(userLeft.name) else { return }
            try await room.trigger(userLeft, Presence(userId: client.userId), from: client.userId)
        }
        return configuration
    }
}
