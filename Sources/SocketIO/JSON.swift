import NIOCore
import OrderedCollections

/// A strict RFC 8259 JSON reader and writer for ``SocketValue``, kept in this module so the codec owns its
/// byte format (key order, integer formatting, binary placeholders) and stays fast.
enum JSON {
    struct ParseError: Error {}

    /// Parses a complete JSON text.
    static func parse(_ bytes: some Collection<UInt8>) throws(ParseError) -> SocketValue {
        var parser = Parser(bytes: Array(bytes))
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == parser.bytes.count else { throw ParseError() }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0
        static let maxDepth = 128

        mutating func skipWhitespace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
                index += 1
            }
        }

        mutating func expect(_ literal: StaticString) throws(ParseError) {
            let count = literal.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw ParseError() }
            for offset in 0..<count where bytes[index + offset] != literal.utf8Start[offset] { throw ParseError() }
            index += count
        }

        mutating func parseValue(depth: Int) throws(ParseError) -> SocketValue {
            guard depth < Self.maxDepth, index < bytes.count else { throw ParseError() }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try parseObject(depth: depth)
            case UInt8(ascii: "["): return try parseArray(depth: depth)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            default: return try parseNumber()
            }
        }

        mutating func parseObject(depth: Int) throws(ParseError) -> SocketValue {
            index += 1
            var members = OrderedDictionary<SocketKey, SocketValue>()
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw ParseError() }
                let key = try parseString()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw ParseError() }
                index += 1
                skipWhitespace()
                members[SocketKey(key)] = try parseValue(depth: depth + 1)
                skipWhitespace()
                guard index < bytes.count else { throw ParseError() }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                guard bytes[index] == UInt8(ascii: "}") else { throw ParseError() }
                index += 1
                return .object(members)
            }
        }

        mutating func parseArray(depth: Int) throws(ParseError) -> SocketValue {
            index += 1
            var elements: [SocketValue] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                elements.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard index < bytes.count else { throw ParseError() }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                guard bytes[index] == UInt8(ascii: "]") else { throw ParseError() }
                index += 1
                return .array(elements)
            }
        }

        mutating func parseString() throws(ParseError) -> String {
            index += 1
            var scalars = String.UnicodeScalarView()
            var runStart = index
            var result = ""
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    guard let run = String(validating: bytes[runStart..<index], as: UTF8.self) else { throw ParseError() }
                    result += run
                    index += 1
                    return result
                }
                if byte < 0x20 { throw ParseError() }
                if byte == UInt8(ascii: "\\") {
                    guard let run = String(validating: bytes[runStart..<index], as: UTF8.self) else { throw ParseError() }
                    result += run
                    index += 1
                    guard index < bytes.count else { throw ParseError() }
                    scalars.removeAll()
                    switch bytes[index] {
                    case UInt8(ascii: "\""): result += "\""
                    case UInt8(ascii: "\\"): result += "\\"
                    case UInt8(ascii: "/"): result += "/"
                    case UInt8(ascii: "b"): result += "\u{08}"
                    case UInt8(ascii: "f"): result += "\u{0C}"
                    case UInt8(ascii: "n"): result += "\n"
                    case UInt8(ascii: "r"): result += "\r"
                    case UInt8(ascii: "t"): result += "\t"
                    case UInt8(ascii: "u"):
                        let unit = try parseHex4()
                        if (0xD800..<0xDC00).contains(unit) {
                            // A high surrogate must be followed by an escaped low surrogate.
                            guard index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "\\"), bytes[index + 2] == UInt8(ascii: "u") else {
                                throw ParseError()
                            }
                            index += 2
                            let low = try parseHex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw ParseError() }
                            let scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                            result.unicodeScalars.append(Unicode.Scalar(scalar)!)
                        } else {
                            guard let scalar = Unicode.Scalar(unit) else { throw ParseError() }
                            result.unicodeScalars.append(scalar)
                        }
                    default: throw ParseError()
                    }
                    index += 1
                    runStart = index
                    continue
                }
                index += 1
            }
            throw ParseError()
        }

        /// Reads the four hex digits after `\u`; leaves `index` on the last digit.
        mutating func parseHex4() throws(ParseError) -> UInt16 {
            guard index + 4 < bytes.count else { throw ParseError() }
            var value: UInt16 = 0
            for _ in 0..<4 {
                index += 1
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw ParseError()
                }
                value = value << 4 | UInt16(digit)
            }
            return value
        }

        mutating func parseNumber() throws(ParseError) -> SocketValue {
            let start = index
            var isInteger = true
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw ParseError() }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else {
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                isInteger = false
                index += 1
                guard index < bytes.count, isDigit(bytes[index]) else { throw ParseError() }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                isInteger = false
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard index < bytes.count, isDigit(bytes[index]) else { throw ParseError() }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            if isInteger, let value = Int64(text) { return .int(value) }
            guard let value = Double(text), value.isFinite else { throw ParseError() }
            return .double(value)
        }

        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    }

    /// Appends the JSON text of `value` to `buffer`. Binary values are written as Socket.IO placeholders and
    /// appended to `attachments` in document order.
    static func write(_ value: SocketValue, to buffer: inout ByteBuffer, attachments: inout [ByteBuffer]) {
        switch value {
        case .null: buffer.writeStaticString("null")
        case .bool(let flag): buffer.writeStaticString(flag ? "true" : "false")
        case .int(let number): buffer.writeString(String(number))
        case .double(let number):
            if number.isFinite {
                if number == number.rounded(.towardZero), abs(number) < 1e15 {
                    buffer.writeString(String(Int64(number)))
                } else {
                    buffer.writeString(String(number))
                }
            } else {
                buffer.writeStaticString("null")
            }
        case .string(let string): writeString(string, to: &buffer)
        case .array(let elements):
            buffer.writeInteger(UInt8(ascii: "["))
            for (offset, element) in elements.enumerated() {
                if offset > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                write(element, to: &buffer, attachments: &attachments)
            }
            buffer.writeInteger(UInt8(ascii: "]"))
        case .object(let members):
            buffer.writeInteger(UInt8(ascii: "{"))
            var first = true
            for (key, member) in members {
                if !first { buffer.writeInteger(UInt8(ascii: ",")) }
                first = false
                writeString(key.string, to: &buffer)
                buffer.writeInteger(UInt8(ascii: ":"))
                write(member, to: &buffer, attachments: &attachments)
            }
            buffer.writeInteger(UInt8(ascii: "}"))
        case .binary(let bytes):
            buffer.writeString(#"{"_placeholder":true,"num":\#(attachments.count)}"#)
            attachments.append(bytes)
        }
    }

    /// Writes a JSON string literal, escaping as JavaScript's `JSON.stringify` does.
    static func writeString(_ string: String, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        let needsEscaping = string.utf8.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
        if !needsEscaping {
            buffer.writeString(string)
        } else {
            for byte in string.utf8 {
                switch byte {
                case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case 0x0A: buffer.writeStaticString("\\n")
                case 0x0D: buffer.writeStaticString("\\r")
                case 0x09: buffer.writeStaticString("\\t")
                case 0x08: buffer.writeStaticString("\\b")
                case 0x0C: buffer.writeStaticString("\\f")
                case ..<0x20:
                    let hex = Array("0123456789abcdef".utf8)
                    buffer.writeStaticString("\\u00")
                    buffer.writeInteger(hex[Int(byte >> 4)])
                    buffer.writeInteger(hex[Int(byte & 0xF)])
                default:
                    buffer.writeInteger(byte)
                }
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }
}
