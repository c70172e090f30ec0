import DialogueDBCore
import DialogueDBPostgres
import DialogueDBSQLite
import Foundation
import Logging
import SocketIO

/// `dialoguedb-bench sqlite|postgres MESSAGES [BATCH]`: append throughput (batched and single) and search
/// latency through the API layer (validation included), on synthetic conversations.
///
///     swift build -c release --product dialoguedb-bench
///     .build/release/dialoguedb-bench sqlite 1000000 100
///     DIALOGUE_POSTGRES_URL=postgres://… .build/release/dialoguedb-bench postgres 1000000 100
@main
enum DialogueDBBench {
    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 3, let total = Int(arguments[2]) else {
            print("usage: dialoguedb-bench sqlite|postgres MESSAGES [BATCH]")
            exit(2)
        }
        let batch = arguments.count > 3 ? Int(arguments[3]) ?? 100 : 100
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let storage: any ConversationStorage
        var pool: Task<Void, Never>?
        var cleanup: () async -> Void = {}
        var beforeSearch: () async throws -> Void = {}
        switch arguments[1] {
        case "sqlite":
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dialoguedb-bench-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let sqlite = try await SQLiteConversationStorage(path: folder.appendingPathComponent("bench.sqlite").path, logger: logger)
            storage = sqlite
            cleanup = {
                await sqlite.close()
                try? FileManager.default.removeItem(at: folder)
            }
        case "postgres":
            guard let url = ProcessInfo.processInfo.environment["DIALOGUE_POSTGRES_URL"] else { print("set DIALOGUE_POSTGRES_URL"); exit(2) }
            let postgres = try PostgresConversationStorage(url: url, schema: "ddb_bench_\(UInt32.random(in: 0 ... .max))", logger: logger)
            pool = Task { await postgres.run() }
            storage = postgres
            cleanup = { try? await postgres.dropSchema() }
            // In production autovacuum refreshes the statistics as the table grows; the bench does it at once.
            beforeSearch = { try await postgres.analyze() }
        default:
            print("usage: dialoguedb-bench sqlite|postgres MESSAGES [BATCH]")
            exit(2)
        }
        try await storage.migrate()
        let api = DialogueDBAPI(storage: storage)
        let context = RequestContext(projectId: "bench")
        var random = SystemRandomNumberGenerator()
        let vocabulary = (0..<4000).map { index in Self.word(index) }
        func sentence() -> String {
            (0..<Int.random(in: 8...24, using: &random)).map { _ in
                // Roughly Zipf: low indices are common words.
                vocabulary[min(vocabulary.count - 1, Int(pow(Double.random(in: 0..<1, using: &random), 3) * Double(vocabulary.count)))]
            }.joined(separator: " ")
        }
        let dialogues = max(1, min(1000, total / 1000))
        var ids: [String] = []
        for _ in 0..<dialogues {
            let created = try await api.handle(APIRequest("POST", "/dialogue", body: ["label": .string(sentence())]), context: context)
            ids.append(created["id"]!.stringValue!)
        }
        let dialogueIDs = ids
        // Batched appends: four writers, each its own dialogues.
        let writers = 4
        let perWriter = total / writers
        let bodies = (0..<64).map { _ in SocketValue.array((0..<batch).map { _ in ["role": "user", "content": .string(sentence())] }) }
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    var written = 0, round = 0
                    while written < perWriter {
                        let dialogue = dialogueIDs[(writer + round * writers) % dialogueIDs.count]
                        _ = try await api.handle(APIRequest("POST", "/messages", query: ["dialogueId": dialogue], body: bodies[round % bodies.count]), context: context)
                        written += batch
                        round += 1
                    }
                }
            }
            try await group.waitForAll()
        }
        let batchedSeconds = Self.seconds(ContinuousClock.now - started)
        let appended = perWriter / batch * batch * writers
        print(String(format: "batched append: %d messages in batches of %d, %.1f s, %.0f messages/s", appended, batch, batchedSeconds, Double(appended) / batchedSeconds))
        // Single appends.
        let singles = 5000
        let singleStart = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for n in 0..<(singles / writers) {
                        _ = try await api.handle(APIRequest("POST", "/message", body: [
                            "dialogueId": .string(dialogueIDs[(writer + n) % dialogueIDs.count]), "role": "assistant", "content": "a single reply",
                        ]), context: context)
                    }
                }
            }
            try await group.waitForAll()
        }
        let singleSeconds = Self.seconds(ContinuousClock.now - singleStart)
        print(String(format: "single append: %d messages, %.1f s, %.0f messages/s", singles, singleSeconds, Double(singles) / singleSeconds))
        try await beforeSearch()
        // Search: two or three words, of every frequency.
        var latencies: [Double] = []
        for _ in 0..<300 {
            let words = (0..<Int.random(in: 2...3, using: &random)).map { _ in vocabulary[Int.random(in: 0..<vocabulary.count, using: &random)] }
            let start = ContinuousClock.now
            _ = try await api.handle(APIRequest("POST", "/search", body: ["query": .string(words.joined(separator: " ")), "object": "message", "limit": 10]), context: context)
            latencies.append(Self.seconds(ContinuousClock.now - start) * 1000)
        }
        latencies.sort()
        func percentile(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        print(String(format: "message search (limit 10), 300 queries: p50 %.1f ms, p99 %.1f ms, max %.1f ms", percentile(0.5), percentile(0.99), latencies.last ?? 0))
        await cleanup()
        pool?.cancel()
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// A pronounceable word for each index.
    static func word(_ index: Int) -> String {
        let consonants = Array("bcdfghklmnprstvz"), vowels = Array("aeiou")
        var value = index, text = ""
        repeat {
            text += String(consonants[value % consonants.count]) + String(vowels[(value / consonants.count) % vowels.count])
            value /= consonants.count * vowels.count
        } while value > 0
        return text + "n"
    }
}
