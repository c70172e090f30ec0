import Dialogue
import DialogueClient
import Foundation
import TestSupport
import Testing

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
