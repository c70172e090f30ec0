import Foundation
import Hummingbird
import SocketIO
import TestSupport
import Testing

extension ClusterServeTests {
    /// The page of this test (`Browser/cluster_client_test.html`): one browser client per node.
    static let clusterPage = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Browser/cluster_client_test.html")

    @Test("the browser client against three nodes: presence, delivery in one order, history, a client room and a leave, across nodes", .timeLimit(.minutes(2)))
    func browserClientsOnEveryNode() async throws {
        let chromium = try #require(BrowserClientTests.chromium, "no chromium: run ./scripts/test (it installs Debian's chromium)")
        try await withCluster { _, urls in
            // The page comes from a server of the test, with the client script of node 1; the clients open
            // their WebSockets to the three nodes (WebSockets need no CORS, and no stickiness).
            let html = try Data(contentsOf: Self.clusterPage)
            let script = try await httpRequest("GET", urls[0] + "/dialogue/client.js")
            #expect(script.status == 200)
            let result = AsyncValue<SocketValue>()
            let port = AsyncValue<Int>()
            let router = Router()
            router.get("/cluster-test") { _, _ in
                Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: html)))
            }
            router.get("/dialogue/client.js") { _, _ in
                Response(status: .ok, headers: [.contentType: "text/javascript"], body: .init(byteBuffer: ByteBuffer(string: script.body)))
            }
            router.post("/cluster-test/result") { request, _ -> HTTPResponse.Status in
                let body = try await request.body.collect(upTo: 1_000_000)
                result.set((try? SocketValue(jsonText: String(buffer: body))) ?? .null)
                return .ok
            }
            let app = Application(
                router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { port.set($0.localAddress?.port ?? 0) }, logger: testLogger
            )
            let server = Task { try await app.runService() }
            defer { server.cancel() }
            let nodes = urls.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }.joined(separator: ",")
            let browser = try HeadlessChromium(chromium, opening: "http://127.0.0.1:\(try await port.value())/cluster-test?nodes=\(nodes)")
            defer { browser.close() }
            let report = try await result.value(timeout: .seconds(90))
            #expect(report["connect"] == ["b1", "b2", "b3"])
            #expect(report["join"] == ["general", "general", "general"])
            #expect(report["presence"] == ["b1", "b2", "b3"], "node 1 counts the users of every node")
            let seen = try #require(report["messages"]?.arrayValue, "messages: \(report["messages"]?.jsonText ?? "missing")")
            let orders = seen.map { $0.arrayValue?.compactMap { $0["text"]?.stringValue } ?? [] }
            #expect(Set(orders.first ?? []) == ["from b1", "from b2", "from b3"])
            #expect(orders.allSatisfy { $0 == orders.first }, "every node delivers in the same order: \(orders)")
            for client in seen {
                let offsets = client.arrayValue?.compactMap { $0["offset"]?.intValue } ?? []
                #expect(offsets.count == 3 && zip(offsets, offsets.dropFirst()).allSatisfy { $0 < $1 }, "offsets: \(offsets)")
            }
            #expect(report["history"] == ["from b1", "from b2", "from b3"], "node 3 reads every node's messages from the store")
            #expect(report["createdRoom"] == true, "a room made through node 2 is listed by node 3")
            let presence = report["leave"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(presence.filter { $0 == "joined b2" }.count == 1 && presence.filter { $0 == "joined b3" }.count == 1, "presence: \(presence)")
            #expect(presence.last == "left b3", "presence: \(presence)")
        }
    }
}
