import EngineIO
import NIOCore
import Testing

// Helpers for the session state machine tests, which drive it with instants only: no test sleeps.
// `#expect(machine.webSocketOpened(now:) == true)` rather than a bare call: `#expect` cannot expand a bare
// call to a mutating method.

typealias Machine = EngineSessionStateMachine<ContinuousClock.Instant>

/// pingInterval 300 ms, pingTimeout 200 ms, upgradeTimeout 1 s.
let configuration = EngineConfiguration(
    pingInterval: .milliseconds(300), pingTimeout: .milliseconds(200), upgradeTimeout: .seconds(1))

let probe = EnginePacket(.ping, .text("probe"))
let upgrade = EnginePacket(.upgrade)
let pong = EnginePacket(.pong)

func ms(_ value: Int) -> Duration { .milliseconds(value) }

/// Calls `timerFired` until it returns `.none` (at most 10 times, so a machine that never settles fails
/// instead of hanging).
func fireUntilIdle(_ machine: inout Machine, at now: ContinuousClock.Instant) -> [Machine.TimerAction] {
    var actions: [Machine.TimerAction] = []
    for _ in 0..<10 {
        let action = machine.timerFired(now: now)
        if action == .none { return actions }
        actions.append(action)
    }
    Issue.record("timerFired never returned .none")
    return actions
}

/// A polling session that has completed the upgrade to WebSocket at `t0 + 10 ms`.
func upgradedMachine(_ t0: ContinuousClock.Instant) -> Machine {
    var machine = Machine(transport: .polling, configuration: configuration, now: t0)
    _ = machine.webSocketOpened(now: t0.advanced(by: ms(10)))
    _ = machine.receivedPacket(probe, on: .webSocket, now: t0.advanced(by: ms(10)))
    _ = machine.receivedPacket(upgrade, on: .webSocket, now: t0.advanced(by: ms(10)))
    return machine
}
