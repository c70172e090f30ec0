@testable import DialogueExamples
import Dialogue
import DialogueClient
import SocketIO
import TestSupport
import Testing

/// The seeds' examples, run: seed 001's chat client (Swift SDK) against seed 000's chat server.
@Suite("Seed examples")
struct ExamplesTests {
    @Test func seed001ChatClientAgainstTheChatServer() async throws {
        let (dialogue, _) = ChatExample.make(port: 0)
        let url = "http://127.0.0.1:\(try await dialogue.start())"
        let alice = ChatClient(url: url, userId: "alice", token: "t1")
        let bob = ChatClient(url: url, userId: "bob", token: "t2")
        try await alice.connect()
        let seen = Recorder<String>()
        _ = try alice.onMessage { message, from in seen.append("\(from): \(message.text)\(message.replyTo.map { " (re \($0))" } ?? "")") }
        _ = try alice.onUserJoined { userId, username in seen.append("joined \(userId) \(username)") }
        try await bob.connect()
        try await bob.sendMessage("hi alice", replyTo: "m1")
        try await bob.setTyping(true)
        // (alice may also see her own arrival, announced by the server's onConnected hook.)
        try await seen.wait { $0.contains("joined bob bob") && $0.contains("bob: hi alice (re m1)") }
        await #expect(throws: DialogueError.self) { try await alice.sendMessage("") }
        await bob.disconnect()
        await alice.disconnect()
        try await dialogue.stop()
    }

    @Test func everyServerExampleStartsAndAcceptsAClient() async throws {
        for (name, make) in Examples.all.sorted(by: { $0.key < $1.key }) {
            let (dialogue, _) = make(0)
            let url = "http://127.0.0.1:\(try await dialogue.start())"
            let client = DialogueClient(configuration: .init(url: url, auth: ["userId": "tester", "token": "token-alice", "role": "admin"]))
            try await client.connect()
            #expect(client.userId == (name == "authentication" ? "alice" : "tester"), "\(name)")
            #expect(try await client.listRooms().allSatisfy { dialogue.room($0.id) != nil }, "\(name)")
            await client.disconnect()
            try await dialogue.stop()
        }
    }
}
