import EngineIO
import Synchronization

/// How long a test waits for something that normally takes milliseconds. Generous, so that a loaded
/// machine (every test runs in parallel on two cores, with Python and Chromium processes) does not fail a
/// working test; a broken one still fails, only later.
public let patience: Duration = .seconds(15)

/// A wait in a test ran out of time.
public struct TestTimeout: Error, CustomStringConvertible {
    public let what: String
    public init(what: String = "a value") { self.what = what }
    public var description: String { "timed out waiting for \(what)" }
}

/// Waits until `condition` holds, checking every 5 ms (for effects another task or process produces).
public func eventually(_ what: @autoclosure () -> String, timeout: Duration = patience, _ condition: () async -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while await !condition() {
        guard ContinuousClock.now < deadline else { throw TestTimeout(what: what()) }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// A value set once by one task and awaited by others.
public final class AsyncValue<Value: Sendable>: Sendable {
    private let value = Mutex<Value?>(nil)
    private let signal = OneShotSignal()

    public init() {}

    public func set(_ newValue: Value) {
        value.withLock { $0 = newValue }
        signal.fire()
    }

    public func value(timeout: Duration = patience) async throws -> Value {
        guard await signal.wait(timeout: timeout), let current = value.withLock({ $0 }) else { throw TestTimeout() }
        return current
    }
}

/// Collects values from concurrent tasks, hooks and handlers; tests wait until enough arrived.
public final class Recorder<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])

    public init() {}

    public func append(_ value: Value) { values.withLock { $0.append(value) } }

    public var all: [Value] { values.withLock { $0 } }

    /// Waits until `predicate` holds for the values recorded.
    public func wait(timeout: Duration = patience, until predicate: ([Value]) -> Bool) async throws {
        try await eventually("recorded values, got \(all)", timeout: timeout) { predicate(all) }
    }
}
