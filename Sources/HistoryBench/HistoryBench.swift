import DialogueEvents
import DialogueHistory
import DialogueHistoryPostgres
import DialogueHistorySQLite
import Foundation
import Logging

/// Append throughput and page latency of the history stores:
/// `swift run -c release history-bench sqlite|postgres [events] [appenders]` (PostgreSQL from
/// `$DIALOGUE_POSTGRES_URL`). Appenders each append one event at a time and wait for it, as triggers do;
/// the store's group commit batches what arrives together. Then 2000 random pages of 50, newest first.
@main
enum HistoryBench {
    static func main() async throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let kind = arguments.first, ["sqlite", "postgres"].contains(kind) else {
            print("usage: history-bench sqlite|postgres [events=1000000] [appenders=64]")
            return
        }
        let total = arguments.count > 1 ? Int(arguments[1]) ?? 1_000_000 : 1_000_000
        let appenders = arguments.count > 2 ? Int(arguments[2]) ?? 64 : 64
        var logger = Logger(label: "history-bench")
        logger.logLevel = .warning
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("history-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store: any HistoryStore = switch kind {
        case "sqlite": try await SQLiteHistoryStore(path: directory.appendingPathComponent("bench.sqlite").path, logger: logger)
        default:
            try PostgresHistoryStore(
                url: ProcessInfo.processInfo.environment["DIALOGUE_POSTGRES_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres",
                schema: "bench_\(UUID().uuidString.prefix(8).lowercased())", logger: logger
            )
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            _ = try await store.open()
            let rooms = max(100, appenders)
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { appends in
                for appender in 0..<appenders {
                    appends.addTask {
                        // Each room belongs to one appender, so its offsets are appended in order.
                        let owned = Array(stride(from: appender, to: max(rooms, appenders), by: appenders)).map { $0 % rooms }
                        var offsets: [Int: Int64] = [:]
                        var index = appender
                        var turn = 0
                        while index < total {
                            let room = owned[turn % owned.count]
                            offsets[room, default: 0] += 1
                            try await store.append([event(room: room, offset: offsets[room]!, index: index)])
                            index += appenders
                            turn += 1
                        }
                    }
                }
                try await appends.waitForAll()
            }
            let appendSeconds = seconds(ContinuousClock.now - started)
            var latencies: [Double] = []
            for _ in 0..<2000 {
                let room = Int.random(in: 0..<rooms)
                let name = Bool.random() ? "message" : "reaction"
                let count = try await store.count(roomId: "room-\(room)", eventName: name)
                let start = Int.random(in: 0..<max(1, count - 50))
                let t0 = ContinuousClock.now
                let page = try await store.events(roomId: "room-\(room)", eventName: name, start: start, end: start + 50)
                latencies.append(seconds(ContinuousClock.now - t0) * 1000)
                precondition(!page.isEmpty || count == 0)
            }
            latencies.sort()
            print(String(
                format: "%@: %d events by %d appenders in %.1f s = %.0f events/s; page of 50: p50 %.2f ms, p99 %.2f ms",
                kind, total, appenders, appendSeconds, Double(total) / appendSeconds,
                latencies[latencies.count / 2], latencies[latencies.count * 99 / 100]
            ))
            await store.close()
            group.cancelAll()
        }
    }

    static func event(room: Int, offset: Int64, index: Int) -> StoredEvent {
        StoredEvent(offset: offset, epoch: 1, message: AnyEventMessage(
            event: index.isMultiple(of: 4) ? "reaction" : "message", roomId: "room-\(room)",
            data: ["text": .string("message number \(index) with a little text"), "senderId": .string("user-\(index % 1000)")],
            from: "user-\(index % 1000)", timestamp: 1_795_000_000_000 + Int64(index)
        ))
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
