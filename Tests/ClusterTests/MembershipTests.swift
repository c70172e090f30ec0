import DialogueCluster
import Foundation
import Logging
import ServiceLifecycle
import Testing
import TestSupport

@testable import DialogueCluster

@Suite("Cluster membership: what a new look at the node table changes")
struct MembershipViewTests {
    let a = ClusterNode(id: "a", name: "alpha", startedAt: Date(timeIntervalSince1970: 1))
    let b = ClusterNode(id: "b", name: "beta", startedAt: Date(timeIntervalSince1970: 2))
    let c = ClusterNode(id: "c", name: "gamma", startedAt: Date(timeIntervalSince1970: 3))

    @Test func nodesJoinInTheOrderTheyStarted() {
        var view = MembershipView()
        #expect(view.update(listed: [c, a, b], removedHere: []) == [.joined(a), .joined(b), .joined(c)])
        #expect(view.update(listed: [a, b, c], removedHere: []) == [], "nothing changed")
        #expect(view.sortedNodes == [a, b, c])
    }

    @Test func aNodeThatVanishedLeftAndOnlyTheRemoverSaysItRemovedIt() {
        var remover = MembershipView()
        var other = MembershipView()
        _ = remover.update(listed: [a, b, c], removedHere: [])
        _ = other.update(listed: [a, b, c], removedHere: [])
        #expect(remover.update(listed: [a, b], removedHere: [c]) == [.left(c, removedHere: true)])
        #expect(other.update(listed: [a, b], removedHere: []) == [.left(c, removedHere: false)])
    }

    @Test func aRemovedNodeNeverSeenIsStillReported() {
        var view = MembershipView()
        #expect(view.update(listed: [a], removedHere: [b]) == [.left(b, removedHere: true), .joined(a)])
        #expect(view.sortedNodes == [a])
    }
}

/// Three nodes in one process, each with its own connection pool, against the throwaway PostgreSQL of
/// `./scripts/test`; each test in a schema of its own. Heartbeats every 200 ms, nodes time out after 2 s
/// (generous: the suite runs everything in parallel on two cores, and a live node must not time out).
@Suite("Cluster membership on PostgreSQL")
struct ClusterMembershipTests {
    static let logger: Logger = {
        var logger = Logger(label: "cluster-test")
        logger.logLevel = .warning
        return logger
    }()

    struct Node {
        let membership: ClusterMembership
        let changes: Recorder<MembershipChange>
        let task: Task<Void, any Error>
        let group: ServiceGroup

        /// Stops the node without a word, as SIGKILL would: its row stays for the others to time out.
        func kill() { task.cancel() }
        /// Stops it gracefully: it removes its own row.
        func stop() async { await group.triggerGracefulShutdown() }
    }

    func start(_ name: String, schema: String) throws -> Node {
        let url = try #require(ProcessInfo.processInfo.environment["DIALOGUE_POSTGRES_URL"], "DIALOGUE_POSTGRES_URL is not set: run ./scripts/test")
        let membership = try ClusterMembership(
            url: url, schema: schema,
            configuration: ClusterConfiguration(nodeName: name, heartbeatInterval: .milliseconds(200), nodeTimeout: .seconds(2)),
            logger: Self.logger
        )
        let group = ServiceGroup(configuration: .init(services: [.init(service: membership)], logger: Self.logger))
        let changes = Recorder<MembershipChange>()
        let task = Task {
            try await withThrowingDiscardingTaskGroup { tasks in
                tasks.addTask { for await change in membership.changes { changes.append(change) } }
                try await group.run()
            }
        }
        return Node(membership: membership, changes: changes, task: task, group: group)
    }

    static func schema() -> String { "cluster_test_\(UInt32.random(in: .min ... .max))" }

    func names(_ node: Node) -> [String] { node.membership.nodes.map(\.name) }

    @Test func threeNodesSeeEachOtherAndASilentNodeIsRemovedOnceWithinTheTimeout() async throws {
        let schema = Self.schema()
        let alpha = try start("alpha", schema: schema)
        try await eventually("alpha joined") { alpha.membership.node != nil }
        let beta = try start("beta", schema: schema)
        let gamma = try start("gamma", schema: schema)
        defer { alpha.kill(); beta.kill(); gamma.kill() }
        for node in [alpha, beta, gamma] {
            try await eventually("every node sees three, got \(names(node))") { Set(names(node)) == ["alpha", "beta", "gamma"] }
        }
        let gammaNode = try #require(gamma.membership.node)

        gamma.kill()
        let killed = ContinuousClock.now
        for node in [alpha, beta] {
            try await node.changes.wait { $0.contains { if case .left(gammaNode, _) = $0 { true } else { false } } }
        }
        let detection = ContinuousClock.now - killed
        #expect(detection < .seconds(8), "detected in \(detection); the timeout is 2 s, heartbeats every 200 ms")
        let removals = [alpha, beta].flatMap(\.changes.all).filter { $0 == .left(gammaNode, removedHere: true) }
        #expect(removals.count == 1, "exactly one node removed gamma and announces its clients' departure")
        #expect(Set(names(alpha)) == ["alpha", "beta"])
    }

    @Test func aGracefulStopLeavesAtOnceAndARestartUnderTheSameNameJoinsAsANewNode() async throws {
        let schema = Self.schema()
        let alpha = try start("alpha", schema: schema)
        let beta = try start("beta", schema: schema)
        defer { alpha.kill(); beta.kill() }
        try await eventually("alpha sees beta") { Set(names(alpha)) == ["alpha", "beta"] }
        let first = try #require(beta.membership.node)
        await beta.stop()
        // Not removed by a timeout (alpha would then be the remover): beta removed itself.
        try await alpha.changes.wait { $0.contains(.left(first, removedHere: false)) }

        let again = try start("beta", schema: schema)
        defer { again.kill() }
        try await eventually("the restarted beta joined") { again.membership.node != nil }
        let second = try #require(again.membership.node)
        #expect(second.id != first.id)
        try await alpha.changes.wait { $0.contains(.joined(second)) }
    }

    @Test func aNameInUseIsRefusedAndTakenOverOnceItsNodeTimedOut() async throws {
        let schema = Self.schema()
        let alpha = try start("alpha", schema: schema)
        try await eventually("alpha joined") { alpha.membership.node != nil }
        let first = try #require(alpha.membership.node)

        let twin = try start("alpha", schema: schema)
        do {
            try await twin.task.value
            Issue.record("a second node named alpha joined")
        } catch {
            #expect((error as? ClusterError)?.code == .nameTaken, "\(error)")
        }

        alpha.kill()
        try await Task.sleep(for: .milliseconds(2_600))
        let successor = try start("alpha", schema: schema)
        defer { successor.kill() }
        try await successor.changes.wait { $0.contains(.left(first, removedHere: true)) }
        #expect(successor.membership.nodes.map(\.name) == ["alpha"])
    }

    @Test func theConfigurationIsChecked() {
        #expect(throws: ClusterError(.invalidConfiguration, "the node timeout must be at least twice the heartbeat interval")) {
            try ClusterConfiguration(heartbeatInterval: .seconds(2), nodeTimeout: .seconds(3)).validate()
        }
        #expect(throws: ClusterError.self) { try ClusterConfiguration(nodeName: "").validate() }
        #expect(ClusterConfiguration().nodeTimeout == .seconds(10))
        #expect(ClusterConfiguration().nodeName != ClusterConfiguration().nodeName, "default names are unique")
    }
}
