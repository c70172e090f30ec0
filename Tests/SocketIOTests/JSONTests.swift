import EngineIO
import NIOCore
import Testing

@testable import SocketIO

private func parse(_ text: String) throws -> SocketValue {
    try JSON.parse(Array(text.utf8))
}

private func write(_ value: SocketValue) -> String {
    var buffer = ByteBuffer()
    var attachments: [ByteBuffer] = []
    JSON.write(value, to: &buffer, attachments: &attachments)
    return String(buffer: buffer)
}

private func nested(_ depth: Int) -> String {
    String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
}

@Suite("JSON")
struct JSONTests {
    @Test(
        "compact JSON survives parsing and writing byte for byte",
        arguments: [
            #"{"b":1,"a":2,"c":{"z":true,"y":null,"x":false}}"#,
            #"{"zeta":1,"alpha":2,"mid":3,"_":4}"#,
            #"[1,-2,0,9223372036854775807,-9223372036854775808]"#,
            #"[1.5,-0.25,0.1,3.14159,1e+300,2.5e-300]"#,
            #"["héllo","日本語","😀",""]"#,
            #"{"":[],"a":{},"b":[{}],"c":[[[]]]}"#,
            #"["/ not escaped","tab\tquote\"backslash\\"]"#,
            "true", "false", "null", "0", "\"x\"",
        ]
    )
    func roundTrip(_ text: String) throws {
        #expect(write(try parse(text)) == text)
    }

    @Test("object keys keep their order")
    func keyOrder() throws {
        let value = try parse(#"{"z":1,"a":2,"m":3}"#)
        #expect(value.objectValue.map { Array($0.keys) } == ["z", "a", "m"])
    }

    @Test("a repeated key keeps its first position and its last value, as JSON.parse does")
    func duplicateKeys() throws {
        #expect(write(try parse(#"{"a":1,"b":2,"a":3}"#)) == #"{"a":3,"b":2}"#)
    }

    @Test("keys that differ only in Unicode normalization stay distinct, as in JavaScript")
    func canonicallyEquivalentKeys() throws {
        // "é" precomposed (U+00E9) and decomposed (e + U+0301): two different keys for JSON.parse.
        let text = "{\"\u{E9}\":1,\"e\u{301}\":2}"
        let value = try parse(text)
        #expect(value.objectValue?.count == 2)
        #expect(write(value) == text)
    }

    @Test("integers stay integers")
    func integers() throws {
        #expect(try parse("1") == .int(1))
        #expect(try parse("-42") == .int(-42))
        #expect(try parse("9223372036854775807") == .int(.max))
        #expect(write(.int(1)) == "1")
        #expect(write(.int(-7)) == "-7")
        #expect(write(.int(.min)) == "-9223372036854775808")
    }

    @Test("numbers with a fraction or exponent are doubles")
    func doubles() throws {
        #expect(try parse("1.5") == .double(1.5))
        #expect(try parse("-0.25") == .double(-0.25))
        #expect(try parse("1e2") == .double(100))
        #expect(try parse("1E-2") == .double(0.01))
        #expect(try parse("2.5e+3") == .double(2500))
        #expect(try parse("1.0") == .double(1))
        // Beyond Int64: a double rather than an error.
        #expect(try parse("9223372036854775808") == .double(9.223372036854775808e18))
    }

    @Test("doubles are written as JavaScript writes them")
    func writesDoubles() throws {
        #expect(write(.double(1.5)) == "1.5")
        #expect(write(.double(0.1)) == "0.1")
        #expect(write(.double(-0.25)) == "-0.25")
        // Whole numbers lose the fraction, like JSON.stringify(1.0) === "1".
        #expect(write(.double(1)) == "1")
        #expect(write(.double(-2500)) == "-2500")
        // Not representable in JSON: null, like JSON.stringify(NaN).
        #expect(write(.double(.nan)) == "null")
        #expect(write(.double(.infinity)) == "null")
        #expect(write(.double(-.infinity)) == "null")
        // Large and tiny values are written in a form that reads back exactly.
        for number in [1e300, 1e21, 123_456_789_012_345_680_000.0, .leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude] {
            #expect(try parse(write(.double(number))) == .double(number))
        }
    }

    @Test("unicode escapes, including surrogate pairs")
    func unicodeEscapes() throws {
        #expect(try parse(#""\u00e9""#) == "é")
        #expect(try parse(#""\u00C9\u00df""#) == "Éß")
        #expect(try parse(#""\ud83d\ude00""#) == "😀")
        #expect(try parse(#""a\uD83D\uDE00b""#) == "a😀b")
        #expect(try parse(#""\u0000""#) == .string("\u{0}"))
        #expect(try parse(#""\u65e5\u672c""#) == "日本")
    }

    @Test("the simple escapes")
    func simpleEscapes() throws {
        #expect(try parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{08}\u{0C}\n\r\t"))
        #expect(try parse(#""a\nb""#) == "a\nb")
    }

    @Test("escapes on output: quote, backslash, control characters")
    func writesEscapes() {
        #expect(write("say \"hi\"") == #""say \"hi\"""#)
        #expect(write("back\\slash") == #""back\\slash""#)
        #expect(write("\n\r\t\u{08}\u{0C}") == #""\n\r\t\b\f""#)
        #expect(write("\u{0}\u{1}\u{1F}") == #""\u0000\u0001\u001f""#)
        #expect(write("\u{7F}é😀/") == "\"\u{7F}é😀/\"")
        #expect(write(["k\"ey": "v"]) == #"{"k\"ey":"v"}"#)
    }

    @Test("escaped text survives a round trip")
    func escapedRoundTrip() throws {
        let strings = ["\u{0}\u{1}\u{1F}", "\"\\", "line\nbreak", "😀 é \u{7F}", String(repeating: "ab\"", count: 100)]
        for string in strings {
            #expect(try parse(write(.string(string))) == .string(string))
        }
    }

    @Test("whitespace around and between tokens is allowed")
    func whitespace() throws {
        let value = try parse(" \t\n\r{ \"a\" : [ 1 , 2 ] ,\n\"b\"\t:\r\"x\" , \"c\" : { } } \n")
        #expect(write(value) == #"{"a":[1,2],"b":"x","c":{}}"#)
        #expect(try parse(" [ ] ") == [])
        #expect(try parse("\n7\n") == 7)
    }

    @Test(
        "malformed JSON is rejected",
        arguments: [
            "", " ", "[1,]", "{\"a\":1,}", "[,1]", "{,}", "01", "-01", "[01]", "00", "1.", ".5", "+1", "-", "1e", "1e+",
            "0x10", "NaN", "Infinity", "-Infinity", "1e400",
            "\"abc", "\"abc\\\"", "[1", "{\"a\":1", "{\"a\"}", "{\"a\" 1}", "{a:1}", "{1:1}", "['a']", "[1 2]", "1 2",
            "{\"a\":1}}", "[]]", "tru", "nul", "fals", "True", "null1", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"",
            "\"\\U0041\"", "\"a\nb\"", "\"tab\there\"", "\u{0C}1", "\u{A0}1", "\u{FEFF}1", "//c\n1",
        ]
    )
    func malformed(_ text: String) {
        #expect(throws: JSON.ParseError.self) { try parse(text) }
    }

    @Test(
        "lone or mismatched surrogates are rejected",
        arguments: [
            #""\ud83d""#, #""\ud83dx""#, #""\ud83d\u0041""#, #""\ud83d\ud83d""#, #""\ude00""#, #""\ude00\ud83d""#,
            #""\ud83d\""#, #""\ud83d\n""#,
        ]
    )
    func loneSurrogates(_ text: String) {
        #expect(throws: JSON.ParseError.self) { try parse(text) }
    }

    @Test("invalid UTF-8 inside a string is rejected")
    func invalidUTF8() {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0x61, 0x5C, 0x6E, 0xFE, 0x22]] {
            #expect(throws: JSON.ParseError.self) { try JSON.parse(bytes) }
        }
    }

    @Test("nesting up to 128 levels is accepted, deeper is rejected")
    func depthLimit() throws {
        #expect(try parse(nested(128)) != .null)
        #expect(throws: JSON.ParseError.self) { try parse(nested(129)) }
        let deepObject = String(repeating: #"{"a":"#, count: 200) + "1" + String(repeating: "}", count: 200)
        #expect(throws: JSON.ParseError.self) { try parse(deepObject) }
    }

    @Test("absurd nesting is rejected without exhausting the stack")
    func absurdNesting() {
        #expect(throws: JSON.ParseError.self) { try parse(String(repeating: "[", count: 1_000_000)) }
        #expect(throws: JSON.ParseError.self) { try parse(nested(100_000)) }
    }

    @Test("binary values are written as numbered placeholders and collected in order")
    func writesPlaceholders() {
        var buffer = ByteBuffer()
        var attachments: [ByteBuffer] = []
        JSON.write([.binary(bytes(1)), ["k": .binary(bytes(2))]], to: &buffer, attachments: &attachments)
        #expect(
            String(buffer: buffer) == #"[{"_placeholder":true,"num":0},{"k":{"_placeholder":true,"num":1}}]"#)
        #expect(attachments == [bytes(1), bytes(2)])
    }
}
