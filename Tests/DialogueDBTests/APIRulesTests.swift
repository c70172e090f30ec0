import DialogueDBCore
import DialogueDBServer
import DialogueDBSQLite
import Foundation
import SocketIO
import TestSupport
import Testing

/// The API's validation rules (each a 400 naming the field), and what only the REST server does: keys,
/// the error envelope, both path forms, any Content-Type, the body limit and the rate limit.
@Suite("DialogueDB API rules and REST server")
struct APIRulesTests {
    static let context = RequestContext(projectId: "p")

    @Test(arguments: [
        (APIRequest("POST", "/dialogue", body: ["messages": .array(Array(repeating: ["role": "user", "content": "x"], count: 26))]), "messages", "INVALID_PARAMETER"),
        (APIRequest("POST", "/dialogue", body: ["message": ["role": "user", "content": "x"], "messages": []]), "messages", "INVALID_PARAMETER"),
        (APIRequest("POST", "/dialogue", body: ["tags": .array((1...11).map { .string("t\($0)") })]), "tags", "INVALID_PARAMETER"),
        (APIRequest("POST", "/dialogue", body: ["tags": [.string(String(repeating: "x", count: 65))]]), "tags", "INVALID_PARAMETER"),
        (APIRequest("POST", "/dialogue", body: ["metadata": ["nested": ["a": 1]]]), "metadata.nested", "INVALID_PARAMETER"),
        (APIRequest("POST", "/dialogue", body: ["state": [1, 2]]), "state", "INVALID_PARAMETER"),
        (APIRequest("POST", "/dialogue", body: ["created": "yesterday"]), "created", "INVALID_PARAMETER"),
        (APIRequest("POST", "/dialogue", body: ["messages": [["role": "user", "content": ""]]]), "messages[0].content", "MISSING_PARAMETER"),
        (APIRequest("POST", "/dialogue", body: ["messages": [["content": "hi"]]]), "messages[0].role", "MISSING_PARAMETER"),
        (APIRequest("POST", "/dialogue", body: ["messages": [["role": "user", "content": [1, 2]]]]), "messages[0].content", "INVALID_PARAMETER"),
        (APIRequest("POST", "/dialogue", body: ["messages": [["role": "user", "content": [["type": "image", "source": ["type": "base64", "media_type": "image/png", "data": "data:image/png;base64,AAAA"]]]]]]),
         "messages[0].content", "INVALID_IMAGE_CONTENT"),
        (APIRequest("POST", "/dialogue", body: ["messages": [["role": "user", "content": [["type": "image", "source": ["type": "base64", "media_type": "image/bmp", "data": "AAAA"]]]]]]),
         "messages[0].content", "INVALID_PARAMETER"),
        (APIRequest("POST", "/message", body: ["role": "user", "content": "hi"]), "dialogueId", "MISSING_PARAMETER"),
        (APIRequest("POST", "/message", body: ["dialogueId": "d-1", "id": "abc", "role": "user", "content": "hi"]), "id", "INVALID_PARAMETER"),
        (APIRequest("GET", "/dialogue", query: ["limit": "0"]), "limit", "INVALID_PARAMETER"),
        (APIRequest("GET", "/dialogue", query: ["order": "sideways"]), "order", "INVALID_PARAMETER"),
        (APIRequest("GET", "/dialogue", query: ["next": "not-a-cursor"]), "next", "INVALID_PARAMETER"),
        (APIRequest("GET", "/dialogue", query: ["colour": "blue"]), "colour", "INVALID_PARAMETER"),
        (APIRequest("GET", "/messages"), "dialogueId", "MISSING_PARAMETER"),
        (APIRequest("PUT", "/memory/m-1", body: [:]), "tags", "MISSING_PARAMETER"),
    ] as [(APIRequest, String, String)])
    func invalidInputIsRefusedNamingTheField(request: APIRequest, field: String, code: String) async throws {
        try await withStorage { storage in
            let api = DialogueDBAPI(storage: storage)
            if let error = await dialogueDBError({ _ = try await api.handle(request, context: Self.context) }) {
                #expect(error.statusCode == 400 && error.type == "validation_error" && error.code == code, "\(error)")
                #expect(error.details.first?.field == field, "\(error)")
                #expect(error.requestId == Self.context.requestId)
            }
        }
    }

    @Test func imagePartsThatAreValidAreStoredAsGiven() async throws {
        try await withStorage { storage in
            let api = DialogueDBAPI(storage: storage)
            let content: SocketValue = [
                ["type": "text", "text": "What is this?"],
                ["type": "image", "source": ["type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="]],
                ["type": "image_url", "image_url": ["url": "https://example.com/cat.png", "detail": "low"]],
                ["type": "tool_result", "tool_use_id": "t1", "content": "42"],
            ]
            let created = try await api.handle(APIRequest("POST", "/dialogue", body: ["message": ["role": "user", "content": content]]), context: Self.context)
            #expect(created["messages"]?.arrayValue?.first?["content"] == content)
        }
    }

    @Test func theRESTServerSpeaksTheHostedProtocol() async throws {
        try await withStorage { storage in
            try await withServer(storage, configuration: DialogueDBServerConfiguration(maxBodySize: 4096, rateLimit: 1000)) { url, key in
                let auth = ["Authorization": "Bearer \(key)"]
                // No Content-Type, as the hosted Node SDK sends; both path forms.
                let created = try await httpRequest("POST", "\(url)/api/v1/dialogue", headers: auth.merging(["Content-Type": "text/plain;charset=UTF-8"]) { $1 }, body: #"{"label": "hi"}"#)
                #expect(created.status == 200 && created.headers["x-request-id"]?.hasPrefix("req_") == true)
                let id = try #require(try SocketValue(jsonText: created.body)["id"]?.stringValue)
                #expect(try await httpRequest("GET", "\(url)/dialogue/\(id)", headers: auth).status == 200, "bare paths too")
                let deleted = try await httpRequest("DELETE", "\(url)/api/v1/dialogue/\(id)", headers: auth)
                #expect(deleted.status == 200 && (try? SocketValue(jsonText: deleted.body)) != nil, "every 2xx has a JSON body")
                // The error envelope.
                let missing = try await httpRequest("GET", "\(url)/api/v1/dialogue/\(id)", headers: auth)
                let error = try #require(try SocketValue(jsonText: missing.body)["error"])
                #expect(missing.status == 404 && error["code"] == "DIALOGUE_NOT_FOUND" && error["type"] == "not_found")
                #expect(error["requestId"]?.stringValue == missing.headers["x-request-id"] && error["timestamp"]?.stringValue?.hasSuffix("Z") == true)
                #expect(error["details"]?.arrayValue?.first?["field"] == "id")
                // Keys.
                #expect(try await httpRequest("GET", "\(url)/api/v1/dialogue").status == 401)
                let wrong = try await httpRequest("GET", "\(url)/api/v1/dialogue", headers: ["Authorization": "Bearer ddb_wrong"])
                #expect(wrong.status == 401 && wrong.body.contains("authentication_error"))
                // Body limit: a bare 413, as the hosted service's transport answers.
                let big = try await httpRequest("POST", "\(url)/api/v1/dialogue", headers: auth, body: #"{"label": ""# + String(repeating: "x", count: 5000) + #""}"#)
                #expect(big.status == 413)
                #expect(try await httpRequest("POST", "\(url)/api/v1/dialogue", headers: auth, body: "{not json").status == 400)
                #expect(try await httpRequest("GET", "\(url)/api/v1/nowhere", headers: auth).status == 404)
                // The API's description, without a key; and an empty namespace is the default one.
                let openAPI = try await httpRequest("GET", "\(url)/openapi.json")
                let document = try SocketValue(jsonText: openAPI.body)
                #expect(openAPI.status == 200 && document["openapi"]?.stringValue?.hasPrefix("3.1") == true && document["paths"]?["/dialogue"] != nil)
                let defaulted = try await httpRequest("POST", "\(url)/api/v1/dialogue", headers: auth, body: #"{"id": "empty-namespace", "namespace": ""}"#)
                #expect(defaulted.status == 200)
                #expect(try await httpRequest("GET", "\(url)/api/v1/dialogue/empty-namespace?namespace=", headers: auth).status == 200)
            }
        }
    }

    @Test func keysAreScopedToTheirProjectAndRevocable() async throws {
        try await withStorage { storage in
            try await withServer(storage, project: "alpha") { url, alphaKey in
                let (betaKey, betaRecord) = try await APIKeys.create(projectId: "beta", name: "beta", in: storage)
                let created = try await httpRequest("POST", "\(url)/api/v1/dialogue", headers: ["Authorization": "Bearer \(alphaKey)"], body: #"{"id": "shared-id"}"#)
                #expect(created.status == 200)
                let fromBeta = try await httpRequest("GET", "\(url)/api/v1/dialogue/shared-id", headers: ["Authorization": "Bearer \(betaKey)"])
                #expect(fromBeta.status == 404, "another project's dialogue is not visible")
                #expect(try await storage.revokeKey(id: betaRecord.id, at: Timestamp.now))
                #expect(try await httpRequest("GET", "\(url)/api/v1/dialogue", headers: ["Authorization": "Bearer \(betaKey)"]).status == 401)
                #expect(try await storage.keys().map(\.projectId).sorted() == ["alpha", "beta"], "keys are listed (hashes are never returned)")
            }
        }
    }

    @Test func eachKeyIsRateLimited() async throws {
        try await withStorage { storage in
            try await withServer(storage, configuration: DialogueDBServerConfiguration(rateLimit: 3, rateWindow: .seconds(60))) { url, key in
                for _ in 0..<3 { #expect(try await httpRequest("GET", "\(url)/api/v1/dialogue", headers: ["Authorization": "Bearer \(key)"]).status == 200) }
                let limited = try await httpRequest("GET", "\(url)/api/v1/dialogue", headers: ["Authorization": "Bearer \(key)"])
                #expect(limited.status == 429 && limited.body.contains("RATE_LIMIT_EXCEEDED"))
                #expect(Int(limited.headers["retry-after"] ?? "") ?? 0 > 0)
            }
        }
    }
}
