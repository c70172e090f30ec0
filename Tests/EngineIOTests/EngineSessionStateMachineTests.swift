import EngineIO
import NIOCore
import Testing

// The session state machine driven with instants only: no test here sleeps.
// `#expect(machine.webSocketOpened(now:) == true)` rather than a bare call: `#expect` cannot expand a bare
// call to a mutating method.

private typealias Machine = EngineSessionStateMachine<ContinuousClock.Instant>

/// pingInterval 300 ms, pingTimeout 200 ms, upgradeTimeout 1 s.
private let configuration = EngineConfiguration(
    pingInterval: .milliseconds(300), pingTimeout: .milliseconds(200), upgradeTimeout: .seconds(1))

private let probe = EnginePacket(.ping, .text("probe"))
private let upgrade = EnginePacket(.upgrade)
private let pong = EnginePacket(.pong)

private func ms(_ value: Int) -> Duration { .milliseconds(value) }

/// Calls `timerFired` until it returns `.none` (at most 10 times, so a machine that never settles fails
/// instead of hanging).
private func fireUntilIdle(_ machine: inout Machine, at now: ContinuousClock.Instant) -> [Machine.TimerAction] {
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
private func upgradedMachine(_ t0: ContinuousClock.Instant) -> Machine {
    var machine = Machine(transport: .polling, configuration: configuration, now: t0)
    _ = machine.webSocketOpened(now: t0.advanced(by: ms(10)))
    _ = machine.receivedPacket(probe, on: .webSocket, now: t0.advanced(by: ms(10)))
    _ = machine.receivedPacket(upgrade, on: .webSocket, now: t0.advanced(by: ms(10)))
    return machine
}

@Suite("Engine.IO session: opening")
struct EngineSessionOpeningTests {
    @Test("a polling session starts on polling with the first ping one interval away")
    func pollingStart() {
        let t0 = ContinuousClock.now
        let machine = Machine(transport: .polling, configuration: configuration, now: t0)
        #expect(machine.state == .polling)
        #expect(machine.activeTransport == .polling)
        #expect(!machine.isClosed)
        #expect(!machine.releasesPolling)
        #expect(machine.nextDeadline == t0.advanced(by: ms(300)))
    }

    @Test("a WebSocket session starts on WebSocket")
    func webSocketStart() {
        let t0 = ContinuousClock.now
        let machine = Machine(transport: .webSocket, configuration: configuration, now: t0)
        #expect(machine.state == .webSocket)
        #expect(machine.activeTransport == .webSocket)
        #expect(machine.nextDeadline == t0.advanced(by: ms(300)))
    }
}

@Suite("Engine.IO session: heartbeat")
struct EngineSessionHeartbeatTests {
    @Test("nothing is due before the ping interval; the ping is due at it", arguments: EngineTransport.allCases)
    func pingDueAtInterval(_ transport: EngineTransport) {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: transport, configuration: configuration, now: t0)
        #expect(machine.timerFired(now: t0) == .none)
        #expect(machine.timerFired(now: t0.advanced(by: ms(299))) == .none)
        #expect(machine.timerFired(now: t0.advanced(by: ms(300))) == .sendPing)
        // Sent once: firing again at the same instant has nothing to do.
        #expect(machine.timerFired(now: t0.advanced(by: ms(300))) == .none)
        #expect(machine.nextDeadline == t0.advanced(by: ms(500)))
        #expect(!machine.isClosed)
    }

    @Test("the pong deadline counts from when the ping was actually sent")
    func latePing() {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: .polling, configuration: configuration, now: t0)
        #expect(machine.timerFired(now: t0.advanced(by: ms(350))) == .sendPing)
        #expect(machine.nextDeadline == t0.advanced(by: ms(550)))
        #expect(machine.timerFired(now: t0.advanced(by: ms(549))) == .none)
        #expect(machine.timerFired(now: t0.advanced(by: ms(550))) == .close(.pingTimeout))
    }

    @Test("a pong schedules the next ping one interval after the pong", arguments: EngineTransport.allCases)
    func pongReschedules(_ transport: EngineTransport) {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: transport, configuration: configuration, now: t0)
        #expect(machine.timerFired(now: t0.advanced(by: ms(300))) == .sendPing)
        #expect(machine.receivedPacket(pong, on: transport, now: t0.advanced(by: ms(400))) == .ignore)
        #expect(machine.nextDeadline == t0.advanced(by: ms(700)))
        // The old pong deadline (t0 + 500) no longer closes the session.
        #expect(machine.timerFired(now: t0.advanced(by: ms(500))) == .none)
        #expect(machine.timerFired(now: t0.advanced(by: ms(699))) == .none)
        #expect(machine.timerFired(now: t0.advanced(by: ms(700))) == .sendPing)
        #expect(machine.nextDeadline == t0.advanced(by: ms(900)))
    }

    @Test("the heartbeat keeps going over many rounds")
    func manyRounds() {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: .webSocket, configuration: configuration, now: t0)
        var now = t0
        for _ in 0..<50 {
            now = now.advanced(by: ms(300))
            #expect(machine.nextDeadline == now)
            #expect(machine.timerFired(now: now) == .sendPing)
            now = now.advanced(by: ms(150))
            #expect(machine.receivedPacket(pong, on: .webSocket, now: now) == .ignore)
        }
        #expect(!machine.isClosed)
    }

    @Test("no pong within the ping timeout closes the session", arguments: EngineTransport.allCases)
    func pingTimeout(_ transport: EngineTransport) {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: transport, configuration: configuration, now: t0)
        #expect(machine.timerFired(now: t0.advanced(by: ms(300))) == .sendPing)
        #expect(machine.timerFired(now: t0.advanced(by: ms(499))) == .none)
        #expect(machine.timerFired(now: t0.advanced(by: ms(500))) == .close(.pingTimeout))
        #expect(machine.state == .closed(.pingTimeout))
        #expect(machine.isClosed)
        #expect(machine.activeTransport == nil)
        #expect(machine.nextDeadline == nil)
    }

    @Test("a pong with no ping outstanding is ignored and moves nothing")
    func unsolicitedPong() {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: .polling, configuration: configuration, now: t0)
        #expect(machine.receivedPacket(pong, on: .polling, now: t0.advanced(by: ms(100))) == .ignore)
        #expect(machine.nextDeadline == t0.advanced(by: ms(300)))
        #expect(machine.timerFired(now: t0.advanced(by: ms(300))) == .sendPing)
    }

    @Test("a second pong for the same ping does not push the next ping back")
    func duplicatePong() {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: .polling, configuration: configuration, now: t0)
        #expect(machine.timerFired(now: t0.advanced(by: ms(300))) == .sendPing)
        #expect(machine.receivedPacket(pong, on: .polling, now: t0.advanced(by: ms(350))) == .ignore)
        #expect(machine.receivedPacket(pong, on: .polling, now: t0.advanced(by: ms(600))) == .ignore)
        #expect(machine.nextDeadline == t0.advanced(by: ms(650)))
        #expect(machine.timerFired(now: t0.advanced(by: ms(650))) == .sendPing)
    }

    @Test("a pong on the wrong transport does not count")
    func pongOnWrongTransport() {
        let t0 = ContinuousClock.now
        var machine = upgradedMachine(t0)
        #expect(machine.timerFired(now: t0.advanced(by: ms(300))) == .sendPing)
        #expect(machine.receivedPacket(pong, on: .polling, now: t0.advanced(by: ms(350))) == .rejectTransport)
        #expect(machine.timerFired(now: t0.advanced(by: ms(500))) == .close(.pingTimeout))
    }

    @Test("the heartbeat carries over the upgrade")
    func heartbeatAcrossUpgrade() {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: .polling, configuration: configuration, now: t0)
        #expect(machine.timerFired(now: t0.advanced(by: ms(300))) == .sendPing)
        #expect(machine.webSocketOpened(now: t0.advanced(by: ms(310))) == true)
        #expect(machine.receivedPacket(probe, on: .webSocket, now: t0.advanced(by: ms(320))) == .answerProbe)
        #expect(machine.receivedPacket(upgrade, on: .webSocket, now: t0.advanced(by: ms(330))) == .completeUpgrade)
        // The pong for the ping sent on polling arrives on the WebSocket.
        #expect(machine.receivedPacket(pong, on: .webSocket, now: t0.advanced(by: ms(340))) == .ignore)
        #expect(machine.nextDeadline == t0.advanced(by: ms(640)))
    }
}

@Suite("Engine.IO session: upgrade")
struct EngineSessionUpgradeTests {
    @Test("probe, then upgrade: the session moves to WebSocket")
    func upgradeDance() {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: .polling, configuration: configuration, now: t0)
        let opened = t0.advanced(by: ms(10))

        #expect(machine.webSocketOpened(now: opened) == true)
        #expect(machine.state == .upgrading(deadline: opened.advanced(by: .seconds(1)), probed: false))
        #expect(machine.activeTransport == .polling)
        #expect(!machine.releasesPolling)

        #expect(machine.receivedPacket(probe, on: .webSocket, now: t0.advanced(by: ms(20))) == .answerProbe)
        #expect(machine.state == .upgrading(deadline: opened.advanced(by: .seconds(1)), probed: true))
        #expect(machine.releasesPolling)
        #expect(machine.activeTransport == .polling)

        #expect(machine.receivedPacket(upgrade, on: .webSocket, now: t0.advanced(by: ms(30))) == .completeUpgrade)
        #expect(machine.state == .webSocket)
        #expect(machine.activeTransport == .webSocket)
        #expect(!machine.releasesPolling)

        #expect(machine.receivedPacket(.message("hello"), on: .webSocket, now: t0.advanced(by: ms(40))) == .deliver)
    }

    @Test("the wire packets of the protocol document drive the upgrade")
    func upgradeFromWire() throws {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: .polling, configuration: configuration, now: t0)
        #expect(machine.webSocketOpened(now: t0) == true)
        #expect(machine.receivedPacket(try EngineCodec.decodeText("2probe"), on: .webSocket, now: t0) == .answerProbe)
        #expect(machine.receivedPacket(try EngineCodec.decodeText("5"), on: .webSocket, now: t0) == .completeUpgrade)
        #expect(machine.activeTransport == .webSocket)
    }

    @Test("polling keeps carrying the session while the upgrade is in progress")
    func pollingDuringUpgrade() {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: .polling, configuration: configuration, now: t0)
        #expect(machine.webSocketOpened(now: t0) == true)
        #expect(machine.receivedPacket(.message("a"), on: .polling, now: t0) == .deliver)
        #expect(machine.receivedPacket(probe, on: .webSocket, now: t0) == .answerProbe)
        #expect(machine.receivedPacket(.message("b"), on: .polling, now: t0) == .deliver)
        #expect(machine.releasesPolling)
    }

    @Test("a noop on the trial WebSocket is harmless")
    func noopOnTrialWebSocket() {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: .polling, configuration: configuration, now: t0)
        #expect(machine.webSocketOpened(now: t0) == true)
        #expect(machine.receivedPacket(EnginePacket(.noop), on: .webSocket, now: t0) == .ignore)
        #expect(machine.receivedPacket(probe, on: .webSocket, now: t0) == .answerProbe)
        #expect(machine.receivedPacket(EnginePacket(.noop), on: .webSocket, now: t0) == .ignore)
        #expect(machine.receivedPacket(upgrade, on: .webSocket, now: t0) == .completeUpgrade)
    }

    @Test("an upgrade that takes too long is aborted and the session stays on polling")
    func upgradeTimeout() {
        let t0 = ContinuousClock.now
        let quick = EngineConfiguration(
            pingInterval: .milliseconds(300), pingTimeout: .milliseconds(200), upgradeTimeout: .milliseconds(100))
        var machine = Machine(transport: .polling, configuration: quick, now: t0)
        #expect(machine.webSocketOpened(now: t0.advanced(by: ms(50))) == true)
        #expect(machine.nextDeadline == t0.advanced(by: ms(150)))
        #expect(machine.timerFired(now: t0.advanced(by: ms(149))) == .none)
        #expect(machine.timerFired(now: t0.advanced(by: ms(150))) == .abortUpgrade)
        #expect(machine.state == .polling)
        #expect(machine.activeTransport == .polling)
        #expect(machine.nextDeadline == t0.advanced(by: ms(300)))
        // A packet from the dropped WebSocket no longer counts.
        #expect(machine.receivedPacket(probe, on: .webSocket, now: t0.advanced(by: ms(160))) == .rejectTransport)
        // The client may try again.
        #expect(machine.webSocketOpened(now: t0.advanced(by: ms(200))) == true)
    }

    @Test("an upgrade that was probed but never completed also times out")
    func probedUpgradeTimeout() {
        let t0 = ContinuousClock.now
        let slowHeartbeat = EngineConfiguration(
            pingInterval: .seconds(5), pingTimeout: .seconds(5), upgradeTimeout: .seconds(1))
        var machine = Machine(transport: .polling, configuration: slowHeartbeat, now: t0)
        #expect(machine.webSocketOpened(now: t0) == true)
        #expect(machine.receivedPacket(probe, on: .webSocket, now: t0.advanced(by: ms(10))) == .answerProbe)
        #expect(machine.nextDeadline == t0.advanced(by: ms(1000)))
        #expect(machine.timerFired(now: t0.advanced(by: ms(999))) == .none)
        #expect(machine.timerFired(now: t0.advanced(by: ms(1000))) == .abortUpgrade)
        #expect(machine.state == .polling)
        #expect(!machine.releasesPolling)
    }

    @Test("the earliest of the upgrade and heartbeat deadlines is the next deadline")
    func nextDeadlineDuringUpgrade() {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: .polling, configuration: configuration, now: t0)
        #expect(machine.webSocketOpened(now: t0) == true)
        #expect(machine.nextDeadline == t0.advanced(by: ms(300)))  // ping before upgrade timeout (1 s)
        #expect(machine.timerFired(now: t0.advanced(by: ms(300))) == .sendPing)
        #expect(machine.receivedPacket(pong, on: .polling, now: t0.advanced(by: ms(800))) == .ignore)
        #expect(machine.nextDeadline == t0.advanced(by: ms(1000)))  // upgrade timeout before next ping (1.1 s)
    }

    @Test("a second WebSocket is refused while upgrading")
    func secondWebSocketWhileUpgrading() {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: .polling, configuration: configuration, now: t0)
        #expect(machine.webSocketOpened(now: t0) == true)
        #expect(machine.webSocketOpened(now: t0.advanced(by: ms(5))) == false)
        // The refusal does not disturb the upgrade in progress (its deadline is unchanged).
        #expect(machine.state == .upgrading(deadline: t0.advanced(by: .seconds(1)), probed: false))
        #expect(machine.receivedPacket(probe, on: .webSocket, now: t0) == .answerProbe)
        #expect(machine.webSocketOpened(now: t0.advanced(by: ms(6))) == false)
        #expect(machine.releasesPolling)
    }

    @Test("a WebSocket is refused after the upgrade, on a WebSocket session, and once closed")
    func webSocketRefused() {
        let t0 = ContinuousClock.now
        var upgraded = upgradedMachine(t0)
        #expect(upgraded.webSocketOpened(now: t0.advanced(by: ms(20))) == false)
        #expect(upgraded.state == .webSocket)

        var direct = Machine(transport: .webSocket, configuration: configuration, now: t0)
        #expect(direct.webSocketOpened(now: t0) == false)
        #expect(direct.state == .webSocket)

        var closed = Machine(transport: .polling, configuration: configuration, now: t0)
        #expect(closed.close(.forcedClose) == true)
        #expect(closed.webSocketOpened(now: t0) == false)
        #expect(closed.state == .closed(.forcedClose))
    }

    @Test(
        "any packet other than the probe and then the upgrade on the trial WebSocket rejects it",
        arguments: [
            EnginePacket.message("hello"),
            EnginePacket(.ping),
            EnginePacket(.ping, .text("prob")),
            EnginePacket(.pong, .text("probe")),
            EnginePacket(.upgrade),  // before the probe
            EnginePacket(.close),
            EnginePacket(.open),
            EnginePacket.message(ByteBuffer(bytes: [1])),
        ]
    )
    func unexpectedOnTrialWebSocket(_ packet: EnginePacket) {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: .polling, configuration: configuration, now: t0)
        #expect(machine.webSocketOpened(now: t0) == true)
        #expect(machine.receivedPacket(packet, on: .webSocket, now: t0) == .rejectTransport)
        #expect(machine.state == .polling)
        #expect(machine.activeTransport == .polling)
        #expect(!machine.isClosed)
    }

    @Test(
        "after the probe, anything but the upgrade packet rejects the trial WebSocket",
        arguments: [EnginePacket.message("early"), probe, EnginePacket(.close)]
    )
    func unexpectedAfterProbe(_ packet: EnginePacket) {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: .polling, configuration: configuration, now: t0)
        #expect(machine.webSocketOpened(now: t0) == true)
        #expect(machine.receivedPacket(probe, on: .webSocket, now: t0) == .answerProbe)
        #expect(machine.receivedPacket(packet, on: .webSocket, now: t0) == .rejectTransport)
        #expect(machine.state == .polling)
        #expect(!machine.releasesPolling)
    }

    @Test("the trial WebSocket going away returns the session to polling")
    func trialWebSocketClosed() {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: .polling, configuration: configuration, now: t0)
        #expect(machine.webSocketOpened(now: t0) == true)
        #expect(machine.receivedPacket(probe, on: .webSocket, now: t0) == .answerProbe)
        #expect(machine.transportClosed(.webSocket) == false)
        #expect(machine.state == .polling)
        #expect(!machine.isClosed)

        #expect(machine.webSocketOpened(now: t0) == true)
        machine.upgradeWebSocketClosed()
        #expect(machine.state == .polling)
    }

    @Test("polling packets after the upgrade reject the polling transport", arguments: [
        EnginePacket.message("late"), EnginePacket(.pong), EnginePacket(.close), EnginePacket(.ping),
    ])
    func pollingAfterUpgrade(_ packet: EnginePacket) {
        let t0 = ContinuousClock.now
        var machine = upgradedMachine(t0)
        #expect(machine.receivedPacket(packet, on: .polling, now: t0.advanced(by: ms(20))) == .rejectTransport)
        #expect(machine.state == .webSocket)
    }

    @Test("WebSocket packets on a polling session with no upgrade reject the WebSocket")
    func webSocketWithoutUpgrade() {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: .polling, configuration: configuration, now: t0)
        #expect(machine.receivedPacket(.message("x"), on: .webSocket, now: t0) == .rejectTransport)
        #expect(machine.state == .polling)
    }

    @Test("the polling transport closing after the upgrade does not close the session")
    func stalePollingClosed() {
        let t0 = ContinuousClock.now
        var machine = upgradedMachine(t0)
        #expect(machine.transportClosed(.polling) == false)
        #expect(machine.state == .webSocket)
        #expect(machine.transportClosed(.webSocket) == true)
        #expect(machine.state == .closed(.transportClose))
    }
}

@Suite("Engine.IO session: packets on the established transport")
struct EngineSessionPacketTests {
    @Test("messages are delivered, noops ignored", arguments: EngineTransport.allCases)
    func deliver(_ transport: EngineTransport) {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: transport, configuration: configuration, now: t0)
        #expect(machine.receivedPacket(.message("hello"), on: transport, now: t0) == .deliver)
        #expect(machine.receivedPacket(.message(ByteBuffer(bytes: [1, 2])), on: transport, now: t0) == .deliver)
        #expect(machine.receivedPacket(EnginePacket(.noop), on: transport, now: t0) == .ignore)
        #expect(machine.state == (transport == .polling ? .polling : .webSocket))
    }

    @Test("a client close packet closes the session", arguments: EngineTransport.allCases)
    func clientClose(_ transport: EngineTransport) {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: transport, configuration: configuration, now: t0)
        #expect(machine.receivedPacket(EnginePacket(.close), on: transport, now: t0) == .close(.transportClose))
        #expect(machine.state == .closed(.transportClose))
        #expect(machine.nextDeadline == nil)
    }

    @Test("a client close packet on the upgraded WebSocket closes the session")
    func clientCloseAfterUpgrade() {
        let t0 = ContinuousClock.now
        var machine = upgradedMachine(t0)
        #expect(machine.receivedPacket(EnginePacket(.close), on: .webSocket, now: t0) == .close(.transportClose))
        #expect(machine.isClosed)
    }

    @Test(
        "open, ping and upgrade from the client on an established transport are parse errors",
        arguments: [EnginePacketType.open, .ping, .upgrade], EngineTransport.allCases
    )
    func protocolViolations(_ type: EnginePacketType, _ transport: EngineTransport) {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: transport, configuration: configuration, now: t0)
        #expect(machine.receivedPacket(EnginePacket(type), on: transport, now: t0) == .close(.parseError))
        #expect(machine.state == .closed(.parseError))
        #expect(machine.activeTransport == nil)
    }

    @Test("a probe after the upgrade is a parse error")
    func probeAfterUpgrade() {
        let t0 = ContinuousClock.now
        var machine = upgradedMachine(t0)
        #expect(machine.receivedPacket(probe, on: .webSocket, now: t0) == .close(.parseError))
    }
}

@Suite("Engine.IO session: closing")
struct EngineSessionClosingTests {
    /// Each way a session can end, and the reason it ends with.
    static let closings: [(String, EngineCloseReason)] = [
        ("server close", .forcedClose),
        ("client close packet", .transportClose),
        ("transport closed", .transportClose),
        ("ping timeout", .pingTimeout),
        ("parse error", .parseError),
    ]

    private static func closedMachine(_ how: String, _ t0: ContinuousClock.Instant) -> Machine {
        var machine = Machine(transport: .polling, configuration: configuration, now: t0)
        switch how {
        case "server close": _ = machine.close(.forcedClose)
        case "client close packet": _ = machine.receivedPacket(EnginePacket(.close), on: .polling, now: t0)
        case "transport closed": _ = machine.transportClosed(.polling)
        case "ping timeout":
            _ = machine.timerFired(now: t0.advanced(by: ms(300)))
            _ = machine.timerFired(now: t0.advanced(by: ms(500)))
        case "parse error": _ = machine.receivedPacket(EnginePacket(.open), on: .polling, now: t0)
        default: Issue.record("unknown closing \(how)")
        }
        return machine
    }

    @Test("every way of closing ends in the closed state with its reason", arguments: closings)
    func closedState(_ how: String, _ reason: EngineCloseReason) {
        let machine = Self.closedMachine(how, ContinuousClock.now)
        #expect(machine.state == .closed(reason))
        #expect(machine.isClosed)
        #expect(machine.activeTransport == nil)
        #expect(machine.nextDeadline == nil)
        #expect(!machine.releasesPolling)
    }

    @Test("everything after the close is ignored", arguments: closings)
    func afterClose(_ how: String, _ reason: EngineCloseReason) {
        let t0 = ContinuousClock.now
        var machine = Self.closedMachine(how, t0)
        let later = t0.advanced(by: .seconds(60))
        for packet in [EnginePacket.message("x"), EnginePacket(.close), EnginePacket(.open), probe, upgrade, pong] {
            for transport in EngineTransport.allCases {
                #expect(machine.receivedPacket(packet, on: transport, now: later) == .ignore)
            }
        }
        #expect(machine.timerFired(now: later) == .none)
        #expect(machine.timerFired(now: later.advanced(by: .seconds(3600))) == .none)
        #expect(machine.webSocketOpened(now: later) == false)
        #expect(machine.transportClosed(.polling) == false)
        #expect(machine.transportClosed(.webSocket) == false)
        #expect(machine.close(.serverShutdown) == false)
        machine.upgradeWebSocketClosed()
        #expect(machine.state == .closed(reason))
        #expect(machine.nextDeadline == nil)
    }

    @Test("close reports whether it closed the session")
    func closeOnce() {
        var machine = Machine(transport: .webSocket, configuration: configuration, now: .now)
        #expect(machine.close(.serverShutdown) == true)
        #expect(machine.close(.forcedClose) == false)
        #expect(machine.state == .closed(.serverShutdown))
    }

    @Test("the active transport closing closes the session", arguments: EngineTransport.allCases)
    func activeTransportClosed(_ transport: EngineTransport) {
        var machine = Machine(transport: transport, configuration: configuration, now: .now)
        #expect(machine.transportClosed(transport) == true)
        #expect(machine.state == .closed(.transportClose))
    }

    @Test("the close reasons are the reference server's strings")
    func reasonStrings() {
        #expect(EngineCloseReason.transportClose.rawValue == "transport close")
        #expect(EngineCloseReason.transportError.rawValue == "transport error")
        #expect(EngineCloseReason.pingTimeout.rawValue == "ping timeout")
        #expect(EngineCloseReason.parseError.rawValue == "parse error")
        #expect(EngineCloseReason.forcedClose.rawValue == "forced close")
        #expect(EngineCloseReason.serverShutdown.rawValue == "forced server close")
    }
}

@Suite("Engine.IO session: timer loop")
struct EngineSessionTimerLoopTests {
    @Test("when the upgrade timeout and the ping fall due together, both actions come out, then none")
    func simultaneousDeadlines() {
        let t0 = ContinuousClock.now
        let same = EngineConfiguration(
            pingInterval: .milliseconds(300), pingTimeout: .milliseconds(200), upgradeTimeout: .milliseconds(300))
        var machine = Machine(transport: .polling, configuration: same, now: t0)
        #expect(machine.webSocketOpened(now: t0) == true)
        let actions = fireUntilIdle(&machine, at: t0.advanced(by: ms(300)))
        #expect(actions.count == 2)
        #expect(actions.contains(.abortUpgrade))
        #expect(actions.contains(.sendPing))
        #expect(machine.state == .polling)
        #expect(machine.nextDeadline == t0.advanced(by: ms(500)))
    }

    @Test("a timer that fires very late sends the ping and waits a full timeout for the pong")
    func lateTimer() {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: .webSocket, configuration: configuration, now: t0)
        let late = t0.advanced(by: .seconds(10))
        #expect(fireUntilIdle(&machine, at: late) == [.sendPing])
        #expect(machine.nextDeadline == late.advanced(by: ms(200)))
        #expect(fireUntilIdle(&machine, at: late.advanced(by: ms(200))) == [.close(.pingTimeout)])
        #expect(fireUntilIdle(&machine, at: late.advanced(by: .seconds(10))) == [])
    }

    @Test("a shell that sleeps until nextDeadline and fires until idle sees the heartbeat, then the timeout")
    func shellLoop() {
        let t0 = ContinuousClock.now
        var machine = Machine(transport: .polling, configuration: configuration, now: t0)
        var log: [Machine.TimerAction] = []
        var pongsLeft = 3
        var rounds = 0
        while let deadline = machine.nextDeadline, rounds < 100 {
            rounds += 1
            for action in fireUntilIdle(&machine, at: deadline) {
                log.append(action)
                if action == .sendPing, pongsLeft > 0 {
                    pongsLeft -= 1
                    _ = machine.receivedPacket(pong, on: .polling, now: deadline.advanced(by: ms(50)))
                }
            }
        }
        #expect(log == [.sendPing, .sendPing, .sendPing, .sendPing, .close(.pingTimeout)])
        #expect(machine.nextDeadline == nil)
    }
}
