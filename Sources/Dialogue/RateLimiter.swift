import DequeModule
import Synchronization

/// Limits actions per key with a sliding window: at most `maxEvents` in any `window`.
///
/// ```swift
/// let limiter = RateLimiter(maxEvents: 10, window: .seconds(1))
/// if limiter.isAllowed(userId) {
///     try await dialogue.trigger("chat", Message, data, from: userId)
/// } else {
///     logger.warning("rate limited", metadata: ["user": "\(userId)"])
/// }
/// ```
public final class RateLimiter: Sendable {
    private let clock = ContinuousClock()
    private let window: Mutex<SlidingWindow<String>>

    public init(maxEvents: Int, window: Duration) {
        self.window = Mutex(SlidingWindow(maxEvents: maxEvents, window: window))
    }

    /// Records an attempt for `key`; `false` (and nothing recorded) when the key is over its limit.
    public func isAllowed(_ key: String) -> Bool {
        let now = clock.now
        return window.withLock { $0.attempt(key, at: now) }
    }

    /// How many more attempts `key` may make right now.
    public func remaining(_ key: String) -> Int {
        let now = clock.now
        return window.withLock { $0.remaining(key, at: now) }
    }

    /// Forgets `key`'s attempts.
    public func reset(_ key: String) {
        window.withLock { $0.reset(key) }
    }
}

/// The rate limiter's state as a value: attempts per key, with time passed in. Keys whose attempts have all
/// expired are dropped as time passes (a sweep at most once per window), so idle keys do not accumulate.
public struct SlidingWindow<Key: Hashable & Sendable>: Sendable {
    public typealias Instant = ContinuousClock.Instant

    /// The most attempts allowed in any window.
    public let maxEvents: Int
    /// The window's length.
    public let window: Duration
    private var attempts: [Key: Deque<Instant>] = [:]
    private var nextSweep: Instant?

    public init(maxEvents: Int, window: Duration) {
        precondition(maxEvents > 0 && window > .zero, "a rate limit needs a positive count and window")
        self.maxEvents = maxEvents
        self.window = window
    }

    /// Records an attempt at `now` if `key` is under its limit; returns whether it was.
    public mutating func attempt(_ key: Key, at now: Instant) -> Bool {
        sweepIfDue(now)
        var times = attempts[key] ?? []
        Self.dropExpired(&times, before: now - window)
        guard times.count < maxEvents else {
            attempts[key] = times
            return false
        }
        times.append(now)
        attempts[key] = times
        return true
    }

    /// How many attempts `key` may make at `now`.
    public func remaining(_ key: Key, at now: Instant) -> Int {
        let recent = attempts[key]?.reduce(0) { $1 > now - window ? $0 + 1 : $0 } ?? 0
        return max(0, maxEvents - recent)
    }

    /// Forgets `key`.
    public mutating func reset(_ key: Key) {
        attempts[key] = nil
    }

    /// The number of keys with attempts still in memory.
    public var trackedKeys: Int { attempts.count }

    private mutating func sweepIfDue(_ now: Instant) {
        guard let due = nextSweep else {
            nextSweep = now + window
            return
        }
        guard now >= due else { return }
        let cutoff = now - window
        attempts = attempts.filter { $0.value.last.map { $0 > cutoff } ?? false }
        nextSweep = now + window
    }

    private static func dropExpired(_ times: inout Deque<Instant>, before cutoff: Instant) {
        while let first = times.first, first <= cutoff { times.removeFirst() }
    }
}
