import DialogueStorage
import Foundation
import SocketIO

/// Each room's history log: offsets, durable appends, delivery in offset order.
extension DialogueServer {
    /// The delivery order of a room: events go out one at a time in offset order, and a joining client
    /// can hold the room between two deliveries (the gate) to get an exact "everything up to here" snapshot.
    struct RoomTurns {
        /// The newest offset delivered, or given up on; the next one may go.
        var delivered: Int64
        /// Offsets finished out of order, waiting for the ones before them.
        var finished: Set<Int64> = []
        var waiters: [Int64: CheckedContinuation<Void, Never>] = [:]
        /// The offset being delivered now.
        var delivering: Int64?
        /// Whether a join holds the room.
        var gated = false
        var gateWaiters: [(id: Int, continuation: CheckedContinuation<Bool, Never>)] = []
        var nextGateWaiter = 0

        /// Lets the next one go: a waiting join first, else the next offset. Returns whom to resume.
        mutating func grantNext() -> Resumption? {
            guard !gated, delivering == nil else { return nil }
            if !gateWaiters.isEmpty {
                gated = true
                let waiter = gateWaiters.removeFirst()
                return .gate(waiter.continuation)
            }
            guard let next = waiters.removeValue(forKey: delivered + 1) else { return nil }
            delivering = delivered + 1
            return .turn(next)
        }

        enum Resumption {
            case turn(CheckedContinuation<Void, Never>)
            case gate(CheckedContinuation<Bool, Never>)

            func resume() {
                switch self {
                case .turn(let continuation): continuation.resume()
                case .gate(let continuation): continuation.resume(returning: true)
                }
            }
        }
    }

    /// Delivers `message` to the room's subscribers.
    func broadcast(_ message: AnyEventMessage) async -> Int {
        await namespace.to(Self.subscriptionRoom(message.roomId, message.event)).to(Self.subscriptionRoom(message.roomId, "*"))
            .emit("dialogue:event", [message.socketValue])
    }

    /// A kept event's place in its room's log, and what its memory buffer evicted to make room.
    struct LoggedEvent: Sendable {
        let epoch: Int64
        let evictions: [HistoryManager.Eviction]
    }

    /// Gives a kept event the room's next offset and puts it in memory (the first half of a kept event).
    func stamp(_ message: inout AnyEventMessage, limit: Int) -> LoggedEvent {
        let roomId = message.roomId
        let (stamped, logged) = state.withLock { state -> (AnyEventMessage, LoggedEvent) in
            var log = state.logs[roomId] ?? RoomLog(epoch: Self.newEpoch(), lastOffset: 0)
            if state.turns[roomId] == nil { state.turns[roomId] = RoomTurns(delivered: log.lastOffset) }
            log.lastOffset += 1
            state.logs[roomId] = log
            var stamped = message
            stamped.offset = log.lastOffset
            return (stamped, LoggedEvent(epoch: log.epoch, evictions: state.history.append(stamped, limit: limit)))
        }
        message = stamped
        return logged
    }

    /// The second half of a kept event: stored durably in the history store, then delivered after every
    /// event of the room with a lower offset. A store that fails does not stop delivery: the failure is
    /// logged with the room and offset, `persisted` is `false`, and the event is stored by the retry task
    /// once the store is back (see ``historyStoreStatus``).
    func deliverLogged(_ message: AnyEventMessage, _ logged: LoggedEvent) async -> (recipients: Int, persisted: Bool) {
        let roomId = message.roomId
        let offset = message.offset ?? 0
        await cleanup(logged.evictions)
        var persisted = true
        if let store = configuration.historyStore {
            persisted = await persist(StoredEvent(offset: offset, epoch: logged.epoch, message: message), in: store)
        }
        await waitForTurn(roomId, offset)
        let recipients = await broadcast(message)
        finishTurn(roomId, offset)
        return (recipients, persisted)
    }

    private func waitForTurn(_ roomId: String, _ offset: Int64) async {
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

    private func finishTurn(_ roomId: String, _ offset: Int64) {
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

    /// Starts a new epoch for a room whose history was deleted: memory, store, offsets from 1 again.
    func resetLog(_ roomId: String) async {
        let epoch = Self.newEpoch()
        let old = state.withLock { state -> RoomTurns? in
            guard state.logs[roomId] != nil || state.turns[roomId] != nil else { return nil }
            state.logs[roomId] = RoomLog(epoch: epoch, lastOffset: 0)
            defer { state.turns[roomId] = RoomTurns(delivered: 0) }
            return state.turns[roomId]
        }
        // Whoever waited on the old log goes on (their events belong to the deleted history).
        for waiter in old?.waiters.values ?? [:].values { waiter.resume() }
        for waiter in old?.gateWaiters ?? [] { waiter.continuation.resume(returning: false) }
        guard let store = configuration.historyStore else { return }
        dropPendingWrites(roomId: roomId)
        do {
            try await store.reset(roomId: roomId, epoch: epoch)
        } catch {
            logger.error("history store reset failed", metadata: ["dialogue.room": .string(roomId), "dialogue.error": "\(error)"])
        }
    }

    /// Loads the rooms' log positions from the history store (before serving).
    func openStore() async throws {
        guard let store = configuration.historyStore else { return }
        let logs = try await store.open()
        state.withLock { state in
            state.logs = logs
            state.turns = logs.mapValues { RoomTurns(delivered: $0.lastOffset) }
        }
        logger.info("history store open", metadata: ["dialogue.rooms": "\(logs.count)"])
        await warmHistory(from: store, rooms: Set(logs.keys))
    }

    /// Loads the newest stored events of the configured rooms into memory (each event name up to its history
    /// limit), so that history sent on join survives a restart. Rooms made later from templates start empty
    /// in memory; `dialogue:getHistory` still reads them from the store.
    private func warmHistory(from store: any HistoryStore, rooms stored: Set<String>) async {
        let rooms = state.withLock { state in state.rooms.filter { stored.contains($0.key) }.map { ($0.key, $0.value.configuration.events) } }
        for (roomId, events) in rooms {
            var loaded: [(message: AnyEventMessage, limit: Int)] = []
            for event in events where event.name != "*" {
                guard let history = event.history, history.enabled else { continue }
                do {
                    let newest = try await store.events(roomId: roomId, eventName: event.name, start: 0, end: history.limit)
                    loaded += newest.map { ($0.messageWithOffset, history.limit) }
                } catch {
                    logger.error("history store read failed while loading recent history", metadata: ["dialogue.room": .string(roomId), "dialogue.error": "\(error)"])
                }
            }
            loaded.sort { ($0.message.offset ?? 0) < ($1.message.offset ?? 0) }
            state.withLock { state in
                for (message, limit) in loaded { _ = state.history.append(message, limit: limit) }
            }
        }
    }

    /// A new epoch: the current time in milliseconds.
    static func newEpoch() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}

extension StoredEvent {
    /// The message, carrying its offset.
    var messageWithOffset: AnyEventMessage {
        var message = message
        message.offset = offset
        return message
    }
}
