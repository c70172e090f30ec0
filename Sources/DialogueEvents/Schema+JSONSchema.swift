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
