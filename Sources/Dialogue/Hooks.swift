import SocketIO
import SocketIOServer

/// Lifecycle hooks. Every hook is optional, `async`, and may throw: a thrown error is logged and never
/// takes the server down. Hooks that decide (`authenticate`, `beforeJoin`, `beforeEach`) fail closed when
/// they throw: the connection, join or event is refused.
///
/// ```swift
/// var hooks = DialogueHooks()
/// hooks.clients.onConnected = { client in try await client.join("general") }
/// hooks.events.onCleanup = { roomId, eventName, events in try await database.insert(events) }
/// ```
public struct DialogueHooks: Sendable {
    public var socket = SocketHooks()
    public var clients = ClientHooks()
    public var rooms = RoomHooks()
    public var events = EventHooks()

    public init() {}
}

/// Hooks on the Socket.IO connection, before and after it is a ``ConnectedClient``.
public struct SocketHooks: Sendable {
    /// Decides whether a connection is accepted and who it is. A rejection reaches the client as
    /// CONNECT_ERROR with the reason; a thrown error as `Authentication failed`. With this hook set, the
    /// client's user id is the `sub` claim of the returned ``AuthData``.
    public var authenticate: (@Sendable (AuthenticationRequest) async throws -> AuthenticationResult)?
    /// A socket connected (after authentication, before its ``ConnectedClient`` is announced).
    public var onConnect: (@Sendable (DialogueContext, ServerSocket) async throws -> Void)?
    /// A socket disconnected (after `clients.onDisconnected`), with socket.io's reason.
    public var onDisconnect: (@Sendable (DialogueContext, ServerSocket, SocketDisconnectReason) async throws -> Void)?

    public init() {}
}

/// Hooks on clients and their room membership.
public struct ClientHooks: Sendable {
    /// Decides whether a client may join a room it asked for (`dialogue:join`); a denial reaches it as
    /// `JOIN_DENIED` with the reason. Joins made by the server (``ConnectedClient/join(_:)``) skip it.
    public var beforeJoin: (@Sendable (JoinRequest) async throws -> JoinDecision)?
    /// A client connected; it has been sent `dialogue:connected`.
    public var onConnected: (@Sendable (ConnectedClient) async throws -> Void)?
    /// A client disconnected; it is still in its rooms while this runs.
    public var onDisconnected: (@Sendable (ConnectedClient) async throws -> Void)?
    /// A client joined a room.
    public var onJoined: (@Sendable (ConnectedClient, _ roomId: String) async throws -> Void)?
    /// A client left a room (by request, by the server, by disconnecting, or because the room was deleted).
    public var onLeft: (@Sendable (ConnectedClient, _ roomId: String) async throws -> Void)?

    public init() {}
}

/// Hooks on rooms.
public struct RoomHooks: Sendable {
    /// A room was created: configured (when the server starts), by the server, by a client, or from a template.
    public var onCreated: (@Sendable (Room) async throws -> Void)?
    /// A room's settings changed (``DialogueServer/updateRoom(_:_:)``).
    public var onUpdated: (@Sendable (Room) async throws -> Void)?
    /// A room was deleted.
    public var onDeleted: (@Sendable (_ roomId: String) async throws -> Void)?

    public init() {}
}

/// Hooks on events.
public struct EventHooks: Sendable {
    /// Runs before an event is delivered: let it through, replace it (transform), or block it. A client
    /// whose event is blocked gets `EVENT_BLOCKED` with the reason.
    public var beforeEach: (@Sendable (BeforeEachRequest) async throws -> BeforeEachDecision)?
    /// Runs after an event was delivered, with the number of connections it reached.
    public var afterEach: (@Sendable (AfterEachEvent) async throws -> Void)?
    /// An event was delivered (and stored, if its history is enabled).
    public var onTriggered: (@Sendable (_ roomId: String, AnyEventMessage) async throws -> Void)?
    /// Events left memory, oldest first: evicted beyond the event's history limit, or because the room was
    /// deleted, or the server stopped. Persist them here; ``Room/history(_:start:end:)`` reads them back
    /// through ``onLoad``.
    public var onCleanup: (@Sendable (_ roomId: String, _ eventName: String, [AnyEventMessage]) async throws -> Void)?
    /// Loads history beyond what memory holds: offsets `[start, end)` counted from the newest event *not*
    /// in memory, newest first.
    public var onLoad: (@Sendable (_ roomId: String, _ eventName: String, _ start: Int, _ end: Int) async throws -> [AnyEventMessage])?

    public init() {}
}

/// What `socket.authenticate` sees.
public struct AuthenticationRequest: Sendable {
    public let context: DialogueContext
    /// The socket asking to connect.
    public let socket: ServerSocket
    /// The verified claims of the handshake's token when ``DialogueConfiguration/jwt`` is set.
    public let token: JWTClaims?
    /// The client's `auth` object (`{token: …}`), an empty object when it sent none.
    public var auth: SocketValue { socket.handshake.auth }
}

/// The answer of `socket.authenticate`.
public enum AuthenticationResult: Sendable {
    /// Accept the connection as this identity.
    case accept(AuthData)
    /// Refuse it; the reason reaches the client.
    case reject(String)
}

/// A verified identity.
public struct AuthData: Sendable, Equatable {
    /// The token's claims; `sub` is the user id.
    public var jwt: JWTClaims
    /// Anything else the application wants to keep with the client.
    public var extra: SocketValue?

    public init(jwt: JWTClaims, extra: SocketValue? = nil) {
        self.jwt = jwt
        self.extra = extra
    }
}

/// JWT claims: the registered ones the server uses, and every claim as JSON.
public struct JWTClaims: Sendable, Equatable {
    /// Subject: the user id.
    public var sub: String
    /// Expiry, Unix seconds.
    public var exp: Int64?
    /// Issued at, Unix seconds.
    public var iat: Int64?
    /// Every claim, including custom ones.
    public var all: SocketValue

    public init(sub: String, exp: Int64? = nil, iat: Int64? = nil, all: SocketValue = [:]) {
        self.sub = sub
        self.exp = exp
        self.iat = iat
        self.all = all
    }

    /// A custom claim.
    public subscript(claim: String) -> SocketValue? { all[claim] }
}

/// What `clients.beforeJoin` sees.
public struct JoinRequest: Sendable {
    public let context: DialogueContext
    public let client: ConnectedClient
    public let roomId: String
    /// The room (for a template room not yet created, the room it would be).
    public let room: Room
}

/// The answer of `clients.beforeJoin`.
public enum JoinDecision: Sendable, Equatable {
    case allow
    /// Refuse; the reason reaches the client with `JOIN_DENIED`.
    case deny(String)
}

/// What `events.beforeEach` sees.
public struct BeforeEachRequest: Sendable {
    public let context: DialogueContext
    public let roomId: String
    /// The event about to be delivered (already validated).
    public let message: AnyEventMessage
    /// The sender's user id (`system` for the server).
    public var from: String { message.from }
}

/// The answer of `events.beforeEach`.
public enum BeforeEachDecision: Sendable {
    /// Deliver the event as it is.
    case proceed
    /// Deliver this message instead (same room; it is not validated again).
    case replace(AnyEventMessage)
    /// Do not deliver; the reason reaches a client sender as `EVENT_BLOCKED`.
    case block(String)
}

/// What `events.afterEach` sees.
public struct AfterEachEvent: Sendable {
    public let context: DialogueContext
    public let roomId: String
    public let message: AnyEventMessage
    /// How many connections (on this node) the event reached.
    public let recipientCount: Int
}
