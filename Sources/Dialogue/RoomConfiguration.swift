import Foundation
import SocketIO

/// How much history a room sends to a client that joins it, as `dialogue:history`.
public enum HistorySync: Sendable, Equatable, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral {
    /// Nothing.
    case off
    /// Everything the room holds in memory, newest first.
    case all
    /// At most this many events (across event names), newest first.
    case latest(Int)

    /// `true` is ``all``, `false` is ``off`` (the original's `syncHistoryOnJoin: true`).
    public init(booleanLiteral value: Bool) { self = value ? .all : .off }
    /// A number is ``latest(_:)`` (the original's `syncHistoryOnJoin: 50`).
    public init(integerLiteral value: Int) { self = value > 0 ? .latest(value) : .off }

    var limit: Int?? {
        switch self {
        case .off: nil
        case .all: .some(nil)
        case .latest(let count): .some(count)
        }
    }
}

/// The settings of a room.
///
/// ```swift
/// RoomConfiguration(
///     name: "General Chat",
///     description: "Public chat room for everyone",
///     events: [Message, Typing, UserJoined, UserLeft],
///     defaultSubscriptions: ["message", "user:joined", "user:left"],
///     syncHistoryOnJoin: 50
/// )
/// ```
public struct RoomConfiguration: Sendable {
    /// Human-readable name, sent in `dialogue:joined` and `dialogue:rooms`.
    public var name: String
    /// Optional description.
    public var description: String?
    /// Maximum number of participants (connections); `nil` for no limit. Defaults to `nil`.
    public var maxSize: Int?
    /// The events clients may trigger here. Empty (the default), or containing a `*` definition, allows any
    /// event; a `*` definition's schema and history then apply to every event without its own definition.
    public var events: [any EventDescribing]
    /// Event names a client is subscribed to when it joins (`*` for every event). Defaults to none.
    public var defaultSubscriptions: [String]
    /// History sent on join. Defaults to ``HistorySync/off``.
    public var syncHistoryOnJoin: HistorySync
    /// Whether the room appears in `dialogue:rooms` and its creation and deletion are announced to every
    /// client. Defaults to `true`.
    public var isListed: Bool
    /// Who may join by asking, from the verified token's claims; every rule must hold. Checked before
    /// `clients.beforeJoin`; joins made by the server are not checked. Defaults to none (anyone).
    public var access: [AccessRule]
    /// Whether the server announces arrivals and departures: `user:joined {userId, username}` when a user's
    /// first connection joins, `user:left {userId}` when its last one leaves (the room must allow both
    /// events). Clients ask who is there with `dialogue:presence`. Defaults to `false`.
    public var announcesPresence: Bool

    public init(
        name: String,
        description: String? = nil,
        maxSize: Int? = nil,
        events: [any EventDescribing] = [],
        defaultSubscriptions: [String] = [],
        syncHistoryOnJoin: HistorySync = .off,
        isListed: Bool = true,
        access: [AccessRule] = [],
        announcesPresence: Bool = false
    ) {
        precondition(maxSize.map { $0 > 0 } ?? true, "maxSize must be positive")
        self.name = name
        self.description = description
        self.maxSize = maxSize
        self.events = events
        self.defaultSubscriptions = defaultSubscriptions
        self.syncHistoryOnJoin = syncHistoryOnJoin
        self.isListed = isListed
        self.access = access
        self.announcesPresence = announcesPresence
    }
}

/// A condition on the joining client's verified identity (``ConnectedClient/auth``).
public enum AccessRule: Sendable, Equatable {
    /// The token has this claim with this value: `.claim("role", equals: "admin")`. A claim holding an array
    /// (`roles: ["admin", "ops"]`) passes when it contains the value.
    case claim(String, equals: SocketValue)
    /// The room id is this pattern with `{sub}` replaced by the token's subject: `.owner("user:{sub}")` lets
    /// only alice into `user:alice`.
    case owner(String)

    /// Whether `auth` satisfies the rule in room `roomId`; no verified identity satisfies none.
    func allows(_ auth: AuthData?, roomId: String) -> Bool {
        guard let claims = auth?.jwt else { return false }
        switch self {
        case .claim(let name, let value):
            guard let actual = claims[name] else { return false }
            return actual == value || (actual.arrayValue?.contains(value) ?? false)
        case .owner(let pattern):
            return roomId == pattern.replacingOccurrences(of: "{sub}", with: claims.sub)
        }
    }

    var description: String {
        switch self {
        case .claim(let name, let value): "\(name) = \(value.jsonText)"
        case .owner(let pattern): "the room is \(pattern)"
        }
    }
}

extension Array where Element == AccessRule {
    /// `JOIN_DENIED` naming the first rule `auth` breaks in room `roomId`; `nil` when every rule holds.
    func refusal(_ auth: AuthData?, roomId: String) -> DialogueError? {
        guard let broken = first(where: { !$0.allows(auth, roomId: roomId) }) else { return nil }
        return DialogueError(.joinDenied, "Access to '\(roomId)' requires \(broken.description)")
    }
}

/// Rooms made on demand from a pattern: `user:*` gives every user a notification room, `doc:*` a room per
/// document. A room whose id matches the pattern is created the first time it is joined or triggered.
///
/// ```swift
/// RoomTemplate("doc:*", removeWhenEmpty: true, room: RoomConfiguration(
///     name: "Document {id}", events: [DocumentChange, CursorUpdate], defaultSubscriptions: ["*"], isListed: false))
/// ```
public struct RoomTemplate: Sendable {
    /// The pattern: `*` matches any run of characters (`user:*`, `game:*:chat`).
    public var pattern: String
    /// The settings of each room; `{id}` in the name is replaced by the room's id.
    public var room: RoomConfiguration
    /// Whether a room made from this template is deleted when its last participant leaves (its history goes
    /// to `events.onCleanup`). Defaults to `false`.
    public var removeWhenEmpty: Bool

    public init(_ pattern: String, removeWhenEmpty: Bool = false, room: RoomConfiguration) {
        precondition(pattern.contains("*"), "a room template's pattern needs a *")
        self.pattern = pattern
        self.room = room
        self.removeWhenEmpty = removeWhenEmpty
    }

    /// Whether `roomId` matches the pattern.
    public func matches(_ roomId: String) -> Bool { Glob.matches(pattern, roomId) }

    /// The settings of the room `roomId`.
    func configuration(for roomId: String) -> RoomConfiguration {
        var configuration = room
        configuration.name = room.name.replacingOccurrences(of: "{id}", with: roomId)
        return configuration
    }
}

/// `*` wildcard matching (any run of characters, including none).
enum Glob {
    static func matches(_ pattern: String, _ text: String) -> Bool {
        let pattern = Array(pattern.unicodeScalars), text = Array(text.unicodeScalars)
        var p = 0, t = 0, star = -1, mark = 0
        while t < text.count {
            if p < pattern.count, pattern[p] != "*", pattern[p] == text[t] {
                p += 1
                t += 1
            } else if p < pattern.count, pattern[p] == "*" {
                star = p
                mark = t
                p += 1
            } else if star >= 0 {
                p = star + 1
                mark += 1
                t = mark
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}
