import SocketIO

/// An error of the Dialogue layer, with the code that reaches clients in `dialogue:error`.
///
/// The description never contains payloads.
public struct DialogueError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A machine-readable error code; the raw value is what travels on the wire.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The room does not exist (and matches no room template).
        public static let roomNotFound = Code(rawValue: "ROOM_NOT_FOUND")
        /// `clients.beforeJoin` refused the join.
        public static let joinDenied = Code(rawValue: "JOIN_DENIED")
        /// The room is at its `maxSize`.
        public static let roomFull = Code(rawValue: "ROOM_FULL")
        /// Too many requests of this kind in the current window.
        public static let rateLimited = Code(rawValue: "RATE_LIMITED")
        /// The request's payload is malformed.
        public static let invalidRequest = Code(rawValue: "INVALID_REQUEST")
        /// The room does not accept this event name.
        public static let eventNotAllowed = Code(rawValue: "EVENT_NOT_ALLOWED")
        /// The event's data does not match its schema; the message names the field.
        public static let validationFailed = Code(rawValue: "VALIDATION_FAILED")
        /// A room with this id already exists.
        public static let roomExists = Code(rawValue: "ROOM_EXISTS")
        /// The client may not do this (delete a configured room, create more rooms than allowed, …).
        public static let permissionDenied = Code(rawValue: "PERMISSION_DENIED")
        /// The client has not joined the room it addressed.
        public static let notInRoom = Code(rawValue: "NOT_IN_ROOM")
        /// `events.beforeEach` blocked the event; the message is the hook's reason.
        public static let eventBlocked = Code(rawValue: "EVENT_BLOCKED")
        /// The client is not connected any more.
        public static let notConnected = Code(rawValue: "NOT_CONNECTED")
        /// An HTTP request without valid credentials, or a refreshed token that does not verify.
        public static let unauthorized = Code(rawValue: "UNAUTHORIZED")
        /// The connection's token expired and was not refreshed; the server disconnects it.
        public static let tokenExpired = Code(rawValue: "TOKEN_EXPIRED")
        /// The server is shutting down and accepts no more events (HTTP 503); retry on another server.
        public static let serverStopping = Code(rawValue: "SERVER_STOPPING")
    }

    public let code: Code
    /// A human-readable message, safe to show to the client.
    public let message: String
    /// The offending field, for validation errors (`text`, `operations[0].type`).
    public let field: String?

    public init(_ code: Code, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// The `dialogue:error` payload: `{code, message}`, plus `field` and `roomId` when known.
    package func payload(roomId: String? = nil) -> SocketValue {
        var value: SocketValue = ["code": .string(code.rawValue), "message": .string(message)]
        if case .object(var members) = value {
            if let field { members["field"] = .string(field) }
            if let roomId { members["roomId"] = .string(roomId) }
            value = .object(members)
        }
        return value
    }

    /// Reads a `dialogue:error` payload (`{code, message, field?}`); `nil` when it has no code.
    public init?(payload: SocketValue) {
        guard let code = payload["code"]?.stringValue else { return nil }
        self.init(Code(rawValue: code), payload["message"]?.stringValue ?? code, field: payload["field"]?.stringValue)
    }

    package static func roomNotFound(_ roomId: String) -> DialogueError { DialogueError(.roomNotFound, "Room '\(roomId)' does not exist") }
    package static func notInRoom(_ roomId: String) -> DialogueError { DialogueError(.notInRoom, "Not a member of room '\(roomId)'; join it first") }
    package static func eventNotAllowed(_ event: String, _ roomId: String) -> DialogueError {
        DialogueError(.eventNotAllowed, "Event '\(event)' is not allowed in room '\(roomId)'")
    }
    package static func validationFailed(_ event: String, _ violation: SchemaViolation) -> DialogueError {
        DialogueError(.validationFailed, "Event '\(event)' validation failed: \(violation)", field: violation.path.isEmpty ? nil : violation.path)
    }
}
