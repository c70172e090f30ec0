import Dialogue
import DialogueClient
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension ClusterServeTests {
    @Test("maxSize holds for the cluster when two nodes take a room's last place at the same moment", .timeLimit(.minutes(2)))
    func maxSizeHoldsAcrossNodes() async throws {
        let url = try #require(StoreKind.postgresURL, "DIALOGUE_POSTGRES_URL is not set: run ./scripts/test (it starts a throwaway PostgreSQL)")
        let schema = "cluster_\(UUID().uuidString.prefix(8).lowercased())"
        var single = chatRoom
        single.maxSize = 1
        let rooms = (0..<10).map { ("seat-\($0)", single) }
        let one = try Self.inProcessNode("one", url: url, schema: schema, rooms: rooms)
        let two = try Self.inProcessNode("two", url: url, schema: schema, rooms: rooms)
        var clients: [DialogueClient] = []
        for (server, user) in [(one, "ann"), (two, "ben")] {
            let port = try await server.start()
            try await eventually("node ready") { (try? await httpRequest("GET", "http://127.0.0.1:\(port)/ready"))?.status == 200 }
            clients.append(DialogueClient(configuration: .init(url: "http://127.0.0.1:\(port)", auth: ["userId": .string(user)], reconnection: false), logger: testLogger))
        }
        @Sendable func attempt(_ client: DialogueClient, _ roomId: String) async -> String {
            do {
                _ = try await client.join(roomId)
                return "joined"
            } catch let error as DialogueError {
                return error.code.rawValue
            } catch {
                return "\(error)"
            }
        }
        let (ann, ben) = (clients[0], clients[1])
        for (roomId, _) in rooms {
            async let first = attempt(ann, roomId)
            async let second = attempt(ben, roomId)
            let outcomes = await [first, second]
            #expect(outcomes.sorted() == ["ROOM_FULL", "joined"], "\(roomId): \(outcomes)")
        }
        // A place comes back when its holder leaves.
        let holder = ann.rooms.contains { $0.roomId == "seat-0" } ? ann : ben
        let other = holder === ann ? ben : ann
        try await holder.rooms.first { $0.roomId == "seat-0" }?.leave()
        #expect(await attempt(other, "seat-0") == "joined")
        for client in clients { await client.disconnect() }
        for server in [one, two] { try await server.stop() }
    }
}

extension ClusterServeTests {
    @Test("a node that was out of the cluster takes its connections' seats again when it rejoins", .timeLimit(.minutes(2)))
    func seatsAreTakenAgainAfterARejoin() async throws {
        let configuration = Self.chatConfiguration.replacingOccurrences(
            of: "\ncluster:", with: "\n  solo:\n    name: Solo\n    maxSize: 1\n    events: [message]\ncluster:"
        )
        try await withCluster(configuration: configuration) { nodes, urls in
            let holder = DialogueClient(configuration: .init(url: urls[1], auth: ["userId": "holder"], reconnection: false), logger: testLogger)
            _ = try await holder.join("solo")
            // Node 2 stops answering for longer than the node timeout (2 s): the others remove it, and its
            // seats go with its row. Then it runs again, finds itself removed and joins again.
            kill(nodes[1].process.processIdentifier, SIGSTOP)
            try await eventually("node 1 removes node 2", timeout: .seconds(15)) { (try? await Self.readyNodes(urls[0])) == ["n1", "n3"] }
            kill(nodes[1].process.processIdentifier, SIGCONT)
            try await eventually("node 2 takes its seat again", timeout: .seconds(15)) {
                nodes[1].printed.contains("its connections' seats are taken again") && nodes[1].printed.contains("dialogue.seats=1 of 1")
            }
            let latecomer = DialogueClient(configuration: .init(url: urls[0], auth: ["userId": "latecomer"], reconnection: false), logger: testLogger)
            do {
                _ = try await latecomer.join("solo")
                Issue.record("joined a room whose one place is the holder's")
            } catch let error as DialogueError {
                #expect(error.code == .roomFull)
            }
            await latecomer.disconnect()
            await holder.disconnect()
        }
    }
}
