import DialogueDBCore
import DialogueDBServer
import Foundation
import SocketIO
import TestSupport
import Testing

/// DialogueDB from outside Swift: a plain Python HTTP client, and the `dialoguedb` command line.
@Suite("DialogueDB from other clients")
struct ClientsTests {
    @Test func aPlainPythonHTTPClientUsesTheRESTServer() async throws {
        let python = try #require(InteropPython.interpreter, Comment(rawValue: InteropPython.missing))
        try await withStorage { storage in
            try await withServer(storage) { url, key in
                let (status, output) = try await runProcess(python, [InteropPython.script("dialoguedb_http_client.py"), url, key], timeout: .seconds(60))
                #expect(status == 0, "\(output)")
                #expect(output.contains("9 passed, 0 failed"), "\(output)")
            }
        }
    }

    static var executable: String? {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [besideTests.appendingPathComponent("dialoguedb"), besideTests.deletingLastPathComponent().appendingPathComponent("dialoguedb"),
                          InteropPython.packageRoot.appendingPathComponent(".build/debug/dialoguedb")]
        return candidates.map(\.path).first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test func theCommandLineOnAFile() async throws {
        let cli = try #require(Self.executable, "the dialoguedb executable is not built: run ./scripts/test")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dialoguedb-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = folder.appendingPathComponent("cli.sqlite").path
        func run(_ arguments: [String]) async throws -> (Int32, SocketValueText) {
            let (status, output) = try await runProcess(cli, arguments + ["--db", db], timeout: .seconds(30))
            return (status, SocketValueText(output))
        }
        let (created, dialogue) = try await run(["dialogue", "create", "--label", "CLI", "--tags", "a, b,", "--state", #"{"x": 1}"#])
        #expect(created == 0, "\(dialogue.text)")
        let id = try #require(dialogue.json?["id"]?.stringValue)
        #expect(dialogue.json?["tags"] == ["a", "b"] && dialogue.json?["state"] == ["x": 1])
        #expect(try await run(["message", "add", id, "--role", "user", "--content", "hello"]).0 == 0)
        let (_, listed) = try await run(["message", "list", id])
        #expect(listed.json?["items"]?.arrayValue?.first?["content"] == "hello")
        let (_, found) = try await run(["search", "messages", "hello"])
        #expect(found.json?["results"]?.arrayValue?.first?["item"]?["content"] == "hello", "\(found.text)")
        let (_, summary) = try await run(["summarize", id])
        #expect(summary.json?["status"] == "completed" && summary.json?["content"] == "user: hello.", "a local database waits for the summary: \(summary.text)")
        let (ended, _) = try await run(["dialogue", "end", id])
        #expect(ended == 0)
        let (refused, error) = try await run(["message", "add", id, "--role", "user", "--content", "late"])
        #expect(refused == 1 && error.text.contains("DIALOGUE_ENDED"))
        let (badJSON, message) = try await run(["dialogue", "create", "--state", "{oops"])
        #expect(badJSON != 0 && message.text.contains("--state is not valid JSON"))
        let (keyStatus, key) = try await runProcess(cli, ["keys", "create", "--db", db, "--project", "acme"], timeout: .seconds(30))
        #expect(keyStatus == 0 && SocketValueText(key).json?["key"]?.stringValue?.hasPrefix("ddb_") == true)
    }
}

/// A command's output and, when it is JSON, its value.
struct SocketValueText {
    let text: String
    var json: SocketValue? { try? SocketValue(jsonText: text) }
    init(_ text: String) { self.text = text }
}
