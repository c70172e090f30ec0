import EngineIO
import NIOCore
import Testing

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
