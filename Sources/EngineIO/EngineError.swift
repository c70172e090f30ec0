/// An Engine.IO handshake or request error, as the protocol puts it on the wire:
/// `{"code":N,"message":"…"}` with HTTP status 400 (403 for ``Code/forbidden``).
public struct EngineError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The protocol's error codes.
    public enum Code: Int, Sendable, Hashable {
        case unknownTransport = 0
        case unknownSessionID = 1
        case badHandshakeMethod = 2
        case badRequest = 3
        case forbidden = 4
        case unsupportedProtocolVersion = 5
    }

    public let code: Code
    /// Short human-readable context (never payloads or secrets), logged at debug.
    public let context: String

    public init(_ code: Code, context: String = "") {
        self.code = code
        self.context = context
    }

    /// The fixed message the reference server sends for each code.
    public var message: String {
        switch code {
        case .unknownTransport: "Transport unknown"
        case .unknownSessionID: "Session ID unknown"
        case .badHandshakeMethod: "Bad handshake method"
        case .badRequest: "Bad request"
        case .forbidden: "Forbidden"
        case .unsupportedProtocolVersion: "Unsupported protocol version"
        }
    }

    /// HTTP status for this error: 403 for forbidden, 400 otherwise.
    public var httpStatus: Int { code == .forbidden ? 403 : 400 }

    /// The JSON body of the error response.
    public var jsonBody: String { #"{"code":\#(code.rawValue),"message":"\#(message)"}"# }

    public var description: String {
        context.isEmpty ? "EngineError(\(code), \(message))" : "EngineError(\(code), \(message): \(context))"
    }
}

/// A packet or payload that could not be decoded.
public struct EngineDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// An empty packet (no type digit).
        case emptyPacket
        /// The first character is not one of the seven packet type digits.
        case unknownPacketType
        /// A `b`-prefixed polling packet whose data is not valid base64.
        case invalidBase64
        /// Text that is not valid UTF-8.
        case invalidUTF8
    }

    public let code: Code

    public init(_ code: Code) { self.code = code }

    public var description: String { "EngineDecodingError(\(code.rawValue))" }
}
