import DialogueDB
import DialogueDBCore
import Foundation
import Hummingbird
import ServiceLifecycle
import TestSupport
import SocketIO
import Testing

/// Search without a hosted model: full-text relevance on a small fixed corpus (the right answers first),
/// and every filter, embedded and through the REST server.
@Suite("DialogueDB search")
struct SearchTests {
    /// Three support conversations, a few memories; returns the dialogues by topic.
    static func corpus(_ db: ConversationStore) async throws -> [String: Conversation] {
        var dialogues: [String: Conversation] = [:]
        dialogues["password"] = try await db.createDialogue(DialogueInput(
            label: "Login trouble",
            messages: [
                MessageInput(role: "user", content: "I forgot my password and cannot log in", tags: ["auth"], metadata: ["priority": 2, "lang": "en"]),
                MessageInput(role: "assistant", content: "Use the reset link on the sign-in page to choose a new password.", metadata: ["priority": 1]),
            ],
            metadata: ["channel": "web", "plan": "pro"], tags: ["support", "auth"], created: "2025-03-10T09:00:00Z"
        ))
        dialogues["billing"] = try await db.createDialogue(DialogueInput(
            label: "Invoice question",
            messages: [
                MessageInput(role: "user", content: "Why was I charged twice on my invoice this month?", tags: ["billing"], metadata: ["priority": 3, "lang": "en"]),
                MessageInput(role: "assistant", content: [["type": "text", "text": "The duplicate charge on your billing statement was refunded."]], metadata: ["priority": 2]),
            ],
            metadata: ["channel": "email", "plan": "free"], tags: ["support", "billing"], created: "2025-04-02T09:00:00Z"
        ))
        dialogues["photo"] = try await db.createDialogue(DialogueInput(
            label: "Broken upload",
            messages: [
                MessageInput(role: "user", content: [
                    ["type": "text", "text": "This screenshot shows the upload error"],
                    ["type": "image", "source": ["type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="]],
                ], metadata: ["lang": "de"]),
            ],
            metadata: ["channel": "web", "plan": "free"], tags: ["bug"], created: "2025-04-20T09:00:00Z"
        ))
        _ = try await db.createMemory(MemoryInput(id: "pref-lang", label: "Language", description: "The user prefers German answers", value: "de", tags: ["profile"]))
        _ = try await db.createMemory(MemoryInput(id: "pref-plan", label: "Plan", description: "Upgraded to the pro plan in March", value: ["plan": "pro"], tags: ["billing"]))
        return dialogues
    }

    @Test(arguments: Backend.allCases)
    func theRightAnswersComeFirst(backend: Backend) async throws {
        try await withStore(backend) { db in
            let corpus = try await Self.corpus(db)
            let messages = try await db.searchMessages("reset my password")
            #expect(messages.first?.item.dialogueId == corpus["password"]?.id)
            #expect(messages.prefix(2).allSatisfy { $0.item.dialogueId == corpus["password"]?.id }, "both password messages before anything that only shares \"my\"")
            #expect(messages.allSatisfy { (0...1).contains($0.relevance) } && messages.first!.relevance > 0)
            let billing = try await db.searchDialogues("charged twice invoice")
            #expect(billing.first?.item.id == corpus["billing"]?.id)
            #expect(billing.first?.matches.first?.item.content.stringValue?.contains("charged twice") == true, "the evidence is the matching message")
            let byLabel = try await db.searchDialogues("upload")
            #expect(byLabel.first?.item.id == corpus["photo"]?.id)
            #expect(try await db.searchDialogues("refunded").first?.item.id == corpus["billing"]?.id, "text inside structured content is indexed")
            #expect(try await db.searchMemories("german").first?.item.id == "pref-lang", "stemming: German ~ german")
            #expect(try await db.searchMessages("kangaroo").isEmpty)
        }
    }

    @Test(arguments: Backend.allCases)
    func everyFilter(backend: Backend) async throws {
        try await withStore(backend) { db in
            let corpus = try await Self.corpus(db)
            func dialogueIDs(_ query: String, _ options: SearchOptions) async throws -> Set<String> {
                Set(try await db.searchDialogues(query, options).map(\.item.id))
            }
            let all = "support upload password invoice"
            #expect(try await dialogueIDs(all, SearchOptions(tags: ["auth", "bug"])) == [corpus["password"]!.id, corpus["photo"]!.id])
            #expect(try await dialogueIDs(all, SearchOptions(tags: ["$all": ["support", "billing"]])) == [corpus["billing"]!.id])
            #expect(try await dialogueIDs(all, SearchOptions(tags: ["$nin": ["support"]])) == [corpus["photo"]!.id])
            #expect(try await dialogueIDs(all, SearchOptions(metadata: ["channel": "web"])) == [corpus["password"]!.id, corpus["photo"]!.id])
            #expect(try await dialogueIDs(all, SearchOptions(metadata: ["plan": ["$ne": "free"]])) == [corpus["password"]!.id])
            #expect(try await dialogueIDs(all, SearchOptions(metadata: ["plan": ["pro", "enterprise"]])) == [corpus["password"]!.id])
            #expect(try await dialogueIDs(all, SearchOptions(filter: ["created": ["gte": "2025-04-01", "lt": "2025-04-15"]])) == [corpus["billing"]!.id])
            #expect(try await dialogueIDs(all, SearchOptions(filter: ["created": "April 2025"])) == [corpus["billing"]!.id, corpus["photo"]!.id])
            #expect(try await dialogueIDs(all, SearchOptions(filter: ["hasImage": true])) == [corpus["photo"]!.id])
            #expect(try await dialogueIDs(all, SearchOptions(metadata: ["plan": ["$eq": "pro"]])) == [corpus["password"]!.id])
            #expect(try await dialogueIDs(all, SearchOptions(metadata: ["plan": ["$in": ["pro"]], "channel": ["$nin": ["email"]]])) == [corpus["password"]!.id])
            #expect(try await dialogueIDs(all, SearchOptions(filter: ["modified": ["gte": "2000-01-01"], "created": ["lt": "2025-04-01"]])) == [corpus["password"]!.id])
            #expect(try await dialogueIDs(all, SearchOptions(filter: ["created": ["gt": "2025-04-02T09:00:00Z", "lte": "2025-04-20"]])) == [corpus["photo"]!.id])
            // Messages: numeric operators, image parts, order by creation.
            let urgent = try await db.searchMessages("password invoice charged", SearchOptions(metadata: ["priority": ["$gte": 2]]))
            #expect(Set(urgent.map(\.item.metadata["priority"])) == [2, 3])
            let calm = try await db.searchMessages("password invoice charged reset", SearchOptions(metadata: ["priority": ["$lt": 2]]))
            #expect(Set(calm.map(\.item.metadata["priority"])) == [1])
            let middle = try await db.searchMessages("password invoice charged reset refunded", SearchOptions(metadata: ["priority": ["$gt": 1, "$lte": 2]]))
            #expect(Set(middle.map(\.item.metadata["priority"])) == [2])
            #expect(try await db.searchMessages("screenshot upload", SearchOptions(filter: ["hasImage": true])).count == 1)
            #expect(try await db.searchMessages("screenshot upload", SearchOptions(filter: ["hasImage": false])).isEmpty)
            let chronological = try await db.searchMessages("password invoice charged", SearchOptions(orderBy: "created", order: .asc))
            #expect(chronological.map(\.item.created) == chronological.map(\.item.created).sorted())
            #expect(try await db.searchMemories("plan", SearchOptions(tags: ["billing"])).map(\.item.id) == ["pref-plan"])
            #expect(try await db.searchMessages("password", SearchOptions(limit: 1)).count == 1)
            // The namespace scopes search like everything else.
            #expect(try await db.searchMessages("password", SearchOptions(namespace: "elsewhere")).isEmpty)
        }
    }

    @Test(arguments: [
        (["object": "message"] as SocketValue, "query", "MISSING_PARAMETER"),
        (["query": "x", "object": "thread"], "object", "INVALID_PARAMETER"),
        (["query": "?!", "object": "message"], "query", "INVALID_PARAMETER"),
        (["query": "x", "object": "message", "tags": []], "tags", "INVALID_PARAMETER"),
        (["query": "x", "object": "message", "tags": ["$any": ["a"]]], "tags.$any", "INVALID_PARAMETER"),
        (["query": "x", "object": "message", "filter": ["createdYear": 2025]], "filter.createdYear", "INVALID_PARAMETER"),
        (["query": "x", "object": "message", "filter": ["created": "the other day"]], "filter.created", "INVALID_PARAMETER"),
        (["query": "x", "object": "message", "filter": ["color": "red"]], "filter.color", "INVALID_PARAMETER"),
        (["query": "x", "object": "message", "metadata": ["a": ["$regex": "x"]]], "metadata.a.$regex", "INVALID_PARAMETER"),
        (["query": "x", "object": "message", "metadata": ["a": ["b": 1]]], "metadata.a.b", "INVALID_PARAMETER"),
        (["query": "x", "object": "message", "orderBy": "size"], "orderBy", "INVALID_PARAMETER"),
    ] as [(SocketValue, String, String)])
    func badSearchesNameTheField(body: SocketValue, field: String, code: String) async throws {
        try await withStorage { storage in
            let api = DialogueDBAPI(storage: storage)
            let error = await dialogueDBError { _ = try await api.handle(APIRequest("POST", "/search", body: body), context: RequestContext(projectId: "p")) }
            #expect(error?.code == code && error?.details.first?.field == field, "\(String(describing: error))")
        }
    }

    @Test func theResponseEchoesTheResolvedRequest() async throws {
        try await withStorage { storage in
            let api = DialogueDBAPI(storage: storage)
            let answer = try await api.handle(
                APIRequest("POST", "/search", body: ["query": "x", "object": "dialogue", "filter": ["created": "March 2025"]]), context: RequestContext(projectId: "p")
            )
            #expect(answer["results"] == [])
            #expect(answer["request"] == ["orderBy": "relevance", "order": "desc", "candidateOrderBy": "relevance",
                                          "filter": ["created": ["gte": "2025-03-01T00:00:00.000Z", "lt": "2025-04-01T00:00:00.000Z"]]])
        }
    }

    @Test func relativeDatesResolveAgainstNow() throws {
        let now = try #require(Timestamp.date("2026-11-27T12:00:00Z"))
        let lastWeek = try SearchQuery(json: ["query": "x", "object": "message", "filter": ["created": "last 7 days"]], now: now)
        #expect(lastWeek.created?.gte == "2026-11-20T12:00:00.000Z")
        let yesterday = try SearchQuery(json: ["query": "x", "object": "message", "filter": ["modified": "yesterday"]], now: now)
        #expect(yesterday.modified == SearchQuery.Range(gte: "2026-11-26T00:00:00.000Z", lt: "2026-11-27T00:00:00.000Z"))
    }
}

/// Hybrid ranking with an OpenAI-compatible embeddings endpoint on this machine: meaning decides between
/// candidates that share the same words.
@Suite("DialogueDB hybrid search")
struct HybridSearchTests {
    /// Two concepts: vehicles and food; every text is a vector of how much it speaks of each.
    static func vector(_ text: String) -> SocketValue {
        let words = SearchQuery.terms(of: text)
        let vehicles = words.filter { ["car", "automobile", "vehicle", "engine"].contains($0) }.count
        let food = words.filter { ["lunch", "meal", "food", "pizza"].contains($0) }.count
        return [.double(Double(vehicles)), .double(Double(food)), 0.1]
    }

    @Test func embeddingsRerankTheCandidates() async throws {
        let requests = Recorder<String>()
        let router = Router()
        router.post("/v1/embeddings") { request, _ -> Response in
            let body = try SocketValue(jsonText: String(buffer: try await request.body.collect(upTo: 1 << 20)))
            requests.append(body["model"]?.stringValue ?? "")
            let inputs = body["input"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let data = inputs.enumerated().map { index, text -> SocketValue in ["index": .int(Int64(index)), "embedding": Self.vector(text)] }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: SocketValue.object(["data": .array(data)]).jsonText)))
        }
        try await withLocalEndpoint(router) { url in
            try await withStorage { storage in
                let plain = ConversationStore(transport: EmbeddedTransport(api: DialogueDBAPI(storage: storage)))
                let dialogue = try await plain.createDialogue()
                let lunch = try await dialogue.saveMessage(MessageInput(role: "user", content: "There is a problem with my lunch order"))
                let engine = try await dialogue.saveMessage(MessageInput(role: "user", content: "The automobile has a problem"))
                let words = try await plain.searchMessages("car problem")
                #expect(words.map(\.item.id) == [lunch.id, engine.id], "words alone tie; the older one first")
                let hybrid = ConversationStore(transport: EmbeddedTransport(api: DialogueDBAPI(storage: storage, embeddings: OpenAIEmbeddings(baseURL: url, model: "concepts"))))
                let ranked = try await hybrid.searchMessages("car problem")
                #expect(ranked.map(\.item.id) == [engine.id, lunch.id], "car ~ automobile")
                #expect(ranked[0].relevance > ranked[1].relevance)
                #expect(requests.all.first == "concepts")
            }
        }
    }
}
