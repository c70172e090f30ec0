import NIOCore

/// The seven Engine.IO v4 packet types.
public enum EnginePacketType: UInt8, Sendable, CaseIterable {
    case open = 0
    case close = 1
    case ping = 2
    case pong = 3
    case message = 4
    case upgrade = 5
    case noop = 6

    /// The ASCII digit that starts a text-encoded packet.
    @inlinable
    public var asciiDigit: UInt8 { UInt8(ascii: "0") + rawValue }
}

/// One Engine.IO packet.
///
/// Binary data only ever travels in `message` packets; every other type carries text (or nothing).
public struct EnginePacket: Sendable, Hashable {
    /// What a packet carries.
    public enum Payload: Sendable, Hashable {
        case none
        case text(String)
        case binary(ByteBuffer)
    }

    public var type: EnginePacketType
    public var payload: Payload

    public init(_ type: EnginePacketType, _ payload: Payload = .none) {
        self.type = type
        self.payload = payload
    }

    /// A text `message` packet.
    public static func message(_ text: String) -> EnginePacket { .init(.message, .text(text)) }
    /// A binary `message` packet.
    public static func message(_ bytes: ByteBuffer) -> EnginePacket { .init(.message, .binary(bytes)) }

    /// The text data of the packet, if it carries text.
    public var text: String? {
        if case .text(let text) = payload { return text }
        return nil
    }
}

/// A packet already encoded for the wire, ready to be written as-is to any number of sessions.
///
/// On WebSocket a frame is written as one text or binary frame; on long-polling, text frames are joined by
/// the record separator and binary frames are sent base64-encoded behind a `b`. Because the bytes are a
/// `ByteBuffer`, sharing one frame among many sessions copies no payload.
public struct EngineFrame: Sendable, Hashable {
    /// `true` for a binary message (raw attachment bytes), `false` for a text packet.
    public let isBinary: Bool
    /// For text: the packet type digit followed by its data. For binary: the raw bytes.
    public let bytes: ByteBuffer

    public init(isBinary: Bool, bytes: ByteBuffer) {
        self.isBinary = isBinary
        self.bytes = bytes
    }

    /// Encodes one packet for the wire.
    public init(_ packet: EnginePacket) {
        switch packet.payload {
        case .binary(let bytes):
            self.init(isBinary: true, bytes: bytes)
        case .none:
            var buffer = ByteBuffer()
            buffer.writeInteger(packet.type.asciiDigit)
            self.init(isBinary: false, bytes: buffer)
        case .text(let text):
            var buffer = ByteBuffer()
            buffer.reserveCapacity(text.utf8.count + 1)
            buffer.writeInteger(packet.type.asciiDigit)
            buffer.writeString(text)
            self.init(isBinary: false, bytes: buffer)
        }
    }

    /// A text `message` frame (`4` + text).
    public static func message(_ text: String) -> EngineFrame { .init(.message(text)) }
}
