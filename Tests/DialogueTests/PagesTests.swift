import Dialogue
import DialogueApp
import Foundation
import ServiceLifecycle
import SocketIO
import TestSupport
import Testing

/// The demo page and the admin dashboard of `dialogue serve`, in headless Chromium driven through the
/// DevTools protocol (`Tests/Interop/pages_test.py`): two people chat, the dashboard shows them and acts,
/// and after a restart on the same data folder a newcomer sees the conversation. Screenshots are kept in
/// `.test-artifacts/pages/` (or `$DIALOGUE_ARTIFACTS/pages`).
@Suite("Demo and admin pages in headless Chromium")
struct PagesTests {
    static let adminToken = "pages-test-admin-token-0123456789"
    static var artifacts: String {
        let root = ProcessInfo.processInfo.environment["DIALOGUE_ARTIFACTS"] ?? InteropPython.packageRoot.appendingPathComponent(".test-artifacts").path
        return (root as NSString).appendingPathComponent("pages")
    }

    /// Runs the built-in demo on `data` on a free port while `body` runs.
    func withDemo(data: URL, _ body: @Sendable (String, DialogueServer) async throws -> Void) async throws {
        var settings = try ServerSettings.demo(dataDirectory: data.path)
        settings.dialogue.port = 0
        settings.adminToken = Self.adminToken
        let port = AsyncValue<Int>()
        let server = try await StandaloneServer(settings: settings, demo: true, logger: testLogger) { port.set($0) }
        let group = ServiceGroup(services: server.services, logger: testLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await body("http://127.0.0.1:\(try await port.value())", server.dialogue)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    func drive(_ phase: String, url: String) async throws -> SocketValue {
        let python = try #require(InteropPython.interpreter, Comment(rawValue: InteropPython.missing))
        let chromium = try #require(BrowserClientTests.chromium, "no chromium: run ./scripts/test (it installs Debian's chromium)")
        let (status, output) = try await runProcess(
            python, [InteropPython.script("pages_test.py"), "--url", url, "--chromium", chromium, "--phase", phase, "--token", Self.adminToken,
                     "--artifacts", Self.artifacts],
            timeout: .seconds(150)
        )
        let report = output.split(separator: "\n").last.flatMap { try? SocketValue(jsonText: String($0)) }
        #expect(status == 0, "\(phase): \(output)")
        return try #require(report, "no report from pages_test.py: \(output)")
    }

    @Test func twoPeopleChatTheDashboardShowsThemAndHistorySurvivesARestart() async throws {
        try await withTemporaryDirectory { data in
            try await withDemo(data: data) { url, dialogue in
                let report = try await drive("chat", url: url)
                #expect(report["error"] == nil)
                #expect(report["presence"]?.arrayValue?.compactMap(\.stringValue).sorted() == ["alice", "bob"])
                #expect(report["typing"]?.stringValue?.contains("bob is typing") == true)
                #expect(report["aliceLog"] == ["bob: hello alice", "alice: hello bob"])
                #expect(report["bobLog"] == ["bob: hello alice", "alice: hello bob"])
                #expect(report["adminConnections"] == ["alice", "bob"])
                #expect(report["adminConnectionCount"] == "2")
                #expect(report["adminRooms"] == ["general", "dashboard", "side"])
                #expect(report["adminEvents"]?.arrayValue?.filter { $0 == "general/message" }.count == 2)
                #expect(report["adminStore"]?.stringValue?.hasPrefix("healthy") == true)
                // The dashboard's actions took effect on the server.
                #expect(dialogue.room("side") == nil, "the admin deleted the runtime room")
                let disconnected = try #require(report["disconnectedId"]?.stringValue)
                #expect(!dialogue.getAllClients().contains { $0.id == disconnected })
            }
            try await withDemo(data: data) { url, _ in
                let report = try await drive("history", url: url)
                #expect(report["carolLog"] == ["bob: hello alice", "alice: hello bob"], "history on join after a restart")
            }
            for shot in ["chat-alice", "chat-bob", "admin", "admin-after-actions", "history-carol"] {
                #expect(FileManager.default.fileExists(atPath: "\(Self.artifacts)/\(shot).png"), "screenshot \(shot)")
            }
        }
    }
}
