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
/// the record separator and binary frames are sent base64-encoded behind a `b`. The WebSocket frame
/// (header and payload) is built once, when the frame is made, in the same buffer as the payload: a
/// broadcast writes the same bytes to every recipient, with no per-recipient framing or copy.
public struct EngineFrame: Sendable, Hashable {
    /// Bytes a buffer should leave free before its payload so that ``init(isBinary:bytes:)`` can put the
    /// WebSocket header there instead of copying the payload (the longest server header is 10 bytes).
    public static let headroom = 10

    /// `true` for a binary message (raw attachment bytes), `false` for a text packet.
    public let isBinary: Bool
    /// The unmasked WebSocket frame: header, then payload.
    public let webSocketFrame: ByteBuffer
    private let headerLength: UInt8

    /// Makes a frame of `bytes`. When `bytes` has ``headroom`` free bytes before its reader index, the
    /// WebSocket header is written there; otherwise the payload is copied once into a new buffer.
    public init(isBinary: Bool, bytes: ByteBuffer) {
        self.isBinary = isBinary
        let length = bytes.readableBytes
        let headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10
        var buffer = bytes
        if buffer.readerIndex < headerLength {
            buffer = ByteBuffer()
            buffer.reserveCapacity(Self.headroom + length)
            buffer.moveWriterIndex(to: Self.headroom)
            buffer.moveReaderIndex(to: Self.headroom)
            buffer.writeImmutableBuffer(bytes)
        }
        let start = buffer.readerIndex - headerLength
        buffer.setInteger(UInt8(0x80 | (isBinary ? 0x2 : 0x1)), at: start)
        switch headerLength {
        case 2:
            buffer.setInteger(UInt8(length), at: start + 1)
        case 4:
            buffer.setInteger(UInt8(126), at: start + 1)
            buffer.setInteger(UInt16(length), at: start + 2)
        default:
            buffer.setInteger(UInt8(127), at: start + 1)
            buffer.setInteger(UInt64(length), at: start + 2)
        }
        buffer.moveReaderIndex(to: start)
        self.webSocketFrame = buffer
        self.headerLength = UInt8(headerLength)
    }

    /// For text: the packet type digit followed by its data. For binary: the raw bytes.
    public var bytes: ByteBuffer {
        webSocketFrame.getSlice(at: webSocketFrame.readerIndex + Int(headerLength), length: webSocketFrame.readableBytes - Int(headerLength))!
    }

    /// Encodes one packet for the wire.
    public init(_ packet: EnginePacket) {
        switch packet.payload {
        case .binary(let bytes):
            self.init(isBinary: true, bytes: bytes)
        case .none:
            self.init(isBinary: false, bytes: Self.text(packet.type, "", capacity: 1))
        case .text(let text):
            self.init(isBinary: false, bytes: Self.text(packet.type, text, capacity: text.utf8.count + 1))
        }
    }

    /// A buffer with ``headroom`` that holds the packet type digit and `text`.
    private static func text(_ type: EnginePacketType, _ text: String, capacity: Int) -> ByteBuffer {
        var buffer = makeBuffer(capacity: capacity)
        buffer.writeInteger(type.asciiDigit)
        buffer.writeString(text)
        return buffer
    }

    /// An empty buffer for a frame's payload, with ``headroom`` reserved before it.
    public static func makeBuffer(capacity: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(headroom + capacity)
        buffer.moveWriterIndex(to: headroom)
        buffer.moveReaderIndex(to: headroom)
        return buffer
    }

    /// A text `message` frame (`4` + text).
    public static func message(_ text: String) -> EngineFrame { .init(.message(text)) }

    public static func == (lhs: EngineFrame, rhs: EngineFrame) -> Bool {
        lhs.isBinary == rhs.isBinary && lhs.bytes == rhs.bytes
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(isBinary)
        hasher.combine(bytes)
    }
}
