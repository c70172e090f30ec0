import Dialogue
import DialogueClient

/// Seed 001's frontend chat client, in Swift with the Dialogue client SDK. It shares the event definitions
/// (and their payload types) with ``ChatExample``, the server side: one set of types, checked on both ends.
final class ChatClient: Sendable {
    let client: DialogueClient

    init(url: String, userId: String, token: String) {
        client = DialogueClient(configuration: DialogueClientConfiguration(url: url, auth: ["userId": .string(userId), "token": .string(token)]))
    }

    /// Connects and joins the general room (the server's onConnected hook has joined it already; joining
    /// again just returns the room).
    func connect() async throws {
        try await client.connect()
        _ = try await client.join("general")
    }

    private var room: RoomContext {
        get throws {
            guard let room = client.getRoom("general") else { throw DialogueClientError(.notConnected, "Not connected") }
            return room
        }
    }

    /// Calls `handler(message, from)` for each chat message; returns a token to stop.
    func onMessage(_ handler: @escaping @Sendable (ChatExample.ChatMessage, String) -> Void) throws -> ObservationToken {
        try room.on(ChatExample.message) { message in handler(message.data, message.from) }
    }

    /// Calls `handler(userId, username)` when someone joins.
    func onUserJoined(_ handler: @escaping @Sendable (String, String) -> Void) throws -> ObservationToken {
        try room.on(ChatExample.userJoined) { message in handler(message.data.userId, message.data.username) }
    }

    func sendMessage(_ text: String, replyTo: String? = nil) async throws {
        try await room.trigger(ChatExample.message, ChatExample.ChatMessage(text: text, senderId: client.userId ?? "", replyTo: replyTo))
    }

    func setTyping(_ isTyping: Bool) async throws {
        guard let room = client.getRoom("general") else { return }
        try await room.trigger(ChatExample.typing, ChatExample.TypingState(isTyping: isTyping))
    }

    func disconnect() async {
        try? await client.getRoom("general")?.leave()
        await client.disconnect()
    }
}
