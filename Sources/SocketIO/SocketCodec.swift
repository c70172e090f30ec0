import EngineIO
import NIOCore

/// Encodes Socket.IO packets into Engine.IO frames: one text frame, followed by one binary frame per
/// attachment.
public enum SocketEncoder {
    /// Event names a client may not use: they have a meaning of their own in Socket.IO.
    public static let reservedEventNames: Set<String> = [
        "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
    ]

    /// The frames of `packet`, ready to write to any number of sessions.
    public static func encode(_ packet: SocketPacket) -> [EngineFrame] {
        var attachments: [ByteBuffer] = []
        var data = ByteBuffer()
        if let value = packet.data {
            JSON.write(value, to: &data, attachments: &attachments)
        }
        var type = packet.type
        if !attachments.isEmpty {
            if type == .event { type = .binaryEvent }
            if type == .ack { type = .binaryAck }
        } else {
            if type == .binaryEvent { type = .event }
            if type == .binaryAck { type = .ack }
        }
        var text = EngineFrame.makeBuffer(capacity: data.readableBytes + packet.namespace.utf8.count + 16)
        text.writeInteger(EnginePacketType.message.asciiDigit)
        text.writeInteger(UInt8(ascii: "0") + type.rawValue)
        if !attachments.isEmpty {
            text.writeString(String(attachments.count))
            text.writeInteger(UInt8(ascii: "-"))
        }
        if packet.namespace != "/" {
            text.writeString(packet.namespace)
            text.writeInteger(UInt8(ascii: ","))
        }
        if let id = packet.id { text.writeString(String(id)) }
        text.writeImmutableBuffer(data)
        var frames = [EngineFrame(isBinary: false, bytes: text)]
        frames.reserveCapacity(1 + attachments.count)
        for attachment in attachments { frames.append(EngineFrame(isBinary: true, bytes: attachment)) }
        return frames
    }

    /// The text form of a packet without attachments (as it appears after the Engine.IO `4`).
    public static func encodeText(_ packet: SocketPacket) -> String {
        var frame = encode(packet)[0].bytes
        frame.moveReaderIndex(forwardBy: 1)
        return String(buffer: frame)
    }
}

/// Decodes Socket.IO packets from Engine.IO messages, reassembling binary packets from their attachments.
///
/// One decoder per connection: between the text part of a binary packet and its last attachment it holds
/// the partial packet.
public struct SocketDecoder: Sendable {
    private var pending: (header: Header, json: SocketValue?, attachments: [ByteBuffer])?
    /// The most attachments one packet may announce. Defaults to 10.
    public let maxAttachments: Int

    public init(maxAttachments: Int = 10) {
        self.maxAttachments = maxAttachments
    }

    struct Header: Sendable {
        var type: SocketPacketType
        var attachments: Int
        var namespace: String
        var id: Int?
    }

    /// Whether the decoder is waiting for binary attachments.
    public var isAwaitingAttachments: Bool { pending != nil }

    /// Decodes a text message. Returns `nil` when the packet waits for binary attachments.
    public mutating func decode(text: String) throws(SocketDecodingError) -> SocketPacket? {
        guard pending == nil else { throw SocketDecodingError(.unexpectedAttachment) }
        let bytes = Array(text.utf8)
        var index = 0
        guard let first = bytes.first else { throw SocketDecodingError(.emptyPacket) }
        guard first >= UInt8(ascii: "0"), let type = SocketPacketType(rawValue: first &- UInt8(ascii: "0")) else {
            throw SocketDecodingError(.unknownPacketType)
        }
        index = 1
        var attachments = 0
        if type == .binaryEvent || type == .binaryAck {
            let start = index
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            guard index > start, index - start <= 4, index < bytes.count, bytes[index] == UInt8(ascii: "-"),
                let count = Int(String(decoding: bytes[start..<index], as: UTF8.self)), count <= maxAttachments
            else { throw SocketDecodingError(.invalidAttachmentCount) }
            attachments = count
            index += 1
        }
        var namespace = "/"
        if index < bytes.count, bytes[index] == UInt8(ascii: "/") {
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: ",") { index += 1 }
            namespace = String(decoding: bytes[start..<index], as: UTF8.self)
            if index < bytes.count { index += 1 }  // the comma
        }
        var id: Int?
        if index < bytes.count, isDigit(bytes[index]) {
            let start = index
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            guard index - start <= 15, let value = Int(String(decoding: bytes[start..<index], as: UTF8.self)) else {
                throw SocketDecodingError(.invalidAckID)
            }
            id = value
        }
        var json: SocketValue?
        if index < bytes.count {
            do {
                json = try JSON.parse(bytes[index...])
            } catch {
                throw SocketDecodingError(.invalidJSON)
            }
        }
        let header = Header(type: type, attachments: attachments, namespace: namespace, id: id)
        try Self.validate(header, json)
        if attachments > 0 {
            pending = (header, json, [])
            return nil
        }
        return SocketPacket(type: type, namespace: namespace, id: id, data: json)
    }

    /// Decodes a binary message: the next attachment of the pending packet. Returns the packet once complete.
    public mutating func decode(binary: ByteBuffer) throws(SocketDecodingError) -> SocketPacket? {
        guard var partial = pending else { throw SocketDecodingError(.unexpectedAttachment) }
        partial.attachments.append(binary)
        guard partial.attachments.count == partial.header.attachments else {
            pending = partial
            return nil
        }
        pending = nil
        let data = try partial.json.map { value throws(SocketDecodingError) in
            try Self.substitutePlaceholders(value, attachments: partial.attachments)
        }
        let header = partial.header
        return SocketPacket(type: header.type, namespace: header.namespace, id: header.id, data: data)
    }

    private static func validate(_ header: Header, _ json: SocketValue?) throws(SocketDecodingError) {
        let valid: Bool
        switch header.type {
        case .connect:
            if case .object = json { valid = true } else { valid = json == nil }
        case .disconnect:
            valid = json == nil
        case .connectError:
            switch json {
            case .object, .string: valid = true
            default: valid = false
            }
        case .event, .binaryEvent:
            if case .array(let elements) = json, let first = elements.first {
                switch first {
                case .string(let name): valid = !SocketEncoder.reservedEventNames.contains(name)
                case .int: valid = true
                default: valid = false
                }
            } else {
                valid = false
            }
        case .ack, .binaryAck:
            if case .array = json { valid = header.id != nil } else { valid = false }
        }
        guard valid else { throw SocketDecodingError(.invalidPayload) }
    }

    private static func substitutePlaceholders(_ value: SocketValue, attachments: [ByteBuffer]) throws(SocketDecodingError) -> SocketValue {
        switch value {
        case .object(let members):
            if members["_placeholder"] == .bool(true) {
                guard case .int(let number) = members["num"], number >= 0, number < attachments.count else {
                    throw SocketDecodingError(.invalidPlaceholder)
                }
                return .binary(attachments[Int(number)])
            }
            var result = members
            for (key, member) in members { result[key] = try substitutePlaceholders(member, attachments: attachments) }
            return .object(result)
        case .array(let elements):
            var result: [SocketValue] = []
            result.reserveCapacity(elements.count)
            for element in elements { result.append(try substitutePlaceholders(element, attachments: attachments)) }
            return .array(result)
        case .null, .bool, .int, .double, .string, .binary:
            return value
        }
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}
