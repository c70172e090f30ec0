import Foundation
import NIOCore

/// Pure Engine.IO v4 encoding and decoding: strings and bytes in, packets out.
public enum EngineCodec {
    /// The record separator that joins packets in a long-polling payload.
    public static let recordSeparator: UInt8 = 0x1E

    /// Decodes one text packet (a WebSocket text frame, or one record of a polling payload).
    public static func decodeText(_ text: Substring.UTF8View) throws(EngineDecodingError) -> EnginePacket {
        guard let first = text.first else { throw EngineDecodingError(.emptyPacket) }
        guard first >= UInt8(ascii: "0"), let type = EnginePacketType(rawValue: first &- UInt8(ascii: "0")) else {
            throw EngineDecodingError(.unknownPacketType)
        }
        let rest = text.dropFirst()
        return EnginePacket(type, rest.isEmpty ? .none : .text(String(Substring(rest))))
    }

    /// Decodes one WebSocket text frame.
    public static func decodeText(_ text: String) throws(EngineDecodingError) -> EnginePacket {
        try decodeText(Substring(text).utf8)
    }

    /// Decodes a long-polling request body: packets separated by `\x1e`, binary ones as `b` + base64.
    public static func decodePayload(_ body: ByteBuffer) throws(EngineDecodingError) -> [EnginePacket] {
        let bytes = body.readableBytesView
        var packets: [EnginePacket] = []
        var start = bytes.startIndex
        while start <= bytes.endIndex {
            let end = bytes[start...].firstIndex(of: recordSeparator) ?? bytes.endIndex
            packets.append(try decodeRecord(bytes[start..<end]))
            start = end + 1
        }
        return packets
    }

    private static func decodeRecord(_ record: ByteBufferView.SubSequence) throws(EngineDecodingError) -> EnginePacket {
        guard let first = record.first else { throw EngineDecodingError(.emptyPacket) }
        if first == UInt8(ascii: "b") {
            guard let data = Data(base64Encoded: Data(record.dropFirst())) else {
                throw EngineDecodingError(.invalidBase64)
            }
            return .message(ByteBuffer(bytes: data))
        }
        guard let text = String(validating: record, as: UTF8.self) else {
            throw EngineDecodingError(.invalidUTF8)
        }
        return try decodeText(text)
    }

    /// Encodes frames as one long-polling response body.
    public static func encodePayload(_ frames: some Collection<EngineFrame>) -> ByteBuffer {
        var body = ByteBuffer()
        body.reserveCapacity(frames.reduce(frames.count) { $0 + $1.bytes.readableBytes })
        var first = true
        for frame in frames {
            if !first { body.writeInteger(recordSeparator) }
            first = false
            if frame.isBinary {
                body.writeInteger(UInt8(ascii: "b"))
                body.writeString(Data(frame.bytes.readableBytesView).base64EncodedString())
            } else {
                body.writeImmutableBuffer(frame.bytes)
            }
        }
        return body
    }

    /// The JSON data of the open packet, with the reference server's key order.
    public static func openPacketData(sid: String, upgrades: [String], configuration: EngineConfiguration) -> String {
        let upgradeList = upgrades.map { "\"\($0)\"" }.joined(separator: ",")
        return #"{"sid":"\#(sid)","upgrades":[\#(upgradeList)],"pingInterval":\#(configuration.pingInterval.milliseconds),"pingTimeout":\#(configuration.pingTimeout.milliseconds),"maxPayload":\#(configuration.maxPayload)}"#
    }

    /// A new random session id: 20 characters of the URL-safe base64 alphabet (120 bits).
    public static func makeSessionID() -> String {
        var generator = SystemRandomNumberGenerator()
        return makeSessionID(using: &generator)
    }

    /// A new session id drawn from `generator`: each 64-bit draw gives ten characters of 6 bits (the
    /// alphabet has 64), so an id takes two draws — with the system generator, two system calls rather than
    /// one per character.
    public static func makeSessionID(using generator: inout some RandomNumberGenerator) -> String {
        String(unsafeUninitializedCapacity: 20) { characters in
            for draw in 0..<2 {
                var bits = generator.next()
                for index in draw * 10..<draw * 10 + 10 {
                    characters[index] = sessionIDAlphabet[Int(truncatingIfNeeded: bits & 63)]
                    bits >>= 6
                }
            }
            return 20
        }
    }

    private static let sessionIDAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
}

extension Duration {
    /// Whole milliseconds, as the protocol's handshake reports them.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
