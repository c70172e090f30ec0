import Dialogue
import ServiceLifecycle

/// Seed example 6: collaborative editing, one room per document from the `doc:*` template, removed when the
/// last editor leaves.
enum CollaborationExample {
    enum Operation: String, CaseIterable, Codable { case insert, delete, retain }
    enum PresenceStatus: String, CaseIterable, Codable { case active, idle, away }

    struct DocumentChange: EventPayload {
        struct Step: Codable, Sendable { var type: Operation; var position: Int; var text: String?; var length: Int? }
        var userId: String
        var operations: [Step]
        var version: Int
        static let schema: Schema = .object([
            "userId": .string(),
            "operations": .array(.object([
                "type": .enumeration(Operation.self), "position": .integer(minimum: 0),
                "text": .string().optional(), "length": .integer(minimum: 0).optional(),
            ])),
            "version": .integer(minimum: 0),
        ])
    }

    struct CursorUpdate: EventPayload {
        struct Selection: Codable, Sendable { var start: Int; var end: Int }
        var userId: String
        var username: String
        var position: Int
        var selection: Selection?
        var color: String
        static let schema: Schema = .object([
            "userId": .string(), "username": .string(), "position": .integer(minimum: 0),
            "selection": .object(["start": .integer(), "end": .integer()]).optional(),
            "color": .string(pattern: "^#[0-9a-fA-F]{6}$"),
        ])
    }

    struct UserPresence: EventPayload {
        var userId: String
        var username: String
        var color: String
        var status: PresenceStatus
        static let schema: Schema = .object([
            "userId": .string(), "username": .string(), "color": .string(), "status": .enumeration(PresenceStatus.self),
        ])
    }

    static let documentChange = EventDefinition("doc:change", of: DocumentChange.self, history: EventHistory(limit: 500))
    static let cursorUpdate = EventDefinition("cursor:update", of: CursorUpdate.self)
    static let userPresence = EventDefinition("user:presence", of: UserPresence.self)

    static func make(port: Int) -> (DialogueServer, [any Service]) {
        var configuration = DialogueConfiguration(port: port)
        configuration.roomTemplates = [
            RoomTemplate("doc:*", removeWhenEmpty: true, room: RoomConfiguration(
                name: "Document {id}", maxSize: 20, events: [documentChange, cursorUpdate, userPresence],
                defaultSubscriptions: ["*"], syncHistoryOnJoin: true, isListed: false
            )),
        ]
        return (DialogueServer(configuration: configuration), [])
    }

    /// Broadcasts a change made outside the socket (a REST save, an import).
    static func broadcastChange(_ dialogue: DialogueServer, documentId: String, _ change: DocumentChange) async throws {
        try await dialogue.trigger("doc:\(documentId)", documentChange, change, from: change.userId)
    }
}
