import DialogueDB
import DialogueDBCore
import SocketIO
import Testing

/// The SDK's surface, the same cases embedded on a file and through the REST server.
@Suite("DialogueDB SDK (embedded and REST)")
struct ConversationStoreTests {
    @Test(arguments: Backend.allCases)
    func createGetAndNamespaces(backend: Backend) async throws {
        try await withStore(backend) { db in
            let dialogue = try await db.createDialogue(DialogueInput(
                namespace: "user_123", label: "Onboarding",
                messages: [MessageInput(role: "system", content: "You are a helpful assistant."), MessageInput(role: "user", content: "Hello!")],
                state: ["topic": "onboarding"], metadata: ["channel": "web", "tier": 2], tags: ["support"]
            ))
            #expect(dialogue.id.count == 26, "a ULID")
            #expect(dialogue.status == .active && dialogue.totalMessages == 2 && dialogue.messages.map(\.role) == ["system", "user"])
            #expect(dialogue.state == ["topic": "onboarding"] && dialogue.metadata == ["channel": "web", "tier": 2] && dialogue.tags == ["support"])
            #expect(dialogue.record.projectId.isEmpty == false && dialogue.record.requestId.isEmpty == false)
            let found = try #require(try await db.getDialogue(dialogue.id, namespace: "user_123"))
            #expect(found.record == dialogue.record)
            #expect(found.messages.map(\.content) == ["You are a helpful assistant.", "Hello!"], "the first messages come with it")
            #expect(try await db.getDialogue(dialogue.id) == nil, "the namespace is part of the identity")
            #expect(try await db.getDialogue(dialogue.id, namespace: "other") == nil)
            #expect(try await db.getDialogue("missing-id") == nil)
            let error = await dialogueDBError { _ = try await db.createDialogue(DialogueInput(id: dialogue.id, namespace: "user_123")) }
            #expect(error?.statusCode == 409 && error?.code == "DUPLICATE_ID")
            // The same id in another namespace is another dialogue.
            #expect(try await db.createDialogue(DialogueInput(id: dialogue.id)).namespace == nil)
            try await db.deleteDialogue(dialogue.id, namespace: "user_123")
            #expect(try await db.getDialogue(dialogue.id, namespace: "user_123") == nil)
        }
    }

    @Test(arguments: Backend.allCases)
    func messagesPagesAndCursorsAcrossInserts(backend: Backend) async throws {
        try await withStore(backend) { db in
            let dialogue = try await db.createDialogue()
            let first = try await dialogue.saveMessage(MessageInput(role: "user", content: "m1", tags: ["a"], metadata: ["tokens": 3]))
            #expect(first.dialogueId == dialogue.id && first.contentLength == 2 && first.metadata == ["tokens": 3])
            let batch = try await dialogue.saveMessages((2...5).map { MessageInput(role: "assistant", content: .string("m\($0)")) })
            #expect(batch.count == 4 && dialogue.totalMessages == 5)
            let reloaded = try #require(try await db.getDialogue(dialogue.id))
            #expect(reloaded.totalMessages == 5 && reloaded.record.lastMessageCreated != nil)
            // Pages of two, with a message added between pages: nothing skipped, nothing twice.
            var seen = try await reloaded.loadMessages(limit: 2).map(\.content)
            #expect(reloaded.hasMoreMessages)
            try await reloaded.saveMessage(MessageInput(role: "user", content: "m6"))
            while reloaded.hasMoreMessages { seen += try await reloaded.loadMessages(limit: 2, next: true).map(\.content) }
            #expect(seen == ["m1", "m2", "m3", "m4", "m5", "m6"])
            #expect(reloaded.messages.map(\.content) == seen, "next pages are appended")
            #expect(try await reloaded.loadMessages(limit: 3, order: .desc).map(\.content) == ["m6", "m5", "m4"], "recent N")
            #expect(try await reloaded.getMessage(first.id).content == "m1")
            #expect(try await reloaded.saveMessageTags(first.id, ["b", "c"]).tags == ["b", "c"])
            try await reloaded.deleteMessage(first.id)
            #expect(try await db.getDialogue(dialogue.id)?.totalMessages == 5)
            let missing = await dialogueDBError { _ = try await reloaded.getMessage(first.id) }
            #expect(missing?.statusCode == 404 && missing?.type == "not_found")
        }
    }

    @Test(arguments: Backend.allCases)
    func stateTagsAndLabelAreBatchedUntilSave(backend: Backend) async throws {
        try await withStore(backend) { db in
            let dialogue = try await db.createDialogue(DialogueInput(state: ["a": 1]))
            #expect(!dialogue.isDirty)
            dialogue.setState(["step": 2]).setState(["topic": "billing"])
            dialogue.tags = ["vip", "priority"]
            dialogue.label = "Support Ticket #42"
            #expect(dialogue.isDirty)
            #expect(try await db.getDialogue(dialogue.id)?.state == ["a": 1], "nothing sent before save()")
            try await dialogue.save()
            #expect(!dialogue.isDirty)
            let stored = try #require(try await db.getDialogue(dialogue.id))
            #expect(stored.state == ["a": 1, "step": 2, "topic": "billing"] && stored.tags == ["vip", "priority"] && stored.label == "Support Ticket #42")
            try await stored.saveState(["step": 3])
            try await stored.saveTags(["done"])
            let again = try #require(try await db.getDialogue(dialogue.id))
            #expect(again.state["step"] == 3 && again.tags == ["done"] && again.metadata == [:])
        }
    }

    @Test(arguments: Backend.allCases)
    func threadsEndAndGetOrCreate(backend: Backend) async throws {
        try await withStore(backend) { db in
            let parent = try await db.getOrCreateDialogue(id: "session-abc", namespace: "user_9")
            #expect(parent.id == "session-abc" && parent.namespace == "user_9")
            #expect(try await db.getOrCreateDialogue(id: "session-abc", namespace: "user_9").record.created == parent.record.created, "found, not made again")
            let thread = try await parent.createThread(DialogueInput(label: "reasoning", tags: ["subagent"]))
            #expect(thread.threadOf == parent.id && thread.namespace == "user_9" && parent.threadCount == 1)
            #expect(try await db.getDialogue(parent.id, namespace: "user_9")?.threadCount == 1)
            #expect(try await parent.getThreads().map(\.id) == [thread.id])
            try await thread.saveMessage(MessageInput(role: "system", content: "Analyzing…"))
            try await thread.end()
            #expect(thread.status == .ended && thread.record.endedAt != nil)
            let refused = await dialogueDBError { try await thread.saveMessage(MessageInput(role: "user", content: "late")) }
            #expect(refused?.statusCode == 409 && refused?.type == "conflict" && refused?.code == "DIALOGUE_ENDED")
            #expect(try await db.getDialogue(thread.id, namespace: "user_9")?.totalMessages == 1)
        }
    }

    @Test(arguments: Backend.allCases)
    func listingPagesFiltersAndOrders(backend: Backend) async throws {
        try await withStore(backend) { db in
            var ids: [String] = []
            for day in 1...5 {
                ids.append(try await db.createDialogue(DialogueInput(created: "2025-01-0\(day)T10:00:00Z")).id)
            }
            _ = try await db.createDialogue(DialogueInput(namespace: "elsewhere", created: "2025-01-03T10:00:00Z"))
            _ = try await db.createDialogue(DialogueInput(created: "2025-02-01T10:00:00Z"))
            var listed: [String] = []
            var options = ListOptions(limit: 2, order: .asc, created: "2025-01")
            repeat {
                let page = try await db.listDialogues(options)
                listed += page.items.map(\.id)
                options.next = page.next
            } while options.next != nil
            #expect(listed == ids, "the January dialogues of the default namespace, oldest first, in pages of two")
            let newest = try await db.listDialogues(ListOptions(limit: 1))
            #expect(newest.items.first?.created.hasPrefix("2025-02-01") == true && newest.next != nil, "newest first by default")
            let range = try await db.listDialogues(ListOptions(order: .asc, startDate: "2025-01-02", endDate: "2025-01-04"))
            #expect(range.items.map(\.id) == Array(ids[1...3]), "an end date alone includes its day")
            #expect(try await db.listDialogues(ListOptions(namespace: "elsewhere")).items.count == 1)
        }
    }

    @Test(arguments: Backend.allCases)
    func memories(backend: Backend) async throws {
        try await withStore(backend) { db in
            let memory = try await db.createMemory(MemoryInput(id: "pref-theme", namespace: "user_1", label: "Theme", value: ["dark": true], tags: ["ui"]))
            #expect(memory.value == ["dark": true] && memory.namespace == "user_1")
            #expect(try await db.getMemory("pref-theme", namespace: "user_1")?.label == "Theme")
            #expect(try await db.getMemory("pref-theme") == nil)
            let duplicate = await dialogueDBError { _ = try await db.createMemory(MemoryInput(id: "pref-theme", namespace: "user_1", value: 1)) }
            #expect(duplicate?.code == "DUPLICATE_ID" && duplicate?.statusCode == 409)
            _ = try await db.createMemory(MemoryInput(namespace: "user_1", value: "likes tea"))
            #expect(try await db.listMemories(ListOptions(namespace: "user_1")).items.count == 2)
            #expect(try await db.saveMemoryTags("pref-theme", ["ui", "display"], namespace: "user_1").tags == ["ui", "display"])
            try await db.deleteMemory("pref-theme", namespace: "user_1")
            #expect(try await db.getMemory("pref-theme", namespace: "user_1") == nil)
            let missingValue = await dialogueDBError { _ = try await db.createMemory(MemoryInput(value: .null)) }
            #expect(missingValue?.code == "MISSING_PARAMETER")
        }
    }

    /// Many writers on one dialogue: every message counted once.
    @Test(arguments: Backend.allCases)
    func concurrentWritersKeepTotalMessagesExact(backend: Backend) async throws {
        try await withStore(backend) { db in
            let dialogue = try await db.createDialogue()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        for n in 0..<10 { try await dialogue.saveMessage(MessageInput(role: "user", content: .string("w\(writer)-\(n)"))) }
                    }
                }
                try await group.waitForAll()
            }
            let stored = try #require(try await db.getDialogue(dialogue.id))
            #expect(stored.totalMessages == 80)
            var count = try await stored.loadMessages(limit: 100).count
            while stored.hasMoreMessages { count += try await stored.loadMessages(limit: 100, next: true).count }
            #expect(count == 80)
        }
    }
}
