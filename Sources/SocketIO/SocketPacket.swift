import EngineIO
import NIOCore

/// The seven Socket.IO v5 packet types.
public enum SocketPacketType: UInt8, Sendable, CaseIterable {
    case connect = 0
    case disconnect = 1
    case event = 2
    case ack = 3
    case connectError = 4
    case binaryEvent = 5
    case binaryAck = 6
}

/// One Socket.IO packet, with binary attachments already merged back into its data.
public struct SocketPacket: Sendable, Hashable {
    public var type: SocketPacketType
    /// The namespace, `/` by default.
    public var namespace: String
    /// The acknowledgement id, for events that expect an ack and for acks.
    public var id: Int?
    /// The JSON data; binary values appear as ``SocketValue/binary(_:)``.
    public var data: SocketValue?

    public init(type: SocketPacketType, namespace: String = "/", id: Int? = nil, data: SocketValue? = nil) {
        self.type = type
        self.namespace = namespace
        self.id = id
        self.data = data
    }

    /// An event: `[name, args…]`. Becomes a binary event on the wire if any argument holds binary data.
    public static func event(_ name: String, _ arguments: [SocketValue], namespace: String = "/", id: Int? = nil) -> SocketPacket {
        SocketPacket(type: .event, namespace: namespace, id: id, data: .array([.string(name)] + arguments))
    }

    /// An acknowledgement of event `id` with `arguments`.
    public static func ack(_ id: Int, _ arguments: [SocketValue], namespace: String = "/") -> SocketPacket {
        SocketPacket(type: .ack, namespace: namespace, id: id, data: .array(arguments))
    }

    /// For an event packet, the event name and its arguments.
    public var eventNameAndArguments: (name: String, arguments: [SocketValue])? {
        guard type == .event || type == .binaryEvent, case .array(let elements) = data,
            case .string(let name) = elements.first
        else { return nil }
        return (name, Array(elements.dropFirst()))
    }

    /// For an ack packet, its arguments.
    public var ackArguments: [SocketValue]? {
        guard type == .ack || type == .binaryAck, case .array(let elements) = data else { return nil }
        return elements
    }
}

/// A packet that could not be decoded.
public struct SocketDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case emptyPacket
        case unknownPacketType
        case invalidAttachmentCount
        case invalidNamespace
        case invalidAckID
        case invalidJSON
        /// The JSON is well-formed but not what the packet type requires (e.g. an event that is not a
        /// non-empty array starting with a name, or a reserved event name).
        case invalidPayload
        /// A binary frame arrived when no attachment was expected, or a text packet while attachments were.
        case unexpectedAttachment
        case invalidPlaceholder
    }

    public let code: Code
    public init(_ code: Code) { self.code = code }
    public var description: String { "SocketDecodingError(\(code.rawValue))" }
}
