import DialogueEvents
import Foundation
import OrderedCollections
import SocketIO
import Yams

/// A mistake in a configuration file: where (`rooms.chat.events[1].schema.properties.text`) and what.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The path of the offending value; empty for the file as a whole.
    public let path: String
    /// What is wrong with it.
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// `rooms.chat.maxSize: must be a positive integer`.
    public var description: String { path.isEmpty ? reason : "\(path): \(reason)" }
}

/// A value of a configuration file with its path, read with checks that name the path when they fail.
/// Every mapping read through ``object(allowing:)`` refuses keys it does not know, so typos are errors.
struct ConfigValue {
    let value: SocketValue
    let path: String

    init(_ value: SocketValue, path: String = "") {
        self.value = value
        self.path = path
    }

    func error(_ reason: String) -> ConfigurationError { ConfigurationError(path: path, reason: reason) }

    func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    var string: String {
        get throws(ConfigurationError) {
            switch value {
            case .string(let text): return text
            case .int(let number): return String(number)
            default: throw error("must be a string")
            }
        }
    }

    var nonEmptyString: String {
        get throws(ConfigurationError) {
            let text = try string
            guard !text.isEmpty else { throw error("must not be empty") }
            return text
        }
    }

    var int: Int {
        get throws(ConfigurationError) {
            if let number = value.intValue, value.doubleValue.map({ $0.rounded() == $0 }) ?? true { return number }
            // `${PORT}` arrives as a string once substituted.
            if case .string(let text) = value, let number = Int(text) { return number }
            throw error("must be an integer")
        }
    }

    var positiveInt: Int {
        get throws(ConfigurationError) {
            let number = try int
            guard number > 0 else { throw error("must be a positive integer") }
            return number
        }
    }

    var bool: Bool {
        get throws(ConfigurationError) {
            switch value {
            case .bool(let flag): return flag
            case .string("true"): return true
            case .string("false"): return false
            default: throw error("must be true or false")
            }
        }
    }

    /// A duration: a number of seconds, or a number with a unit (`250ms`, `30s`, `5m`, `2h`, `30d`).
    var duration: Duration {
        get throws(ConfigurationError) {
            if let seconds = value.doubleValue, seconds > 0 { return .milliseconds(Int64(seconds * 1000)) }
            guard case .string(let text) = value else { throw error("must be a duration such as 30s, 5m, 2h or 30d") }
            let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
            for (unit, milliseconds) in units where text.hasSuffix(unit) {
                if let amount = Int64(text.dropLast(unit.count).trimmingCharacters(in: .whitespaces)), amount > 0 {
                    return .milliseconds(amount * milliseconds)
                }
            }
            if let seconds = Int64(text), seconds > 0 { return .seconds(seconds) }
            throw error("must be a duration such as 30s, 5m, 2h or 30d")
        }
    }

    var array: [ConfigValue] {
        get throws(ConfigurationError) {
            guard case .array(let items) = value else { throw error("must be a list") }
            return items.enumerated().map { ConfigValue($0.element, path: "\(path)[\($0.offset)]") }
        }
    }

    var strings: [String] {
        get throws(ConfigurationError) {
            var result: [String] = []
            for item in try array { result.append(try item.string) }
            return result
        }
    }

    /// The members of a mapping, in file order, after checking that every key is one of `allowed`.
    func object(allowing allowed: Set<String>) throws(ConfigurationError) -> ConfigObject {
        guard case .object(let members) = value else { throw error("must be a mapping") }
        for key in members.keys where !allowed.contains(key.string) {
            throw ConfigurationError(path: child(key.string), reason: "is not a known setting (expected one of \(allowed.sorted().joined(separator: ", ")))")
        }
        return ConfigObject(members: members, path: path)
    }

    /// The members of a mapping whose keys are names chosen by the user (rooms, events).
    var entries: [(key: String, value: ConfigValue)] {
        get throws(ConfigurationError) {
            guard case .object(let members) = value else { throw error("must be a mapping") }
            return members.map { (key: $0.key.string, value: ConfigValue($0.value, path: child($0.key.string))) }
        }
    }
}

/// A mapping of a configuration file whose keys have been checked.
struct ConfigObject {
    let members: OrderedDictionary<SocketKey, SocketValue>
    let path: String

    subscript(_ key: String) -> ConfigValue? {
        members[SocketKey(key)].flatMap { $0 == .null ? nil : ConfigValue($0, path: path.isEmpty ? key : "\(path).\(key)") }
    }

    func required(_ key: String) throws(ConfigurationError) -> ConfigValue {
        guard let value = self[key] else { throw ConfigurationError(path: path.isEmpty ? key : "\(path).\(key)", reason: "is required") }
        return value
    }
}

/// Turns the text of a configuration file into a JSON-like value: YAML (which includes JSON), mapping
/// order kept, `${NAME}` and `${NAME:-default}` in strings replaced from the environment.
enum ConfigText {
    static func parse(_ text: String, environment: [String: String]) throws(ConfigurationError) -> SocketValue {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(path: "", reason: "not valid YAML or JSON: \(error)")
        }
        guard let root else { return .object([:]) }
        return try value(of: root, path: "", environment: environment)
    }

    private static func value(of node: Node, path: String, environment: [String: String]) throws(ConfigurationError) -> SocketValue {
        switch node {
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: return .null
            case .bool: return node.bool.map(SocketValue.bool) ?? .string(scalar.string)
            case .int: return integer(scalar.string).map(SocketValue.int) ?? .string(scalar.string)
            case .float: return node.float.map(SocketValue.double) ?? .string(scalar.string)
            default: return .string(try substitute(scalar.string, path: path, environment: environment))
            }
        case .sequence(let sequence):
            var items: [SocketValue] = []
            for (index, item) in sequence.enumerated() {
                items.append(try value(of: item, path: "\(path)[\(index)]", environment: environment))
            }
            return .array(items)
        case .mapping(let mapping):
            var members = OrderedDictionary<SocketKey, SocketValue>()
            for (key, item) in mapping {
                guard let name = key.string else { throw ConfigurationError(path: path, reason: "keys must be strings") }
                // Yams refuses duplicate keys itself.
                members[SocketKey(name)] = try value(of: item, path: path.isEmpty ? name : "\(path).\(name)", environment: environment)
            }
            return .object(members)
        case .alias:
            throw ConfigurationError(path: path, reason: "YAML aliases are not supported")
        }
    }

    /// A YAML integer: decimal, `0x` hex, `0o` or `0` octal, `0b` binary, with `_` between digits, or `nil`
    /// (kept as a string) when it does not fit in 64 bits or is YAML 1.1's base 60 (`1:30`). Yams's own
    /// conversion traps on an overflow in base 60 (found by scripts/fuzz: `+2222222322222222228:0`), and a
    /// value like `1:30` in a configuration file is far more likely meant as text.
    static func integer(_ text: String) -> Int64? {
        var digits = text.replacingOccurrences(of: "_", with: "")
        var sign: Int64 = 1
        if let first = digits.first, first == "-" || first == "+" {
            sign = first == "-" ? -1 : 1
            digits.removeFirst()
        }
        var radix: Int
        switch digits.prefix(2).lowercased() {
        case "0x": radix = 16
        case "0o": radix = 8
        case "0b": radix = 2
        default: radix = 10
        }
        if radix != 10 {
            digits.removeFirst(2)
        } else if digits.count > 1, digits.first == "0" {
            radix = 8  // YAML 1.1's octal, as Yams reads it: 0755
        }
        guard !digits.isEmpty, let magnitude = UInt64(digits, radix: radix) else { return nil }
        if sign < 0 { return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    /// Replaces `${NAME}` (which must be set) and `${NAME:-default}`.
    static func substitute(_ text: String, path: String, environment: [String: String]) throws(ConfigurationError) -> String {
        guard text.contains("${") else { return text }
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                throw ConfigurationError(path: path, reason: "has an unterminated ${")
            }
            let reference = rest[start.upperBound..<end]
            let (name, fallback): (Substring, Substring?) = if let dash = reference.range(of: ":-") {
                (reference[..<dash.lowerBound], reference[dash.upperBound...])
            } else {
                (reference, nil)
            }
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw ConfigurationError(path: path, reason: "${\(reference)} is not a valid environment variable reference")
            }
            if let set = environment[String(name)], !set.isEmpty {
                result += set
            } else if let fallback {
                result += fallback
            } else {
                throw ConfigurationError(path: path, reason: "the environment variable \(name) is not set")
            }
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }
}
