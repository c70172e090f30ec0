import EngineIO
import NIOCore
import Testing

@testable import SocketIO

// Vectors from the Socket.IO v5 protocol document (socket.io monorepo, docs/socket.io-protocol/v5-current.md)
// and the reference socket.io-parser.

func bytes(_ values: UInt8...) -> ByteBuffer { ByteBuffer(bytes: values) }

/// The text of the first frame, which carries the Engine.IO `4` digit.
private func wireText(_ frames: [EngineFrame]) -> String { String(buffer: frames[0].bytes) }

/// Decodes one text packet with a fresh decoder; fails the test if it waits for attachments.
private func decode(_ text: String) throws -> SocketPacket {
    var decoder = SocketDecoder()
    let packet = try decoder.decode(text: text)
    return try #require(packet)
}

/// The error code a fresh decoder reports for `text`, or `nil` if it decodes.
private func decodingError(_ text: String, maxAttachments: Int = 10) -> SocketDecodingError.Code? {
    var decoder = SocketDecoder(maxAttachments: maxAttachments)
    do {
        _ = try decoder.decode(text: text)
        return nil
    } catch {
        return error.code
    }
}

/// Decodes the frames produced by the encoder, as a receiving peer would (text after the Engine.IO digit,
/// then each binary frame).
private func decodeFrames(_ frames: [EngineFrame]) throws -> SocketPacket? {
    var decoder = SocketDecoder()
    var text = frames[0].bytes
    #expect(text.readInteger(as: UInt8.self) == UInt8(ascii: "4"))
    var packet = try decoder.decode(text: String(buffer: text))
    for frame in frames.dropFirst() {
        #expect(packet == nil, "the packet was complete before its last attachment")
        #expect(frame.isBinary)
        packet = try decoder.decode(binary: frame.bytes)
    }
    #expect(!decoder.isAwaitingAttachments)
    return packet
}

/// One example of the protocol document: a packet without binary data and its encoded text.
struct TextVector: Sendable, CustomTestStringConvertible {
    let text: String
    let packet: SocketPacket
    var testDescription: String { text }
}

@Suite("Socket.IO packet vectors")
struct SocketPacketVectorTests {
    static let vectors: [TextVector] = [
        // Connection to a namespace.
        .init(text: "0", packet: SocketPacket(type: .connect)),
        .init(text: "0/admin,", packet: SocketPacket(type: .connect, namespace: "/admin")),
        .init(text: #"0/admin,{"token":"123"}"#, packet: SocketPacket(type: .connect, namespace: "/admin", data: ["token": "123"])),
        .init(text: #"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#, packet: SocketPacket(type: .connect, data: ["sid": "wZX3oN0bSVIhsaknAAAI"])),
        .init(
            text: #"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
            packet: SocketPacket(type: .connect, namespace: "/admin", data: ["sid": "oSO0OpakMV_3jnilAAAA"])),
        .init(text: #"4{"message":"Not authorized"}"#, packet: SocketPacket(type: .connectError, data: ["message": "Not authorized"])),
        // Disconnection.
        .init(text: "1", packet: SocketPacket(type: .disconnect)),
        .init(text: "1/admin,", packet: SocketPacket(type: .disconnect, namespace: "/admin")),
        // Sending and receiving data.
        .init(text: #"2["foo"]"#, packet: .event("foo", [])),
        .init(text: #"2/admin,["bar"]"#, packet: .event("bar", [], namespace: "/admin")),
        .init(text: #"2["hey","Jude"]"#, packet: .event("hey", ["Jude"])),
        // Acknowledgement.
        .init(text: #"212["foo"]"#, packet: .event("foo", [], id: 12)),
        .init(text: #"2/admin,12["bar"]"#, packet: .event("bar", [], namespace: "/admin", id: 12)),
        .init(text: #"2/admin,1["tellme"]"#, packet: .event("tellme", [], namespace: "/admin", id: 1)),
        .init(text: "312[]", packet: .ack(12, [])),
        .init(text: #"3/admin,12["bar"]"#, packet: .ack(12, ["bar"], namespace: "/admin")),
        .init(text: #"3/admin,13["bar"]"#, packet: .ack(13, ["bar"], namespace: "/admin")),
        // From PROTOCOL.md.
        .init(text: #"2["dialogue:join",{"roomId":"chat"}]"#, packet: .event("dialogue:join", [["roomId": "chat"]])),
        .init(text: #"21["echo",1]"#, packet: .event("echo", [1], id: 1)),
        .init(text: "31[1]", packet: .ack(1, [1])),
    ]

    @Test("encodeText gives the document's encoding", arguments: vectors)
    func encodesText(_ vector: TextVector) {
        #expect(SocketEncoder.encodeText(vector.packet) == vector.text)
    }

    @Test("encode gives one Engine.IO message frame: 4 + the encoding", arguments: vectors)
    func encodesFrame(_ vector: TextVector) {
        let frames = SocketEncoder.encode(vector.packet)
        #expect(frames.count == 1)
        #expect(frames.first?.isBinary == false)
        #expect(wireText(frames) == "4" + vector.text)
        #expect(frames.first == EngineFrame.message(vector.text))
    }

    @Test("decoding the encoding gives the packet back", arguments: vectors)
    func decodesText(_ vector: TextVector) throws {
        #expect(try decode(vector.text) == vector.packet)
    }

    @Test("a namespace without its trailing comma decodes")
    func namespaceWithoutComma() throws {
        #expect(try decode("1/custom") == SocketPacket(type: .disconnect, namespace: "/custom"))
        #expect(try decode("0/admin") == SocketPacket(type: .connect, namespace: "/admin"))
    }

    @Test("a CONNECT_ERROR may carry a plain string (v4 servers)")
    func connectErrorString() throws {
        #expect(try decode(#"4"Not authorized""#) == SocketPacket(type: .connectError, data: "Not authorized"))
    }

    @Test("numeric event names are accepted, as by the reference parser")
    func numericEventName() throws {
        #expect(try decode("2[42,\"x\"]") == SocketPacket(type: .event, data: [42, "x"]))
    }

    @Test("the ack id may be as long as 15 digits")
    func longAckID() throws {
        #expect(try decode(#"2999999999999999["x"]"#).id == 999_999_999_999_999)
    }
}

@Suite("Socket.IO binary packets")
struct SocketBinaryTests {
    @Test("BINARY_EVENT: placeholder in the text, attachment as a binary frame")
    func binaryEvent() {
        let packet = SocketPacket.event("baz", [.binary(bytes(1, 2, 3, 4))])
        let frames = SocketEncoder.encode(packet)
        #expect(frames.count == 2)
        #expect(wireText(frames) == #"451-["baz",{"_placeholder":true,"num":0}]"#)
        #expect(frames[0].isBinary == false)
        #expect(frames[1] == EngineFrame(isBinary: true, bytes: bytes(1, 2, 3, 4)))
        #expect(SocketEncoder.encodeText(packet) == #"51-["baz",{"_placeholder":true,"num":0}]"#)
    }

    @Test("several attachments are numbered and sent in document order")
    func multipleAttachments() {
        let packet = SocketPacket.event("baz", [.binary(bytes(1, 2)), .binary(bytes(3, 4))], namespace: "/admin")
        let frames = SocketEncoder.encode(packet)
        #expect(
            wireText(frames) == #"452-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
        #expect(frames.dropFirst().map(\.bytes) == [bytes(1, 2), bytes(3, 4)])
        #expect(frames.dropFirst().allSatisfy { $0.isBinary })
    }

    @Test("attachments nested in objects and arrays are found in document order")
    func nestedAttachments() {
        let packet = SocketPacket.event(
            "upload", [["name": "a.bin", "parts": [.binary(bytes(9)), ["inner": .binary(bytes(8))]]], .binary(bytes(7))])
        let frames = SocketEncoder.encode(packet)
        #expect(
            wireText(frames)
                == #"453-["upload",{"name":"a.bin","parts":[{"_placeholder":true,"num":0},{"inner":{"_placeholder":true,"num":1}}]},{"_placeholder":true,"num":2}]"#
        )
        #expect(frames.dropFirst().map(\.bytes) == [bytes(9), bytes(8), bytes(7)])
    }

    @Test("an ack with binary data becomes BINARY_ACK, type 6 with its attachment count")
    func binaryAck() {
        let packet = SocketPacket.ack(15, ["bar", .binary(bytes(1, 2, 3, 4))])
        let frames = SocketEncoder.encode(packet)
        #expect(wireText(frames) == #"461-15["bar",{"_placeholder":true,"num":0}]"#)
        #expect(frames.count == 2)
        #expect(frames[1].bytes == bytes(1, 2, 3, 4))

        let namespaced = SocketPacket.ack(15, [.binary(bytes(1))], namespace: "/admin")
        #expect(SocketEncoder.encodeText(namespaced) == #"61-/admin,15[{"_placeholder":true,"num":0}]"#)
    }

    @Test("a binary type without binary data is sent as the plain type")
    func binaryTypeWithoutBinary() {
        #expect(SocketEncoder.encodeText(SocketPacket(type: .binaryEvent, data: ["x"])) == #"2["x"]"#)
        #expect(SocketEncoder.encodeText(SocketPacket(type: .binaryAck, id: 3, data: [])) == "33[]")
    }

    @Test("the decoder waits for every attachment, then returns the packet")
    func decoderWaits() throws {
        var decoder = SocketDecoder()
        #expect(try decoder.decode(text: #"51-["baz",{"_placeholder":true,"num":0}]"#) == nil)
        #expect(decoder.isAwaitingAttachments)
        let decoded = try decoder.decode(binary: bytes(1, 2, 3, 4))
        let packet = try #require(decoded)
        #expect(!decoder.isAwaitingAttachments)
        #expect(packet == SocketPacket(type: .binaryEvent, data: ["baz", .binary(bytes(1, 2, 3, 4))]))
        #expect(packet.eventNameAndArguments?.name == "baz")
        #expect(packet.eventNameAndArguments?.arguments == [.binary(bytes(1, 2, 3, 4))])
    }

    @Test("with two attachments the packet comes with the second, each placeholder resolved by its number")
    func decoderTwoAttachments() throws {
        var decoder = SocketDecoder()
        let text = #"52-/admin,["baz",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]"#
        #expect(try decoder.decode(text: text) == nil)
        #expect(try decoder.decode(binary: bytes(1, 2)) == nil)
        #expect(decoder.isAwaitingAttachments)
        let decoded = try decoder.decode(binary: bytes(3, 4))
        let packet = try #require(decoded)
        #expect(packet.namespace == "/admin")
        #expect(packet.data == ["baz", .binary(bytes(3, 4)), .binary(bytes(1, 2))])
    }

    @Test("BINARY_ACK from the protocol document decodes with its namespace and id")
    func decodesBinaryAck() throws {
        var decoder = SocketDecoder()
        #expect(try decoder.decode(text: #"61-/admin,15[{"_placeholder":true,"num":0}]"#) == nil)
        let decoded = try decoder.decode(binary: bytes(1, 2, 3, 4))
        let packet = try #require(decoded)
        #expect(packet == SocketPacket(type: .binaryAck, namespace: "/admin", id: 15, data: [.binary(bytes(1, 2, 3, 4))]))
        #expect(packet.ackArguments == [.binary(bytes(1, 2, 3, 4))])
    }

    @Test("placeholders inside objects are resolved, other members kept in order")
    func decodesNestedPlaceholder() throws {
        var decoder = SocketDecoder()
        #expect(try decoder.decode(text: #"51-["up",{"z":1,"file":{"_placeholder":true,"num":0},"a":[true]}]"#) == nil)
        let decoded = try decoder.decode(binary: bytes(5))
        let packet = try #require(decoded)
        let object = try #require(packet.eventNameAndArguments?.arguments.first?.objectValue)
        #expect(Array(object.keys) == ["z", "file", "a"])
        #expect(object["file"] == .binary(bytes(5)))
    }

    @Test("after a binary packet the decoder takes the next text packet")
    func decoderReusable() throws {
        var decoder = SocketDecoder()
        _ = try decoder.decode(text: #"51-["a",{"_placeholder":true,"num":0}]"#)
        _ = try decoder.decode(binary: bytes(0))
        #expect(try decoder.decode(text: #"2["b"]"#) == .event("b", []))
    }

    @Test("a binary packet announcing zero attachments is complete at once")
    func zeroAttachments() throws {
        var decoder = SocketDecoder()
        #expect(try decoder.decode(text: #"50-["a"]"#) == SocketPacket(type: .binaryEvent, data: ["a"]))
        #expect(!decoder.isAwaitingAttachments)
    }

    @Test(
        "encoded packets decode to themselves",
        arguments: [
            SocketPacket.event("baz", [.binary(bytes(1, 2, 3, 4))]),
            SocketPacket.event("baz", [.binary(bytes(1, 2)), "mid", .binary(bytes(3, 4))], namespace: "/admin", id: 7),
            SocketPacket.ack(15, ["bar", ["blob": .binary(bytes())]], namespace: "/nsp"),
            SocketPacket.event("chat", ["héllo 😀", ["b": 1, "a": [nil, false, 2.5]], -3], id: 0),
            SocketPacket(type: .connect, namespace: "/admin", data: ["token": "123", "n": 1]),
            SocketPacket(type: .connectError, data: ["message": "Not authorized", "data": ["code": 4]]),
            SocketPacket(type: .disconnect, namespace: "/x"),
        ]
    )
    func roundTrip(_ packet: SocketPacket) throws {
        var expected = packet
        if packet.data?.containsBinary == true {
            expected.type = packet.type == .event ? .binaryEvent : packet.type == .ack ? .binaryAck : packet.type
        }
        #expect(try decodeFrames(SocketEncoder.encode(packet)) == expected)
    }
}

@Suite("Socket.IO decoding errors")
struct SocketDecodingErrorTests {
    @Test("an empty packet")
    func empty() {
        #expect(decodingError("") == .emptyPacket)
    }

    @Test("an unknown packet type", arguments: ["abc", "7", "9[]", "/admin,", " 2[\"x\"]", "-1"])
    func unknownType(_ text: String) {
        #expect(decodingError(text) == .unknownPacketType)
    }

    @Test(
        "well-formed JSON of the wrong shape",
        arguments: [
            "2{}", "2[]", "2", "2\"foo\"", "2[{}]", "2[null]", "2[1.5]", "2[[\"x\"]]",
            "0[]", "0\"x\"",
            "1{}", "1[]", "1/admin,{}",
            "3[]", "31", "31{}", "31\"x\"",
            "4", "4[1]",
        ]
    )
    func invalidPayload(_ text: String) {
        #expect(decodingError(text) == .invalidPayload)
    }

    @Test(
        "reserved event names are refused",
        arguments: ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]
    )
    func reservedNames(_ name: String) {
        #expect(decodingError(#"2[""# + name + #""]"#) == .invalidPayload)
        #expect(decodingError(#"2/admin,5[""# + name + #"",1]"#) == .invalidPayload)
        #expect(decodingError(#"51-[""# + name + #"",{"_placeholder":true,"num":0}]"#) == .invalidPayload)
        // A name that only contains a reserved one is fine.
        #expect(decodingError(#"2[""# + name + #"X"]"#) == nil)
    }

    @Test("malformed JSON", arguments: ["2abc[\"x\"]", "2[\"x\"", "2[\"x\"]]", "2[\"x\",]", "0{token:1}", "2/admin,[x]"])
    func invalidJSON(_ text: String) {
        #expect(decodingError(text) == .invalidJSON)
    }

    @Test("attachment counts that are missing, malformed or over the limit")
    func invalidAttachmentCount() {
        #expect(decodingError(#"511-["a"]"#) == .invalidAttachmentCount)  // default limit is 10
        #expect(decodingError(#"510-["a"]"#) == nil)
        #expect(decodingError(#"53-["a"]"#, maxAttachments: 2) == .invalidAttachmentCount)
        #expect(decodingError(#"52-["a"]"#, maxAttachments: 2) == nil)
        #expect(decodingError(#"5-["a"]"#) == .invalidAttachmentCount)
        #expect(decodingError(#"51["a"]"#) == .invalidAttachmentCount)
        #expect(decodingError("51") == .invalidAttachmentCount)
        #expect(decodingError("5") == .invalidAttachmentCount)
        #expect(decodingError(#"500001-["a"]"#, maxAttachments: 1_000_000) == .invalidAttachmentCount)
        #expect(decodingError(#"6x-3[]"#) == .invalidAttachmentCount)
    }

    @Test("an ack id longer than 15 digits")
    func invalidAckID() {
        #expect(decodingError(#"21234567890123456["x"]"#) == .invalidAckID)
        #expect(decodingError(#"2/admin,99999999999999999999["x"]"#) == .invalidAckID)
    }

    @Test("a binary frame when no attachment is expected")
    func unexpectedBinary() throws {
        var decoder = SocketDecoder()
        #expect(throws: SocketDecodingError(.unexpectedAttachment)) { try decoder.decode(binary: bytes(1)) }
        // Also after a complete binary packet.
        _ = try decoder.decode(text: #"51-["a",{"_placeholder":true,"num":0}]"#)
        _ = try decoder.decode(binary: bytes(1))
        #expect(throws: SocketDecodingError(.unexpectedAttachment)) { try decoder.decode(binary: bytes(2)) }
    }

    @Test("a text packet while attachments are expected")
    func textWhileAwaiting() throws {
        var decoder = SocketDecoder()
        #expect(try decoder.decode(text: #"51-["a",{"_placeholder":true,"num":0}]"#) == nil)
        #expect(throws: SocketDecodingError(.unexpectedAttachment)) { try decoder.decode(text: #"2["b"]"#) }
    }

    @Test(
        "placeholders that point nowhere",
        arguments: [
            #"{"_placeholder":true,"num":1}"#,
            #"{"_placeholder":true,"num":-1}"#,
            #"{"_placeholder":true,"num":"0"}"#,
            #"{"_placeholder":true,"num":0.5}"#,
            #"{"_placeholder":true}"#,
        ]
    )
    func invalidPlaceholder(_ placeholder: String) throws {
        var decoder = SocketDecoder()
        #expect(try decoder.decode(text: #"51-["a","# + placeholder + "]") == nil)
        #expect(throws: SocketDecodingError(.invalidPlaceholder)) { try decoder.decode(binary: bytes(1)) }
        // The failed packet is dropped: the decoder is ready for the next one.
        #expect(!decoder.isAwaitingAttachments)
        #expect(try decoder.decode(text: #"2["b"]"#) == .event("b", []))
    }

    @Test("an object that is not a placeholder is left alone")
    func notAPlaceholder() throws {
        var decoder = SocketDecoder()
        #expect(try decoder.decode(text: #"51-["a",{"_placeholder":false,"num":0},{"_placeholder":true,"num":0}]"#) == nil)
        let decoded = try decoder.decode(binary: bytes(1))
        let packet = try #require(decoded)
        #expect(packet.data == ["a", ["_placeholder": false, "num": 0], .binary(bytes(1))])
    }

    @Test("error descriptions name the code only")
    func description() {
        #expect(SocketDecodingError(.invalidJSON).description == "SocketDecodingError(invalidJSON)")
    }
}

@Suite("Socket.IO packet and value helpers")
struct SocketPacketHelperTests {
    @Test("event name and arguments")
    func eventNameAndArguments() {
        let event = SocketPacket.event("echo", [1, "two"], namespace: "/n", id: 4)
        #expect(event.type == .event)
        #expect(event.data == ["echo", 1, "two"])
        #expect(event.eventNameAndArguments?.name == "echo")
        #expect(event.eventNameAndArguments?.arguments == [1, "two"])
        #expect(event.ackArguments == nil)
        #expect(SocketPacket(type: .event, data: [1]).eventNameAndArguments == nil)
        #expect(SocketPacket(type: .connect, data: ["x"]).eventNameAndArguments == nil)
    }

    @Test("ack arguments")
    func ackArguments() {
        let ack = SocketPacket.ack(4, ["ok"])
        #expect(ack.type == .ack)
        #expect(ack.id == 4)
        #expect(ack.ackArguments == ["ok"])
        #expect(ack.eventNameAndArguments == nil)
        #expect(SocketPacket(type: .binaryAck, id: 1, data: []).ackArguments == [])
        #expect(SocketPacket(type: .ack, id: 1, data: "x").ackArguments == nil)
    }

    @Test("value accessors and binary detection")
    func valueAccessors() {
        let value: SocketValue = ["name": "x", "list": [1, .binary(bytes(1))]]
        #expect(value["name"]?.stringValue == "x")
        #expect(value["list"]?.arrayValue?.count == 2)
        #expect(value["missing"] == Optional<SocketValue>.none)
        #expect(SocketValue.string("x")["name"] == Optional<SocketValue>.none)
        #expect(value.containsBinary)
        let plain: SocketValue = ["a": [1, 2, ["b": "c"]]]
        #expect(!plain.containsBinary)
        #expect(SocketValue.binary(bytes()).containsBinary)
    }

    @Test("literals build the matching cases")
    func literals() {
        let values: [SocketValue] = [nil, true, 1, 1.5, "s", [1], ["k": 1]]
        #expect(values[0] == .null)
        #expect(values[1] == .bool(true))
        #expect(values[2] == .int(1))
        #expect(values[3] == .double(1.5))
        #expect(values[4] == .string("s"))
        #expect(values[5] == .array([.int(1)]))
        #expect(values[6].objectValue?["k"] == .int(1))
    }
}
