import Foundation
import SocketIO

/// The API's validation rules, applied to request bodies and queries before anything is stored. Every
/// failure is a 400 naming the field (`messages[3].content`, `tags`).
enum InputValidation {
    static let maxTags = 10
    static let maxTagLength = 64
    static let maxInitialMessages = 25
    static let imageMediaTypes: Set<String> = ["image/jpeg", "image/png", "image/gif", "image/webp"]

    /// An object body; `null` or absent reads as `{}`.
    static func object(_ value: SocketValue?, field: String = "body") throws(DialogueDBError) -> JSONObject {
        switch value {
        case nil, .null?: return [:]
        case .object(let members)?: return members
        default: throw .invalidParameter(field, "must be a JSON object")
        }
    }

    static func string(_ value: SocketValue?, _ field: String, minLength: Int = 1, maxLength: Int = 1024) throws(DialogueDBError) -> String? {
        guard let value, value != .null else { return nil }
        guard case .string(let text) = value else { throw .invalidParameter(field, "must be a string", value: value) }
        guard text.count >= minLength else {
            throw minLength == 1 ? .missingParameter(field) : .invalidParameter(field, "must be at least \(minLength) characters long", value: value)
        }
        guard text.count <= maxLength else { throw .invalidParameter(field, "must be at most \(maxLength) characters long") }
        return text
    }

    /// A namespace; empty means the default one (the hosted SDK sends it only when it is non-empty).
    static func namespace(_ value: SocketValue?) throws(DialogueDBError) -> String? {
        guard let text = try string(value, "namespace", minLength: 0, maxLength: 128), !text.isEmpty else { return nil }
        return text
    }

    static func required(_ value: SocketValue?, _ field: String, minLength: Int = 1, maxLength: Int = 1024) throws(DialogueDBError) -> String {
        guard let text = try string(value, field, minLength: minLength, maxLength: maxLength) else { throw .missingParameter(field) }
        return text
    }

    /// An id as it appears in paths: no whitespace, `/`, `?` or `#`.
    static func identifier(_ value: SocketValue?, _ field: String, minLength: Int = 1) throws(DialogueDBError) -> String? {
        guard let id = try string(value, field, minLength: minLength, maxLength: 128) else { return nil }
        guard !id.contains(where: { $0.isWhitespace || $0 == "/" || $0 == "?" || $0 == "#" }) else {
            throw .invalidParameter(field, "must not contain whitespace, /, ? or #", value: .string(id))
        }
        return id
    }

    static func tags(_ value: SocketValue?, _ field: String = "tags") throws(DialogueDBError) -> [String]? {
        guard let value, value != .null else { return nil }
        guard case .array(let items) = value else { throw .invalidParameter(field, "must be an array of strings", value: value) }
        guard items.count <= maxTags else { throw .invalidParameter(field, "at most \(maxTags) tags are allowed") }
        var tags: [String] = []
        for item in items {
            guard case .string(let tag) = item, !tag.isEmpty else { throw .invalidParameter(field, "must be an array of non-empty strings", value: value) }
            guard tag.count <= maxTagLength else { throw .invalidParameter(field, "each tag must be at most \(maxTagLength) characters long", value: item) }
            tags.append(tag)
        }
        return tags
    }

    /// Flat metadata: values are strings, numbers, booleans or lists of strings.
    static func metadata(_ value: SocketValue?, _ field: String = "metadata") throws(DialogueDBError) -> JSONObject {
        guard let value, value != .null else { return [:] }
        guard case .object(let members) = value else { throw .invalidParameter(field, "must be an object") }
        for (key, member) in members {
            switch member {
            case .string, .int, .double, .bool: continue
            case .array(let items) where items.allSatisfy({ $0.stringValue != nil }): continue
            default: throw .invalidParameter("\(field).\(key.string)", "Metadata must be flat - nested objects are not allowed", value: member)
            }
        }
        return members
    }

    static func state(_ value: SocketValue?, _ field: String = "state") throws(DialogueDBError) -> JSONObject? {
        guard let value, value != .null else { return nil }
        guard case .object(let members) = value else { throw .invalidParameter(field, "must be an object") }
        return members
    }

    static func created(_ value: SocketValue?, _ field: String = "created") throws(DialogueDBError) -> String? {
        guard let text = try string(value, field) else { return nil }
        guard Timestamp.looksLikeISODate(text), let date = Timestamp.date(text) else {
            throw .invalidParameter(field, "must be an ISO 8601 date", value: .string(text))
        }
        return Timestamp.string(date)
    }

    /// Message content: a non-empty string, an object, or a non-empty array of objects, with image parts checked.
    static func content(_ value: SocketValue?, _ field: String = "content") throws(DialogueDBError) -> SocketValue {
        switch value {
        case nil, .null?, .string("")?, .array([])?:
            throw .missingParameter(field)
        case .string?:
            return value!
        case .object(let part)?:
            try checkPart(part, field: field, item: nil)
            return value!
        case .array(let parts)?:
            for (index, part) in parts.enumerated() {
                guard case .object(let members) = part else { throw .invalidParameter(field, "array must contain only objects") }
                try checkPart(members, field: field, item: index)
            }
            return value!
        default:
            throw .invalidParameter(field, "must be a string, object, or array of objects")
        }
    }

    private static func checkPart(_ part: JSONObject, field: String, item: Int?) throws(DialogueDBError) {
        func fail(_ reason: String, code: String = "INVALID_PARAMETER") -> DialogueDBError {
            let message = item.map { "item \($0): \(reason)" } ?? reason
            return DialogueDBError(statusCode: 400, code: code, type: "validation_error", message: "Invalid \(field): \(message)",
                                   details: [.init(field: field, code: "INVALID", message: message)])
        }
        switch part["type"]?.stringValue {
        case "image":
            guard let source = part["source"]?.objectValue else { throw fail("image needs a source object") }
            switch source["type"]?.stringValue {
            case "base64":
                guard let mediaType = source["media_type"]?.stringValue, imageMediaTypes.contains(mediaType) else {
                    throw fail("source.media_type must be one of \(imageMediaTypes.sorted().joined(separator: ", "))")
                }
                guard let data = source["data"]?.stringValue, !data.isEmpty else { throw fail("source.data is required") }
                if data.lowercased().hasPrefix("data:") {
                    throw fail("source.data must be raw base64, without a data: prefix", code: "INVALID_IMAGE_CONTENT")
                }
                guard isBase64(data) else { throw fail("source.data is not valid base64") }
            case "url":
                guard let url = source["url"]?.stringValue, !url.isEmpty else { throw fail("source.url is required") }
            default:
                throw fail("source.type must be base64 or url")
            }
        case "image_url":
            guard let url = part["image_url"]?["url"]?.stringValue, !url.isEmpty else { throw fail("image_url.url is required") }
            if url.lowercased().hasPrefix("data:") {
                // RFC 2397: data:[<mediatype>][;base64],<data>
                guard let comma = url.firstIndex(of: ",") else { throw fail("image_url.url is not a valid data: URI") }
                let header = url[url.index(url.startIndex, offsetBy: 5)..<comma]
                if header.hasSuffix(";base64"), !isBase64(String(url[url.index(after: comma)...])) {
                    throw fail("image_url.url has invalid base64 data")
                }
            }
        default:
            break
        }
    }

    private static func isBase64(_ text: String) -> Bool {
        let compact = text.filter { !$0.isWhitespace }
        return !compact.isEmpty && compact.wholeMatch(of: /[A-Za-z0-9+\/]+={0,2}/) != nil
    }

    /// Whether the content carries an image part.
    static func hasImage(_ content: SocketValue) -> Bool {
        let parts = content.arrayValue ?? (content.objectValue != nil ? [content] : [])
        return parts.contains { ["image", "image_url"].contains($0["type"]?.stringValue ?? "") }
    }
}
