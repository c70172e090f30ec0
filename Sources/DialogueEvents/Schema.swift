import Foundation
import OrderedCollections
import SocketIO

/// The shape and constraints of an event payload: validates incoming JSON with messages that name the
/// field, and describes itself as a JSON Schema for clients in any language.
///
/// The constructors mirror what Zod schemas say in the TypeScript original:
///
/// ```swift
/// // z.object({ text: z.string().min(1).max(2000), replyTo: z.string().optional() })
/// let message: Schema = .object([
///     "text": .string(minLength: 1, maxLength: 2000),
///     "replyTo": .string().optional(),
/// ])
/// // z.object({ type: z.enum(["info", "warning"]), count: z.number().min(0) })
/// let alert: Schema = .object(["type": .enumeration("info", "warning"), "count": .number(minimum: 0)])
/// ```
///
/// As with Zod, object properties not in the schema are dropped from the validated value (see
/// ``UnknownKeys``), and `.optional()` means "may be absent" while `.nullable()` means "may be null".
public struct Schema: Sendable, Equatable {
    indirect enum Node: Sendable, Equatable {
        case any
        case string(StringRules)
        case number(NumberRules)
        case boolean
        case enumeration([String])
        case array(Schema, min: Int?, max: Int?)
        case object(OrderedDictionary<String, Schema>, unknownKeys: UnknownKeys)
        case dictionary(Schema)
        case oneOf([Schema])
    }

    struct StringRules: Sendable, Equatable {
        var minLength: Int?
        var maxLength: Int?
        var pattern: String?
        var format: StringFormat?
    }

    struct NumberRules: Sendable, Equatable {
        var isInteger: Bool
        var minimum: Double?
        var maximum: Double?
    }

    /// What an object schema does with properties it does not list.
    public enum UnknownKeys: Sendable, Equatable {
        /// Drop them from the validated value (Zod's default).
        case strip
        /// Fail validation.
        case reject
        /// Keep them as they are.
        case keep
    }

    /// Well-known string formats.
    public enum StringFormat: String, Sendable, Equatable {
        /// An absolute URL with a scheme and a host (`z.string().url()`).
        case url = "uri"
        /// An e-mail address (`z.string().email()`).
        case email
        /// A UUID (`z.string().uuid()`).
        case uuid
        /// An RFC 3339 date-time (`z.string().datetime()`).
        case dateTime = "date-time"
    }

    var node: Node
    /// Whether an object property with this schema may be absent.
    public private(set) var isOptional = false
    /// Whether `null` is accepted.
    public private(set) var isNullable = false
    /// A description, published in the JSON Schema.
    public private(set) var summary: String?

    init(_ node: Node) { self.node = node }

    // MARK: Constructors

    /// Any JSON value (and binary data).
    public static let any = Schema(.any)
    /// `true` or `false`.
    public static let boolean = Schema(.boolean)

    /// A string, with optional length bounds (in characters), regular expression and format.
    public static func string(minLength: Int? = nil, maxLength: Int? = nil, pattern: String? = nil, format: StringFormat? = nil) -> Schema {
        Schema(.string(StringRules(minLength: minLength, maxLength: maxLength, pattern: pattern, format: format)))
    }

    /// A number (integer or not), with optional inclusive bounds.
    public static func number(minimum: Double? = nil, maximum: Double? = nil) -> Schema {
        Schema(.number(NumberRules(isInteger: false, minimum: minimum, maximum: maximum)))
    }

    /// An integer, with optional inclusive bounds.
    public static func integer(minimum: Int? = nil, maximum: Int? = nil) -> Schema {
        Schema(.number(NumberRules(isInteger: true, minimum: minimum.map(Double.init), maximum: maximum.map(Double.init))))
    }

    /// One of the given strings (`z.enum([...])`).
    public static func enumeration(_ values: String...) -> Schema { Schema(.enumeration(values)) }

    /// One of the raw values of a string enum: `.enumeration(Severity.self)`.
    public static func enumeration<E: CaseIterable & RawRepresentable>(_ type: E.Type) -> Schema where E.RawValue == String {
        Schema(.enumeration(type.allCases.map(\.rawValue)))
    }

    /// An array whose elements all match `element`, with optional bounds on its length.
    public static func array(_ element: Schema, minItems: Int? = nil, maxItems: Int? = nil) -> Schema {
        Schema(.array(element, min: minItems, max: maxItems))
    }

    /// An object with these properties, in this order. Properties are required unless marked `.optional()`.
    public static func object(_ properties: KeyValuePairs<String, Schema>, unknownKeys: UnknownKeys = .strip) -> Schema {
        var members = OrderedDictionary<String, Schema>()
        for (name, schema) in properties { members[name] = schema }
        return Schema(.object(members, unknownKeys: unknownKeys))
    }

    /// An object used as a dictionary: any keys, every value matching `values` (`z.record(...)`).
    public static func dictionary(_ values: Schema) -> Schema { Schema(.dictionary(values)) }

    /// A value matching at least one of `options` (`z.union([...])`); the first match is used.
    public static func oneOf(_ options: Schema...) -> Schema { Schema(.oneOf(options)) }

    // MARK: Modifiers

    /// As an object property: may be absent.
    public func optional() -> Schema {
        var copy = self
        copy.isOptional = true
        return copy
    }

    /// Accepts `null` as well.
    public func nullable() -> Schema {
        var copy = self
        copy.isNullable = true
        return copy
    }

    /// Attaches a description, published in the JSON Schema.
    public func describe(_ text: String) -> Schema {
        var copy = self
        copy.summary = text
        return copy
    }
}

/// Why a value does not match a ``Schema``: where, and what is wrong.
public struct SchemaViolation: Error, Sendable, Equatable, CustomStringConvertible {
    /// The path of the offending value: `text`, `operations[2].type`; empty for the value itself.
    public let path: String
    /// What is wrong, e.g. `must be at most 2000 characters long`.
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// `text: must be at least 1 character long`.
    public var description: String { path.isEmpty ? reason : "\(path): \(reason)" }
}

extension Schema {
    /// Checks `value`; returns it as validated (unknown object properties removed unless the object keeps them).
    /// - Throws: ``SchemaViolation`` naming the first offending field.
    public func validate(_ value: SocketValue) throws(SchemaViolation) -> SocketValue {
        try validate(value, at: "")
    }

    func validate(_ value: SocketValue, at path: String) throws(SchemaViolation) -> SocketValue {
        if case .null = value {
            if isNullable { return .null }
            if case .any = node { return .null }
            throw SchemaViolation(path: path, reason: "expected \(expectation), got null")
        }
        switch node {
        case .any:
            return value
        case .boolean:
            guard case .bool = value else { throw mismatch(value, at: path) }
            return value
        case .string(let rules):
            guard case .string(let string) = value else { throw mismatch(value, at: path) }
            try rules.check(string, at: path)
            return value
        case .number(let rules):
            let number: Double
            switch value {
            case .int(let integer): number = Double(integer)
            case .double(let double) where !rules.isInteger || double.rounded() == double: number = double
            default: throw mismatch(value, at: path)
            }
            if let minimum = rules.minimum, number < minimum {
                throw SchemaViolation(path: path, reason: "must be at least \(Self.format(minimum))")
            }
            if let maximum = rules.maximum, number > maximum {
                throw SchemaViolation(path: path, reason: "must be at most \(Self.format(maximum))")
            }
            return value
        case .enumeration(let options):
            guard case .string(let string) = value, options.contains(string) else {
                throw SchemaViolation(path: path, reason: "must be one of \(options.map { "'\($0)'" }.joined(separator: ", "))")
            }
            return value
        case .array(let element, let min, let max):
            guard case .array(let elements) = value else { throw mismatch(value, at: path) }
            if let min, elements.count < min { throw SchemaViolation(path: path, reason: "must have at least \(min) item\(min == 1 ? "" : "s")") }
            if let max, elements.count > max { throw SchemaViolation(path: path, reason: "must have at most \(max) item\(max == 1 ? "" : "s")") }
            var validated: [SocketValue] = []
            validated.reserveCapacity(elements.count)
            for (index, item) in elements.enumerated() {
                validated.append(try element.validate(item, at: "\(path)[\(index)]"))
            }
            return .array(validated)
        case .object(let properties, let unknownKeys):
            guard case .object(let members) = value else { throw mismatch(value, at: path) }
            var validated = OrderedDictionary<SocketKey, SocketValue>()
            for (name, schema) in properties {
                let memberPath = path.isEmpty ? name : "\(path).\(name)"
                guard let member = members[SocketKey(name)] else {
                    if schema.isOptional { continue }
                    throw SchemaViolation(path: memberPath, reason: "is required")
                }
                validated[SocketKey(name)] = try schema.validate(member, at: memberPath)
            }
            for (key, member) in members where properties[key.string] == nil {
                switch unknownKeys {
                case .strip: continue
                case .keep: validated[key] = member
                case .reject: throw SchemaViolation(path: path.isEmpty ? key.string : "\(path).\(key.string)", reason: "is not allowed")
                }
            }
            return .object(validated)
        case .dictionary(let values):
            guard case .object(let members) = value else { throw mismatch(value, at: path) }
            var validated = OrderedDictionary<SocketKey, SocketValue>()
            for (key, member) in members {
                validated[key] = try values.validate(member, at: path.isEmpty ? key.string : "\(path).\(key.string)")
            }
            return .object(validated)
        case .oneOf(let options):
            for option in options {
                if let validated = try? option.validate(value, at: path) { return validated }
            }
            throw SchemaViolation(path: path, reason: "matches none of the \(options.count) allowed shapes")
        }
    }

    private func mismatch(_ value: SocketValue, at path: String) -> SchemaViolation {
        SchemaViolation(path: path, reason: "expected \(expectation), got \(Self.kind(of: value))")
    }

    /// What the schema expects, in words.
    var expectation: String {
        switch node {
        case .any: "any value"
        case .boolean: "a boolean"
        case .string: "a string"
        case .number(let rules): rules.isInteger ? "an integer" : "a number"
        case .enumeration: "a string"
        case .array: "an array"
        case .object, .dictionary: "an object"
        case .oneOf: "one of the allowed shapes"
        }
    }

    static func kind(of value: SocketValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        case .binary: "binary data"
        }
    }

    static func format(_ number: Double) -> String {
        number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
    }
}

extension Schema.StringRules {
    func check(_ string: String, at path: String) throws(SchemaViolation) {
        let length = string.count
        if let minLength, length < minLength {
            throw SchemaViolation(path: path, reason: "must be at least \(minLength) character\(minLength == 1 ? "" : "s") long")
        }
        if let maxLength, length > maxLength {
            throw SchemaViolation(path: path, reason: "must be at most \(maxLength) character\(maxLength == 1 ? "" : "s") long")
        }
        if let pattern {
            guard let regex = try? Regex(pattern), (try? regex.firstMatch(in: string)) != nil else {
                throw SchemaViolation(path: path, reason: "must match the pattern \(pattern)")
            }
        }
        if let format, !format.accepts(string) {
            throw SchemaViolation(path: path, reason: "must be a valid \(format.noun)")
        }
    }
}

extension Schema.StringFormat {
    var noun: String {
        switch self {
        case .url: "URL"
        case .email: "e-mail address"
        case .uuid: "UUID"
        case .dateTime: "date-time (RFC 3339)"
        }
    }

    func accepts(_ string: String) -> Bool {
        switch self {
        case .url:
            guard let components = URLComponents(string: string), let scheme = components.scheme, !scheme.isEmpty else { return false }
            return components.host.map { !$0.isEmpty } ?? false
        case .email:
            let parts = string.split(separator: "@", omittingEmptySubsequences: false)
            return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
                && !string.contains(where: \.isWhitespace)
        case .uuid:
            return UUID(uuidString: string) != nil
        case .dateTime:
            let strategy = Date.ISO8601FormatStyle(includingFractionalSeconds: string.contains("."))
            return (try? strategy.parse(string)) != nil
        }
    }
}
