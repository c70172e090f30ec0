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
    public let received: AsyncStream<ClusterEvent>

    private let continuation: AsyncStream<ClusterEvent>.Continuation
    private let logger: Logger
    private let start = Mutex(Start.starting([]))

    private enum Start {
        case starting([CheckedContinuation<Void, any Error>])
        case ready
        case failed(any Error)
    }

    static let eventTopic = "dialogue.event"

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
            continuation.finish()
            settle(.failed(ClusterError(.notJoined, "the cluster link stopped before it was ready")))
        }
        do {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await self.membership.run() }
                group.addTask { try await self.bus.run() }
                group.addTask { await self.forward() }
                group.addTask { await self.becomeReady() }
            }
        } catch {
            settle(.failed(error))
            throw error
        }
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
        let list = events.map { event -> SocketValue in
            var envelope: OrderedDictionary<SocketKey, SocketValue> = ["message": event.message.socketValue]
            if let epoch = event.epoch { envelope["epoch"] = .int(epoch) }
            return .object(envelope)
        }
        try await bus.publish(topic: Self.eventTopic, payload: SocketValue.array(list).jsonText)
    }

    /// Hands on the events other nodes sent; skips this node's own and what does not decode (logged).
    private func forward() async {
        for await message in bus.messages where message.origin != bus.nodeID && message.topic == Self.eventTopic {
            guard let list = (try? SocketValue(jsonText: message.payload))?.arrayValue else {
                logger.error("skipping a cluster message that does not decode", metadata: ["cluster.origin": .string(message.origin)])
                continue
            }
            for envelope in list {
                guard let value = envelope["message"], let event = AnyEventMessage(socketValue: value) else {
                    logger.error("skipping a cluster event that does not decode", metadata: ["cluster.origin": .string(message.origin)])
                    continue
                }
                var epoch: Int64?
                if case .int(let value)? = envelope["epoch"] { epoch = value }
                continuation.yield(ClusterEvent(message: event, epoch: epoch))
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
