import DialogueHistory
import Logging

/// Several nodes as one server: what a node sends its cluster and what it does with what the others send
/// (see `Docs/ClusterDesign.md`). Kept events are numbered by the shared store, delivered here in offset
/// order, then sent; the other nodes deliver them in the same order, filling from the store any offset they
/// have not seen yet. Events without history are delivered here, then sent.
extension DialogueServer {
    /// Checks the configuration (a cluster needs a shared store), starts the link and the roster sender,
    /// and waits until what the other nodes send from now on will arrive (``receiveFromCluster()`` delivers
    /// it, once the store is open).
    func startCluster(in group: inout ThrowingTaskGroup<Void, any Error>) async throws {
        guard let link = configuration.cluster else { return }
        guard sharedAppends != nil else {
            throw DialogueError(.invalidRequest, "a cluster needs a history store the nodes share (PostgreSQL); this one is not")
        }
        group.addTask {
            do {
                try await link.run()
            } catch where !Task.isCancelled {
                self.logger.critical("the cluster link stopped: this node no longer hears the others", metadata: ["dialogue.error": "\(error)"])
            }
        }
        group.addTask { await self.sendRoster(through: link) }
        // Before the store is opened: whatever commits after the positions are read arrives through the
        // link, and what arrives twice is recognized by its offset.
        try await link.waitUntilReady()
    }

    /// Sends what is still queued for the other nodes, then leaves the cluster (after the last events).
    func stopCluster() async {
        guard let link = configuration.cluster else { return }
        rosterOutbox.finish()
        await rosterSent.wait()
        await sharedAppends?.idle()
        await link.stop()
    }

    /// Delivers what the other nodes send, in the order they sent it, and follows their clients, until the
    /// link ends.
    func receiveFromCluster() async {
        guard let link = configuration.cluster else { return }
        tellCluster(.snapshot(localRoster()))
        tellCluster(.snapshotRequested)
        for await received in link.received {
            switch received {
            case .event(let event): await deliverFromCluster(event)
            case .roster(.snapshotRequested, _): sendSnapshot()
            case .roster(.commandRequested(let clientId, let command), _): await performRequested(command, clientId: clientId)
            case .roster(.leaveRequested(let userId, let roomIds), _): await leaveLocally(userId, roomIds)
            case .roster(.clientRoomCreated(let room), _): await makeClientRoom(room)
            case .roster(.serverRoomCreated(let roomId, let createdById, let configuration), _):
                await makeServerRoom(roomId, createdById: createdById, configuration)
            case .roster(.roomDeleted(let roomId), _): await removeRoom(roomId, fromCluster: true)
            case .roster(let change, let node): roster.apply(change, from: node)
            case .nodeLeft(let node, let announcedHere): await nodeLeft(node, announcedHere: announcedHere)
            case .rejoined: tellCluster(.snapshot(localRoster()))
            }
        }
    }

    /// Delivers an event another node delivered: a kept one in offset order, once.
    private func deliverFromCluster(_ event: ClusterEvent) async {
        let message = event.message
        if let epoch = event.epoch, let offset = message.offset, let store = sharedAppends?.store {
            let limit = historyLimit(roomId: message.roomId, eventName: message.event)
            // The node that triggered it hands its evictions to `events.onCleanup`; memory here just forgets.
            let stored = StoredEvent(offset: offset, epoch: epoch, message: message)
            if await deliverInOrder(stored, limit: limit, from: store) != nil { publish(message, to: streams.subscribers(of: message.roomId)) }
        } else {
            _ = await broadcast(message)
            publish(message, to: streams.subscribers(of: message.roomId))
        }
    }

    /// A kept event triggered on this node of a cluster: numbered and stored by the shared store (with
    /// whatever else waits), delivered here in offset order; ``SharedAppends`` sends it to the other nodes.
    /// If the store fails, the event is delivered without an offset (it is not kept) and `persisted` is
    /// `false`. Returns the message as delivered.
    func deliverShared(
        _ message: AnyEventMessage, _ shared: AdmittedTrigger.Shared, from appends: SharedAppends
    ) async -> (message: AnyEventMessage, recipients: Int, persisted: Bool) {
        let started = ContinuousClock.now
        switch await appends.numbered(shared.ticket) {
        case .success(let stored):
            metrics.storeAppend(after: .now - started, failed: false)
            // Claimed by nobody else: the offset is new.
            let (recipients, evictions) = await deliverInOrder(stored, limit: shared.limit, from: appends.store) ?? (0, [])
            await cleanup(evictions)
            return (stored.messageWithOffset, recipients, true)
        case .failure(let error):
            metrics.storeAppend(after: .now - started, failed: true)
            logger.error(
                "shared history store failed: the event is delivered without an offset and not kept",
                metadata: ["dialogue.room": .string(message.roomId), "dialogue.error": "\(error)"]
            )
            let recipients = await broadcast(message)
            await sendToCluster([ClusterEvent(message: message, epoch: nil)])
            return (message, recipients, false)
        }
    }

    /// Sends events this node delivered to the others.
    func sendToCluster(_ events: [ClusterEvent]) async {
        guard let link = configuration.cluster else { return }
        await Self.send(events, through: link, logger: logger)
    }

    /// Sends events to the other nodes; a failure is logged (kept events reach the other nodes with the
    /// next event of their room, or by recovery; the others are lost to them).
    static func send(_ events: [ClusterEvent], through link: any ClusterLink, logger: Logger) async {
        do {
            try await link.send(events)
        } catch {
            logger.error(
                "sending events to the cluster failed; the other nodes miss them",
                metadata: ["dialogue.rooms": "\(Set(events.map(\.message.roomId)).sorted())", "dialogue.error": "\(error)"]
            )
        }
    }

    /// Delivers a numbered event after every lower offset of its room, once (an offset already claimed is
    /// skipped). Lower offsets this node has not seen are read from the store first: a visible offset means
    /// every lower one is committed. Returns the recipients here and what memory evicted; `nil` if the
    /// offset was claimed already.
    private func deliverInOrder(
        _ event: StoredEvent, limit: Int?, from store: any SharedHistoryStore
    ) async -> (recipients: Int, evictions: [HistoryManager.Eviction])? {
        let roomId = event.message.roomId
        guard let missing = roomLogs.claim(roomId, offset: event.offset, epoch: event.epoch) else { return nil }
        if !missing.isEmpty { await fill(roomId, missing, epoch: event.epoch, from: store) }
        return await deliverTurn(event, limit: limit)
    }

    /// Delivers the claimed offsets `missing` from the store, in order; those it cannot read are given up.
    private func fill(_ roomId: String, _ missing: Range<Int64>, epoch: Int64, from store: any SharedHistoryStore) async {
        var found: [Int64: StoredEvent] = [:]
        do {
            for event in try await store.events(roomId: roomId, after: missing.lowerBound - 1, limit: missing.count)
            where event.epoch == epoch && missing.contains(event.offset) {
                found[event.offset] = event
            }
        } catch {
            logger.error("history store read failed; events other nodes delivered are skipped here", metadata: [
                "dialogue.room": .string(roomId), "dialogue.offsets": "\(missing.lowerBound)...\(missing.upperBound - 1)", "dialogue.error": "\(error)",
            ])
        }
        for offset in missing {
            if let event = found[offset] {
                let limit = historyLimit(roomId: roomId, eventName: event.message.event)
                _ = await deliverTurn(event, limit: limit)
                publish(event.messageWithOffset, to: streams.subscribers(of: roomId))
            } else {
                await roomLogs.waitForTurn(roomId, offset)
                roomLogs.finishTurn(roomId, offset)
            }
        }
    }

    /// Waits for the event's turn, puts it in memory, delivers it to this node's subscribers.
    private func deliverTurn(_ event: StoredEvent, limit: Int?) async -> (recipients: Int, evictions: [HistoryManager.Eviction]) {
        let roomId = event.message.roomId
        let message = event.messageWithOffset
        await roomLogs.waitForTurn(roomId, event.offset)
        let evictions = limit.map { roomLogs.remember(message, limit: $0) } ?? []
        let recipients = await broadcast(message)
        roomLogs.finishTurn(roomId, event.offset)
        return (recipients, evictions)
    }

    /// The history limit of an event in a room this node knows (configured, or made here); `nil` otherwise.
    private func historyLimit(roomId: String, eventName: String) -> Int? {
        let definitions = state.withLock { $0.rooms[roomId]?.configuration.events }
        guard let history = definitions?.first(where: { $0.name == eventName })?.history ?? definitions?.definition(named: eventName)?.history,
            history.enabled
        else { return nil }
        return history.limit
    }
}
