import Dialogue
import TestSupport
import Testing

/// python-socketio's AsyncClient speaking the raw `dialogue:*` events, as a browser frontend of the
/// TypeScript original does: an independent client exercising the wire contract over both transports.
@Suite("Dialogue wire contract with python-socketio")
struct PythonWireTests {
    @Test(arguments: ["websocket", "polling"])
    func rawDialogueEvents(transports: String) async throws {
        let python = try #require(InteropPython.interpreter, Comment(rawValue: InteropPython.missing))
        let left = Recorder<String>()
        var configuration = testConfiguration(rooms: [("general", chatRoom)])
        configuration.hooks.clients.onDisconnected = { client in left.append(client.userId) }
        try await withDialogue(configuration) { server, url in
            try await server.trigger("general", Message, ChatMessage(text: "welcome", senderId: "system"))
            let (status, output) = try await runProcess(
                python, [InteropPython.script("dialogue_wire_client.py"), "--url", url, "--transports", transports], timeout: .seconds(60)
            )
            #expect(status == 0, "wire client failed:\n\(output)")
            #expect(output.contains("dialogue-wire: 12 passed, 0 failed"), "unexpected output:\n\(output)")
            try await left.wait { Set($0) == ["py-alice", "py-bob"] }
            #expect(server.room("py-room") == nil)
        }
    }
}
