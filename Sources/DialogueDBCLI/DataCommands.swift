import ArgumentParser
import DialogueDBCore
import Foundation
import SocketIO

/// Options every list command shares.
struct Paging: ParsableArguments {
    @Option(help: "Items per page.") var limit: Int?
    @Option(help: "asc or desc (by creation).") var order: String?
    @Option(help: "The `next` cursor of the previous page.") var next: String?
    @Option(help: "A creation date prefix, e.g. 2025-01.") var created: String?
    @Option(help: "Created on or after (ISO 8601).") var startDate: String?
    @Option(help: "Created on or before (ISO 8601).") var endDate: String?

    var query: [String: String] {
        var query: [String: String] = [:]
        if let limit { query["limit"] = String(limit) }
        if let order { query["order"] = order }
        if let next { query["next"] = next }
        if let created { query["created"] = created }
        if let startDate { query["startDate"] = startDate }
        if let endDate { query["endDate"] = endDate }
        return query
    }
}

func namespaced(_ namespace: String?, _ query: [String: String] = [:]) -> [String: String] {
    var query = query
    if let namespace { query["namespace"] = namespace }
    return query
}

struct DialogueCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dialogue", abstract: "Dialogues.",
        subcommands: [Create.self, Get.self, List.self, Delete.self, End.self, UpdateState.self, UpdateTags.self]
    )

    struct Create: AsyncParsableCommand {
        @OptionGroup var target: Target
        @Option var id: String?
        @Option var namespace: String?
        @Option var label: String?
        @Option(help: "The parent dialogue.") var threadOf: String?
        @Option(help: "JSON object.") var state: String?
        @Option(help: "JSON object of flat values (immutable).") var metadata: String?
        @Option(help: "Comma-separated.") var tags: String?

        func run() async throws {
            var body: JSONObject = [:]
            for (name, value) in [("id", id), ("namespace", namespace), ("label", label), ("threadOf", threadOf)] {
                if let value { body[SocketKey(name)] = .string(value) }
            }
            if let state = try Output.json(state, flag: "state") { body["state"] = state }
            if let metadata = try Output.json(metadata, flag: "metadata") { body["metadata"] = metadata }
            if let tags = Output.list(tags) { body["tags"] = tags }
            try await target.run(APIRequest("POST", "/dialogue", body: .object(body)))
        }
    }

    struct Get: AsyncParsableCommand {
        @OptionGroup var target: Target
        @Argument var id: String
        @Option var namespace: String?
        func run() async throws { try await target.run(APIRequest("GET", "/dialogue/\(id)", query: namespaced(namespace))) }
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var target: Target
        @OptionGroup var paging: Paging
        @Option var namespace: String?
        @Option var threadOf: String?

        func run() async throws {
            var query = namespaced(namespace, paging.query)
            if let threadOf { query["threadOf"] = threadOf }
            try await target.run(APIRequest("GET", "/dialogue", query: query))
        }
    }

    struct Delete: AsyncParsableCommand {
        @OptionGroup var target: Target
        @Argument var id: String
        @Option var namespace: String?
        func run() async throws { try await target.run(APIRequest("DELETE", "/dialogue/\(id)", query: namespaced(namespace))) }
    }

    struct End: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End a dialogue: no messages can be added after.")
        @OptionGroup var target: Target
        @Argument var id: String
        @Option var namespace: String?
        func run() async throws { try await target.run(APIRequest("POST", "/dialogue/\(id)/end", query: namespaced(namespace))) }
    }

    struct UpdateState: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Merge into a dialogue's state.")
        @OptionGroup var target: Target
        @Argument var id: String
        @Option(help: "JSON object, merged into the current state.") var state: String
        @Option var namespace: String?

        func run() async throws {
            guard let change = try Output.json(state, flag: "state")?.objectValue else { throw ValidationError("--state must be a JSON object") }
            let transport = try await target.transport()
            let current = try? await transport.send(APIRequest("GET", "/dialogue/\(id)", query: namespaced(namespace)))["state"]?.objectValue
            await transport.close()
            guard let current else { throw ValidationError("Dialogue \(id) not found") }
            try await target.run(APIRequest("PUT", "/dialogue/\(id)", query: namespaced(namespace), body: ["state": .object(current.merging(change) { _, new in new })]))
        }
    }

    struct UpdateTags: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replace a dialogue's tags.")
        @OptionGroup var target: Target
        @Argument var id: String
        @Option(help: "Comma-separated.") var tags: String
        @Option var namespace: String?
        func run() async throws {
            try await target.run(APIRequest("PUT", "/dialogue/\(id)", query: namespaced(namespace), body: ["tags": Output.list(tags) ?? []]))
        }
    }
}

struct MessageCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "message", abstract: "Messages.", subcommands: [Add.self, List.self, Get.self, Delete.self])

    struct Add: AsyncParsableCommand {
        @OptionGroup var target: Target
        @Argument var dialogueId: String
        @Option var role: String
        @Option(help: "Text content.") var content: String?
        @Option(help: "Structured content (JSON object or array of objects).") var contentJson: String?
        @Flag(help: "Read the text content from standard input.") var stdin = false
        @Option var name: String?
        @Option(help: "Comma-separated.") var tags: String?
        @Option var namespace: String?

        func run() async throws {
            let value: SocketValue
            if let json = try Output.json(contentJson, flag: "content-json") {
                value = json
            } else if stdin {
                guard isatty(0) == 0 else { throw ValidationError("--stdin needs piped input") }
                value = .string(String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self))
            } else if let content {
                value = .string(content)
            } else {
                throw ValidationError("give --content, --content-json or --stdin")
            }
            var body: JSONObject = ["dialogueId": .string(dialogueId), "role": .string(role), "content": value]
            if let name { body["name"] = .string(name) }
            if let tags = Output.list(tags) { body["tags"] = tags }
            if let namespace { body["namespace"] = .string(namespace) }
            try await target.run(APIRequest("POST", "/message", body: .object(body)))
        }
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var target: Target
        @Argument var dialogueId: String
        @OptionGroup var paging: Paging
        @Option var namespace: String?
        func run() async throws {
            var query = namespaced(namespace, paging.query)
            query["dialogueId"] = dialogueId
            try await target.run(APIRequest("GET", "/messages", query: query))
        }
    }

    struct Get: AsyncParsableCommand {
        @OptionGroup var target: Target
        @Argument var dialogueId: String
        @Argument var messageId: String
        @Option var namespace: String?
        func run() async throws {
            try await target.run(APIRequest("GET", "/message/\(messageId)", query: namespaced(namespace, ["dialogueId": dialogueId])))
        }
    }

    struct Delete: AsyncParsableCommand {
        @OptionGroup var target: Target
        @Argument var dialogueId: String
        @Argument var messageId: String
        @Option var namespace: String?
        func run() async throws {
            try await target.run(APIRequest("DELETE", "/message/\(messageId)", query: namespaced(namespace, ["dialogueId": dialogueId])))
        }
    }
}

struct MemoryCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "memory", abstract: "Memories.", subcommands: [Create.self, Get.self, List.self, Delete.self, Update.self])

    struct Create: AsyncParsableCommand {
        @OptionGroup var target: Target
        @Option(help: "A text value.") var value: String?
        @Option(help: "A JSON value.") var valueJson: String?
        @Option var id: String?
        @Option var namespace: String?
        @Option var label: String?
        @Option var description: String?
        @Option(help: "Comma-separated.") var tags: String?
        @Option(help: "JSON object of flat values.") var metadata: String?

        func run() async throws {
            guard let stored = try Output.json(valueJson, flag: "value-json") ?? value.map(SocketValue.string) else {
                throw ValidationError("give --value or --value-json")
            }
            var body: JSONObject = ["value": stored]
            for (name, field) in [("id", id), ("namespace", namespace), ("label", label), ("description", description)] {
                if let field { body[SocketKey(name)] = .string(field) }
            }
            if let tags = Output.list(tags) { body["tags"] = tags }
            if let metadata = try Output.json(metadata, flag: "metadata") { body["metadata"] = metadata }
            try await target.run(APIRequest("POST", "/memory", body: .object(body)))
        }
    }

    struct Get: AsyncParsableCommand {
        @OptionGroup var target: Target
        @Argument var id: String
        @Option var namespace: String?
        func run() async throws { try await target.run(APIRequest("GET", "/memory/\(id)", query: namespaced(namespace))) }
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var target: Target
        @OptionGroup var paging: Paging
        @Option var namespace: String?
        func run() async throws { try await target.run(APIRequest("GET", "/memory", query: namespaced(namespace, paging.query))) }
    }

    struct Delete: AsyncParsableCommand {
        @OptionGroup var target: Target
        @Argument var id: String
        @Option var namespace: String?
        func run() async throws { try await target.run(APIRequest("DELETE", "/memory/\(id)", query: namespaced(namespace))) }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replace a memory's tags.")
        @OptionGroup var target: Target
        @Argument var id: String
        @Option(help: "Comma-separated.") var tags: String
        @Option var namespace: String?
        func run() async throws {
            try await target.run(APIRequest("PUT", "/memory/\(id)", query: namespaced(namespace), body: ["tags": Output.list(tags) ?? []]))
        }
    }
}

struct Search: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Search dialogues, messages or memories by relevance.")
    @OptionGroup var target: Target
    @Argument(help: "dialogues, messages or memories.") var object: String
    @Argument var query: String
    @Option var namespace: String?
    @Option var limit: Int?
    @Option(help: "Comma-separated (any of them).") var tags: String?
    @Option(help: "JSON object: per key a value, a list, or operators ($eq $ne $in $nin $gt $gte $lt $lte).") var metadata: String?
    @Option(help: "JSON object: created, modified (ISO dates, words such as \"last 30 days\", or {gte, lt}), hasImage.") var filter: String?
    @Option(help: "relevance, created or modified.") var orderBy: String?
    @Option(help: "asc or desc.") var order: String?

    func run() async throws {
        let kinds = ["dialogues": "dialogue", "messages": "message", "memories": "memory"]
        guard let kind = kinds[object] ?? (kinds.values.contains(object) ? object : nil) else { throw ValidationError("search dialogues, messages or memories") }
        var body: JSONObject = ["query": .string(query), "object": .string(kind)]
        if let namespace { body["namespace"] = .string(namespace) }
        if let limit { body["limit"] = .int(Int64(limit)) }
        if let tags = Output.list(tags) { body["tags"] = tags }
        if let metadata = try Output.json(metadata, flag: "metadata") { body["metadata"] = metadata }
        if let filter = try Output.json(filter, flag: "filter") { body["filter"] = filter }
        if let orderBy { body["orderBy"] = .string(orderBy) }
        if let order { body["order"] = .string(order) }
        try await target.run(APIRequest("POST", "/search", body: .object(body)))
    }
}

struct Summarize: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Summarize a dialogue (or compact it), optionally waiting for the result.")
    @OptionGroup var target: Target
    @Argument var dialogueId: String
    @Flag(help: "Compact: the summary replaces all but the newest messages in the message list.") var compact = false
    @Option(help: "With --compact: messages kept as they are.") var keepRecent = 10
    @Option var startId: String?
    @Option var endId: String?
    @Option var template: String?
    @Option var namespace: String?
    @Flag(help: "Wait until the summary is completed or failed, and print it (always, on a local database).") var wait = false

    func run() async throws {
        var body: JSONObject = ["dialogueId": .string(dialogueId)]
        if compact {
            body["compact"] = true
            body["keepRecent"] = .int(Int64(keepRecent))
        }
        for (name, value) in [("startId", startId), ("endId", endId), ("template", template), ("namespace", namespace)] {
            if let value { body[SocketKey(name)] = .string(value) }
        }
        // A local database has no server to finish the summary after this process exits: wait for it.
        let waits = wait || target.local.isSet
        let query = namespaced(namespace, ["dialogueId": dialogueId])
        try await target.run { transport throws(DialogueDBError) in
            var summary = try await transport.send(APIRequest("POST", "/summary", body: .object(body)))
            guard waits, let id = summary["id"]?.stringValue else { return summary }
            while summary["status"] == "processing" {
                try? await Task.sleep(for: .milliseconds(100))
                summary = try await transport.send(APIRequest("GET", "/summary/\(id)", query: query))
            }
            return summary
        }
    }
}
