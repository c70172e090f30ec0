/// How many sessions a server holds, in all and per client address, and how fast one address may open them.
/// The reference server has no such limits; without them one address can take every file descriptor.
public struct EngineConnectionLimits: Sendable, Hashable {
    /// The most open sessions. Defaults to 100 000.
    public var maxConnections: Int
    /// The most open sessions from one client address. Defaults to 1 000 (behind a proxy every client
    /// shares its address: see ``EngineServerConfiguration/clientAddressHeader``).
    public var maxConnectionsPerAddress: Int
    /// The most handshakes one address may make in a burst, refilled evenly over ``handshakeWindow``.
    /// Defaults to 100.
    public var maxHandshakesPerAddress: Int
    /// The time over which ``maxHandshakesPerAddress`` refills. Defaults to 1 s.
    public var handshakeWindow: Duration

    /// Creates limits.
    /// - Precondition: every count and the window are positive.
    public init(maxConnections: Int = 100_000, maxConnectionsPerAddress: Int = 1_000, maxHandshakesPerAddress: Int = 100, handshakeWindow: Duration = .seconds(1)) {
        precondition(maxConnections > 0 && maxConnectionsPerAddress > 0 && maxHandshakesPerAddress > 0, "connection limits must be positive")
        precondition(handshakeWindow > .zero, "the handshake window must be positive")
        self.maxConnections = maxConnections
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
        self.maxHandshakesPerAddress = maxHandshakesPerAddress
        self.handshakeWindow = handshakeWindow
    }

    /// No limit that a benchmark or a test from one address would meet.
    public static let unlimited = EngineConnectionLimits(
        maxConnections: .max, maxConnectionsPerAddress: .max, maxHandshakesPerAddress: .max, handshakeWindow: .seconds(1)
    )

    /// Which limit refused a handshake.
    public enum Limit: String, Sendable, Hashable {
        case maxConnections = "max connections"
        case maxConnectionsPerAddress = "max connections per address"
        case handshakeRate = "handshake rate"
    }
}

/// Decides which handshakes may open a session under ``EngineConnectionLimits``: it counts the open
/// sessions per client address and keeps a token bucket of handshakes per address. A value with an
/// injected clock: the server holds it in its registry's lock and passes the time in.
public struct ConnectionAdmission<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    private struct Address {
        var open = 0
        var tokens: Double
        var refilled: Instant
        var lastLogged: Instant?
    }

    private let limits: EngineConnectionLimits
    private var addresses: [String: Address] = [:]
    private var open = 0
    private var lastLoggedFull: Instant?
    /// Addresses with no session are forgotten once their bucket is full again; the sweep runs when the
    /// table doubled since the last one, so it costs O(1) per handshake over time.
    private var sweepAt = 1024
    /// Of the refusals of one address (or, for ``EngineConnectionLimits/Limit/maxConnections``, of the
    /// server), the first in this interval is logged, the rest only counted: a flood of handshakes must not
    /// become a flood of log lines.
    public static var logInterval: Duration { .seconds(60) }

    public init(limits: EngineConnectionLimits) {
        self.limits = limits
    }

    /// Open sessions counted.
    public var openCount: Int { open }

    /// The number of addresses remembered (idle ones are forgotten).
    public var rememberedAddresses: Int { addresses.count }

    /// The limit that would refuse a handshake from `address` at `now`, if any; counts nothing (a
    /// WebSocket upgrade is decided before its session opens).
    public func refusal(for address: String, now: Instant) -> EngineConnectionLimits.Limit? {
        guard open < limits.maxConnections else { return .maxConnections }
        guard let entry = addresses[address] else { return nil }
        if entry.open >= limits.maxConnectionsPerAddress { return .maxConnectionsPerAddress }
        return refilled(entry, now: now).tokens < 1 ? .handshakeRate : nil
    }

    /// Admits a handshake from `address` at `now` and counts its session, or returns the limit that
    /// refuses it.
    public mutating func admit(_ address: String, now: Instant) -> EngineConnectionLimits.Limit? {
        if let limit = refusal(for: address, now: now) { return limit }
        var entry = addresses[address].map { refilled($0, now: now) } ?? Address(tokens: Double(limits.maxHandshakesPerAddress), refilled: now)
        entry.tokens -= 1
        entry.open += 1
        open += 1
        addresses[address] = entry
        if addresses.count >= sweepAt { sweep(now: now) }
        return nil
    }

    /// A session from `address` that ``admit(_:now:)`` counted is over.
    public mutating func release(_ address: String) {
        guard var entry = addresses[address], entry.open > 0 else { return }
        entry.open -= 1
        open -= 1
        addresses[address] = entry
    }

    /// Whether to log a refusal of `address` by `limit` at `now` (see ``logInterval``).
    public mutating func shouldLogRefusal(of address: String, by limit: EngineConnectionLimits.Limit, now: Instant) -> Bool {
        func due(_ last: Instant?) -> Bool { last.map { $0.duration(to: now) >= Self.logInterval } ?? true }
        if limit == .maxConnections {
            guard due(lastLoggedFull) else { return false }
            lastLoggedFull = now
            return true
        }
        guard var entry = addresses[address], due(entry.lastLogged) else { return false }
        entry.lastLogged = now
        addresses[address] = entry
        return true
    }

    private func refilled(_ entry: Address, now: Instant) -> Address {
        var entry = entry
        let elapsed = entry.refilled.duration(to: now)
        guard elapsed > .zero else { return entry }
        let capacity = Double(limits.maxHandshakesPerAddress)
        entry.tokens = Swift.min(capacity, entry.tokens + capacity * Self.seconds(elapsed) / Self.seconds(limits.handshakeWindow))
        entry.refilled = now
        return entry
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    private mutating func sweep(now: Instant) {
        let capacity = Double(limits.maxHandshakesPerAddress)
        addresses = addresses.filter { _, entry in
            entry.open > 0 || refilled(entry, now: now).tokens < capacity
                || entry.lastLogged.map { $0.duration(to: now) < Self.logInterval } == true
        }
        sweepAt = Swift.max(1024, addresses.count * 2)
    }
}
