import AsyncAlgorithms
import EngineIO
import HTTPTypes
import Logging
import NIOCore
import Synchronization

/// What the upper layer learns about the HTTP request that opened a session.
public struct EngineHandshake: Sendable {
    /// Query parameters of the opening request.
    public let query: [String: String]
    /// Headers of the opening request.
    public let headers: HTTPFields
    /// The transport the session opened on.
    public let transport: EngineTransport
}

/// Work that runs as a child task of a session.
public typealias EngineSessionWork = @Sendable () async -> Void

/// Receives what happens on Engine.IO sessions: the layer above (Socket.IO) implements it.
public protocol EngineSessionHandler: Sendable {
    /// A session opened. Called before any message of the session is delivered. May return work to run
    /// as a child task of the session (see below).
    func engineSessionOpened(_ session: EngineSession) -> EngineSessionWork?

    /// A message arrived. Messages of one session are delivered one at a time, in order, on the session's
    /// own task: the next message waits until this call returns. Return work that must run concurrently
    /// with later messages (for example a consumer of a user's event handlers); it runs as a child task
    /// of the session, and the session's task ends only when all its work has.
    func engineSession(_ session: EngineSession, received message: EnginePacket.Payload) async -> EngineSessionWork?

    /// The session closed; nothing more will be delivered or sent.
    func engineSessionClosed(_ session: EngineSession, reason: EngineCloseReason)
}

/// One Engine.IO session: its state machine, its queue of outgoing frames and its queue of incoming
/// messages, shared by the HTTP requests and the WebSocket that serve it.
///
/// Every mutation happens inside one lock; continuations are resumed after the lock is released.
public final class EngineSession: Sendable {
    typealias Instant = ContinuousClock.Instant
    typealias Machine = EngineSessionStateMachine<Instant>

    /// The session id (`sid`).
    public let id: String
    /// The request that opened the session.
    public let handshake: EngineHandshake
    /// The session's logger, with `eio.sid` metadata.
    public let logger: Logger
    private let configuration: EngineConfiguration
    private let clock = ContinuousClock()
    private let inbound = AsyncChannel<EnginePacket.Payload>()
    /// Fires when a poll has collected the session's last frames after it closed.
    private let closeCollected = OneShotSignal()
    private let state: Mutex<Inner>

    /// Resumes a waiter outside the lock.
    typealias Resumption = @Sendable () -> Void

    struct Inner: ~Copyable {
        var machine: Machine
        var frames: [EngineFrame] = []
        /// Frames for the WebSocket under trial only (the `3probe` answer).
        var probeFrames: [EngineFrame] = []
        var pollWaiter: CheckedContinuation<[EngineFrame]?, Never>?
        var webSocketWaiter: CheckedContinuation<[EngineFrame]?, Never>?
        var pollInProgress = false
        var postInProgress = false
        var timerWaiter: CheckedContinuation<Void, Never>?
        var timerSleepsUntil: Instant?
        var closeDelivered = false
    }

    init(id: String, handshake: EngineHandshake, configuration: EngineConfiguration, logger: Logger) {
        self.id = id
        self.handshake = handshake
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "eio.sid"] = .string(id)
        self.logger = logger
        let now = ContinuousClock.now
        var inner = Inner(machine: Machine(transport: handshake.transport, configuration: configuration, now: now))
        let open = EngineCodec.openPacketData(
            sid: id,
            upgrades: configuration.upgrades(from: handshake.transport),
            configuration: configuration
        )
        inner.frames.append(EngineFrame(EnginePacket(.open, .text(open))))
        self.state = Mutex(inner)
    }

    // MARK: Sending

    /// Queues one frame for the client. Returns `false` if the session is closed.
    @discardableResult
    public func send(_ frame: EngineFrame) -> Bool {
        send(CollectionOfOne(frame))
    }

    /// Queues frames for the client, contiguously (a Socket.IO packet and its binary attachments).
    /// Returns `false` if the session is closed. A client whose queue exceeds
    /// ``EngineConfiguration/maxBufferedFrames`` is closed as a slow client.
    @discardableResult
    public func send(_ frames: some Collection<EngineFrame>) -> Bool {
        var slow = false
        let (accepted, resumptions) = state.withLock { inner -> (Bool, [Resumption]) in
            guard !inner.machine.isClosed else { return (false, []) }
            if inner.frames.count + frames.count > configuration.maxBufferedFrames {
                slow = inner.machine.close(.slowClient)
                return (false, readyWaiters(&inner))
            }
            inner.frames.append(contentsOf: frames)
            return (true, readyWaiters(&inner))
        }
        resumptions.forEach { $0() }
        if slow { closed(.slowClient) }
        return accepted
    }

    /// Closes the session for `reason`, sending what is queued first where the transport allows.
    public func close(_ reason: EngineCloseReason = .forcedClose) {
        let (didClose, resumptions) = state.withLock { inner -> (Bool, [Resumption]) in
            let wasPolling = inner.machine.activeTransport == .polling
            guard inner.machine.close(reason) else { return (false, []) }
            if wasPolling, reason != .transportClose {
                inner.frames.append(EngineFrame(EnginePacket(.close)))
            }
            return (true, readyWaiters(&inner))
        }
        resumptions.forEach { $0() }
        if didClose { closed(reason) }
    }

    /// Whether the session has closed.
    public var isClosed: Bool { state.withLock { $0.machine.isClosed } }

    private func closed(_ reason: EngineCloseReason) {
        logger.debug("engine.io session closed", metadata: ["eio.reason": .string(reason.rawValue)])
        inbound.finish()
    }

    // MARK: Transports

    /// Waits for frames to write on `transport`. Returns `nil` when the transport must stop: the session
    /// closed (after its last frames were handed out), or the WebSocket under trial was refused.
    func nextFrames(for transport: EngineTransport) async -> [EngineFrame]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[EngineFrame]?, Never>) in
                let resumptions = state.withLock { inner -> [Resumption] in
                    // Checked under the lock: a cancellation that ran before this registration finds no waiter.
                    if Task.isCancelled { return [{ continuation.resume(returning: nil) }] }
                    switch transport {
                    case .polling: inner.pollWaiter = continuation
                    case .webSocket: inner.webSocketWaiter = continuation
                    }
                    return readyWaiters(&inner)
                }
                resumptions.forEach { $0() }
            }
        } onCancel: {
            let waiter = state.withLock { inner in
                switch transport {
                case .polling: inner.pollWaiter.take()
                case .webSocket: inner.webSocketWaiter.take()
                }
            }
            waiter?.resume(returning: nil)
        }
    }

    /// Decides which waiters can be answered now; call at the end of every mutation, inside the lock.
    private func readyWaiters(_ inner: inout Inner) -> [Resumption] {
        var resumptions: [Resumption] = []
        let machine = inner.machine
        if let waiter = inner.pollWaiter {
            var answer: [EngineFrame]??
            switch machine.state {
            case .polling, .upgrading:
                if machine.releasesPolling {
                    // During an upgrade the poll is only released; queued frames wait for the WebSocket.
                    answer = .some([EngineFrame(EnginePacket(.noop))])
                } else if !inner.frames.isEmpty {
                    answer = .some(inner.frames)
                    inner.frames.removeAll(keepingCapacity: true)
                }
            case .webSocket:
                answer = .some(nil)
            case .closed:
                // A poll pending at close gets what was left, or a noop (the client closed on its own).
                if !inner.closeDelivered {
                    inner.closeDelivered = true
                    resumptions.append { [closeCollected] in closeCollected.fire() }
                    answer = .some(inner.frames.isEmpty ? [EngineFrame(EnginePacket(.noop))] : inner.frames)
                    inner.frames.removeAll()
                } else {
                    answer = .some(nil)
                }
            }
            if let answer {
                inner.pollWaiter = nil
                resumptions.append { waiter.resume(returning: answer) }
            }
        }
        if let waiter = inner.webSocketWaiter {
            var answer: [EngineFrame]??
            if !inner.probeFrames.isEmpty {
                answer = .some(inner.probeFrames)
                inner.probeFrames.removeAll()
            } else {
                switch machine.state {
                case .upgrading:
                    break
                case .polling:
                    answer = .some(nil)
                case .webSocket:
                    if !inner.frames.isEmpty {
                        answer = .some(inner.frames)
                        inner.frames.removeAll(keepingCapacity: true)
                    }
                case .closed:
                    if !inner.frames.isEmpty {
                        answer = .some(inner.frames)
                        inner.frames.removeAll()
                    } else {
                        answer = .some(nil)
                    }
                }
            }
            if let answer {
                inner.webSocketWaiter = nil
                resumptions.append { waiter.resume(returning: answer) }
            }
        }
        if let timer = inner.timerWaiter {
            let deadline = machine.nextDeadline
            let wake = deadline == nil || inner.timerSleepsUntil.map { deadline! < $0 } ?? true
            if wake {
                inner.timerWaiter = nil
                resumptions.append { timer.resume() }
            }
        }
        return resumptions
    }

    /// Starts a long-polling GET. Throws if polling is no longer this session's transport, or if a GET
    /// is already pending: the protocol allows one, so an overlapping GET also closes the session.
    func beginPoll() throws(EngineError) {
        enum Refusal { case transportMismatch, overlap }
        let refusal = state.withLock { inner -> Refusal? in
            // A GET racing with the client's own close packet still collects the close's noop; after a
            // close by the server (ping timeout, error) a GET gets the protocol's 400.
            let collectingClose = inner.machine.transportAtClose == .polling && inner.machine.state == .closed(.transportClose)
                && !inner.closeDelivered
            guard inner.machine.activeTransport == .polling || collectingClose else { return .transportMismatch }
            guard !inner.pollInProgress else { return .overlap }
            inner.pollInProgress = true
            return nil
        }
        switch refusal {
        case nil:
            return
        case .transportMismatch:
            throw EngineError(.badRequest, context: "transport mismatch")
        case .overlap:
            close(.transportError)
            throw EngineError(.badRequest, context: "overlapping GET requests")
        }
    }

    /// Whether a long-polling GET is waiting for frames (for tests and diagnostics).
    var hasWaitingPoll: Bool { state.withLock { $0.pollWaiter != nil } }

    func endPoll() { state.withLock { $0.pollInProgress = false } }

    /// Starts a long-polling POST; one at a time.
    func beginPost() throws(EngineError) {
        try state.withLock { inner throws(EngineError) in
            guard inner.machine.activeTransport == .polling else { throw EngineError(.badRequest, context: "transport mismatch") }
            guard !inner.postInProgress else { throw EngineError(.badRequest, context: "overlapping POST requests") }
            inner.postInProgress = true
        }
    }

    func endPost() { state.withLock { $0.postInProgress = false } }

    /// A WebSocket with this session's id wants to take over. Returns `false` if that is not allowed now.
    func webSocketOpened() -> Bool {
        let (accepted, resumptions) = state.withLock { inner -> (Bool, [Resumption]) in
            let accepted = inner.machine.webSocketOpened(now: clock.now)
            return (accepted, readyWaiters(&inner))
        }
        resumptions.forEach { $0() }
        return accepted
    }

    /// A transport of this session went away.
    func transportClosed(_ transport: EngineTransport) {
        let (didClose, resumptions) = state.withLock { inner -> (Bool, [Resumption]) in
            let didClose = inner.machine.transportClosed(transport)
            return (didClose, readyWaiters(&inner))
        }
        resumptions.forEach { $0() }
        if didClose { closed(.transportClose) }
    }

    /// Outcome of a packet received by a transport.
    enum Received {
        case accepted
        /// The transport that carried the packet must close; the session may live on.
        case rejectTransport
    }

    /// A packet arrived from the client on `transport`. Delivers messages to the session's consumer,
    /// waiting while it is busy (so a flooding client is slowed down, not buffered).
    func received(_ packet: EnginePacket, on transport: EngineTransport) async -> Received {
        let (action, resumptions) = state.withLock { inner -> (Machine.PacketAction, [Resumption]) in
            let action = inner.machine.receivedPacket(packet, on: transport, now: clock.now)
            if action == .answerProbe {
                inner.probeFrames.append(EngineFrame(EnginePacket(.pong, .text("probe"))))
            }
            return (action, readyWaiters(&inner))
        }
        resumptions.forEach { $0() }
        switch action {
        case .deliver:
            await inbound.send(packet.payload)
            return .accepted
        case .ignore, .answerProbe, .completeUpgrade:
            return .accepted
        case .close(let reason):
            closed(reason)
            return .accepted
        case .rejectTransport:
            logger.debug("packet on a transport the session does not use", metadata: ["eio.transport": .string(transport.rawValue)])
            return .rejectTransport
        }
    }

    // MARK: Life

    /// Runs the session until it closes: heartbeat, and delivery of messages to `handler`.
    func run(handler: some EngineSessionHandler) async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.runTimer() }
            if let work = handler.engineSessionOpened(self) { group.addTask(operation: work) }
            for await message in inbound {
                if let work = await handler.engineSession(self, received: message) {
                    group.addTask(operation: work)
                }
            }
            // The inbound channel ends when the session closes, or when the server shuts down.
            close(.serverShutdown)
            let reason: EngineCloseReason = state.withLock { inner in
                if case .closed(let reason) = inner.machine.state { return reason }
                return .serverShutdown
            }
            handler.engineSessionClosed(self, reason: reason)
        }
        // A client that closed with a POST may have a GET on its way (sent at the same time); the session
        // stays known until that GET has collected its noop, for a moment at most.
        let awaitsPoll = state.withLock { inner in
            inner.machine.transportAtClose == .polling && inner.machine.state == .closed(.transportClose) && !inner.closeDelivered
        }
        if awaitsPoll { _ = await closeCollected.wait(timeout: .seconds(1)) }
    }

    private func runTimer() async {
        while let deadline = state.withLock({ $0.machine.nextDeadline }) {
            await sleep(until: deadline)
            if Task.isCancelled { return }
            var actions: [Machine.TimerAction] = []
            let resumptions = state.withLock { inner -> [Resumption] in
                let now = clock.now
                while true {
                    let action = inner.machine.timerFired(now: now)
                    if action == .none { break }
                    if action == .sendPing { inner.frames.append(EngineFrame(EnginePacket(.ping))) }
                    actions.append(action)
                }
                return readyWaiters(&inner)
            }
            resumptions.forEach { $0() }
            for case .close(let reason) in actions { closed(reason) }
        }
    }

    /// Sleeps until `deadline`, or until a state change moves the next deadline earlier.
    private func sleep(until deadline: Instant) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await self.clock.sleep(until: deadline, tolerance: nil) }
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let resumeNow = self.state.withLock { inner -> Bool in
                            if !Task.isCancelled, let next = inner.machine.nextDeadline, next >= deadline {
                                inner.timerWaiter = continuation
                                inner.timerSleepsUntil = deadline
                                return false
                            }
                            return true
                        }
                        if resumeNow { continuation.resume() }
                    }
                } onCancel: {
                    self.state.withLock { $0.timerWaiter.take() }?.resume()
                }
            }
            await group.next()
            group.cancelAll()
        }
    }
}
