import EngineIO
import HTTPTypes
import Logging
import NIOCore
import NIOWebSocket

/// Writes a session's frames to its WebSocket, on the channel's event loop.
///
/// It has no task and no queue of its own: woken by the session (``outputAvailable()``), it takes what the
/// session queued and writes it. The first frame is written and flushed on its own, the rest together after
/// ``EngineServerConfiguration/webSocketPacing`` (by default the next turn of the event loop), as
/// Engine.IO's reference server does (a packet goes out at once; what queued meanwhile goes out in one
/// write once that write is done) — so a busy broadcast costs one or two system calls per client and turn
/// rather than one per packet. While the channel is not
/// writable (its outbound buffer is full), frames stay in the session's bounded queue, where a client
/// that never catches up is closed as slow.
///
/// Its state belongs to its event loop: every method but the initializer runs there (checked in debug
/// builds). It is not in a `NIOLoopBoundBox`, which checks the thread on every access in release builds
/// too — several times per frame written.
final class WebSocketWriter: @unchecked Sendable {
    /// Where frames go.
    enum Sink {
        /// Prebuilt frame bytes written through this context: ``EngineWebSocketHandler``'s, in a pipeline
        /// without a frame encoder (the server's own WebSocket pipeline).
        case raw(ChannelHandlerContext)
        /// `WebSocketFrame`s written to the channel, with a flush promise pacing the writes, and a close
        /// that the handler of the WebSocket route performs (a WebSocket served through a Hummingbird route).
        case framed(any Channel, close: @Sendable () -> Void)
    }

    private struct LoopState {
        var sink: Sink
        var session: EngineSession?
        /// Where the session's frames are moved to be written; its storage goes back and forth with the
        /// session's queue.
        var frames: [EngineFrame] = []
        var flushInFlight = false
        var closing = false
    }

    let eventLoop: any EventLoop
    private var state: LoopState
    /// The pause before the packets queued behind the first (``EngineServerConfiguration/webSocketPacing``).
    private let pacing: TimeAmount

    /// Call on `eventLoop`.
    init(sink: Sink, eventLoop: any EventLoop, pacing: Duration) {
        self.eventLoop = eventLoop
        self.pacing = TimeAmount(pacing)
        self.state = LoopState(sink: sink)
    }

    /// The session this WebSocket serves, once it was accepted. Call on the event loop.
    var session: EngineSession? {
        get { state.session }
        set {
            eventLoop.assertInEventLoop()
            state.session = newValue
        }
    }

    /// Output is waiting: writes it now on the event loop, or soon from another thread. Called outside the
    /// session's lock.
    func outputAvailable() {
        if eventLoop.inEventLoop {
            write()
        } else {
            eventLoop.execute { self.write() }
        }
    }

    /// Writes what the session has queued, if the channel can take it. Call on the event loop.
    func write() {
        eventLoop.assertInEventLoop()
        guard let session = state.session, !state.closing, !state.flushInFlight else { return }
        let sink = state.sink
        if case .raw(let context) = sink, !context.channel.isWritable { return }
        // Frames held back by the previous pass come first.
        var frames = state.frames
        state.frames = []
        let heldBack = !frames.isEmpty
        let close: Bool
        if heldBack {
            var more: [EngineFrame] = []
            close = session.takeWebSocketOutput(for: self, into: &more)
            frames.append(contentsOf: more)
        } else {
            close = session.takeWebSocketOutput(for: self, into: &frames)
        }
        switch sink {
        case .raw(let context):
            if !heldBack, frames.count > 1 {
                // The first packet goes out on its own; the rest after the pacing pause.
                context.writeAndFlush(NIOAny(frames.removeFirst().webSocketFrame), promise: nil)
                state.frames = frames
                pause(context.eventLoop)
                return
            }
            for frame in frames { context.write(NIOAny(frame.webSocketFrame), promise: nil) }
            if !frames.isEmpty {
                context.flush()
                // With a pacing pause, whatever comes next waits for it too.
                if pacing != .zero { pause(context.eventLoop) }
            }
        case .framed(let channel, _):
            if let last = frames.last {
                for frame in frames.dropLast() { channel.write(Self.frame(frame), promise: nil) }
                state.flushInFlight = true
                channel.writeAndFlush(Self.frame(last)).whenComplete { result in
                    self.state.flushInFlight = false
                    if case .failure = result { self.close(code: .goingAway) } else { self.write() }
                }
            }
        }
        // A burst's storage is not kept by an idle connection.
        frames.removeAll(keepingCapacity: frames.capacity <= 4)
        state.frames = frames
        if close { self.close(code: .goingAway) }
    }

    /// Holds writes back until the pacing pause is over (at least until the next turn of the event loop).
    private func pause(_ eventLoop: any EventLoop) {
        state.flushInFlight = true
        let resume = { @Sendable in
            self.state.flushInFlight = false
            self.write()
        }
        if pacing == .zero {
            eventLoop.execute(resume)
        } else {
            eventLoop.scheduleTask(in: pacing, resume)
        }
    }

    private static func frame(_ frame: EngineFrame) -> WebSocketFrame {
        WebSocketFrame(fin: true, opcode: frame.isBinary ? .binary : .text, data: frame.bytes)
    }

    /// Starts the closing handshake (once): a close frame with `code`, then the connection closes. Call on
    /// the event loop.
    func close(code: WebSocketErrorCode) {
        eventLoop.assertInEventLoop()
        guard !state.closing else { return }
        state.closing = true
        switch state.sink {
        case .raw(let context):
            var payload = context.channel.allocator.buffer(capacity: 2)
            payload.write(webSocketErrorCode: code)
            let channel = context.channel
            context.writeAndFlush(NIOAny(controlFrame(.connectionClose, payload, allocator: channel.allocator))).whenComplete { _ in
                channel.close(promise: nil)
            }
        case .framed(_, let close):
            close()
        }
    }
}
