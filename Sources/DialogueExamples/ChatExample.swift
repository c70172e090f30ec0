import Dialogue
import ServiceLifecycle

/// Seed example 1: chat with messages, typing indicators and presence.
enum ChatExample {
    struct ChatMessage: EventPayload {
        var text: String
        var senderId: String
        var replyTo: String?
        static let schema: Schema = .object([
            "text": .string(minLength: 1, maxLength: 2000),
            "senderId": .string(),
            "replyTo": .string().optional(),
        ])
    }

    struct TypingState: EventPayload {
        var isTyping: Bool
        static let schema: Schema = .object(["isTyping": .boolean])
    }

    struct UserJoinedPayload: EventPayload {
        var userId: String
        var username: String
        static let schema: Schema = .object(["userId": .string(), "username": .string()])
    }

    struct UserLeftPayload: EventPayload {
        var userId: String
        static let schema: Schema = .object(["userId": .string()])
    }

    static let message = EventDefinition("message", of: ChatMessage.self, history: EventHistory(limit: 100))
    static let typing = EventDefinition("typing", of: TypingState.self)
    static let userJoined = EventDefinition("user:joined", of: UserJoinedPayload.self)
    static let userLeft = EventDefinition("user:left", of: UserLeftPayload.self)

    static func make(port: Int) -> (DialogueServer, [any Service]) {
        var configuration = DialogueConfiguration(port: port, rooms: [
            "general": RoomConfiguration(
                name: "General Chat",
                description: "Public chat room for everyone",
                events: [message, typing, userJoined, userLeft],
                defaultSubscriptions: ["message", "user:joined", "user:left"],
                syncHistoryOnJoin: 50
            ),
        ])
        configuration.hooks.clients.onConnected = { client in
            let username = client.meta["name"]?.stringValue ?? client.userId
            try await client.join("general")
            try await client.server.trigger("general", userJoined, UserJoinedPayload(userId: client.userId, username: username), from: client.userId)
        }
        configuration.hooks.clients.onDisconnected = { client in
            try await client.server.getClientRooms(client.userId).leaveAll { roomId in
                try await client.server.trigger(roomId, userLeft, UserLeftPayload(userId: client.userId), from: client.userId)
            }
        }
        let dialogue = DialogueServer(configuration: configuration)
        // Persist messages (here: log them; a database insert in a real application).
        dialogue.on("general", message) { message in
            dialogue.logger.info("[\(message.roomId)] \(message.from): \(message.data.text)")
        }
        return (dialogue, [])
    }
}
