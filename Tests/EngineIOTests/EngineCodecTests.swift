import EngineIO
import Foundation
import NIOCore
import Testing

// Vectors from the Engine.IO v4 protocol document (socket.io monorepo, docs/engine.io-protocol/v4-current.md)
// and the reference engine.io-parser.

/// The text of a frame, as it would travel in a WebSocket text frame.
private func text(of frame: EngineFrame) -> String {
    String(buffer: frame.bytes)
}

private func buffer(_ string: String) -> ByteBuffer {
    ByteBuffer(string: string)
}

/// One text packet of the protocol: its wire form and the packet it stands for.
struct TextPacketVector: Sendable, CustomTestStringConvertible {
    let wire: String
    let packet: EnginePacket
    var testDescription: String { wire }
}

@Suite("Engine.IO text packets")
struct EngineTextPacketTests {
    static let vectors: [TextPacketVector] = [
        .init(wire: #"0{"sid":"lv_VI97HAXpY6yYWAAAC"}"#, packet: EnginePacket(.open, .text(#"{"sid":"lv_VI97HAXpY6yYWAAAC"}"#))),
        .init(wire: "1", packet: EnginePacket(.close)),
        .init(wire: "2", packet: EnginePacket(.ping)),
        .init(wire: "2probe", packet: EnginePacket(.ping, .text("probe"))),
        .init(wire: "3", packet: EnginePacket(.pong)),
        .init(wire: "3probe", packet: EnginePacket(.pong, .text("probe"))),
        .init(wire: "4hello", packet: .message("hello")),
        .init(wire: "4€ and 😀", packet: .message("€ and 😀")),
        .init(wire: #"42["hey","Jude"]"#, packet: .message(#"2["hey","Jude"]"#)),
        .init(wire: "5", packet: EnginePacket(.upgrade)),
        .init(wire: "6", packet: EnginePacket(.noop)),
    ]

    @Test("decodes every packet type", arguments: vectors)
    func decodes(_ vector: TextPacketVector) throws {
        #expect(try EngineCodec.decodeText(vector.wire) == vector.packet)
    }

    @Test("encodes every packet type", arguments: vectors)
    func encodes(_ vector: TextPacketVector) {
        let frame = EngineFrame(vector.packet)
        #expect(!frame.isBinary)
        #expect(text(of: frame) == vector.wire)
    }

    @Test("the type digit is the packet type's raw value")
    func typeDigits() {
        #expect(EnginePacketType.allCases.count == 7)
        for type in EnginePacketType.allCases {
            #expect(type.asciiDigit == UInt8(ascii: "0") + type.rawValue)
            #expect(text(of: EngineFrame(EnginePacket(type))) == String(type.rawValue))
        }
    }

    @Test("a packet with only its type digit carries no payload")
    func bareMessageHasNoPayload() throws {
        let packet = try EngineCodec.decodeText("4")
        #expect(packet.type == .message)
        #expect(packet.payload == .none)
        #expect(packet.text == nil)
    }

    @Test("the text accessor returns text payloads only")
    func textAccessor() {
        #expect(EnginePacket.message("hi").text == "hi")
        #expect(EnginePacket(.ping, .text("probe")).text == "probe")
        #expect(EnginePacket.message(ByteBuffer(bytes: [1, 2])).text == nil)
        #expect(EnginePacket(.noop).text == nil)
    }

    @Test("decoding a substring's UTF-8 view reads only that substring")
    func decodesSubstring() throws {
        let body = "xx4hello\u{1E}2"
        let start = body.index(body.startIndex, offsetBy: 2)
        let end = body.firstIndex(of: "\u{1E}")!
        #expect(try EngineCodec.decodeText(body[start..<end].utf8) == .message("hello"))
    }

    @Test("an empty text packet is an error")
    func emptyTextPacket() {
        #expect(throws: EngineDecodingError(.emptyPacket)) { try EngineCodec.decodeText("") }
    }

    @Test("an unknown type digit is an error", arguments: ["7", "9", "a", "/", " 4hello", "bAQIDBA==", "\u{1E}"])
    func unknownType(_ wire: String) {
        #expect(throws: EngineDecodingError(.unknownPacketType)) { try EngineCodec.decodeText(wire) }
    }
}

@Suite("Engine.IO frames")
struct EngineFrameTests {
    @Test("a binary message becomes a binary frame with the raw bytes")
    func binaryFrame() {
        let frame = EngineFrame(.message(ByteBuffer(bytes: [1, 2, 3, 4])))
        #expect(frame.isBinary)
        #expect(frame.bytes == ByteBuffer(bytes: [1, 2, 3, 4]))
    }

    @Test("a text message frame is the digit 4 followed by the text")
    func textMessageFrame() {
        let frame = EngineFrame.message("hello")
        #expect(!frame.isBinary)
        #expect(frame.bytes == buffer("4hello"))
        #expect(frame == EngineFrame(EnginePacket.message("hello")))
    }

    @Test("an empty text message encodes as the bare type digit")
    func emptyTextMessage() {
        #expect(text(of: .message("")) == "4")
    }
}

@Suite("Engine.IO long-polling payloads")
struct EnginePayloadTests {
    @Test("decodes packets joined by the record separator")
    func decodesSeparatedPackets() throws {
        let packets = try EngineCodec.decodePayload(buffer("4hello\u{1E}2\u{1E}4world"))
        #expect(packets == [.message("hello"), EnginePacket(.ping), .message("world")])
    }

    @Test("decodes a b-prefixed base64 record as a binary message")
    func decodesBase64Binary() throws {
        let packets = try EngineCodec.decodePayload(buffer("4hello\u{1E}bAQIDBA=="))
        #expect(packets == [.message("hello"), .message(ByteBuffer(bytes: [1, 2, 3, 4]))])
    }

    @Test("decodes a payload with a single packet")
    func decodesSinglePacket() throws {
        #expect(try EngineCodec.decodePayload(buffer(#"40{"token":"abc"}"#)) == [.message(#"0{"token":"abc"}"#)])
    }

    @Test("decodes multi-byte UTF-8 text in a payload")
    func decodesUTF8() throws {
        let packets = try EngineCodec.decodePayload(buffer("4€\u{1E}4日本語"))
        #expect(packets == [.message("€"), .message("日本語")])
    }

    @Test("decodes a payload that does not start at the buffer's first byte")
    func decodesAfterReaderIndex() throws {
        var body = buffer("junk4hello\u{1E}3")
        body.moveReaderIndex(forwardBy: 4)
        #expect(try EngineCodec.decodePayload(body) == [.message("hello"), EnginePacket(.pong)])
    }

    @Test("joins frames with the record separator")
    func encodesSeparatedPackets() {
        let body = EngineCodec.encodePayload([.message("hello"), EngineFrame(EnginePacket(.ping)), .message("world")])
        #expect(body == buffer("4hello\u{1E}2\u{1E}4world"))
    }

    @Test("encodes a binary frame as b + base64")
    func encodesBase64Binary() {
        let frames = [EngineFrame.message("hello"), EngineFrame(.message(ByteBuffer(bytes: [1, 2, 3, 4])))]
        #expect(EngineCodec.encodePayload(frames) == buffer("4hello\u{1E}bAQIDBA=="))
    }

    @Test("one frame needs no separator; no frames make an empty body")
    func encodesEdgeCounts() {
        #expect(EngineCodec.encodePayload([EngineFrame(EnginePacket(.noop))]) == buffer("6"))
        #expect(EngineCodec.encodePayload([EngineFrame]()).readableBytes == 0)
    }

    @Test("a payload survives encoding and decoding")
    func roundTrip() throws {
        let packets: [EnginePacket] = [
            EnginePacket(.open, .text(#"{"sid":"x"}"#)),
            .message(#"2["chat","héllo 😀"]"#),
            .message(ByteBuffer(bytes: [0, 0x1E, 0xFF, 0x62])),
            EnginePacket(.ping),
            .message(ByteBuffer(bytes: [])),
            EnginePacket(.noop),
        ]
        let body = EngineCodec.encodePayload(packets.map(EngineFrame.init))
        #expect(try EngineCodec.decodePayload(body) == packets)
    }

    @Test(
        "an empty record is an error",
        arguments: ["", "4hello\u{1E}", "\u{1E}4hello", "4a\u{1E}\u{1E}4b", "\u{1E}"]
    )
    func emptyRecord(_ body: String) {
        #expect(throws: EngineDecodingError(.emptyPacket)) { try EngineCodec.decodePayload(buffer(body)) }
    }

    @Test("a record with an unknown type is an error")
    func unknownRecordType() {
        #expect(throws: EngineDecodingError(.unknownPacketType)) {
            try EngineCodec.decodePayload(buffer("4hello\u{1E}9oops"))
        }
    }

    @Test("invalid base64 is an error", arguments: ["b!!!!", "bAQID*A==", "4ok\u{1E}b@@@@"])
    func invalidBase64(_ body: String) {
        #expect(throws: EngineDecodingError(.invalidBase64)) { try EngineCodec.decodePayload(buffer(body)) }
    }

    @Test("invalid UTF-8 in a text record is an error")
    func invalidUTF8() {
        let bodies: [[UInt8]] = [
            [UInt8(ascii: "4"), 0xFF],
            [UInt8(ascii: "4"), 0xC3],  // truncated two-byte sequence
            [UInt8(ascii: "4"), UInt8(ascii: "a"), 0x1E, UInt8(ascii: "4"), 0xED, 0xA0, 0x80],  // encoded surrogate
        ]
        for bytes in bodies {
            #expect(throws: EngineDecodingError(.invalidUTF8)) {
                try EngineCodec.decodePayload(ByteBuffer(bytes: bytes))
            }
        }
    }

    @Test("decoding errors describe themselves by code only")
    func errorDescription() {
        #expect(EngineDecodingError(.invalidBase64).description == "EngineDecodingError(invalidBase64)")
        #expect(EngineDecodingError(.emptyPacket).code == .emptyPacket)
    }
}

@Suite("Engine.IO handshake data")
struct EngineOpenPacketTests {
    @Test("the open packet carries the configured values in milliseconds, in the reference key order")
    func openPacketExact() {
        let configuration = EngineConfiguration(pingInterval: .milliseconds(300), pingTimeout: .milliseconds(200))
        let data = EngineCodec.openPacketData(sid: "lv_VI97HAXpY6yYWAAAC", upgrades: ["websocket"], configuration: configuration)
        #expect(
            data
                == #"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#
        )
    }

    @Test("the defaults are the reference server's")
    func openPacketDefaults() {
        let configuration = EngineConfiguration()
        let data = EngineCodec.openPacketData(
            sid: "abc", upgrades: configuration.upgrades(from: .polling), configuration: configuration)
        #expect(data == #"{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#)
    }

    @Test("no upgrades and a custom max payload")
    func openPacketNoUpgrades() throws {
        let configuration = EngineConfiguration(
            pingInterval: .seconds(1), pingTimeout: .milliseconds(1500), maxPayload: 42)
        let data = EngineCodec.openPacketData(sid: "s", upgrades: [], configuration: configuration)
        #expect(data == #"{"sid":"s","upgrades":[],"pingInterval":1000,"pingTimeout":1500,"maxPayload":42}"#)
        // And it is JSON a client can read.
        let object = try #require(JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any])
        #expect(object["pingTimeout"] as? Int == 1500)
        #expect((object["upgrades"] as? [String])?.isEmpty == true)
    }

    @Test("upgrades are offered only from polling, when allowed and WebSocket is enabled")
    func upgradesOffered() {
        #expect(EngineConfiguration().upgrades(from: .polling) == ["websocket"])
        #expect(EngineConfiguration().upgrades(from: .webSocket) == [])
        #expect(EngineConfiguration(allowUpgrades: false).upgrades(from: .polling) == [])
        #expect(EngineConfiguration(transports: [.polling]).upgrades(from: .polling) == [])
    }
}

@Suite("Duration.milliseconds")
struct DurationMillisecondsTests {
    @Test(
        "whole milliseconds",
        arguments: [
            (Duration.milliseconds(300), Int64(300)),
            (.milliseconds(200), 200),
            (.seconds(25), 25_000),
            (.seconds(20), 20_000),
            (.zero, 0),
            (.seconds(1) + .milliseconds(1), 1001),
            (.microseconds(1500), 1),
            (.nanoseconds(999_999), 0),
            (.seconds(86_400 * 365), 31_536_000_000),
        ]
    )
    func milliseconds(_ duration: Duration, _ expected: Int64) {
        #expect(duration.milliseconds == expected)
    }

    @Test("negative durations")
    func negative() {
        #expect(Duration.milliseconds(-1500).milliseconds == -1500)
        #expect(Duration.seconds(-2).milliseconds == -2000)
    }
}

@Suite("Engine.IO session ids")
struct EngineSessionIDTests {
    static let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    @Test("20 characters of the URL-safe base64 alphabet")
    func shape() {
        for _ in 0..<200 {
            let sid = EngineCodec.makeSessionID()
            #expect(sid.count == 20)
            #expect(sid.utf8.count == 20)
            #expect(sid.allSatisfy { Self.alphabet.contains($0) })
        }
    }

    @Test("ids are distinct")
    func distinct() {
        let ids = (0..<1000).map { _ in EngineCodec.makeSessionID() }
        #expect(Set(ids).count == ids.count)
    }

    @Test("the whole alphabet is used")
    func wholeAlphabet() {
        // 20 000 draws from 64 symbols: the chance that one is missing is about 64 * (63/64)^20000, i.e. nil.
        var seen = Set<Character>()
        for _ in 0..<1000 { seen.formUnion(EngineCodec.makeSessionID()) }
        #expect(seen == Self.alphabet)
    }

    @Test("the same generator state gives the same id, a different one a different id")
    func injectedGenerator() {
        var first = SplitMix64(seed: 42)
        var second = SplitMix64(seed: 42)
        var third = SplitMix64(seed: 43)
        let a = EngineCodec.makeSessionID(using: &first)
        #expect(a == EngineCodec.makeSessionID(using: &second))
        #expect(a != EngineCodec.makeSessionID(using: &third))
        #expect(a.count == 20)
        // The generator advances: the next id differs.
        #expect(EngineCodec.makeSessionID(using: &first) != a)
    }

    @Test("an id takes two 64-bit draws (with the system generator, two system calls), every bit of them used")
    func twoDraws() {
        struct Counting: RandomNumberGenerator {
            var draws = 0
            mutating func next() -> UInt64 {
                draws += 1
                // 0, 1, 2, … 63 then 0, 1, … in 6-bit groups, lowest first.
                return (0..<10).reduce(0) { $0 | UInt64(($1 + (draws - 1) * 10) % 64) << (6 * UInt64($1)) }
            }
        }
        var counting = Counting()
        let id = EngineCodec.makeSessionID(using: &counting)
        #expect(counting.draws == 2)
        #expect(id == "ABCDEFGHIJKLMNOPQRST")
    }
}

/// A small deterministic generator for tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
