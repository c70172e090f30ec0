import DialogueHistory

/// An event that travels between the nodes of a cluster: the message as delivered and, for a kept event,
/// the epoch of its offset.
public struct ClusterEvent: Sendable, Equatable {
    /// The message; a kept event carries its offset.
    public var message: AnyEventMessage
    /// The epoch of the message's offset; `nil` for an event without history.
    public var epoch: Int64?

    public init(message: AnyEventMessage, epoch: Int64?) {
        self.message = message
        self.epoch = epoch
    }
}

/// What a node hears from the others.
public enum ClusterReceived: Sendable, Equatable {
    /// An event another node delivered.
    case event(ClusterEvent)
    /// A change of another node's clients (`node`: its ``ClusterLink/nodeID``).
    case roster(RosterChange, node: String)
    /// A node left the cluster. `announcedHere` is `true` on exactly one node, the one that announces what
    /// its clients leave behind (their users' `user:left`).
    case nodeLeft(String, announcedHere: Bool)
    /// This node was removed by the others (it could not reach the database for longer than the timeout)
    /// and joined again under a new id: the others forgot its clients, it sends them again.
    case rejoined
}

/// A node's view of its cluster, for `/ready` and dashboards.
public struct ClusterStatus: Sendable, Equatable {
    /// This node's name.
    public var node: String
    /// This node's id, once it joined; `nil` while it is not (yet, or again) a member.
    public var nodeID: String?
    /// The nodes it knows of, itself included, by the time they joined.
    public var nodes: [Node]

    public struct Node: Sendable, Equatable {
        public var id: String
        public var name: String

        public init(id: String, name: String) {
            self.id = id
            self.name = name
        }
    }

    public init(node: String, nodeID: String?, nodes: [Node]) {
        self.node = node
        self.nodeID = nodeID
        self.nodes = nodes
    }
}

/// How a Dialogue server reaches the other nodes of its cluster. The `DialogueCluster` module's
/// `PostgresClusterLink` is the implementation; a server with a link needs a ``SharedHistoryStore`` (the
/// offsets of kept events are the store's, not a process's).
///
/// Each node delivers to its own clients: what one node triggers it delivers, then sends once to the other
/// nodes, which deliver it to theirs — kept events in offset order, each sender's others in order.
public protocol ClusterLink: Sendable {
    /// Runs the link (its connections, its reading) until ``stop()`` or cancellation. A graceful shutdown of
    /// the server does not stop it: the server still sends while it drains, then calls ``stop()``.
    func run() async throws
    /// Leaves the cluster in order (the others see this node go at once); ``run()`` returns.
    func stop() async
    /// Returns once whatever another node sends from now on will arrive on ``received``; throws what
    /// ``run()`` failed with before getting there (the database unreachable, the node's name taken).
    func waitUntilReady() async throws
    /// This node's id in the cluster, once it joined (it changes when the node joins again).
    var nodeID: String? { get }
    /// This node's view of the cluster.
    var status: ClusterStatus { get }
    /// Sends events this node delivered to every other node, in order, as one message; returns once they
    /// are stored for them.
    func send(_ events: [ClusterEvent]) async throws
    /// Sends a change of this node's clients to every other node, in order with the others.
    func send(_ change: RosterChange) async throws
    /// Takes one of the `limit` seats of a room for a connection of this node, for the whole cluster at once
    /// (a room's `maxSize`); `false` when every seat is taken. The seat stays until released or until this
    /// node leaves the cluster.
    func claimSeat(roomId: String, clientId: String, limit: Int) async throws -> Bool
    /// Gives back a connection's seat in `roomId`, or in every room when `roomId` is `nil`.
    func releaseSeats(clientId: String, roomId: String?) async throws
    /// What the other nodes send — each once, each node's in the order it sent them — and membership
    /// changes. Ends when ``run()`` ends.
    var received: AsyncStream<ClusterReceived> { get }
}
