import Dialogue
import DialogueClient
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A `dialogue serve` process on a free port, with its output collected.
final class ServeProcess: Sendable {
    let process: Process
    private let output = Recorder<String>()

    /// The `dialogue` executable built beside the test bundle (`swift build --build-tests` builds it).
    static var executable: String? {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [besideTests.appendingPathComponent("dialogue"), besideTests.deletingLastPathComponent().appendingPathComponent("dialogue"),
                          InteropPython.packageRoot.appendingPathComponent(".build/debug/dialogue")]
        return candidates.map(\.path).first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    init(executable: String, data: URL, postgres: (url: String, schema: String)?, extraArguments: [String] = []) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["serve", "--port", "0", "--data", data.path, "--log-level", "notice"]
            + (postgres.map { ["--postgres", $0.url, "--postgres-schema", $0.schema] } ?? []) + extraArguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [output] handle in
            output.append(String(decoding: handle.availableData, as: UTF8.self))
        }
        try process.run()
    }

    /// Everything it printed so far.
    var printed: String { output.all.joined() }

    /// The URL it serves, once it says so.
    func url() async throws -> String {
        var found: String?
        try await eventually("the server's address") {
            let text = output.all.joined()
            found = text.range(of: #"open http://127\.0\.0\.1:\d+/"#, options: .regularExpression).map { String(text[$0].dropFirst(5).dropLast()) }
            return found != nil || !process.isRunning
        }
        guard let found else { throw TestTimeout(what: "an address; the server printed: \(output.all.joined())") }
        return found
    }

    func kill() {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, as an orchestrator stops a server: it must exit, and with status 0.
    func stop() async throws {
        process.terminate()
        try await eventually("the server exits on SIGTERM; it printed: \(output.all.joined())") { !process.isRunning }
        #expect(process.terminationStatus == 0, "graceful shutdown exits 0")
    }

    /// Whatever happened, no server outlives its test.
    func ensureStopped() {
        if process.isRunning { kill() }
    }
}

@Suite("Durability across a crash")
struct CrashDurabilityTests {
    /// Triggers messages one after another, `kill -9`s the server in the middle of the stream, restarts it on
    /// the same data folder, and checks that every message acknowledged before the crash is in the history,
    /// in order, once.
    @Test(.timeLimit(.minutes(2)), arguments: [StoreKind.sqlite, .postgres])
    func everyAcknowledgedEventSurvivesKillMinus9(store: StoreKind) async throws {
        let executable = try #require(ServeProcess.executable, "the dialogue executable is not built: run ./scripts/test (swift build --build-tests)")
        var postgres: (url: String, schema: String)?
        if store == .postgres {
            let url = try #require(StoreKind.postgresURL, "DIALOGUE_POSTGRES_URL is not set: run ./scripts/test (it starts a throwaway PostgreSQL)")
            postgres = (url, "crash_\(UUID().uuidString.prefix(8).lowercased())")
        }
        try await withTemporaryDirectory { data in
            let first = try ServeProcess(executable: executable, data: data, postgres: postgres)
            defer { first.ensureStopped() }
            let acknowledged = Recorder<Int>()
            let url = try await first.url()
            let client = DialogueClient(configuration: .init(url: url, auth: ["userId": "writer"], reconnection: false), logger: testLogger)
            let room = try await client.join("general")
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for n in 1... {
                        do {
                            try await room.trigger("message", ["text": .string("m\(n)"), "senderId": "writer"])
                            acknowledged.append(n)
                        } catch {
                            return
                        }
                    }
                }
                group.addTask {
                    _ = try? await acknowledged.wait { $0.count >= 60 }
                    first.kill()
                }
            }
            await client.disconnect()
            let before = acknowledged.all
            #expect(before.count >= 60, "enough acknowledged writes to make the crash land mid-stream")

            let second = try ServeProcess(executable: executable, data: data, postgres: postgres)
            defer { second.ensureStopped() }
            let reader = DialogueClient(configuration: .init(url: try await second.url(), auth: ["userId": "reader"]), logger: testLogger)
            let general = try await reader.join("general")
            var stored: [AnyEventMessage] = []
            while true {
                let page = try await general.getHistory("message", start: stored.count, end: stored.count + 100)
                if page.isEmpty { break }
                stored += page
            }
            await reader.disconnect()
            try await second.stop()
            let texts = stored.reversed().compactMap { $0.data["text"]?.stringValue }
            let numbers = texts.compactMap { Int($0.dropFirst()) }
            #expect(Set(before).isSubset(of: Set(numbers)), "every acknowledged message is stored")
            #expect(numbers == Array(1...(numbers.last ?? 0)), "in order, no gap, no duplicate (at most the unacknowledged last one extra)")
            #expect(numbers.count - before.count <= 1)
            let offsets = stored.reversed().compactMap(\.offset)
            #expect(offsets.count == stored.count && zip(offsets, offsets.dropFirst()).allSatisfy { $0 < $1 }, "offsets increase (the room's log also holds user:joined)")
        }
    }
}
