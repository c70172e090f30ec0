import Dialogue
import DialogueClient
import Foundation
import TestSupport
import Testing

/// Three `dialogue serve --cluster` processes on one PostgreSQL database, as a load balancer would spread
/// clients over them (see Docs/ClusterDesign.md).
@Suite("A cluster of three dialogue serve processes")
struct ClusterServeTests {
    /// Starts three nodes sharing a fresh schema and runs `body` with their URLs; stops them afterwards.
    private func withCluster(_ body: ([ServeProcess], [String]) async throws -> Void) async throws {
        let executable = try #require(ServeProcess.executable, "the dialogue executable is not built: run ./scripts/test (swift build --build-tests)")
        let url = try #require(StoreKind.postgresURL, "DIALOGUE_POSTGRES_URL is not set: run ./scripts/test (it starts a throwaway PostgreSQL)")
        let schema = "cluster_\(UUID().uuidString.prefix(8).lowercased())"
        try await withTemporaryDirectory { data in
            var nodes: [ServeProcess] = []
            defer { for node in nodes { node.ensureStopped() } }
            for name in ["n1", "n2", "n3"] {
                nodes.append(try ServeProcess(
                    executable: executable, data: data.appendingPathComponent(name), postgres: (url, schema), extraArguments: ["--cluster", "--node-name", name]
                ))
            }
            var urls: [String] = []
            for node in nodes { urls.append(try await node.url()) }
            try await body(nodes, urls)
        }
    }

    /// A client of one node that joined `general` and records its messages.
    private struct Member {
        let client: DialogueClient
        let room: RoomContext
        let messages = Recorder<AnyEventMessage>()

        init(url: String, user: String) async throws {
            client = DialogueClient(configuration: .init(url: url, auth: ["userId": .string(user)], reconnection: false), logger: testLogger)
            room = try await client.join("general")
            let messages = self.messages
            _ = room.on("message") { messages.append($0) }
        }
    }

    @Test("a trigger on any node reaches every subscriber on every node, in the same offset order", .timeLimit(.minutes(2)))
    func crossNodeDeliveryInOffsetOrder() async throws {
        try await withCluster { _, urls in
            var members: [Member] = []
            for (index, url) in urls.enumerated() { members.append(try await Member(url: url, user: "u\(index + 1)")) }
            let perSender = 20
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, member) in members.enumerated() {
                    group.addTask {
                        for n in 1...perSender {
                            _ = try await member.room.trigger("message", ["text": .string("u\(index + 1)-\(n)"), "senderId": .string("u\(index + 1)")])
                        }
                    }
                }
                try await group.waitForAll()
            }
            let total = perSender * members.count
            for member in members {
                _ = try await member.messages.wait { $0.count >= total }
            }
            let reference = members[0].messages.all.map { "\($0.offset ?? -1):\($0.data["text"]?.stringValue ?? "")" }
            for member in members {
                let received = member.messages.all
                #expect(received.count == total, "each message once")
                let offsets = received.compactMap(\.offset)
                #expect(offsets.count == total && zip(offsets, offsets.dropFirst()).allSatisfy { $0 < $1 }, "in offset order: \(offsets)")
                #expect(received.map { "\($0.offset ?? -1):\($0.data["text"]?.stringValue ?? "")" } == reference, "every node delivers the same sequence")
                for sender in 1...members.count {
                    let own = received.compactMap { $0.data["text"]?.stringValue }.filter { $0.hasPrefix("u\(sender)-") }
                    #expect(own == (1...perSender).map { "u\(sender)-\($0)" }, "each sender's messages in the order sent")
                }
            }
            for member in members { await member.client.disconnect() }
        }
    }

    @Test("a node killed with SIGKILL: the others go on delivering, and history holds every node's events", .timeLimit(.minutes(2)))
    func survivingNodesGoOn() async throws {
        try await withCluster { nodes, urls in
            let first = try await Member(url: urls[0], user: "first")
            let third = try await Member(url: urls[2], user: "third")
            _ = try await first.room.trigger("message", ["text": "before", "senderId": "first"])
            _ = try await third.messages.wait { $0.contains { $0.data["text"] == "before" } }
            nodes[1].kill()
            for n in 1...5 { _ = try await first.room.trigger("message", ["text": .string("after-\(n)"), "senderId": "first"]) }
            try await third.messages.wait { $0.filter { $0.data["text"]?.stringValue?.hasPrefix("after-") == true }.count >= 5 }
            #expect(third.messages.all.compactMap { $0.data["text"]?.stringValue }.filter { $0.hasPrefix("after-") } == (1...5).map { "after-\($0)" })
            // A client that arrives later on another node reads what the first node triggered.
            let history = try await third.room.getHistory("message", start: 0, end: 10)
            #expect(history.compactMap { $0.data["text"]?.stringValue } == ["after-5", "after-4", "after-3", "after-2", "after-1", "before"])
            await first.client.disconnect()
            await third.client.disconnect()
            try await nodes[0].stop()
            try await nodes[2].stop()
        }
    }
}
