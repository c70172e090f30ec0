import Dialogue
import Foundation
import Logging
import OrderedCollections
import ServiceLifecycle
import SocketIO
import Synchronization

/// A Dialogue server's link to the other nodes of its cluster, on PostgreSQL: the node's membership
/// (``ClusterMembership``) and the bus its events travel on (``ClusterBus``), in the schema of the shared
/// history store.
///
/// ```swift
/// let store = try PostgresHistoryStore(url: url, logger: logger)
/// var configuration = DialogueConfiguration(historyStore: store)
/// configuration.cluster = try PostgresClusterLink(url: url, configuration: ClusterConfiguration(nodeName: "eu-1"), logger: logger)
/// ```
public final class PostgresClusterLink: ClusterLink {
    public let membership: ClusterMembership
    public let bus: ClusterBus
    public let received: AsyncStream<ClusterReceived>

    private let continuation: AsyncStream<ClusterReceived>.Continuation
    private let logger: Logger
    private let start = Mutex(Start.starting([]))
    /// The membership and the bus, as services of a group of the link's own: they stop when the Dialogue
    /// server says (``stop()``, once its last events are sent), not at the first sign of its shutdown.
    private let services = Mutex<ServiceGroup?>(nil)
    private let stopped = Atomic(false)

    private enum Start {
        case starting([CheckedContinuation<Void, any Error>])
        case ready
        case failed(any Error)
    }

    static let eventTopic = "dialogue.event"
    static let rosterTopic = "dialogue.roster"

    public var nodeID: String? { membership.node?.id }

    public var status: ClusterStatus {
        ClusterStatus(node: membership.configuration.nodeName, nodeID: membership.node?.id, nodes: membership.nodes.map { .init(id: $0.id, name: $0.name) })
    }

    /// A link through the database of `url`, its tables in `schema` (the history store's).
    public init(
        url: String, schema: String = "dialogue", configuration: ClusterConfiguration, bus: ClusterBusConfiguration = .init(), logger: Logger
    ) throws {
        membership = try ClusterMembership(url: url, schema: schema, configuration: configuration, logger: logger)
        self.bus = try ClusterBus(url: url, schema: schema, nodeID: UUID().uuidString.lowercased(), configuration: bus, logger: logger)
        self.logger = logger
        (received, continuation) = AsyncStream.makeStream()
    }

    public func run() async throws {
        defer {
            stopped.store(true, ordering: .relaxed)
            continuation.finish()
            settle(.failed(ClusterError(.notJoined, "the cluster link stopped before it was ready")))
        }
        let group = ServiceGroup(configuration: .init(services: [.init(service: bus), .init(service: membership)], logger: logger))
        services.withLock { $0 = group }
        do {
            try await withThrowingDiscardingTaskGroup { tasks in
                // Detached: a service group run inside another's service listens to that one's graceful
                // shutdown, and would leave the cluster at SIGTERM — before the server's disconnect handlers
                // have sent their `user:left`. This group stops when the server says.
                let services = Task.detached { try await group.run() }
                tasks.addTask { try await withTaskCancellationHandler { try await services.value } onCancel: { services.cancel() } }
                tasks.addTask { await self.forward() }
                tasks.addTask { await self.watchMembership() }
                tasks.addTask { await self.becomeReady() }
            }
        } catch {
            settle(.failed(error))
            throw error
        }
    }

    /// Leaves the cluster: the membership removes this node's row (the others see it go at once), the bus
    /// stops reading; ``run()`` returns. Sending fails from now on.
    public func stop() async {
        stopped.store(true, ordering: .relaxed)
        await services.withLock { $0 }?.triggerGracefulShutdown()
    }

    public func waitUntilReady() async throws {
        try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
            let now = start.withLock { start -> Result<Void, any Error>? in
                switch start {
                case .starting(var waiters):
                    waiters.append(waiter)
                    start = .starting(waiters)
                    return nil
                case .ready: return .success(())
                case .failed(let error): return .failure(error)
                }
            }
            if let now { waiter.resume(with: now) }
        }
    }

    public func send(_ events: [ClusterEvent]) async throws {
        guard !events.isEmpty else { return }
        guard !stopped.load(ordering: .relaxed) else { throw ClusterError(.notJoined, "the cluster link stopped") }
        let list = events.map { event -> SocketValue in
            var envelope: OrderedDictionary<SocketKey, SocketValue> = ["message": event.message.socketValue]
            if let epoch = event.epoch { envelope["epoch"] = .int(epoch) }
            return .object(envelope)
        }
        try await bus.publish(topic: Self.eventTopic, payload: SocketValue.array(list).jsonText)
    }

    public func send(_ change: RosterChange) async throws {
        guard !stopped.load(ordering: .relaxed), let node = membership.node?.id else { throw ClusterError(.notJoined, "the node has not joined") }
        try await bus.publish(topic: Self.rosterTopic, payload: SocketValue.object(["node": .string(node), "roster": change.socketValue]).jsonText)
    }

    public func claimSeat(roomId: String, clientId: String, limit: Int) async throws -> Bool {
        try await membership.claimSeat(roomId: roomId, clientId: clientId, limit: limit)
    }

    public func releaseSeats(clientId: String, roomId: String?) async throws {
        try await membership.releaseSeats(clientId: clientId, roomId: roomId)
    }

    /// Hands on what other nodes sent; skips this node's own and what does not decode (logged).
    private func forward() async {
        for await message in bus.messages where message.origin != bus.nodeID {
            switch message.topic {
            case Self.eventTopic:
                guard let list = (try? SocketValue(jsonText: message.payload))?.arrayValue else {
                    skip(message)
                    continue
                }
                for envelope in list {
                    guard let value = envelope["message"], let event = AnyEventMessage(socketValue: value) else {
                        skip(message)
                        continue
                    }
                    var epoch: Int64?
                    if case .int(let value)? = envelope["epoch"] { epoch = value }
                    continuation.yield(.event(ClusterEvent(message: event, epoch: epoch)))
                }
            case Self.rosterTopic:
                guard let envelope = try? SocketValue(jsonText: message.payload), let node = envelope["node"]?.stringValue,
                    let change = envelope["roster"].flatMap(RosterChange.init(socketValue:))
                else {
                    skip(message)
                    continue
                }
                continuation.yield(.roster(change, node: node))
            default:
                skip(message)
            }
        }
    }

    private func skip(_ message: ClusterMessage) {
        logger.error("skipping a cluster message that does not decode", metadata: ["cluster.origin": .string(message.origin), "cluster.topic": .string(message.topic)])
    }

    /// Hands on the nodes that left, and this node joining again after the others removed it.
    private func watchMembership() async {
        var joinedBefore = false
        for await change in membership.changes {
            switch change {
            case .joined(let node) where node.id == membership.node?.id:
                if joinedBefore { continuation.yield(.rejoined) }
                joinedBefore = true
            case .joined:
                break
            case .left(let node, let removedHere):
                continuation.yield(.nodeLeft(node.id, announcedHere: removedHere))
            }
        }
    }

    /// Ready once the bus reads and the node has joined.
    private func becomeReady() async {
        await bus.waitUntilReady()
        while membership.node == nil {
            guard (try? await Task.sleep(for: .milliseconds(10))) != nil else { return }
        }
        settle(.ready)
    }

    private func settle(_ outcome: Start) {
        let waiters = start.withLock { start -> [CheckedContinuation<Void, any Error>] in
            guard case .starting(let waiters) = start else { return [] }
            start = outcome
            return waiters
        }
        for waiter in waiters {
            switch outcome {
            case .failed(let error): waiter.resume(throwing: error)
            default: waiter.resume()
            }
        }
    }
}
