import Foundation

/// A node of the cluster, as one start of a `dialogue serve` process: a node that restarts, or that was
/// removed while it was paused, joins again under a new id.
public struct ClusterNode: Sendable, Hashable, Identifiable {
    /// Unique for each start.
    public let id: String
    /// ``ClusterConfiguration/nodeName``.
    public let name: String
    /// When it joined, by the database's clock.
    public let startedAt: Date

    public init(id: String, name: String, startedAt: Date) {
        self.id = id
        self.name = name
        self.startedAt = startedAt
    }
}

/// What changed in the cluster since the last look.
public enum MembershipChange: Sendable, Hashable {
    /// A node joined (this node too, when it joins or rejoins).
    case joined(ClusterNode)
    /// A node left: it stopped and removed itself, or it stopped sending heartbeats and was removed.
    /// `removedHere` is `true` on exactly one node — the one whose transaction removed it — which is the
    /// node that announces what the departed node's clients leave behind (their users' `user:left`).
    case left(ClusterNode, removedHere: Bool)
}

/// The nodes one node knows of, and what a new look at the table changes: a value, so that every case is
/// checked without a database.
struct MembershipView: Sendable {
    private(set) var nodes: [String: ClusterNode] = [:]

    /// The nodes sorted by the time they joined, then by id.
    var sortedNodes: [ClusterNode] {
        nodes.values.sorted { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }
    }

    /// Takes the nodes listed now and those this node has just removed; returns the changes, departures
    /// first. A removed node is reported even if it was never seen (it may have died before this node
    /// started): its clients still have to be accounted for.
    mutating func update(listed: [ClusterNode], removedHere: [ClusterNode]) -> [MembershipChange] {
        var changes: [MembershipChange] = []
        let removedIDs = Set(removedHere.map(\.id))
        let listedIDs = Set(listed.map(\.id))
        for node in removedHere.sorted(by: { $0.id < $1.id }) {
            nodes[node.id] = nil
            changes.append(.left(node, removedHere: true))
        }
        for node in sortedNodes where !listedIDs.contains(node.id) && !removedIDs.contains(node.id) {
            nodes[node.id] = nil
            changes.append(.left(node, removedHere: false))
        }
        for node in listed.sorted(by: { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }) where nodes[node.id] == nil && !removedIDs.contains(node.id) {
            nodes[node.id] = node
            changes.append(.joined(node))
        }
        return changes
    }
}
