import DialogueCluster
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Testing
import TestSupport

/// Two or three buses in one process, each with its own pool and `LISTEN` session, against the throwaway
/// PostgreSQL of `./scripts/test`; each test in a schema of its own.
@Suite("Cluster bus on PostgreSQL")
struct ClusterBusTests {
    static let logger: Logger = {
        var logger = Logger(label: "cluster-bus-test")
        logger.logLevel = .error
        return logger
    }()

    static var url: String {
        get throws { try #require(ProcessInfo.processInfo.environment["DIALOGUE_POSTGRES_URL"], "DIALOGUE_POSTGRES_URL is not set: run ./scripts/test") }
    }

    struct Node {
        let bus: ClusterBus
        let received: Recorder<ClusterMessage>
        let task: Task<Void, any Error>
    }

    func start(_ id: String, schema: String, configuration: ClusterBusConfiguration = .init()) async throws -> Node {
        let bus = try ClusterBus(url: try Self.url, schema: schema, nodeID: id, configuration: configuration, logger: Self.logger)
        let received = Recorder<ClusterMessage>()
        let task = Task {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { for await message in bus.messages { received.append(message) } }
                try await bus.run()
            }
        }
        await bus.waitUntilReady()
        return Node(bus: bus, received: received, task: task)
    }

    static func schema() -> String { "cluster_bus_test_\(UInt32.random(in: .min ... .max))" }

    @Test func everyNodeReceivesEveryMessageOnceAndEachSendersInOrder() async throws {
        let schema = Self.schema()
        let a = try await start("a", schema: schema)
        let b = try await start("b", schema: schema)
        let c = try await start("c", schema: schema)
        defer { for node in [a, b, c] { node.task.cancel() } }
        // Each node sends 60 messages one after another, the three at the same time.
        try await withThrowingTaskGroup { group in
            for node in [a, b, c] {
                group.addTask { for index in 0..<60 { try await node.bus.publish(topic: "n", payload: "\(node.bus.nodeID)-\(index)") } }
            }
            try await group.waitForAll()
        }
        for node in [a, b, c] {
            try await node.received.wait { $0.count >= 180 }
            try await Task.sleep(for: .milliseconds(300))
            let all = node.received.all
            #expect(all.count == 180, "each message once")
            for sender in ["a", "b", "c"] {
                #expect(all.filter { $0.origin == sender }.map(\.payload) == (0..<60).map { "\(sender)-\($0)" }, "\(sender)'s in order at \(node.bus.nodeID)")
            }
        }
    }

    @Test func aMessageFarLargerThanANotificationArrivesWhole() async throws {
        let schema = Self.schema()
        let a = try await start("a", schema: schema)
        let b = try await start("b", schema: schema)
        defer { a.task.cancel(); b.task.cancel() }
        let large = String(repeating: "0123456789", count: 10_000)  // 100 000 bytes; NOTIFY takes < 8 000
        try await a.bus.publish(topic: "large", payload: large)
        try await b.received.wait { $0.contains { $0.payload == large && $0.topic == "large" && $0.origin == "a" } }
    }

    /// Polling off (an hour), so that only the listener can wake the reader: its connection is killed in
    /// PostgreSQL, messages are sent while it is gone, and they arrive once it listens again.
    @Test func whatIsSentWhileTheListenerIsDisconnectedArrivesAfterItReconnects() async throws {
        let schema = Self.schema()
        let quiet = ClusterBusConfiguration(pollInterval: .seconds(3600))
        // Node ids unique across the suite's parallel tests: the listener's session is found by its id.
        let a = try await start("a-\(schema)", schema: schema, configuration: quiet)
        let b = try await start("b-\(schema)", schema: schema, configuration: quiet)
        defer { a.task.cancel(); b.task.cancel() }
        try await a.bus.publish(topic: "t", payload: "before")
        try await b.received.wait { $0.map(\.payload) == ["before"] }

        let admin = PostgresClient(configuration: try postgresConfiguration(), backgroundLogger: Self.logger)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await admin.run() }
            defer { group.cancelAll() }
            let terminated = try await admin.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = \("dialogue-cluster-listener-b-\(schema)")", logger: Self.logger
            )
            var count = 0
            for try await _ in terminated.decode(Bool.self) { count += 1 }
            #expect(count == 1, "b's listening session was found and ended")
            for index in 0..<20 { try await a.bus.publish(topic: "t", payload: "during-\(index)") }
        }
        try await b.received.wait { $0.count == 21 }
        #expect(b.received.all.map(\.payload) == ["before"] + (0..<20).map { "during-\($0)" })
    }

    /// A transaction that began first and commits last: the message committed meanwhile waits for it (a
    /// reader that went by "the highest id seen" would deliver the later one and skip the earlier for good).
    @Test func aMessageWaitsForAnOlderTransactionStillOpenAndNeitherIsSkipped() async throws {
        let schema = Self.schema()
        let a = try await start("a", schema: schema)
        let b = try await start("b", schema: schema)
        defer { a.task.cancel(); b.task.cancel() }
        let admin = PostgresClient(configuration: try postgresConfiguration(), backgroundLogger: Self.logger)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await admin.run() }
            defer { group.cancelAll() }
            try await admin.withTransaction(logger: Self.logger) { connection in
                try await connection.query(
                    "INSERT INTO \(unescaped: schema).dialogue_cluster_outbox (origin, topic, payload) VALUES ('slow', 't', 'first')", logger: Self.logger
                )
                try await a.bus.publish(topic: "t", payload: "second")
                try await Task.sleep(for: .milliseconds(600))
                #expect(b.received.all.isEmpty, "nothing is read past a transaction still running")
            }
        }
        try await b.received.wait { $0.count == 2 }
        #expect(b.received.all.map(\.payload) == ["first", "second"], "in the order the transactions began writing")
    }

    func postgresConfiguration() throws -> PostgresClient.Configuration {
        let components = try #require(URLComponents(string: try Self.url))
        return PostgresClient.Configuration(
            host: components.host ?? "127.0.0.1", port: components.port ?? 5432, username: components.user ?? "postgres",
            password: components.password, database: String(components.path.dropFirst()), tls: .disable
        )
    }
}
