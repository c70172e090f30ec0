import DialogueHistory
import Synchronization

/// Every room's log: its epoch and newest offset, the order its kept events are delivered in
/// (``RoomTurns``), and its recent events in memory (``HistoryManager``). The only owner of that state —
/// membership, clients and the store's queue have owners of their own — so a trigger touches the room
/// directory only to check membership, and this lock only to take an offset and a turn.
///
/// Offsets and memory change together (the events in memory are in offset order), and a join reads them
/// together while it holds the room's gate.
final class RoomLogs: Sendable {
    private struct State {
        var logs: [String: RoomLog] = [:]
        var turns: [String: RoomTurns] = [:]
        var memory: HistoryManager
    }

    /// A kept event's place in its room's log, and what the memory buffer evicted to make room for it.
    struct Stamp: Sendable {
        let epoch: Int64
        let evictions: [HistoryManager.Eviction]
    }

    private let state: Mutex<State>
    /// Makes the epoch of a room that has none yet (the server's clock).
    private let newEpoch: @Sendable () -> Int64

    init(memory: HistoryManager, newEpoch: @escaping @Sendable () -> Int64) {
        state = Mutex(State(memory: memory))
        self.newEpoch = newEpoch
    }

    // MARK: Offsets

    /// Takes over the positions the history store remembers (before serving).
    func load(_ logs: [String: RoomLog]) {
        state.withLock { state in
            state.logs = logs
            state.turns = logs.mapValues { RoomTurns(delivered: $0.lastOffset) }
        }
    }

    /// Gives a kept event the room's next offset and puts it in memory (keeping at most `limit` of its name).
    func stamp(_ message: inout AnyEventMessage, limit: Int) -> Stamp {
        let roomId = message.roomId
        let (stamped, stamp) = state.withLock { state -> (AnyEventMessage, Stamp) in
            var log = state.logs[roomId] ?? RoomLog(epoch: newEpoch(), lastOffset: 0)
            if state.turns[roomId] == nil { state.turns[roomId] = RoomTurns(delivered: log.lastOffset) }
            log.lastOffset += 1
            state.logs[roomId] = log
            var stamped = message
            stamped.offset = log.lastOffset
            return (stamped, Stamp(epoch: log.epoch, evictions: state.memory.append(stamped, limit: limit)))
        }
        message = stamped
        return stamp
    }

    /// Claims the delivery of an event numbered elsewhere (a cluster's shared store): `nil` when its offset
    /// was claimed already (delivered, or being delivered), else the lower offsets nobody claimed yet — now
    /// the caller's, to deliver or give up (``finishTurn(_:_:)``) before its own. An event of a newer epoch
    /// starts the room's log again (its history was reset on another node); one of an older epoch is
    /// dropped.
    func claim(_ roomId: String, offset: Int64, epoch: Int64) -> Range<Int64>? {
        if let known = state.withLock({ $0.logs[roomId]?.epoch }), known < epoch {
            _ = reset(roomId, epoch: epoch)
            _ = forget(roomId)
        }
        return state.withLock { state -> Range<Int64>? in
            var log = state.logs[roomId] ?? RoomLog(epoch: epoch, lastOffset: 0)
            guard log.epoch == epoch, offset > log.lastOffset else { return nil }
            if state.turns[roomId] == nil { state.turns[roomId] = RoomTurns(delivered: log.lastOffset) }
            let missing = (log.lastOffset + 1)..<offset
            log.lastOffset = offset
            state.logs[roomId] = log
            return missing
        }
    }

    /// Where a joining client starts: the newest offset delivered, and the epoch. Call while holding the
    /// room's gate, so that no delivery moves it meanwhile.
    func joinPosition(_ roomId: String) -> (delivered: Int64, epoch: Int64?) {
        state.withLock { state in
            (state.turns[roomId]?.delivered ?? state.logs[roomId]?.lastOffset ?? 0, state.logs[roomId]?.epoch)
        }
    }

    /// The rooms with a log, sorted.
    var roomIds: [String] { state.withLock { $0.logs.keys.sorted() } }

    /// Starts a new epoch at offset 0. Whoever waited on the old log goes on (their events belong to the
    /// deleted history); joins waiting for its gate are refused. Returns `false` if the room had no log.
    func reset(_ roomId: String, epoch: Int64) -> Bool {
        let old = state.withLock { state -> RoomTurns?? in
            guard state.logs[roomId] != nil || state.turns[roomId] != nil else { return .none }
            state.logs[roomId] = RoomLog(epoch: epoch, lastOffset: 0)
            defer { state.turns[roomId] = RoomTurns(delivered: 0) }
            return .some(state.turns[roomId])
        }
        guard let old else { return false }
        for waiter in old?.waiters.values ?? [:].values { waiter.resume() }
        for waiter in old?.gateWaiters ?? [] { waiter.continuation.resume(returning: false) }
        return true
    }

    // MARK: Delivery order

    /// Waits until every event of the room with a lower offset was delivered (or cancelled).
    func waitForTurn(_ roomId: String, _ offset: Int64) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    // Checked under the lock: a cancellation that ran before this registration finds no waiter.
                    guard !Task.isCancelled, var turns = state.turns[roomId] else { return true }
                    if !turns.gated, turns.delivering == nil, turns.delivered == offset - 1 {
                        turns.delivering = offset
                        state.turns[roomId] = turns
                        return true
                    }
                    state.turns[roomId]?.waiters[offset] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.turns[roomId]?.waiters.removeValue(forKey: offset) }?.resume()
        }
    }

    /// Marks `offset` delivered and lets the next one go.
    func finishTurn(_ roomId: String, _ offset: Int64) {
        let next = state.withLock { state -> RoomTurns.Resumption? in
            guard var turns = state.turns[roomId] else { return nil }
            if turns.delivering == offset { turns.delivering = nil }
            turns.finished.insert(offset)
            while turns.finished.remove(turns.delivered + 1) != nil { turns.delivered += 1 }
            let next = turns.grantNext()
            state.turns[roomId] = turns
            return next
        }
        next?.resume()
    }

    /// Holds the room between two deliveries; returns `false` if it could not (cancelled, room reset).
    func acquireGate(_ roomId: String) async -> Bool {
        let id = state.withLock { state -> Int in
            if state.turns[roomId] == nil { state.turns[roomId] = RoomTurns(delivered: state.logs[roomId]?.lastOffset ?? 0) }
            state.turns[roomId]?.nextGateWaiter += 1
            return state.turns[roomId]?.nextGateWaiter ?? 0
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let now = state.withLock { state -> Bool? in
                    guard !Task.isCancelled, var turns = state.turns[roomId] else { return false }
                    if !turns.gated, turns.delivering == nil, turns.gateWaiters.isEmpty {
                        turns.gated = true
                        state.turns[roomId] = turns
                        return true
                    }
                    state.turns[roomId]?.gateWaiters.append((id, continuation))
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            state.withLock { state -> CheckedContinuation<Bool, Never>? in
                guard let index = state.turns[roomId]?.gateWaiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.turns[roomId]?.gateWaiters.remove(at: index).continuation
            }?.resume(returning: false)
        }
    }

    /// Lets deliveries go on after ``acquireGate(_:)``.
    func releaseGate(_ roomId: String) {
        let next = state.withLock { state -> RoomTurns.Resumption? in
            guard var turns = state.turns[roomId] else { return nil }
            turns.gated = false
            let next = turns.grantNext()
            state.turns[roomId] = turns
            return next
        }
        next?.resume()
    }

    // MARK: Memory

    /// Puts events loaded from the store in memory, oldest first, each kept up to its limit.
    func remember(_ loaded: [(message: AnyEventMessage, limit: Int)]) {
        state.withLock { state in
            for (message, limit) in loaded { _ = state.memory.append(message, limit: limit) }
        }
    }

    /// Puts an event in memory as it is delivered (in offset order), keeping at most `limit` of its name;
    /// returns what that evicted.
    func remember(_ message: AnyEventMessage, limit: Int) -> [HistoryManager.Eviction] {
        state.withLock { $0.memory.append(message, limit: limit) }
    }

    /// Events `[start, end)` of one name in memory, newest first, and how many of that name memory holds.
    func recent(_ roomId: String, eventName: String, start: Int, end: Int) -> (events: [AnyEventMessage], count: Int) {
        state.withLock { state in
            (state.memory.events(roomId: roomId, eventName: eventName, start: start, end: end), state.memory.count(roomId: roomId, eventName: eventName))
        }
    }

    /// The room's events of every name in memory, newest first, at most `limit`.
    func latest(_ roomId: String, limit: Int) -> [AnyEventMessage] {
        state.withLock { $0.memory.latest(roomId: roomId, limit: limit) }
    }

    /// The room's events of every name in memory up to `offset` (a join's position), newest first.
    func recent(_ roomId: String, upTo offset: Int64) -> [AnyEventMessage] {
        state.withLock { $0.memory.latest(roomId: roomId).filter { ($0.offset ?? 0) <= offset } }
    }

    /// The room's events in memory after `offset`, oldest first.
    func recent(_ roomId: String, after offset: Int64) -> [AnyEventMessage] {
        state.withLock { $0.memory.events(roomId: roomId, after: offset) }
    }

    /// Applies a retention rule to memory (what it removes is gone, not handed to `events.onCleanup`).
    func prune(_ roomId: String, eventName: String, keepingNewest: Int?, olderThan: Int64?) {
        state.withLock { $0.memory.prune(roomId: roomId, eventName: eventName, keepingNewest: keepingNewest, olderThan: olderThan) }
    }

    /// Forgets a room's events in memory and returns them.
    func forget(_ roomId: String) -> [HistoryManager.Eviction] {
        state.withLock { $0.memory.removeRoom(roomId) }
    }

    /// Forgets every event in memory and returns them (at shutdown).
    func forgetAll() -> [HistoryManager.Eviction] {
        state.withLock { $0.memory.removeAll() }
    }
}
