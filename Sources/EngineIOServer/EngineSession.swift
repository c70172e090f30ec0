import EngineIO
import HTTPTypes
import Logging
import NIOCore
import Synchronization

/// One Engine.IO session: its state machine, its queue of outgoing frames, its heartbeat timer, and the
/// transports that serve it (long-polling requests, a WebSocket).
///
/// A session has no task of its own: its timer is a callback scheduled on its event loop, its messages are
/// handed to the ``EngineSessionHandler`` by the transport that read them, and its WebSocket writer is
/// woken when frames are queued. Every mutation happens inside one lock; waiters and writers are woken
/// after the lock is released.
public final class EngineSession: Sendable {
    typealias Instant = EngineInstant
    typealias Machine = EngineSessionStateMachine<Instant>

    /// The session id (`sid`).
    public let id: String
    /// The request that opened the session.
    public let handshake: EngineHandshake
    /// The loop that runs the session's timer (and its WebSocket, if it opened on one).
    public let eventLoop: any EventLoop
    /// Its server: the configuration, handler and logger every session shares (kept once, not per
    /// connection), and the registry that forgets the session once it is finished.
    private let server: EngineServer
    private let state: Mutex<Inner>

    /// A long-polling GET waiting for frames. A class: the continuation's type comes from a library built
    /// for evolution, so held inline it would make every copy of the session's state go through run-time
    /// metadata, on the path of every frame sent.
    final class PollWaiter: Sendable {
        let continuation: CheckedContinuation<[EngineFrame]?, Never>
        init(continuation: CheckedContinuation<[EngineFrame]?, Never>) { self.continuation = continuation }
    }

    /// The waiter and the writer to wake once the lock is released: decided under the lock, run outside
    /// it, without allocating (this runs for every frame sent).
    struct Wakeups {
        var poll: (waiter: PollWaiter, answer: [EngineFrame]?)?
        var webSocket: WebSocketWriter?

        func run() {
            if let poll { poll.waiter.continuation.resume(returning: poll.answer) }
            webSocket?.outputAvailable()
        }
    }

    struct Inner: ~Copyable {
        var machine: Machine
        /// Frames waiting for the client, and their size in bytes (bounded by
        /// ``EngineConfiguration/maxBufferedFrames`` and ``EngineConfiguration/maxBufferedBytes``): change
        /// them together, through ``queue(_:)`` and ``takeFrames(into:)``.
        var frames: [EngineFrame] = []
        var queuedBytes = 0
        /// Frames for the WebSocket under trial only (the `3probe` answer).
        var probeFrames: [EngineFrame] = []
        var pollWaiter: PollWaiter?
        var pollInProgress = false
        var postInProgress = false
        /// The WebSocket that serves the session, or the one under trial during an upgrade.
        var webSocket: WebSocketWriter?
        /// Whether `webSocket` was told of output it has not taken yet.
        var webSocketWoken = false
        var timer: NIOScheduledCallback?
        var timerDeadline: Instant?
        /// Counts the timers scheduled: a timer whose cancellation came too late finds itself outdated.
        var timerGeneration: UInt64 = 0
        var closeDelivered = false
        var closeAnnounced = false
        var finished = false

        mutating func queue(_ frame: EngineFrame) {
            frames.append(frame)
            queuedBytes += frame.webSocketFrame.readableBytes
        }

        /// Hands every queued frame to `taker`, whose storage (empty) the queue keeps for its next frames.
        mutating func takeFrames(into taker: inout [EngineFrame]) {
            swap(&taker, &frames)
            queuedBytes = 0
        }
    }

    init(id: String, handshake: EngineHandshake, server: EngineServer, eventLoop: any EventLoop) {
        self.id = id
        self.handshake = handshake
        self.server = server
        self.eventLoop = eventLoop
        let configuration = server.configuration.engine
        var inner = Inner(machine: Machine(transport: handshake.transport, configuration: configuration, now: .now))
        let open = EngineCodec.openPacketData(
            sid: id,
            upgrades: configuration.upgrades(from: handshake.transport),
            configuration: configuration
        )
        inner.queue(EngineFrame(EnginePacket(.open, .text(open))))
        self.state = Mutex(inner)
    }

    /// Logs a message about the session with the server's logger, with `eio.sid` added to `metadata`;
    /// nothing is built unless `level` is enabled (metadata kept in a logger per session would cost every
    /// connection about a kilobyte).
    public func log(_ level: Logger.Level, _ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata = [:]) {
        server.logger.log(level: level, message(), metadata: metadata().merging(["eio.sid": .string(id)]) { own, _ in own })
    }

    /// Starts the session: the handler learns of it and the heartbeat begins.
    func start() {
        server.handler.engineSessionOpened(self)
        let wakeups = state.withLock { afterChange(&$0) }
        wakeups.run()
    }

    // MARK: Sending

    /// Queues one frame for the client. Returns `false` if the session is closed.
    @discardableResult
    public func send(_ frame: EngineFrame) -> Bool {
        send(CollectionOfOne(frame))
    }

    /// Queues frames for the client, contiguously (a Socket.IO packet and its binary attachments).
    /// Returns `false` if the session is closed. A client whose queue would exceed
    /// ``EngineConfiguration/maxBufferedFrames`` or ``EngineConfiguration/maxBufferedBytes`` is closed as a
    /// slow client.
    /// With `volatile`, the frames are dropped (and `false` returned) unless the transport can take them
    /// now: nothing is waiting for the client already, and on long-polling a GET is pending.
    @discardableResult
    public func send(_ frames: some Collection<EngineFrame>, volatile: Bool = false) -> Bool {
        let (accepted, webSocket) = enqueue(frames, bytes: Self.size(of: frames), volatile: volatile)
        webSocket?.outputAvailable()
        return accepted
    }

    /// Queues frames; returns whether they were taken, and the WebSocket writer to wake (the caller wakes
    /// it, possibly together with others of its event loop: see ``broadcast(_:to:volatile:)``).
    /// `bytes` is ``size(of:)`` of `frames`, which a broadcast computes once for all its recipients.
    func enqueue(_ frames: some Collection<EngineFrame>, bytes: Int, volatile: Bool) -> (accepted: Bool, webSocket: WebSocketWriter?) {
        var slow = false
        let (accepted, wakeups) = state.withLock { inner -> (Bool, Wakeups) in
            guard !inner.machine.isClosed else { return (false, Wakeups()) }
            if volatile, !inner.frames.isEmpty || (inner.machine.activeTransport == .polling && inner.pollWaiter == nil) {
                return (false, Wakeups())
            }
            let limits = server.configuration.engine
            if inner.frames.count + frames.count > limits.maxBufferedFrames || inner.queuedBytes + bytes > limits.maxBufferedBytes {
                slow = inner.machine.close(.slowClient)
                return (false, afterChange(&inner))
            }
            inner.frames.append(contentsOf: frames)
            inner.queuedBytes += bytes
            // Queueing leaves the machine as it was, so its deadlines too: unless a poll waits, all there
            // is to decide is whether the WebSocket needs waking (this runs for every frame sent).
            guard inner.pollWaiter == nil else { return (true, afterChange(&inner)) }
            return (true, Wakeups(webSocket: Self.webSocketToWake(&inner)))
        }
        if let poll = wakeups.poll { poll.waiter.continuation.resume(returning: poll.answer) }
        if slow { closed(.slowClient) }
        return (accepted, wakeups.webSocket)
    }

    /// The bytes `frames` hold in a session's queue (``EngineConfiguration/maxBufferedBytes``).
    static func size(of frames: some Collection<EngineFrame>) -> Int {
        frames.reduce(0) { $0 + $1.webSocketFrame.readableBytes }
    }

    /// Closes the session for `reason`, sending what is queued first where the transport allows.
    public func close(_ reason: EngineCloseReason = .forcedClose) {
        let (didClose, wakeups) = state.withLock { inner -> (Bool, Wakeups) in
            let wasPolling = inner.machine.activeTransport == .polling
            guard inner.machine.close(reason) else { return (false, Wakeups()) }
            if wasPolling, reason != .transportClose {
                inner.queue(EngineFrame(EnginePacket(.close)))
            }
            return (true, afterChange(&inner))
        }
        wakeups.run()
        if didClose { closed(reason) }
    }

    /// Whether the session has closed.
    public var isClosed: Bool { state.withLock { $0.machine.isClosed } }

    /// Tells the handler, once, that the session closed.
    private func closed(_ reason: EngineCloseReason) {
        let first = state.withLock { inner in
            defer { inner.closeAnnounced = true }
            return !inner.closeAnnounced
        }
        guard first else { return }
        log(.debug, "engine.io session closed", metadata: ["eio.reason": .string(reason.rawValue)])
        server.handler.engineSessionClosed(self, reason: reason)
        finishIfDone()
    }

    /// Forgets the session once it closed and no poll is left to collect its last frames. A client that
    /// closed with a POST may have a GET on its way (sent at the same time); the session stays known until
    /// that GET has collected its noop, for five seconds at most (a loaded machine can take more than one to
    /// deliver a request sent at the same time as the close).
    private func finishIfDone() {
        let (finish, awaitsPoll) = state.withLock { inner -> (Bool, Bool) in
            guard inner.machine.isClosed, inner.closeAnnounced, !inner.finished else { return (false, false) }
            let awaitsPoll = inner.machine.transportAtClose == .polling && inner.machine.state == .closed(.transportClose)
                && !inner.closeDelivered
            if !awaitsPoll { inner.finished = true }
            return (!awaitsPoll, awaitsPoll)
        }
        if finish {
            server.sessionFinished(self)
        } else if awaitsPoll {
            eventLoop.scheduleTask(in: .seconds(5)) { self.forceFinish() }
        }
    }

    private func forceFinish() {
        let finish = state.withLock { inner in
            defer { inner.finished = true }
            return !inner.finished
        }
        if finish { server.sessionFinished(self) }
    }

    // MARK: Transports

    /// Waits for frames for a long-polling GET. Returns `nil` when the poll must end without frames: the
    /// session closed (after its last frames were handed out), or it moved to WebSocket.
    func nextPollFrames() async -> [EngineFrame]? {
        let frames = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[EngineFrame]?, Never>) in
                let wakeups = state.withLock { inner -> Wakeups in
                    // Checked under the lock: a cancellation that ran before this registration finds no waiter.
                    if Task.isCancelled { return Wakeups(poll: (PollWaiter(continuation: continuation), nil)) }
                    inner.pollWaiter = PollWaiter(continuation: continuation)
                    return afterChange(&inner)
                }
                wakeups.run()
            }
        } onCancel: {
            state.withLock { $0.pollWaiter.take() }?.continuation.resume(returning: nil)
        }
        finishIfDone()
        return frames
    }

    /// Moves what the WebSocket must write now into `frames` (an empty array, whose storage the session
    /// keeps for its next frames, so writing allocates nothing). Returns whether the WebSocket must close
    /// after writing them. Called by the WebSocket's writer on its event loop once it was told output is
    /// waiting, or when it can write again.
    func takeWebSocketOutput(for writer: WebSocketWriter, into frames: inout [EngineFrame]) -> Bool {
        state.withLock { inner in
            guard inner.webSocket === writer else { return true }
            inner.webSocketWoken = false
            if !inner.probeFrames.isEmpty {
                swap(&frames, &inner.probeFrames)
                return false
            }
            switch inner.machine.state {
            case .upgrading:
                return false
            case .polling:
                // The upgrade was given up: this WebSocket lost its trial.
                return true
            case .webSocket:
                inner.takeFrames(into: &frames)
                return false
            case .closed:
                inner.takeFrames(into: &frames)
                return true
            }
        }
    }

    /// Whether the WebSocket has something to take (see ``takeWebSocketOutput(for:)``).
    private static func webSocketHasOutput(_ inner: borrowing Inner) -> Bool {
        if !inner.probeFrames.isEmpty { return true }
        switch inner.machine.state {
        case .upgrading: return false
        case .polling, .closed: return true
        case .webSocket: return !inner.frames.isEmpty
        }
    }

    /// Decides which waiters can be answered now and keeps the timer on the next deadline; call at the end
    /// of every mutation, inside the lock.
    private func afterChange(_ inner: inout Inner) -> Wakeups {
        var wakeups = Wakeups()
        if let waiter = inner.pollWaiter {
            var answer: [EngineFrame]??
            switch inner.machine.state {
            case .polling, .upgrading:
                if inner.machine.releasesPolling {
                    // During an upgrade the poll is only released; queued frames wait for the WebSocket.
                    answer = .some([EngineFrame(EnginePacket(.noop))])
                } else if !inner.frames.isEmpty {
                    answer = .some(inner.frames)
                    inner.frames.removeAll(keepingCapacity: true)
                    inner.queuedBytes = 0
                }
            case .webSocket:
                answer = .some(nil)
            case .closed:
                // A poll pending at close gets what was left, or a noop (the client closed on its own).
                if !inner.closeDelivered {
                    inner.closeDelivered = true
                    answer = .some(inner.frames.isEmpty ? [EngineFrame(EnginePacket(.noop))] : inner.frames)
                    inner.frames.removeAll()
                    inner.queuedBytes = 0
                } else {
                    answer = .some(nil)
                }
            }
            if let answer {
                inner.pollWaiter = nil
                wakeups.poll = (waiter, answer)
            }
        }
        wakeups.webSocket = Self.webSocketToWake(&inner)
        scheduleTimer(&inner)
        return wakeups
    }

    /// The WebSocket writer to wake, if it has output and was not told yet (it is told once per pass).
    private static func webSocketToWake(_ inner: inout Inner) -> WebSocketWriter? {
        guard let webSocket = inner.webSocket, !inner.webSocketWoken, webSocketHasOutput(inner) else { return nil }
        inner.webSocketWoken = true
        return webSocket
    }

    /// Keeps one task scheduled on the event loop for the machine's next deadline. A deadline that moved
    /// later keeps the earlier task: when it fires, the machine answers `.none` and the task is scheduled
    /// again for the new deadline.
    private func scheduleTimer(_ inner: inout Inner) {
        guard let deadline = inner.machine.nextDeadline else {
            inner.timer?.cancel()
            inner.timer = nil
            inner.timerDeadline = nil
            return
        }
        if let scheduled = inner.timerDeadline, scheduled <= deadline { return }
        inner.timer?.cancel()
        inner.timerDeadline = deadline
        inner.timerGeneration &+= 1
        let generation = inner.timerGeneration
        inner.timer = try? eventLoop.scheduleCallback(
            in: TimeAmount(Instant.now.duration(to: deadline)), handler: HeartbeatTimer(session: self, generation: generation)
        )
    }

    /// What the session's timer calls: a scheduled callback holds it, with no promise, future or closure
    /// (about 250 bytes per connection less than a scheduled task). It keeps the session alive until it
    /// fires or is cancelled, which a closing session does.
    private struct HeartbeatTimer: NIOScheduledCallbackHandler, Sendable {
        let session: EngineSession
        let generation: UInt64

        func handleScheduledCallback(eventLoop: some EventLoop) {
            session.timerFired(generation: generation)
        }
    }

    private func timerFired(generation: UInt64) {
        var actions: [Machine.TimerAction] = []
        let wakeups = state.withLock { inner -> Wakeups in
            guard inner.timerGeneration == generation else { return Wakeups() }
            inner.timer = nil
            inner.timerDeadline = nil
            let now = Instant.now
            while true {
                let action = inner.machine.timerFired(now: now)
                if action == .none { break }
                if action == .sendPing { inner.queue(EngineFrame(EnginePacket(.ping))) }
                actions.append(action)
            }
            return afterChange(&inner)
        }
        wakeups.run()
        for case .close(let reason) in actions { closed(reason) }
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

    /// A WebSocket serves this session from its start (it opened on WebSocket), or wants to take over from
    /// long-polling. Returns `false` if that is not allowed now.
    func attachWebSocket(_ writer: WebSocketWriter) -> Bool {
        let (accepted, wakeups) = state.withLock { inner -> (Bool, Wakeups) in
            let accepted: Bool
            if inner.webSocket == nil, inner.machine.state == .webSocket, handshake.transport == .webSocket {
                accepted = true
            } else {
                accepted = inner.webSocket == nil && inner.machine.webSocketOpened(now: Instant.now)
            }
            guard accepted else { return (false, Wakeups()) }
            inner.webSocket = writer
            return (true, afterChange(&inner))
        }
        wakeups.run()
        return accepted
    }

    /// A WebSocket of this session went away.
    func webSocketClosed(_ writer: WebSocketWriter) {
        let (didClose, wakeups) = state.withLock { inner -> (Bool, Wakeups) in
            guard inner.webSocket === writer else { return (false, Wakeups()) }
            inner.webSocket = nil
            inner.webSocketWoken = false
            let didClose = inner.machine.transportClosed(.webSocket)
            return (didClose, afterChange(&inner))
        }
        wakeups.run()
        if didClose { closed(.transportClose) }
    }

    /// Outcome of a packet received by a transport.
    enum Received {
        case accepted
        /// The transport that carried the packet must close; the session may live on.
        case rejectTransport
    }

    /// A text message arrived on the WebSocket: handled as a packet; text that is not one closes the session.
    func receivedWebSocketText(_ text: String) -> Received {
        do {
            return received(try EngineCodec.decodeText(text), on: .webSocket)
        } catch {
            log(.debug, "invalid websocket packet", metadata: ["eio.error": "\(error)"])
            close(.parseError)
            return .accepted
        }
    }

    /// A packet arrived from the client on `transport`; messages go to the handler.
    func received(_ packet: EnginePacket, on transport: EngineTransport) -> Received {
        let (action, wakeups) = state.withLock { inner -> (Machine.PacketAction, Wakeups) in
            let action = inner.machine.receivedPacket(packet, on: transport, now: Instant.now)
            if action == .answerProbe {
                inner.probeFrames.append(EngineFrame(EnginePacket(.pong, .text("probe"))))
            }
            return (action, afterChange(&inner))
        }
        wakeups.run()
        switch action {
        case .deliver:
            server.handler.engineSession(self, received: packet.payload)
            return .accepted
        case .ignore, .answerProbe, .completeUpgrade:
            return .accepted
        case .close(let reason):
            closed(reason)
            return .accepted
        case .rejectTransport:
            log(.debug, "packet on a transport the session does not use", metadata: ["eio.transport": .string(transport.rawValue)])
            return .rejectTransport
        }
    }
}
