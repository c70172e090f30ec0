import Dialogue
import EngineIOServer
import Foundation
import Hummingbird
import ServiceLifecycle
import SocketIO
import TestSupport
import Testing

/// The browser client (`/dialogue/client.js`) in a real headless browser (Debian's `chromium`, which
/// `./scripts/test` installs): connect, join with history, trigger, receive, a server error with its code,
/// history, listing, and reconnection after the server drops the connection.
@Suite("Dialogue browser client in headless Chromium")
struct BrowserClientTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let page = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Browser/browser_client_test.html")

    @Test func joinTriggerReceiveAndReconnect() async throws {
        let chromium = try #require(Self.chromium, "no chromium: run ./scripts/test (it installs Debian's chromium)")
        let html = try Data(contentsOf: Self.page)
        let dialogue = DialogueServer(configuration: testConfiguration(rooms: [("general", chatRoom)]), logger: testLogger)
        try await dialogue.trigger("general", Message, ChatMessage(text: "before the browser", senderId: "system"))
        dialogue.on("general", Message) { message in
            if message.from == "browser" {
                try await dialogue.trigger("general", Message, ChatMessage(text: "hello browser", senderId: "system"))
            }
        }
        let result = AsyncValue<SocketValue>()
        let port = AsyncValue<Int>()
        let app = EngineApplication.make(endpoints: [dialogue], port: 0, logger: testLogger) { router in
            router.get("/browser-test") { _, _ in
                Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: html)))
            }
            router.post("/browser-test/drop") { _, _ -> HTTPResponse.Status in
                let dropped = dialogue.getClients("browser").first
                dropped?.socket.closeConnection()
                // Sent while the browser is away: it must arrive after the reconnection (replayed).
                try await dialogue.trigger("general", Message, ChatMessage(text: "while away", senderId: "system"))
                Task {
                    try await eventually("the browser is back in its room", timeout: .seconds(10)) {
                        dialogue.getClients("browser").contains { $0.id != dropped?.id && $0.rooms() == ["general"] }
                    }
                    try await dialogue.trigger("general", Message, ChatMessage(text: "after reconnecting", senderId: "system"))
                }
                return .ok
            }
            router.post("/browser-test/result") { request, _ -> HTTPResponse.Status in
                let body = try await request.body.collect(upTo: 1_000_000)
                result.set((try? SocketValue(jsonText: String(buffer: body))) ?? .null)
                return .ok
            }
        } onServerRunning: { port.set($0) }
        let group = ServiceGroup(services: [app, dialogue], logger: testLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let browser = try HeadlessChromium(chromium, opening: "http://127.0.0.1:\(try await port.value())/browser-test")
            defer { browser.close() }
            let report = try await result.value(timeout: .seconds(60))
            // The browser's keep-alive connections would hold the server's graceful shutdown open.
            browser.close()
            #expect(report["connect"] == "browser")
            #expect(report["join"] == ["roomId": "general", "roomName": "General Chat", "history": [["roomId": "general", "texts": ["before the browser"]]]])
            #expect(report["trigger"] == "number", "trigger resolves with the server's timestamp")
            #expect(report["receive"]?.arrayValue?.contains("system: hello browser") == true)
            #expect(report["invalid"] == ["isDialogueError": true, "code": "VALIDATION_FAILED", "field": "text"])
            #expect(report["history"] == ["hello browser", "from the browser", "before the browser"])
            #expect(report["rooms"] == ["general"])
            #expect(report["reconnect"]?.arrayValue?.last == "connected", "reconnect: \(report["reconnect"]?.jsonText ?? "missing")")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}

/// A headless Chromium showing one page, with a profile of its own.
final class HeadlessChromium {
    private let process: Process
    private let profile = FileManager.default.temporaryDirectory.appendingPathComponent("dialogue-chromium-\(UUID().uuidString)")

    init(_ executable: String, opening url: String) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile.path)", url]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// Ends the browser (if still running) and removes its profile.
    func close() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: profile)
    }
}
