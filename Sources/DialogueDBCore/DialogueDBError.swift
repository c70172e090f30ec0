import Foundation
import OrderedCollections
import SocketIO

/// An error of the DialogueDB API, as the hosted service reports it: an HTTP status, a code, a lower-case
/// type, a message and field details. The REST server sends it as
/// `{"error": {code, message, type, details, requestId, timestamp}}`; the SDK throws it.
public struct DialogueDBError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One offending field: `{field, code, message, value?}`.
    public struct Detail: Sendable, Equatable {
        public let field: String
        public let code: String
        public let message: String
        public let value: SocketValue?

        public init(field: String, code: String, message: String, value: SocketValue? = nil) {
            self.field = field
            self.code = code
            self.message = message
            self.value = value
        }
    }

    /// The HTTP status: 400, 401, 403, 404, 409, 413, 429, 500, 501, 503.
    public let statusCode: Int
    /// `DIALOGUE_NOT_FOUND`, `MISSING_PARAMETER`, `INVALID_PARAMETER`, `DUPLICATE_ID`, `DIALOGUE_ENDED`, …
    public let code: String
    /// `validation_error`, `authentication_error`, `authorization_error`, `not_found`, `conflict`,
    /// `rate_limit_exceeded`, `server_error`, `service_unavailable`.
    public let type: String
    public let message: String
    public let details: [Detail]
    /// The request it answers, when it came from a server.
    public var requestId: String?

    public init(statusCode: Int, code: String, type: String, message: String, details: [Detail] = [], requestId: String? = nil) {
        self.statusCode = statusCode
        self.code = code
        self.type = type
        self.message = message
        self.details = details
        self.requestId = requestId
    }

    public var description: String { "\(code) (\(statusCode)): \(message)" }

    /// Whether retrying may help: network failures, 429 and 5xx (the hosted SDK's rule).
    public var isRetryable: Bool { statusCode == 0 || statusCode == 429 || statusCode >= 500 }

    // MARK: The service's errors

    /// 400 `MISSING_PARAMETER`: "`field` is required".
    public static func missingParameter(_ field: String) -> DialogueDBError {
        DialogueDBError(statusCode: 400, code: "MISSING_PARAMETER", type: "validation_error", message: "\(field) is required",
                        details: [Detail(field: field, code: "REQUIRED", message: "\(field) is required")])
    }

    /// 400 `INVALID_PARAMETER`: "Invalid `field`: `reason`".
    public static func invalidParameter(_ field: String, _ reason: String, value: SocketValue? = nil) -> DialogueDBError {
        DialogueDBError(statusCode: 400, code: "INVALID_PARAMETER", type: "validation_error", message: "Invalid \(field): \(reason)",
                        details: [Detail(field: field, code: "INVALID", message: reason, value: value)])
    }

    /// 404 `DIALOGUE_NOT_FOUND`, naming the namespace looked in.
    public static func dialogueNotFound(_ id: String, namespace: String?) -> DialogueDBError {
        let place = namespace.map { "in namespace '\($0)'" } ?? "in the default namespace"
        return DialogueDBError(statusCode: 404, code: "DIALOGUE_NOT_FOUND", type: "not_found", message: "Dialogue '\(id)' not found \(place)",
                               details: [Detail(field: "id", code: "NOT_FOUND", message: "Resource does not exist")])
    }

    /// 404 for messages, memories and summaries: `MESSAGE_NOT_FOUND`, `MEMORY_NOT_FOUND`, `SUMMARY_NOT_FOUND`.
    public static func notFound(_ kind: String, _ id: String) -> DialogueDBError {
        DialogueDBError(statusCode: 404, code: "\(kind.uppercased())_NOT_FOUND", type: "not_found", message: "\(kind.capitalized) '\(id)' not found",
                        details: [Detail(field: "id", code: "NOT_FOUND", message: "Resource does not exist")])
    }

    /// 409 `DUPLICATE_ID`: a resource with this id exists (no upsert).
    public static func duplicateID(_ kind: String, _ id: String) -> DialogueDBError {
        DialogueDBError(statusCode: 409, code: "DUPLICATE_ID", type: "conflict", message: "A \(kind) with id '\(id)' already exists",
                        details: [Detail(field: "id", code: "DUPLICATE", message: "Already exists", value: .string(id))])
    }

    /// 409 `DIALOGUE_ENDED`: no messages after `end()`.
    public static func dialogueEnded(_ id: String) -> DialogueDBError {
        DialogueDBError(statusCode: 409, code: "DIALOGUE_ENDED", type: "conflict", message: "Dialogue '\(id)' has ended; no messages can be added")
    }

    /// 401 `UNAUTHORIZED`.
    public static let unauthorized = DialogueDBError(
        statusCode: 401, code: "UNAUTHORIZED", type: "authentication_error", message: "A valid API key is required: Authorization: Bearer <key>"
    )

    /// 404 for a path the API does not have.
    public static func routeNotFound(_ method: String, _ path: String) -> DialogueDBError {
        DialogueDBError(statusCode: 404, code: "ROUTE_NOT_FOUND", type: "not_found", message: "No endpoint \(method) \(path)")
    }

    /// 500 `INTERNAL_ERROR`; the cause is logged, not sent.
    public static let internalError = DialogueDBError(statusCode: 500, code: "INTERNAL_ERROR", type: "server_error", message: "Internal server error")

    /// The `error` object of the wire envelope.
    public func envelope(timestamp: String) -> SocketValue {
        var error: OrderedDictionary<SocketKey, SocketValue> = [
            "code": .string(code), "message": .string(message), "type": .string(type),
        ]
        error["details"] = .array(details.map { detail in
            var fields: OrderedDictionary<SocketKey, SocketValue> = [
                "field": .string(detail.field), "code": .string(detail.code), "message": .string(detail.message),
            ]
            if let value = detail.value { fields["value"] = value }
            return .object(fields)
        })
        if let requestId { error["requestId"] = .string(requestId) }
        error["timestamp"] = .string(timestamp)
        return ["error": .object(error)]
    }

    /// Reads the wire envelope (what the SDK's remote transport receives).
    public init(envelope: SocketValue?, statusCode: Int) {
        let error = envelope?["error"]
        let details = (error?["details"]?.arrayValue ?? []).map { detail in
            Detail(field: detail["field"]?.stringValue ?? "", code: detail["code"]?.stringValue ?? "", message: detail["message"]?.stringValue ?? "",
                   value: detail["value"])
        }
        self.init(
            statusCode: statusCode, code: error?["code"]?.stringValue ?? "UNKNOWN_ERROR", type: error?["type"]?.stringValue ?? "server_error",
            message: error?["message"]?.stringValue ?? "Request failed", details: details, requestId: error?["requestId"]?.stringValue
        )
    }
}
