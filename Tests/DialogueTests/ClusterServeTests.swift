import Dialogue
import DialogueClient
import DialogueCluster
import DialogueEvents
import DialogueHistoryPostgres
import Foundation
import SocketIO
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Three `dialogue serve --cluster` processes on one PostgreSQL database, as a load balancer would spread
/// clients over them (see Docs/ClusterDesign.md).
@Suite("A cluster of three dialogue serve processes", .serialized)
struct ClusterServeTests {
    /// A chat room that announces presence, with nodes that notice a lost node within two seconds.
    static let chatConfiguration = """
        events:
          message:
            schema: { type: object, properties: { text: { type: string } }, required: [text] }
            history: { limit: 100 }
          user:joined: { history: { limit: 50 } }
          user:left: { history: { limit: 50 } }
        rooms:
          general:
            name: General
            events: [message, user:joined, user:left]
            defaultSubscriptions: [message, user:joined, user:left]
            presence: true
        cluster:
          heartbeatInterval: 500ms
          nodeTimeout: 2s
        admin:
          token: \(adminToken)
        """
    static let adminToken = "cluster-test-admin-token-0123456789"

    /// Starts three nodes sharing a fresh schema and runs `body` with their URLs; stops them afterwards.
    /// With `configuration`, the nodes read it (a file; the store and names come from the command line).
    func withCluster(configuration: String? = nil, _ body: ([ServeProcess], [String]) async throws -> Void) async throws {
        let executable = try #require(ServeProcess.executable, "the dialogue executable is not built: run ./scripts/test (swift build --build-tests)")
        let url = try #require(StoreKind.postgresURL, "DIALOGUE_POSTGRES_URL is not set: run ./scripts/test (it starts a throwaway PostgreSQL)")
        let schema = "cluster_\(UUID().uuidString.prefix(8).lowercased())"
        try await withTemporaryDirectory { data in
            var fileArguments: [String] = []
            if let configuration {
                let file = data.appendingPathComponent("dialogue.yaml")
                try configuration.write(to: file, atomically: true, encoding: .utf8)
                fileArguments = ["--config", file.path]
            }
            var nodes: [ServeProcess] = []
            defer { for node in nodes { node.ensureStopped() } }
            for name in ["n1", "n2", "n3"] {
                nodes.append(try ServeProcess(
                    executable: executable, data: data.appendingPathComponent(name), postgres: (url, schema),
                    extraArguments: fileArguments + ["--cluster", "--node-name", name]
                ))
            }
            var urls: [String] = []
            for node in nodes { urls.append(try await node.url()) }
            try await body(nodes, urls)
        }
    }

    /// The node names `GET /ready` lists, sorted; none unless the node says it is a ready member.
    static func readyNodes(_ url: String) async throws -> [String] {
        let ready = try await httpRequest("GET", url + "/ready")
        let body = ready.json as? [String: Any]
        let cluster = body?["cluster"] as? [String: Any]
        guard ready.status == 200, body?["status"] as? String == "ready", cluster?["nodeId"] as? String != nil else { return [] }
        return (cluster?["nodes"] as? [String] ?? []).sorted()
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

    @Test("a node stopped with SIGTERM: its users leave the other nodes' rooms, announced once", .timeLimit(.minutes(2)))
    func aStoppedNodesUsersLeaveOnce() async throws {
        try await withCluster(configuration: Self.chatConfiguration) { nodes, urls in
            let watcher = DialogueClient(configuration: .init(url: urls[0], auth: ["userId": "watcher"], reconnection: false), logger: testLogger)
            let room = try await watcher.join("general")
            let joined = Recorder<String>(), left = Recorder<String>()
            _ = room.on("user:joined") { joined.append($0.data["userId"]?.stringValue ?? "?") }
            _ = room.on("user:left") { left.append($0.data["userId"]?.stringValue ?? "?") }
            let leaver = DialogueClient(configuration: .init(url: urls[1], auth: ["userId": "leaver"], reconnection: false), logger: testLogger)
            _ = try await leaver.join("general")
            try await joined.wait { $0.contains("leaver") }
            try await nodes[1].stop()
            do {
                try await left.wait(timeout: .seconds(10)) { $0.contains("leaver") }
            } catch {
                for node in nodes { print("---- output of a node:\n\(node.printed)") }
                throw error
            }
            try await Task.sleep(for: .seconds(3))
            #expect(left.all == ["leaver"], "announced once, by the stopping node, not again when the others see it go")
            try await eventually("node 1 no longer counts the leaver") { (try? await room.presence())?.map(\.userId) == ["watcher"] }
            await watcher.disconnect()
        }
    }

    @Test("presence, room size and who is where answer for the cluster; the admin API closes a connection of another node; a killed node's users leave once", .timeLimit(.minutes(2)))
    func clusterWidePresence() async throws {
        try await withCluster(configuration: Self.chatConfiguration) { nodes, urls in
            func member(_ url: String, _ user: String) async throws -> (DialogueClient, RoomContext) {
                let client = DialogueClient(configuration: .init(url: url, auth: ["userId": .string(user)], reconnection: false), logger: testLogger)
                return (client, try await client.join("general"))
            }
            let (bob, bobRoom) = try await member(urls[2], "bob")
            let joined = Recorder<String>(), left = Recorder<String>()
            _ = bobRoom.on("user:joined") { joined.append($0.data["userId"]?.stringValue ?? "?") }
            _ = bobRoom.on("user:left") { left.append($0.data["userId"]?.stringValue ?? "?") }
            let (carol, carolRoom) = try await member(urls[1], "carol")
            let (alice1, _) = try await member(urls[0], "alice")
            try await joined.wait { $0.contains("alice") && $0.contains("carol") }
            // The node of alice's second tab knows the first one before it joins.
            try await eventually("node 2 sees alice") { (try? await carolRoom.presence())?.contains { $0.userId == "alice" } == true }
            let (alice2, _) = try await member(urls[1], "alice")
            try await eventually("every node counts four connections in general") {
                (try? await bob.listRooms())?.first { $0.id == "general" }?.size == 4
            }
            let users = try await bobRoom.presence().map(\.userId)
            #expect(users.sorted() == ["alice", "bob", "carol"], "one entry per user, whatever node")
            #expect(joined.all.filter { $0 == "alice" }.count == 1, "alice's second tab, on another node, is not announced")

            await alice1.disconnect()
            try await eventually("alice's first tab is gone") { (try? await bob.listRooms())?.first { $0.id == "general" }?.size == 3 }
            #expect(!left.all.contains("alice"), "alice is still there, on node 2")

            // Any node's admin API lists every node's connections and closes one of another node.
            let admin = ["Authorization": "Bearer \(Self.adminToken)"]
            func listed() async -> [[String: Any]] {
                let state = try? await httpRequest("GET", urls[2] + "/admin/api/state", headers: admin)
                return (state?.json as? [String: Any])?["connections"] as? [[String: Any]] ?? []
            }
            // Node names come with the membership's next look (at most a heartbeat later than the connections).
            try await eventually("node 3's dashboard lists every connection with its node") {
                Set(await listed().map { "\($0["userId"] ?? "")@\($0["node"] ?? "")" }) == ["bob@n3", "carol@n2", "alice@n2"]
            }
            let connections = await listed()
            let aliceOnTwo = try #require(connections.first { $0["userId"] as? String == "alice" }?["id"] as? String)
            #expect(try await httpRequest("POST", urls[2] + "/admin/api/clients/\(aliceOnTwo)/disconnect", headers: admin).status == 200)
            try await left.wait { $0.contains("alice") }

            try await eventually("/ready lists the three nodes") { (try? await Self.readyNodes(urls[2])) == ["n1", "n2", "n3"] }
            let metrics = try await httpRequest("GET", urls[2] + "/metrics").body
            #expect(metrics.contains(#"dialogue_cluster_nodes{node="n3"} 3"#), "every metric carries the node")
            #expect(metrics.contains(#"dialogue_events_in_total{room="general",event="user:joined",node="n3"}"#))
            nodes[1].kill()
            try await left.wait(timeout: .seconds(20)) { $0.contains("alice") && $0.contains("carol") }
            try await eventually("/ready forgets the lost node") { (try? await Self.readyNodes(urls[2])) == ["n1", "n3"] }
            try await Task.sleep(for: .seconds(1))
            #expect(left.all.sorted() == ["alice", "carol"], "each user of the lost node leaves once: \(left.all)")
            #expect(try await bobRoom.presence().map(\.userId) == ["bob"])
            #expect((try await bob.listRooms()).first { $0.id == "general" }?.size == 1)
            _ = (carol, alice2)
            await bob.disconnect()
        }
    }

    @Test("a client that reconnects to another node recovers what it missed, by offset", .timeLimit(.minutes(2)))
    func recoveryOnAnotherNode() async throws {
        try await withCluster { _, urls in
            let writer = try await Member(url: urls[0], user: "writer")
            let position = try await TestClient.with(urls[0], auth: ["userId": "mover"]) { first -> (offset: SocketValue, epoch: SocketValue) in
                let joined = try await first.request("dialogue:join", ["roomId": "general"])
                _ = try await writer.room.trigger("message", ["text": "seen", "senderId": "writer"])
                let seen = try await first.nextEvent("message")
                #expect(seen["data"]?["text"] == "seen")
                return (seen["offset"] ?? .null, joined["epoch"] ?? .null)
            }
            for n in 1...3 { _ = try await writer.room.trigger("message", ["text": .string("missed-\(n)"), "senderId": "writer"]) }
            try await TestClient.with(urls[2], auth: ["userId": "mover"]) { moved in
                let answer = try await moved.request("dialogue:join", ["roomId": "general", "offset": position.offset, "epoch": position.epoch])
                #expect(answer["recovered"] == true, "the other node holds the same log: \(answer)")
                var texts: [String] = []
                var offsets: [Int64] = []
                for _ in 1...3 {
                    let event = try await moved.nextEvent("message")
                    texts.append(event["data"]?["text"]?.stringValue ?? "")
                    if case .int(let offset)? = event["offset"] { offsets.append(offset) }
                }
                #expect(texts == ["missed-1", "missed-2", "missed-3"])
                #expect(offsets.count == 3 && zip(offsets, offsets.dropFirst()).allSatisfy { $0 < $1 })
            }
            await writer.client.disconnect()
        }
    }

    @Test("a room a client makes on one node exists on every node; deleting it removes it everywhere", .timeLimit(.minutes(2)))
    func clientRoomsExistOnEveryNode() async throws {
        try await withCluster { _, urls in
            let creator = DialogueClient(configuration: .init(url: urls[0], auth: ["userId": "maker"], reconnection: false), logger: testLogger)
            let visitor = DialogueClient(configuration: .init(url: urls[2], auth: ["userId": "visitor"], reconnection: false), logger: testLogger)
            _ = try await creator.join("general")
            _ = try await visitor.join("general")
            let deleted = Recorder<String>()
            _ = visitor.roomDeleted.observe { deleted.append($0) }
            _ = try await creator.createRoom(id: "side", name: "Side room", maxSize: 5)
            try await eventually("node 3 lists the room node 1 made") { (try? await visitor.listRooms())?.contains { $0.id == "side" } == true }
            let listed = try #require(try await visitor.listRooms().first { $0.id == "side" })
            #expect(listed.name == "Side room" && listed.maxSize == 5 && listed.createdById == "maker")
            _ = try await visitor.join("side")
            try await eventually("node 1 counts the visitor of node 3") { (try? await creator.listRooms())?.first { $0.id == "side" }?.size == 1 }
            try await creator.deleteRoom("side")
            try await deleted.wait { $0.contains("side") }
            try await eventually("gone from node 3") { (try? await visitor.listRooms())?.contains { $0.id == "side" } == false }
            await creator.disconnect()
            await visitor.disconnect()
        }
    }

    @Test("long-polling through HAProxy (Docs/examples/haproxy-cluster.cfg): sticky by its cookie; a request at the wrong node fails at once", .timeLimit(.minutes(2)))
    func longPollingBehindTheDocumentedLoadBalancer() async throws {
        let haproxy = try #require(
            ["/usr/sbin/haproxy", "/usr/bin/haproxy"].first { FileManager.default.isExecutableFile(atPath: $0) }, "haproxy is not installed: run ./scripts/test"
        )
        try await withCluster { _, urls in
            let port = Self.freePort()
            let balancer = Process()
            balancer.executableURL = URL(fileURLWithPath: haproxy)
            balancer.arguments = ["-db", "-f", InteropPython.packageRoot.appendingPathComponent("Docs/examples/haproxy-cluster.cfg").path]
            var environment = ProcessInfo.processInfo.environment
            environment["DIALOGUE_LB"] = "127.0.0.1:\(port)"
            for (index, url) in urls.enumerated() { environment["DIALOGUE_NODE\(index + 1)"] = String(url.dropFirst("http://".count)) }
            balancer.environment = environment
            balancer.standardOutput = FileHandle.nullDevice
            balancer.standardError = FileHandle.nullDevice
            try balancer.run()
            defer { kill(balancer.processIdentifier, SIGKILL) }
            let base = "http://127.0.0.1:\(port)/socket.io/?EIO=4&transport=polling"
            var handshake: HTTPReply?
            try await eventually("HAProxy answers") {
                handshake = try? await httpRequest("GET", base)
                return handshake?.status == 200
            }
            let opened = try #require(handshake)
            let sid = try #require(opened.body.firstMatch(of: /"sid":"([^"]+)"/)?.output.1).description
            let cookie = try #require(opened.headers["set-cookie"]?.split(separator: ";").first.map(String.init))
            #expect(cookie.hasPrefix("DIALOGUE_NODE=node"), "the balancer names the session's node: \(cookie)")
            let session = "\(base)&sid=\(sid)"
            // With the cookie every request reaches the session's node: connect, then a request and its answer.
            #expect(try await httpRequest("POST", session, headers: ["Cookie": cookie], body: "40").status == 200)
            let connected = try await httpRequest("GET", session, headers: ["Cookie": cookie])
            #expect(connected.status == 200 && connected.body.contains("40{"))
            #expect(try await httpRequest("POST", session, headers: ["Cookie": cookie], body: #"421["dialogue:listRooms",{}]"#).status == 200)
            var answers = ""
            try await eventually("the answer to dialogue:listRooms") {
                answers += (try? await httpRequest("GET", session, headers: ["Cookie": cookie]).body) ?? ""
                return answers.contains("431[")
            }
            // Without it, round-robin sends requests to the other nodes, which refuse the session at once.
            var refused = 0
            for _ in 1...3 {
                let stray = try await httpRequest("POST", session, body: #"42["dialogue:listRooms",{}]"#)
                if stray.status == 400 && stray.body.contains("Session ID unknown") { refused += 1 }
            }
            #expect(refused >= 1, "a request at a node that does not know the session fails fast")
        }
    }

    @Test("a room the server API makes on one node exists on the others (a later one too), events and rules included; deleting it removes it everywhere; participants, and commands to a connection of another node", .timeLimit(.minutes(2)))
    func serverRoomsExistOnEveryNode() async throws {
        let url = try #require(StoreKind.postgresURL, "DIALOGUE_POSTGRES_URL is not set: run ./scripts/test (it starts a throwaway PostgreSQL)")
        let schema = "cluster_\(UUID().uuidString.prefix(8).lowercased())"
        func node(_ name: String) throws -> DialogueServer { try Self.inProcessNode(name, url: url, schema: schema) }
        let one = try node("one"), two = try node("two")
        var urls: [String] = []
        for server in [one, two] {
            let port = try await server.start()
            urls.append("http://127.0.0.1:\(port)")
            try await eventually("node ready") { (try? await httpRequest("GET", "http://127.0.0.1:\(port)/ready"))?.status == 200 }
        }
        // A room's participants: this node's as clients with sockets, every node's as cluster clients; and
        // what a node does to a connection of another.
        let ann = DialogueClient(configuration: .init(url: urls[0], auth: ["userId": "ann"], reconnection: false), logger: testLogger)
        _ = try await ann.join("general")
        try await TestClient.with(urls[1], auth: ["userId": "ben"]) { ben in
            try await ben.join("general")
            try await eventually("node one sees ben in general") { one.room("general")?.clusterParticipants().map(\.userId).sorted() == ["ann", "ben"] }
            #expect(one.room("general")?.participants().map(\.userId) == ["ann"], "participants() are this node's")
            let benId = try #require(one.clusterClients("ben").first?.id)
            #expect(await one.send("welcome", ["text": "from node one"], toClient: benId))
            #expect(try await ben.next("welcome")["text"] == "from node one")
            #expect(try await one.leave(clientId: benId, "general"))
            try await ben.next("dialogue:left") { $0["roomId"] == "general" }
            try await eventually("node one sees ben leave") { one.room("general")?.clusterParticipants().map(\.userId) == ["ann"] }
            #expect(try await one.join(clientId: benId, "general"))
            try await ben.next("dialogue:joined") { $0["roomId"] == "general" }
            #expect(await one.send("welcome", [:], toClient: "nobody") == false, "no node has it")
        }
        await ann.disconnect()
        let alert = EventDefinition("alert", schema: .object(["level": .string(minLength: 1)]), description: "An alert", history: EventHistory(limit: 20))
        let ops = RoomConfiguration(
            name: "Ops", maxSize: 7, events: [alert], defaultSubscriptions: ["alert"], syncHistoryOnJoin: 5, isListed: false,
            access: [.claim("role", equals: "ops")], announcesPresence: true
        )
        try await one.createRoom("ops", ops, createdById: "admin")
        try await eventually("node two has the room") { two.room("ops") != nil }
        let copy = try #require(two.room("ops"))
        #expect(copy.name == "Ops" && copy.maxSize == 7 && !copy.isListed && copy.createdById == "admin")
        #expect(copy.access == [.claim("role", equals: "ops")] && copy.defaultSubscriptions == ["alert"] && copy.syncHistoryOnJoin == .latest(5))
        #expect(copy.events.map(\.name) == ["alert"] && copy.events.first?.history?.limit == 20 && copy.events.first?.description == "An alert")
        #expect(copy.eventSchemas == one.room("ops")?.eventSchemas, "the same JSON Schema")
        // A node that starts later gets the rooms made before it, with the others' snapshots.
        let three = try node("three")
        _ = try await three.start()
        try await eventually("the late node has the room") { three.room("ops")?.maxSize == 7 }
        await one.deleteRoom("ops")
        try await eventually("gone from the other nodes") { two.room("ops") == nil && three.room("ops") == nil }
        for server in [one, two, three] { try await server.stop() }
    }

    /// A Dialogue server in this process as a node of the cluster in `schema`, with `rooms` (default: a chat
    /// room `general`).
    static func inProcessNode(_ name: String, url: String, schema: String, rooms: [(String, RoomConfiguration)] = [("general", chatRoom)]) throws -> DialogueServer {
        var configuration = testConfiguration(rooms: rooms)
        configuration.historyStore = try PostgresHistoryStore(url: url, schema: schema, logger: testLogger)
        configuration.cluster = try PostgresClusterLink(url: url, schema: schema, configuration: ClusterConfiguration(nodeName: name), logger: testLogger)
        return DialogueServer(configuration: configuration, logger: testLogger)
    }

    /// A loopback port nobody listens on now (the kernel's choice for a socket bound to port 0).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                _ = bind(fd, raw, length)
                _ = getsockname(fd, raw, &length)
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Restarts the throwaway PostgreSQL (`DIALOGUE_POSTGRES_RESTART`, set by ./scripts/test). Only safe in
    /// the suite ./scripts/test runs on its own, after the others.
    static func restartPostgreSQL() throws {
        let command = try #require(
            ProcessInfo.processInfo.environment["DIALOGUE_POSTGRES_RESTART"], "DIALOGUE_POSTGRES_RESTART is not set: run ./scripts/test"
        )
        // system(3), not Foundation's Process: its exit went unnoticed here (pg_ctl leaves the new postmaster
        // running behind it), and the test hung on a zombie.
        #expect(system(command + " >/dev/null 2>&1") == 0, "pg_ctl restart")
    }

    @Test("PostgreSQL restarted mid-stream: the nodes reconnect and every kept event reaches the subscribers of other nodes", .timeLimit(.minutes(2)))
    func postgresRestartLosesNoKeptEvent() async throws {
        try await withCluster { nodes, urls in
            let reader = try await Member(url: urls[2], user: "reader")
            let kept = Recorder<String>()
            try await TestClient.with(urls[0], auth: ["userId": "writer"]) { writer in
                _ = try await writer.request("dialogue:join", ["roomId": "general"])
                var n = 0
                var keptAfterRestart = 0
                var restart: Task<Void, any Error>?
                let deadline = ContinuousClock.now + .seconds(60)
                while keptAfterRestart < 30, ContinuousClock.now < deadline {
                    n += 1
                    // The triggers go on while PostgreSQL stops and starts again.
                    if n == 30 { restart = Task.detached { try Self.restartPostgreSQL() } }
                    let answer = try? await writer.request(
                        "dialogue:trigger", ["roomId": "general", "event": "message", "data": ["text": .string("m\(n)"), "senderId": "writer"]]
                    )
                    // Kept: numbered and stored (an event the store refused is delivered without an offset).
                    if let answer, answer["offset"] != nil, answer["persisted"] != false {
                        kept.append("m\(n)")
                        if n > 30 { keptAfterRestart += 1 }
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
                try await restart?.value
                #expect(keptAfterRestart == 30, "the nodes store events again after the restart")
            }
            let expected = Set(kept.all)
            do {
                try await reader.messages.wait(timeout: .seconds(30)) { received in
                    expected.isSubset(of: Set(received.compactMap { $0.data["text"]?.stringValue }))
                }
            } catch {
                for node in nodes { print("---- output of a node:\n\(node.printed)") }
                throw error
            }
            let offsets = reader.messages.all.compactMap(\.offset)
            #expect(zip(offsets, offsets.dropFirst()).allSatisfy { $0 < $1 }, "in offset order: \(offsets)")
            await reader.client.disconnect()
        }
    }
}
