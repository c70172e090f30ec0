import EngineIO
import NIOCore

/// Broadcast: the same frames queued for many sessions, their WebSocket writers woken together. It touches
/// no session state itself: each session queues under its own lock (``EngineSession/enqueue(_:)``).
extension EngineSession {
    /// Queues the same frames for every session, as ``send(_:volatile:)`` does, and wakes the WebSocket
    /// writers with one task per event loop rather than one per session.
    /// - Returns: how many sessions took the frames.
    public static func broadcast(_ frames: [EngineFrame], to sessions: some Sequence<EngineSession>, volatile: Bool = false) -> Int {
        enqueueAndWake(frames, sessions, volatile: volatile)
    }

    /// ``broadcast(_:to:volatile:)`` to a room's members as adapters keep them (socket ids to sessions). A
    /// concrete type: called from another module, the generic one runs its loop over every recipient
    /// through protocol witnesses; this one is specialized here.
    public static func broadcast(_ frames: [EngineFrame], to sessions: Dictionary<String, EngineSession>.Values, volatile: Bool = false) -> Int {
        enqueueAndWake(frames, sessions, volatile: volatile)
    }

    private static func enqueueAndWake(_ frames: [EngineFrame], _ sessions: some Sequence<EngineSession>, volatile: Bool) -> Int {
        var batches: [(loop: any EventLoop, writers: [WebSocketWriter])] = []
        var count = 0
        let bytes = size(of: frames)
        for session in sessions {
            let (accepted, webSocket) = session.enqueue(frames, bytes: bytes, volatile: volatile)
            if accepted { count += 1 }
            guard let webSocket else { continue }
            let loop = webSocket.eventLoop
            if let index = batches.firstIndex(where: { $0.loop === loop }) {
                batches[index].writers.append(webSocket)
            } else {
                batches.append((loop, [webSocket]))
            }
        }
        for (loop, writers) in batches {
            if loop.inEventLoop {
                for writer in writers { writer.write() }
            } else {
                loop.execute { for writer in writers { writer.write() } }
            }
        }
        return count
    }
}
