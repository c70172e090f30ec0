import Foundation
import SocketIO

/// Triggering events, server-side handlers and history.
extension DialogueServer {
    /// Triggers an event in a room from the server: validates `data` against the room's definition of the
    /// event (or `event`'s own), runs `events.beforeEach`, delivers `dialogue:event` to the participants
    /// subscribed to it (or to `*`), stores it if its history is enabled, then runs `events.onTriggered`,
    /// the handlers registered with ``on(_:_:_:)`` and `events.afterEach`. A room matching a template is
    /// created first if needed.
    ///
    /// ```swift
    /// try await dialogue.trigger("general", Message, ChatMessage(text: "Hello", senderId: "bot"), from: "bot")
    /// ```
    /// - Parameters:
    ///   - from: the sender's user id; defaults to `"system"`.
    ///   - meta: free-form metadata (an object) carried with the message, not validated.
    /// - Returns: the message as delivered.
    /// - Throws: ``DialogueError`` `ROOM_NOT_FOUND`, `EVENT_NOT_ALLOWED`, `VALIDATION_FAILED` (naming the
    ///   field), `EVENT_BLOCKED`, `INVALID_REQUEST` (meta not an object).
    @discardableResult
    public func trigger<Payload>(
        _ roomId: String, _ event: EventDefinition<Payload>, _ data: Payload, from: String? = nil, meta: SocketValue? = nil
    ) async throws(DialogueError) -> AnyEventMessage {
        let value: SocketValue
        do {
            value = try PayloadCoding.encode(data)
        } catch {
            throw .validationFailed(event.name, error)
        }
        return try await dispatch(roomId, event.name, value, from: from ?? "system", meta: meta, sender: nil, definition: event).message
    }

    /// Triggers an event by name with raw JSON data (wildcard and dynamic rooms); see the typed overload.
    @discardableResult
    public func trigger(_ roomId: String, event eventName: String, data: SocketValue, from: String? = nil, meta: SocketValue? = nil) async throws(DialogueError) -> AnyEventMessage {
        try await dispatch(roomId, eventName, data, from: from ?? "system", meta: meta, sender: nil, definition: nil).message
    }

    /// Runs `handler` for every `event` delivered in `roomId`, for side effects (persistence, push
    /// notifications). `roomId` may be a pattern such as `doc:*`. A handler that throws is logged.
    ///
    /// ```swift
    /// let unsubscribe = dialogue.on("chat", Message) { message in
    ///     try await database.save(message.data.text, from: message.from)
    /// }
    /// unsubscribe()
    /// ```
    /// - Returns: call it to stop.
    @discardableResult
    public func on<Payload>(_ roomId: String, _ event: EventDefinition<Payload>, _ handler: @escaping @Sendable (EventMessage<Payload>) async throws -> Void) -> Unsubscribe {
        addHandler(roomId, event.name) { message in try await handler(message.decoded(as: Payload.self)) }
    }

    /// Runs `handler` for every event named `eventName` (`*` for all) delivered in `roomId` (or a pattern).
    @discardableResult
    public func on(_ roomId: String, event eventName: String, _ handler: @escaping @Sendable (AnyEventMessage) async throws -> Void) -> Unsubscribe {
        addHandler(roomId, eventName, handler)
    }

    private func addHandler(_ roomPattern: String, _ eventName: String, _ handler: @escaping @Sendable (AnyEventMessage) async throws -> Void) -> Unsubscribe {
        let id = handlers.add(roomPattern: roomPattern, eventName: eventName, handler)
        return Unsubscribe { [weak self] in self?.handlers.remove(id) }
    }

    /// The trigger pipeline, for the server (`sender == nil`) and for clients (membership required): the
    /// checks and the offset (``admit(_:_:_:from:meta:sender:definition:)``), then the rest.
    func dispatch(
        _ roomId: String, _ eventName: String, _ data: SocketValue, from: String, meta: SocketValue?, sender: ConnectedClient?,
        definition fallback: (any EventDescribing)?
    ) async throws(DialogueError) -> (message: AnyEventMessage, persisted: Bool) {
        let admitted = try await admit(roomId, eventName, data, from: from, meta: meta, sender: sender, definition: fallback)
        return await admitted.finish()
    }

    /// The first half of a trigger, which runs in the order of the sender's events: the room, membership,
    /// validation, `events.beforeEach` and — for a kept event — the room's next offset. What it returns
    /// finishes the trigger (store, delivery in offset order, the after-hooks); a client's next event may be
    /// admitted meanwhile, so one client's kept events wait for their commits together, not one by one.
    func admit(
        _ roomId: String, _ eventName: String, _ data: SocketValue, from: String, meta: SocketValue?, sender: ConnectedClient?,
        definition fallback: (any EventDescribing)?
    ) async throws(DialogueError) -> AdmittedTrigger {
        // Counted while in flight, so that a stopping server closes its store only after their writes.
        guard inFlight.enter() else { throw DialogueError(.serverStopping, "The server is shutting down") }
        do {
            return try await check(roomId, eventName, data, from: from, meta: meta, sender: sender, definition: fallback)
        } catch {
            inFlight.leave()
            metrics.refused(room: metricsLabel(roomId: roomId), event: eventName, error: error)
            throw error
        }
    }

    private func check(
        _ roomId: String, _ eventName: String, _ data: SocketValue, from: String, meta: SocketValue?, sender: ConnectedClient?,
        definition fallback: (any EventDescribing)?
    ) async throws(DialogueError) -> AdmittedTrigger {
        await ready.wait()
        let started = ContinuousClock.now
        if let meta, meta.objectValue == nil { throw DialogueError(.invalidRequest, "meta must be an object", field: "meta") }
        guard eventName != "*" else { throw DialogueError(.invalidRequest, "'*' names every event; it cannot be triggered", field: "event") }
        let (room, created) = try state.withLock { state throws(DialogueError) -> (RoomState, Room?) in
            if let room = state.rooms[roomId] {
                if let sender, !room.members.contains(sender.id) { throw .notInRoom(roomId) }
                return (room, nil)
            }
            guard sender == nil, let template = configuration.roomTemplates.first(where: { $0.matches(roomId) }) else {
                throw sender == nil ? .roomNotFound(roomId) : .notInRoom(roomId)
            }
            let room = RoomState(configuration: template.configuration(for: roomId), origin: .template(removeWhenEmpty: template.removeWhenEmpty))
            state.rooms[roomId] = room
            return (room, Room(id: roomId, state: room, server: self))
        }
        if let created { await announceCreated(created) }
        let events = room.configuration.events
        guard events.allows(eventName) else { throw .eventNotAllowed(eventName, roomId) }
        let definition = events.first { $0.name == eventName } ?? fallback ?? events.definition(named: eventName)
        let validated: SocketValue
        do {
            validated = try definition?.validatedData(data) ?? data
        } catch {
            throw .validationFailed(eventName, error)
        }
        var message = AnyEventMessage(event: eventName, roomId: roomId, data: validated, from: from, timestamp: Self.now(), meta: meta)
        if let beforeEach = configuration.hooks.events.beforeEach {
            let decision: BeforeEachDecision
            do {
                decision = try await beforeEach(BeforeEachRequest(context: context, roomId: roomId, message: message))
            } catch {
                logger.error("beforeEach hook failed; event blocked", metadata: ["dialogue.room": .string(roomId), "dialogue.error": "\(error)"])
                decision = .block("Event blocked")
            }
            switch decision {
            case .proceed: break
            case .replace(let replacement): message = replacement
            case .block(let reason): throw DialogueError(.eventBlocked, reason)
            }
            message.roomId = roomId
        }
        var log: RoomLogs.Stamp?
        var shared: AdmittedTrigger.Shared?
        if let history = definition?.history, history.enabled {
            // In a cluster the shared store numbers kept events; on one node this log does.
            if let sharedAppends {
                shared = AdmittedTrigger.Shared(ticket: sharedAppends.enqueue(message), limit: history.limit)
            } else {
                log = roomLogs.stamp(&message, limit: history.limit)
            }
        }
        // A name the room does not define (allowed by `*`) is counted as `*`: clients choose those names.
        let metricsEvent = events.contains { $0.name == message.event } ? message.event : "*"
        return AdmittedTrigger(server: self, message: message, log: log, shared: shared, metricsEvent: metricsEvent, started: started)
    }

    /// A trigger past its checks, with its offset if it is kept; ``finish()`` completes it, once.
    struct AdmittedTrigger: Sendable {
        let server: DialogueServer
        let message: AnyEventMessage
        let log: RoomLogs.Stamp?
        /// A kept event the cluster's shared store numbers (no offset yet): its place in the queue, its limit.
        let shared: Shared?
        let metricsEvent: String
        let started: ContinuousClock.Instant

        /// Whether finishing waits for the history store's commit: only then may it run beside the sender's
        /// next events (a kept event is delivered in offset order whatever finishes first; any other event
        /// must finish before the next is admitted, or one client's events could be delivered out of order).
        var waitsForCommit: Bool { (log != nil && server.configuration.historyStore != nil) || shared != nil }

        struct Shared: Sendable {
            let ticket: Int
            let limit: Int
        }

        /// Stores (a kept event), delivers, and runs `events.onTriggered`, the ``on(_:_:_:)`` handlers and
        /// `events.afterEach`. Returns the message as delivered and whether it is durable.
        func finish() async -> (message: AnyEventMessage, persisted: Bool) {
            defer { server.inFlight.leave() }
            return await server.deliver(self)
        }
    }

    private func deliver(_ trigger: AdmittedTrigger) async -> (message: AnyEventMessage, persisted: Bool) {
        var message = trigger.message
        let roomId = message.roomId
        let recipients: Int
        var persisted = true
        if let log = trigger.log {
            (recipients, persisted) = await deliverLogged(message, log)
        } else if let shared = trigger.shared, let sharedAppends {
            (message, recipients, persisted) = await deliverShared(message, shared, from: sharedAppends)
        } else {
            recipients = await broadcast(message)
            // One node: nothing to send, nothing built.
            if configuration.cluster != nil { await sendToCluster([ClusterEvent(message: message, epoch: nil)]) }
        }
        metrics.delivered(room: metricsLabel(roomId: roomId), event: trigger.metricsEvent, recipients: recipients, after: .now - trigger.started)
        let hooks = configuration.hooks.events
        await runHook("events.onTriggered") { try await hooks.onTriggered?(roomId, message) }
        publish(message, to: streams.subscribers(of: roomId))
        for registration in handlers.matching(message) {
            await runHook("on(\(registration.roomPattern), \(registration.eventName))") { try await registration.handler(message) }
        }
        await runHook("events.afterEach") {
            try await hooks.afterEach?(AfterEachEvent(context: context, roomId: roomId, message: message, recipientCount: recipients))
        }
        return (message, persisted)
    }

    /// Events `[start, end)` of one name, newest first: from memory, then the history store (which holds
    /// every event, so its indices are memory's), then `events.onLoad` beyond what is stored (offsets shifted
    /// by the number of events stored, or in memory when there is no store).
    func history(roomId: String, eventName: String, start: Int, end: Int) async -> [AnyEventMessage] {
        let start = max(0, start)
        guard end > start else { return [] }
        var (events, known) = roomLogs.recent(roomId, eventName: eventName, start: start, end: end)
        if events.count < end - start, let store = configuration.historyStore {
            do {
                let stored = try await store.events(roomId: roomId, eventName: eventName, start: start + events.count, end: end)
                events += stored.map(\.messageWithOffset)
                known = try await store.count(roomId: roomId, eventName: eventName)
            } catch {
                logger.error("history store read failed", metadata: ["dialogue.room": .string(roomId), "dialogue.error": "\(error)"])
                return events
            }
        }
        let missingStart = max(start + events.count, known)
        guard events.count < end - start, missingStart < end, let onLoad = configuration.hooks.events.onLoad else { return events }
        do {
            let loaded = try await onLoad(roomId, eventName, missingStart - known, end - known)
            return events + loaded.prefix(end - missingStart)
        } catch {
            logger.error("onLoad hook failed", metadata: ["dialogue.room": .string(roomId), "dialogue.error": "\(error)"])
            return events
        }
    }

    /// The room's in-memory events of every name, newest first, `[start, end)`.
    func recentHistory(roomId: String, start: Int, end: Int) -> [AnyEventMessage] {
        let all = roomLogs.latest(roomId, limit: end)
        return start < all.count ? Array(all[start...]) : []
    }

    static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}
