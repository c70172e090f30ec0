import NIOCore

/// A point in time on the monotonic clock, as the sessions' state machines read it.
///
/// `ContinuousClock.Instant` would do, but it comes from a library built for evolution: its size is not
/// known where our code is compiled, so every copy of a state machine holding it goes through run-time
/// metadata — measured at hundreds of instructions per frame queued. This one is a plain integer.
struct EngineInstant: InstantProtocol, Sendable {
    /// Nanoseconds on the monotonic clock (`NIODeadline`'s).
    let nanoseconds: Int64

    static var now: EngineInstant { EngineInstant(nanoseconds: Int64(NIODeadline.now().uptimeNanoseconds)) }

    func advanced(by duration: Duration) -> EngineInstant {
        let (sum, overflow) = nanoseconds.addingReportingOverflow(Self.nanoseconds(of: duration))
        return EngineInstant(nanoseconds: overflow ? (duration < .zero ? .min : .max) : sum)
    }

    func duration(to other: EngineInstant) -> Duration {
        .nanoseconds(other.nanoseconds - nanoseconds)
    }

    static func < (lhs: EngineInstant, rhs: EngineInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// `duration` in nanoseconds, saturated (a configured interval of centuries is "never", not a crash).
    private static func nanoseconds(of duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflowSum) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflowSum ? (seconds < 0 ? .min : .max) : sum
    }
}
