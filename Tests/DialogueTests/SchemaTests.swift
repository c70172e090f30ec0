import Dialogue
import SocketIO
import Testing

@Suite("Schemas and event definitions")
struct SchemaTests {
    static let document: Schema = .object([
        "userId": .string(),
        "operations": .array(.object([
            "type": .enumeration("insert", "delete", "retain"),
            "position": .integer(minimum: 0),
            "text": .string().optional(),
        ])),
        "version": .number(minimum: 0),
        "action": .object(["label": .string(), "url": .string(format: .url)]).optional(),
    ])

    @Test func acceptsAValidValueAndDropsUnknownKeys() throws {
        let value: SocketValue = ["userId": "u1", "operations": [["type": "insert", "position": 3, "text": "hi", "extra": true]], "version": 2, "junk": 1]
        let validated = try Self.document.validate(value)
        #expect(validated == ["userId": "u1", "operations": [["type": "insert", "position": 3, "text": "hi"]], "version": 2])
    }

    @Test(arguments: [
        (["operations": [], "version": 1] as SocketValue, "userId: is required"),
        (["userId": 5, "operations": [], "version": 1], "userId: expected a string, got a number"),
        (["userId": "u", "operations": [["type": "move", "position": 1]], "version": 1], "operations[0].type: must be one of 'insert', 'delete', 'retain'"),
        (["userId": "u", "operations": [["type": "insert", "position": 1.5]], "version": 1], "operations[0].position: expected an integer, got a number"),
        (["userId": "u", "operations": [["type": "insert", "position": -1]], "version": 1], "operations[0].position: must be at least 0"),
        (["userId": "u", "operations": [], "version": 1, "action": ["label": "x", "url": "not a url"]], "action.url: must be a valid URL"),
        (["userId": "u", "operations": "none", "version": 1], "operations: expected an array, got a string"),
        (["userId": "u", "operations": [], "version": nil], "version: expected a number, got null"),
        ("text", "expected an object, got a string"),
    ] as [(SocketValue, String)])
    func namesTheOffendingField(value: SocketValue, message: String) {
        #expect(throws: SchemaViolation.self) { try Self.document.validate(value) }
        do {
            _ = try Self.document.validate(value)
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func stringLengthsCountCharacters() throws {
        let schema = Schema.string(minLength: 1, maxLength: 3)
        #expect(try schema.validate("héé") == "héé")
        #expect(throws: SchemaViolation(path: "", reason: "must be at least 1 character long")) { try schema.validate("") }
        #expect(throws: SchemaViolation(path: "", reason: "must be at most 3 characters long")) { try schema.validate("abcd") }
    }

    @Test func optionalNullableAndUnknownKeyPolicies() throws {
        let schema = Schema.object(["a": .string().nullable(), "b": .integer().optional()], unknownKeys: .reject)
        #expect(try schema.validate(["a": nil]) == ["a": nil])
        #expect(throws: SchemaViolation(path: "b", reason: "expected an integer, got null")) { try schema.validate(["a": "x", "b": nil]) }
        #expect(throws: SchemaViolation(path: "c", reason: "is not allowed")) { try schema.validate(["a": "x", "c": 1]) }
        let keeping = Schema.object(["a": .string()], unknownKeys: .keep)
        #expect(try keeping.validate(["a": "x", "c": 1]) == ["a": "x", "c": 1])
    }

    @Test func formatsPatternsUnionsAndDictionaries() throws {
        #expect(throws: Never.self) { try Schema.string(format: .email).validate("a@b.io") }
        #expect(throws: SchemaViolation.self) { try Schema.string(format: .email).validate("a@b") }
        #expect(throws: Never.self) { try Schema.string(format: .uuid).validate("6F9619FF-8B86-D011-B42D-00CF4FC964FF") }
        #expect(throws: Never.self) { try Schema.string(format: .dateTime).validate("2026-11-23T06:52:46Z") }
        #expect(throws: SchemaViolation.self) { try Schema.string(format: .dateTime).validate("yesterday") }
        #expect(throws: SchemaViolation(path: "", reason: "must match the pattern ^#[0-9a-f]{6}$")) { try Schema.string(pattern: "^#[0-9a-f]{6}$").validate("red") }
        let union = Schema.oneOf(.integer(), .string())
        #expect(try union.validate("x") == "x")
        #expect(throws: SchemaViolation(path: "", reason: "matches none of the 2 allowed shapes")) { try union.validate(true) }
        #expect(throws: SchemaViolation(path: "b", reason: "expected a number, got a string")) { try Schema.dictionary(.number()).validate(["a": 1, "b": "2"]) }
        #expect(throws: SchemaViolation(path: "", reason: "must have at most 1 item")) { try Schema.array(.any, maxItems: 1).validate([1, 2]) }
    }

    @Test func jsonSchemaOfTheSeedsAlert() throws {
        enum Kind: String, CaseIterable { case info, warning, error, success }
        let alert = Schema.object([
            "title": .string(minLength: 1).describe("Shown in bold"),
            "type": .enumeration(Kind.self),
            "count": .integer(minimum: 0),
            "action": .object(["url": .string(format: .url)]).optional(),
            "note": .string().nullable(),
        ])
        #expect(alert.jsonSchema.jsonText == """
            {"type":"object","properties":{"title":{"type":"string","minLength":1,"description":"Shown in bold"},\
            "type":{"type":"string","enum":["info","warning","error","success"]},"count":{"type":"integer","minimum":0},\
            "action":{"type":"object","properties":{"url":{"type":"string","format":"uri"}},"required":["url"]},\
            "note":{"type":["string","null"]}},"required":["title","type","count","note"]}
            """)
        let definition = EventDefinition("alert", schema: alert, description: "An alert")
        #expect(definition.jsonSchema["$schema"] == "https://json-schema.org/draft/2020-12/schema")
        #expect(definition.jsonSchema["title"] == "alert")
        #expect(definition.jsonSchema["description"] == "An alert")
    }

    @Test func typedValidationDecodesThePayload() throws {
        let message = EventDefinition("message", of: ChatMessage.self)
        #expect(try message.validate(["text": "hi", "senderId": "u1"]).get() == ChatMessage(text: "hi", senderId: "u1"))
        #expect(throws: SchemaViolation(path: "text", reason: "must be at least 1 character long")) {
            try message.validate(["text": "", "senderId": "u1"]).get()
        }
        // Without a schema, decoding is the validation, and its errors name the field too.
        struct Point: Codable, Sendable { var x: Double }
        let point = EventDefinition("point", of: Point.self, schema: nil)
        #expect(throws: SchemaViolation(path: "x", reason: "is required")) { try point.validate([:]).get() }
        #expect(try point.validate(["x": 2]).get().x == 2)
    }

    @Test func allowedEventsAndLookupByName() {
        let typing = EventDefinition("typing")
        let events: [any EventDescribing] = [Message, typing]
        #expect(events.allows("message") && events.allows("typing") && !events.allows("unknown"))
        #expect(([] as [any EventDescribing]).allows("anything"))
        #expect(events.definition(named: "typing")?.name == "typing")
        #expect(events.definition(named: "unknown") == nil)
        let wildcard: [any EventDescribing] = [Message, EventDefinition("*", history: EventHistory(limit: 5))]
        #expect(wildcard.allows("anything"))
        #expect(wildcard.definition(named: "anything")?.history?.limit == 5)
        #expect(wildcard.definition(named: "message")?.name == "message")
    }
}

/// JSON Schema documents read back into ``Schema`` (the configuration file's events).
@Suite("Schema from JSON Schema")
struct SchemaFromJSONSchemaTests {
    @Test(arguments: [
        Schema.string(minLength: 1, maxLength: 20, pattern: "^[a-z]+$", format: nil),
        .string(format: .email).describe("an address"),
        .integer(minimum: 0, maximum: 10),
        .number(minimum: -1.5),
        .boolean,
        .enumeration("info", "warning"),
        .array(.string(), minItems: 1, maxItems: 3),
        .object(["id": .string(format: .uuid), "tags": .array(.string()).optional(), "at": .string(format: .dateTime).nullable()], unknownKeys: .reject),
        .dictionary(.integer()),
        .oneOf(.string(), .integer()),
        .string().nullable(),
        .any,
    ])
    func whatSwiftPublishesReadsBackTheSame(schema: Schema) throws {
        #expect(try Schema(jsonSchema: schema.jsonSchema).jsonSchema == schema.jsonSchema)
    }

    @Test func readSchemasValidateAsJSONSchemaSays() throws {
        let schema = try Schema(jsonSchema: [
            "type": "object",
            "properties": ["name": ["type": ["string", "null"]], "size": ["type": "integer", "minimum": 1], "kind": ["enum": ["a", "b"]]],
            "required": ["size"],
        ])
        #expect(try schema.validate(["size": 2, "name": .null, "extra": true]) == ["name": .null, "size": 2, "extra": true], "unknown properties are kept")
        #expect(throws: SchemaViolation(path: "size", reason: "must be at least 1")) { try schema.validate(["size": 0]) }
        #expect(throws: SchemaViolation(path: "size", reason: "is required")) { try schema.validate(["name": "x"]) }
        #expect(throws: SchemaViolation(path: "kind", reason: "must be one of 'a', 'b'")) { try schema.validate(["size": 1, "kind": "c"]) }
        let closed = try Schema(jsonSchema: ["type": "object", "properties": ["a": ["type": "string"]], "additionalProperties": false])
        #expect(throws: SchemaViolation(path: "b", reason: "is not allowed")) { try closed.validate(["b": 1]) }
    }

    @Test(arguments: [
        (SocketValue.string("object"), "", "must be an object (a JSON Schema)"),
        (["type": "strin"], "type", "unknown type \"strin\""),
        (["type": "string", "minLength": "3"], "minLength", "must be a non-negative integer"),
        (["type": "string", "pattern": "("], "pattern", "must be a valid regular expression"),
        (["type": "string", "format": "ipv4"], "format", "must be one of uri, email, uuid, date-time"),
        (["enum": [1, 2]], "enum", "only string enums"),
        (["type": "object", "properties": ["a": ["type": "string"]], "required": ["b"]], "required", "names \"b\", which is not in properties"),
        (["type": "object", "properties": ["a": ["not": ["type": "string"]]]], "properties.a.not", "not a supported JSON Schema keyword"),
        (["anyOf": []], "anyOf", "must be a non-empty array"),
        (["type": ["string", "integer"]], "type", "one type and \"null\""),
    ] as [(SocketValue, String, String)])
    func unsupportedOrWrongDocumentsAreRefusedWithTheKeyword(document: SocketValue, path: String, reason: String) {
        do {
            _ = try Schema(jsonSchema: document)
            Issue.record("accepted \(document.jsonText)")
        } catch {
            #expect(error.path == path)
            #expect(error.reason.contains(reason), "\(error)")
        }
    }
}
