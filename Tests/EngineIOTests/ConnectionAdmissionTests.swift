import EngineIO
import Testing

/// The connection limits' state machine, driven with instants only.
@Suite("Connection admission")
struct ConnectionAdmissionTests {
    typealias Admission = ConnectionAdmission<ContinuousClock.Instant>
    let t0 = ContinuousClock.now

    @Test func connectionsPerAddressAreCountedAndReleased() {
        var admission = Admission(limits: EngineConnectionLimits(maxConnectionsPerAddress: 2))
        #expect(admission.admit("10.0.0.1", now: t0) == nil)
        #expect(admission.admit("10.0.0.1", now: t0) == nil)
        #expect(admission.admit("10.0.0.1", now: t0) == .maxConnectionsPerAddress)
        #expect(admission.refusal(for: "10.0.0.1", now: t0) == .maxConnectionsPerAddress)
        #expect(admission.admit("10.0.0.2", now: t0) == nil, "another address has its own count")
        admission.release("10.0.0.1")
        #expect(admission.refusal(for: "10.0.0.1", now: t0) == nil)
        #expect(admission.admit("10.0.0.1", now: t0) == nil)
        #expect(admission.openCount == 3)
    }

    @Test func theServerWideLimitCountsEveryAddress() {
        var admission = Admission(limits: EngineConnectionLimits(maxConnections: 3))
        for address in ["a", "b", "c"] { #expect(admission.admit(address, now: t0) == nil) }
        #expect(admission.admit("d", now: t0) == .maxConnections)
        admission.release("b")
        #expect(admission.admit("d", now: t0) == nil)
        admission.release("never-admitted")
        #expect(admission.openCount == 3, "releasing an address with no session changes nothing")
    }

    @Test func handshakesRefillEvenlyOverTheWindow() {
        var admission = Admission(limits: EngineConnectionLimits(maxHandshakesPerAddress: 4, handshakeWindow: .seconds(1)))
        for _ in 0..<4 { #expect(admission.admit("a", now: t0) == nil) }
        #expect(admission.admit("a", now: t0) == .handshakeRate)
        #expect(admission.admit("a", now: t0.advanced(by: .milliseconds(200))) == .handshakeRate, "a quarter second refills one token, not yet")
        #expect(admission.admit("a", now: t0.advanced(by: .milliseconds(260))) == nil)
        #expect(admission.admit("a", now: t0.advanced(by: .milliseconds(260))) == .handshakeRate)
        // A full window refills the bucket, and no more than it.
        let later = t0.advanced(by: .seconds(10))
        for _ in 0..<4 { #expect(admission.admit("a", now: later) == nil) }
        #expect(admission.admit("a", now: later) == .handshakeRate)
    }

    @Test func refusalsAreLoggedOncePerMinutePerAddress() {
        var admission = Admission(limits: EngineConnectionLimits(maxConnectionsPerAddress: 1))
        _ = admission.admit("a", now: t0)
        _ = admission.admit("b", now: t0)
        #expect(admission.shouldLogRefusal(of: "a", by: .maxConnectionsPerAddress, now: t0) == true)
        #expect(admission.shouldLogRefusal(of: "a", by: .maxConnectionsPerAddress, now: t0.advanced(by: .seconds(59))) == false)
        #expect(admission.shouldLogRefusal(of: "b", by: .maxConnectionsPerAddress, now: t0.advanced(by: .seconds(1))) == true)
        #expect(admission.shouldLogRefusal(of: "a", by: .maxConnectionsPerAddress, now: t0.advanced(by: .seconds(60))) == true)
        #expect(admission.shouldLogRefusal(of: "z", by: .maxConnections, now: t0) == true)
        #expect(admission.shouldLogRefusal(of: "y", by: .maxConnections, now: t0.advanced(by: .seconds(30))) == false, "one line a minute for the whole server")
    }

    @Test func idleAddressesAreForgotten() {
        var admission = Admission(limits: EngineConnectionLimits(maxHandshakesPerAddress: 10, handshakeWindow: .seconds(1)))
        for n in 0..<1000 {
            let address = "10.0.\(n / 256).\(n % 256)"
            _ = admission.admit(address, now: t0)
            admission.release(address)
        }
        #expect(admission.admit("busy", now: t0) == nil)
        // Later, one more handshake fills the table to its sweep point: the 1000 idle addresses, whose
        // buckets are full again, go; the one with a session stays.
        let later = t0.advanced(by: .seconds(2))
        for n in 0..<23 { _ = admission.admit("new-\(n)", now: later) }
        #expect(admission.rememberedAddresses == 24)
        #expect(admission.openCount == 24)
    }

    @Test func unlimitedAdmitsAFlood() {
        var admission = Admission(limits: .unlimited)
        for _ in 0..<10_000 { #expect(admission.admit("one", now: t0) == nil) }
        #expect(admission.openCount == 10_000)
    }
}
