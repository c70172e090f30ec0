import NIOCore
import OrderedCollections

/// An object key, compared byte for byte as JavaScript compares strings.
///
/// Swift's `String` equality is canonical (`"\u{E9}" == "e\u{301}"`); JSON objects from JavaScript may hold
/// both spellings as two keys, and echoing such an object back must keep both.
public struct SocketKey: Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The key's text.
    public let string: String

    public init(_ string: String) { self.string = string }
    public init(stringLiteral value: String) { self.string = value }

    public static func == (lhs: SocketKey, rhs: SocketKey) -> Bool {
        lhs.string.utf8.elementsEqual(rhs.string.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        for byte in string.utf8 { hasher.combine(byte) }
    }

    public var description: String { string }
}

/// A value carried by a Socket.IO packet: JSON, plus binary data anywhere in the tree.
///
/// Objects keep their keys in the order received, so a value echoed back is byte-for-byte what came in.
/// Integers stay integers (`1` is never re-encoded as `1.0`).
public enum SocketValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([SocketValue])
    case object(OrderedDictionary<SocketKey, SocketValue>)
    /// Binary data; travels as a separate attachment and is referenced by a placeholder in the JSON.
    case binary(ByteBuffer)
}

extension SocketValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: SocketValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, SocketValue)...) {
        self = .object(OrderedDictionary(elements.map { (SocketKey($0.0), $0.1) }, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}

extension SocketValue {
    /// The string, if this is a string.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The number as a double, if this is a number (JSON does not tell integers apart).
    public var doubleValue: Double? {
        switch self {
        case .int(let integer): Double(integer)
        case .double(let double): double
        default: nil
        }
    }

    /// The number as an `Int`, if this is a number with an exact integer value.
    public var intValue: Int? {
        switch self {
        case .int(let integer): Int(exactly: integer)
        case .double(let double): Int(exactly: double)
        default: nil
        }
    }

    /// The members, if this is an object.
    public var objectValue: OrderedDictionary<SocketKey, SocketValue>? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The elements, if this is an array.
    public var arrayValue: [SocketValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// Member `key` of an object, `nil` otherwise.
    public subscript(key: String) -> SocketValue? {
        objectValue?[SocketKey(key)]
    }

    /// Whether binary data occurs anywhere in the value.
    public var containsBinary: Bool {
        switch self {
        case .binary: true
        case .array(let elements): elements.contains { $0.containsBinary }
        case .object(let members): members.values.contains { $0.containsBinary }
        case .null, .bool, .int, .double, .string: false
        }
    }
}

extension SocketValue {
    /// Parses a JSON text (RFC 8259; object key order is kept).
    /// - Throws: ``SocketDecodingError`` with code `invalidJSON`.
    public init(jsonText: String) throws(SocketDecodingError) {
        do {
            self = try JSON.parse(Array(jsonText.utf8))
        } catch {
            throw SocketDecodingError(.invalidJSON)
        }
    }

    /// The compact JSON text of the value; binary values appear as Socket.IO placeholders.
    public var jsonText: String {
        var buffer = ByteBuffer()
        var attachments: [ByteBuffer] = []
        JSON.write(self, to: &buffer, attachments: &attachments)
        return String(buffer: buffer)
    }
}
