import OrderedCollections
import SocketIO

extension Schema {
    /// The schema as a JSON Schema (draft 2020-12) object, for clients in other languages.
    ///
    /// ```swift
    /// Schema.object(["text": .string(minLength: 1)]).jsonSchema.jsonText
    /// // {"type":"object","properties":{"text":{"type":"string","minLength":1}},"required":["text"]}
    /// ```
    public var jsonSchema: SocketValue {
        var members = OrderedDictionary<SocketKey, SocketValue>()
        switch node {
        case .any:
            break
        case .boolean:
            members["type"] = "boolean"
        case .string(let rules):
            members["type"] = "string"
            if let minLength = rules.minLength { members["minLength"] = .int(Int64(minLength)) }
            if let maxLength = rules.maxLength { members["maxLength"] = .int(Int64(maxLength)) }
            if let pattern = rules.pattern { members["pattern"] = .string(pattern) }
            if let format = rules.format { members["format"] = .string(format.rawValue) }
        case .number(let rules):
            members["type"] = rules.isInteger ? "integer" : "number"
            if let minimum = rules.minimum { members["minimum"] = Self.jsonNumber(minimum) }
            if let maximum = rules.maximum { members["maximum"] = Self.jsonNumber(maximum) }
        case .enumeration(let options):
            members["type"] = "string"
            members["enum"] = .array(options.map(SocketValue.string))
        case .array(let element, let min, let max):
            members["type"] = "array"
            members["items"] = element.jsonSchema
            if let min { members["minItems"] = .int(Int64(min)) }
            if let max { members["maxItems"] = .int(Int64(max)) }
        case .object(let properties, let unknownKeys):
            members["type"] = "object"
            var described = OrderedDictionary<SocketKey, SocketValue>()
            for (name, schema) in properties { described[SocketKey(name)] = schema.jsonSchema }
            members["properties"] = .object(described)
            let required = properties.filter { !$0.value.isOptional }.map { SocketValue.string($0.key) }
            if !required.isEmpty { members["required"] = .array(required) }
            if unknownKeys == .reject { members["additionalProperties"] = false }
        case .dictionary(let values):
            members["type"] = "object"
            members["additionalProperties"] = values.jsonSchema
        case .oneOf(let options):
            members["anyOf"] = .array(options.map(\.jsonSchema))
        }
        if isNullable {
            if case .string(let type)? = members["type"] {
                members["type"] = [.string(type), "null"]
            } else if !members.isEmpty {
                var nullable: OrderedDictionary<SocketKey, SocketValue> = ["anyOf": [.object(members), ["type": "null"]]]
                if let summary { nullable["description"] = .string(summary) }
                return .object(nullable)
            }
        }
        if let summary { members["description"] = .string(summary) }
        return .object(members)
    }

    private static func jsonNumber(_ number: Double) -> SocketValue {
        number.rounded() == number && abs(number) < 1e15 ? .int(Int64(number)) : .double(number)
    }
}

extension Schema {
    /// Reads a JSON Schema (the subset ``jsonSchema`` writes) so that events defined in a configuration file
    /// are validated by the same code as Swift-typed ones.
    ///
    /// Supported: `type` (`string`, `number`, `integer`, `boolean`, `object`, `array`, and a list of one of
    /// them with `null`), `properties`, `required`, `additionalProperties` (`false` rejects unknown
    /// properties; absent or `true` keeps them, as JSON Schema does; a schema without `properties` makes a
    /// dictionary), `items`, `minItems`, `maxItems`, `minLength`, `maxLength`, `pattern`, `format` (`uri`,
    /// `email`, `uuid`, `date-time`), `minimum`, `maximum`, string `enum`, `anyOf`/`oneOf`, `description`;
    /// `$schema`, `$id`, `title`, `examples` and `default` are ignored. Anything else is refused rather than
    /// silently not enforced.
    ///
    /// ```swift
    /// let schema = try Schema(jsonSchema: ["type": "object", "properties": ["text": ["type": "string", "minLength": 1]], "required": ["text"]])
    /// ```
    /// - Throws: ``SchemaViolation`` whose path names the offending keyword in the document
    ///   (`properties.text.minLength: must be a non-negative integer`).
    public init(jsonSchema document: SocketValue) throws(SchemaViolation) {
        self = try Self.parse(document, at: "")
    }

    private static let ignoredKeywords: Set<String> = ["$schema", "$id", "title", "examples", "default", "$comment"]
    private static let knownKeywords: Set<String> = [
        "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "minLength", "maxLength",
        "pattern", "format", "minimum", "maximum", "enum", "anyOf", "oneOf", "description",
    ]

    private static func parse(_ document: SocketValue, at path: String) throws(SchemaViolation) -> Schema {
        func here(_ keyword: String) -> String { path.isEmpty ? keyword : "\(path).\(keyword)" }
        if case .bool(true) = document { return .any }
        guard let members = document.objectValue else { throw SchemaViolation(path: path, reason: "must be an object (a JSON Schema)") }
        for key in members.keys where !knownKeywords.contains(key.string) && !ignoredKeywords.contains(key.string) {
            throw SchemaViolation(path: here(key.string), reason: "is not a supported JSON Schema keyword")
        }
        func integer(_ keyword: String) throws(SchemaViolation) -> Int? {
            guard let value = members[SocketKey(keyword)] else { return nil }
            guard let number = value.intValue, number >= 0 else { throw SchemaViolation(path: here(keyword), reason: "must be a non-negative integer") }
            return number
        }
        func number(_ keyword: String) throws(SchemaViolation) -> Double? {
            guard let value = members[SocketKey(keyword)] else { return nil }
            guard let number = value.doubleValue else { throw SchemaViolation(path: here(keyword), reason: "must be a number") }
            return number
        }
        var nullable = false
        var type: String?
        switch members["type"] {
        case nil: break
        case .string(let name)?: type = name
        case .array(let names)?:
            let named = names.compactMap(\.stringValue)
            guard named.count == names.count, named.count <= 2, named.filter({ $0 != "null" }).count == 1 else {
                throw SchemaViolation(path: here("type"), reason: "a list of types must be one type and \"null\"")
            }
            nullable = named.contains("null")
            type = named.first { $0 != "null" }
        default: throw SchemaViolation(path: here("type"), reason: "must be a string or a list of strings")
        }
        var schema: Schema
        if let options = members["anyOf"] ?? members["oneOf"] {
            let keyword = members["anyOf"] != nil ? "anyOf" : "oneOf"
            guard type == nil else { throw SchemaViolation(path: here(keyword), reason: "cannot be combined with type") }
            guard let list = options.arrayValue, !list.isEmpty else { throw SchemaViolation(path: here(keyword), reason: "must be a non-empty array of schemas") }
            var parsed: [Schema] = []
            for (index, option) in list.enumerated() {
                if option == ["type": "null"] { nullable = true } else { parsed.append(try parse(option, at: "\(here(keyword))[\(index)]")) }
            }
            schema = parsed.count == 1 ? parsed[0] : Schema(.oneOf(parsed))
        } else if let values = members["enum"] {
            guard type == nil || type == "string" else { throw SchemaViolation(path: here("enum"), reason: "only string enums are supported") }
            guard let list = values.arrayValue, !list.isEmpty else { throw SchemaViolation(path: here("enum"), reason: "must be a non-empty array of strings") }
            var strings: [String] = []
            for value in list {
                if value == .null { nullable = true; continue }
                guard let string = value.stringValue else { throw SchemaViolation(path: here("enum"), reason: "only string enums are supported") }
                strings.append(string)
            }
            schema = Schema(.enumeration(strings))
        } else {
            switch type {
            case nil:
                schema = .any
            case "string":
                var format: StringFormat?
                if let name = members["format"] {
                    guard let known = name.stringValue.flatMap(StringFormat.init(rawValue:)) else {
                        throw SchemaViolation(path: here("format"), reason: "must be one of uri, email, uuid, date-time")
                    }
                    format = known
                }
                var pattern: String?
                if let value = members["pattern"] {
                    guard let text = value.stringValue, (try? Regex(text)) != nil else { throw SchemaViolation(path: here("pattern"), reason: "must be a valid regular expression") }
                    pattern = text
                }
                schema = .string(minLength: try integer("minLength"), maxLength: try integer("maxLength"), pattern: pattern, format: format)
            case "number", "integer":
                let rules = NumberRules(isInteger: type == "integer", minimum: try number("minimum"), maximum: try number("maximum"))
                schema = Schema(.number(rules))
            case "boolean":
                schema = .boolean
            case "array":
                let element = try members["items"].map { value throws(SchemaViolation) in try parse(value, at: here("items")) } ?? .any
                schema = .array(element, minItems: try integer("minItems"), maxItems: try integer("maxItems"))
            case "object":
                schema = try parseObject(members, at: path, here: here)
            case let other?:
                throw SchemaViolation(path: here("type"), reason: "unknown type \"\(other)\" (string, number, integer, boolean, object, array)")
            }
        }
        if let text = members["description"] {
            guard let summary = text.stringValue else { throw SchemaViolation(path: here("description"), reason: "must be a string") }
            schema = schema.describe(summary)
        }
        return nullable ? schema.nullable() : schema
    }

    private static func parseObject(
        _ members: OrderedDictionary<SocketKey, SocketValue>, at path: String, here: (String) -> String
    ) throws(SchemaViolation) -> Schema {
        var required: Set<String> = []
        if let list = members["required"] {
            guard let names = list.arrayValue?.compactMap(\.stringValue), names.count == list.arrayValue?.count else {
                throw SchemaViolation(path: here("required"), reason: "must be an array of property names")
            }
            required = Set(names)
        }
        let additional = members["additionalProperties"]
        guard let described = members["properties"] else {
            for name in required { throw SchemaViolation(path: here("required"), reason: "names \"\(name)\", which is not in properties") }
            switch additional {
            case nil, .bool(true)?: return .dictionary(.any)
            case .bool(false)?: return Schema(.object([:], unknownKeys: .reject))
            case let values?: return .dictionary(try parse(values, at: here("additionalProperties")))
            }
        }
        guard let properties = described.objectValue else { throw SchemaViolation(path: here("properties"), reason: "must be an object of schemas") }
        var parsed = OrderedDictionary<String, Schema>()
        for (name, value) in properties {
            let property = try parse(value, at: "\(here("properties")).\(name.string)")
            parsed[name.string] = required.contains(name.string) ? property : property.optional()
        }
        for name in required where parsed[name] == nil {
            throw SchemaViolation(path: here("required"), reason: "names \"\(name)\", which is not in properties")
        }
        let unknownKeys: UnknownKeys
        switch additional {
        case nil, .bool(true)?: unknownKeys = .keep
        case .bool(false)?: unknownKeys = .reject
        default: throw SchemaViolation(path: here("additionalProperties"), reason: "with properties, must be true or false")
        }
        return Schema(.object(parsed, unknownKeys: unknownKeys))
    }
}
