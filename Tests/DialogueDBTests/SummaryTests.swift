import DialogueDB
import DialogueDBCore
import DialogueDBServer
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import SocketIO
import TestSupport
import Testing

/// Summaries (processing → completed/failed, pollable) and compaction (the summary stands in for the older
/// messages in the message list, the originals kept), embedded and REST, on SQLite and PostgreSQL.
@Suite("DialogueDB summaries and compaction")
struct SummaryTests {
    static func completed(_ db: ConversationStore, _ summary: SummaryRecord) async throws -> SummaryRecord {
        var current = summary
        try await eventually("the summary finishes") {
            current = (try? await db.getSummary(summary.id, dialogueId: summary.dialogueId, namespace: summary.namespace)) ?? current
            return current.status != .processing
        }
        return current
    }

    static let turns = [
        MessageInput(role: "user", content: "My order 1234 arrived with a cracked screen."),
        MessageInput(role: "assistant", content: "Sorry about the cracked screen. I have opened a replacement for order 1234."),
        MessageInput(role: "user", content: "Will the replacement ship this week?"),
        MessageInput(role: "assistant", content: "Yes, the replacement ships on Thursday with express delivery."),
        MessageInput(role: "user", content: "Thanks, and the cracked one?"),
        MessageInput(role: "assistant", content: "Keep it; no return is needed."),
    ]

    @Test(arguments: Backend.allCases)
    func summarizeARange(backend: Backend) async throws {
        try await withStore(backend) { db in
            let dialogue = try await db.createDialogue(DialogueInput(namespace: "shop"))
            let saved = try await dialogue.saveMessages(Self.turns)
            let started = try await dialogue.summarize(startId: saved[0].id, endId: saved[3].id)
            #expect(started.status == .processing && started.messageCount == 4 && started.provider == "extractive")
            #expect(started.startId == saved[0].id && started.endId == saved[3].id)
            let done = try await Self.completed(db, started)
            #expect(done.status == .completed)
            let content = try #require(done.content)
            #expect(content.contains("replacement") && content.contains("cracked screen"))
            #expect(!content.contains("no return is needed"), "only the range is summarized")
            #expect(try await dialogue.loadMessages().count == 6, "messages are never changed by a summary")
            let again = try await dialogue.summarize(startId: saved[0].id, endId: saved[3].id)
            #expect(try await Self.completed(db, again).content == content, "the extractive summary is deterministic")
            let missing = await dialogueDBError { _ = try await dialogue.summarize(startId: "not-a-message") }
            #expect(missing?.code == "INVALID_PARAMETER" && missing?.details.first?.field == "startId")
        }
    }

    @Test(arguments: Backend.allCases)
    func compactReplacesTheOlderRangeInTheList(backend: Backend) async throws {
        try await withStore(backend) { db in
            let dialogue = try await db.createDialogue()
            let saved = try await dialogue.saveMessages(Self.turns)
            let compaction = try await Self.completed(db, try await dialogue.compact(keepRecent: 2))
            #expect(compaction.compact && compaction.messageCount == 4 && compaction.endId == saved[3].id)
            let view = try await dialogue.loadMessages()
            #expect(view.map(\.id) == [compaction.id, saved[4].id, saved[5].id])
            #expect(view.first?.role == "system" && view.first?.content.stringValue == compaction.content && view.first?.tags == ["summary"])
            // Paging through the compacted view, and newest first.
            var paged = try await dialogue.loadMessages(limit: 2).map(\.id)
            while dialogue.hasMoreMessages { paged += try await dialogue.loadMessages(limit: 2, next: true).map(\.id) }
            #expect(paged == view.map(\.id))
            #expect(try await dialogue.loadMessages(order: .desc).map(\.id) == [saved[5].id, saved[4].id, compaction.id])
            // The originals are kept.
            #expect(try await dialogue.loadMessages(full: true).map(\.id) == saved.map(\.id))
            #expect(try await dialogue.getMessage(saved[0].id).content == Self.turns[0].content)
            // New messages come after the summary.
            let later = try await dialogue.saveMessage(MessageInput(role: "user", content: "One more thing."))
            #expect(try await dialogue.loadMessages().map(\.id) == [compaction.id, saved[4].id, saved[5].id, later.id])
            let nothing = await dialogueDBError { _ = try await db.createDialogue().compact() }
            #expect(nothing?.statusCode == 400)
        }
    }

    /// An OpenAI-compatible chat endpoint on this machine: what the server sends it, what it answers.
    @Test func anOpenAICompatibleEndpointWritesTheSummary() async throws {
        let received = Recorder<String>()
        let router = Router()
        router.post("/v1/chat/completions") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            received.append(String(buffer: body))
            let answer: SocketValue = ["choices": [["message": ["role": "assistant", "content": "A replacement for order 1234 ships Thursday."]]]]
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer.jsonText)))
        }
        try await withLocalEndpoint(router) { url in
            try await withStorage { storage in
                let api = DialogueDBAPI(storage: storage, summarizer: ChatCompletionsSummarizer(baseURL: url, model: "test-model", apiKey: "sk-local"))
                let db = ConversationStore(transport: EmbeddedTransport(api: api))
                let dialogue = try await db.createDialogue()
                try await dialogue.saveMessages(Self.turns)
                let done = try await Self.completed(db, try await dialogue.summarize())
                #expect(done.status == .completed && done.provider == "openai-compatible" && done.model == "test-model")
                #expect(done.content == "A replacement for order 1234 ships Thursday.")
                let request = try SocketValue(jsonText: try #require(received.all.first))
                #expect(request["model"] == "test-model")
                #expect(request["messages"]?.arrayValue?.last?["content"]?.stringValue?.contains("user: My order 1234 arrived") == true)
                // A summarizer that fails leaves a failed summary with the reason.
                let broken = ConversationStore(transport: EmbeddedTransport(api: DialogueDBAPI(
                    storage: storage, summarizer: ChatCompletionsSummarizer(baseURL: url + "/missing", model: "m")
                )))
                let failed = try await Self.completed(broken, try #require(try await broken.getDialogue(dialogue.id)).summarize())
                #expect(failed.status == .failed && failed.error?.contains("404") == true)
            }
        }
    }
}
