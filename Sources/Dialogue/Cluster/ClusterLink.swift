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

/// How a Dialogue server reaches the other nodes of its cluster. The `DialogueCluster` module's
/// `PostgresClusterLink` is the implementation; a server with a link needs a ``SharedHistoryStore`` (the
/// offsets of kept events are the store's, not a process's).
///
/// Each node delivers to its own clients: what one node triggers it delivers, then sends once to the other
/// nodes, which deliver it to theirs — kept events in offset order, each sender's others in order.
public protocol ClusterLink: Sendable {
    /// Runs the link (its connections, its reading) until cancelled, or until graceful shutdown.
    func run() async throws
    /// Returns once whatever another node sends from now on will arrive on ``received``; throws what
    /// ``run()`` failed with before getting there (the database unreachable, the node's name taken).
    func waitUntilReady() async throws
    /// Sends events this node delivered to every other node, in order, as one message; returns once they
    /// are stored for them.
    func send(_ events: [ClusterEvent]) async throws
    /// What the other nodes send, each event once, each node's in the order it sent them. Ends when
    /// ``run()`` ends.
    var received: AsyncStream<ClusterEvent> { get }
}
