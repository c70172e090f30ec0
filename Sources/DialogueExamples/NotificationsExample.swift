import Dialogue
import ServiceLifecycle

/// Seed example 2: live notifications, one room per user made from the `user:*` template (the seed's
/// "use a factory or pattern-based rooms").
enum NotificationsExample {
    enum Kind: String, CaseIterable, Codable { case info, warning, error, success }
    enum BadgeKind: String, CaseIterable, Codable { case messages, notifications, tasks }

    struct Alert: EventPayload {
        struct Action: Codable, Sendable { var label: String; var url: String }
        var title: String
        var message: String
        var type: Kind
        var action: Action?
        static let schema: Schema = .object([
            "title": .string(),
            "message": .string(),
            "type": .enumeration(Kind.self),
            "action": .object(["label": .string(), "url": .string(format: .url)]).optional(),
        ])
    }

    struct Badge: EventPayload {
        var count: Int
        var type: BadgeKind
        static let schema: Schema = .object(["count": .integer(minimum: 0), "type": .enumeration(BadgeKind.self)])
    }

    static let alert = EventDefinition("alert", of: Alert.self, history: EventHistory(limit: 50))
    static let badge = EventDefinition("badge", of: Badge.self)

    static func make(port: Int) -> (DialogueServer, [any Service]) {
        var configuration = DialogueConfiguration(port: port)
        configuration.roomTemplates = [
            RoomTemplate("user:*", room: RoomConfiguration(
                name: "Notifications", events: [alert, badge], defaultSubscriptions: ["alert", "badge"], syncHistoryOnJoin: 20, isListed: false
            )),
        ]
        configuration.hooks.clients.beforeJoin = { request in
            request.roomId == "user:\(request.client.userId)" || !request.roomId.hasPrefix("user:") ? .allow : .deny("Not your notifications")
        }
        configuration.hooks.clients.onConnected = { client in try await client.join("user:\(client.userId)") }
        return (DialogueServer(configuration: configuration), [])
    }

    /// Called from an HTTP route, a queue consumer…: reaches every connection of the user, or waits in the
    /// room's history until the user connects.
    static func sendNotification(_ dialogue: DialogueServer, to userId: String, _ notification: Alert) async throws {
        try await dialogue.trigger("user:\(userId)", alert, notification, from: "system")
    }

    static func updateBadge(_ dialogue: DialogueServer, for userId: String, _ type: BadgeKind, count: Int) async throws {
        try await dialogue.trigger("user:\(userId)", badge, Badge(count: count, type: type))
    }
}
