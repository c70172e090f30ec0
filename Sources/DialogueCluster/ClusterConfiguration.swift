import Foundation

/// How a node takes part in a cluster: its name, how often it proves it is alive, and how long the others
/// wait before they declare it gone (see `Docs/ClusterDesign.md`).
public struct ClusterConfiguration: Sendable, Equatable {
    /// The node's name in `/ready`, the admin dashboard and metrics. Several nodes may not share a name
    /// while they run; a restarted node may reuse its name (it joins under a new id).
    public var nodeName: String
    /// How often the node records its heartbeat, and looks for nodes that stopped. Default 2 s.
    public var heartbeatInterval: Duration
    /// How long a node may go without a heartbeat before the others remove it. Default 10 s; at least
    /// twice ``heartbeatInterval``, so that one late heartbeat does not cost a node its clients.
    public var nodeTimeout: Duration

    public init(nodeName: String = ClusterConfiguration.uniqueNodeName(), heartbeatInterval: Duration = .seconds(2), nodeTimeout: Duration = .seconds(10)) {
        self.nodeName = nodeName
        self.heartbeatInterval = heartbeatInterval
        self.nodeTimeout = nodeTimeout
    }

    /// A name no other node has: the host's name and eight random hexadecimal digits.
    public static func uniqueNodeName() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "node"
        return "\(host)-\(String(UInt32.random(in: .min ... .max), radix: 16))"
    }

    /// Checks the values: a name, positive durations, a timeout of at least two heartbeats.
    public func validate() throws(ClusterError) {
        guard !nodeName.isEmpty, nodeName.utf8.count <= 200 else {
            throw ClusterError(.invalidConfiguration, "the node name must have 1 to 200 bytes")
        }
        guard heartbeatInterval > .zero else { throw ClusterError(.invalidConfiguration, "the heartbeat interval must be positive") }
        guard nodeTimeout >= heartbeatInterval * 2 else {
            throw ClusterError(.invalidConfiguration, "the node timeout must be at least twice the heartbeat interval")
        }
    }
}

/// A cluster operation that failed, with a code that says which way.
public struct ClusterError: Error, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable {
        /// A value of ``ClusterConfiguration`` is out of range.
        case invalidConfiguration = "CLUSTER_INVALID_CONFIGURATION"
        /// Another running node already has this node's name.
        case nameTaken = "CLUSTER_NAME_TAKEN"
        /// The operation needs the node to have joined (``ClusterMembership/run()`` is running).
        case notJoined = "CLUSTER_NOT_JOINED"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
