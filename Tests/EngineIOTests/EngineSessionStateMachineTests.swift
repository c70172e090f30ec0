import EngineIO
import NIOCore
import Testing

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
