import OrderedCollections
import SocketIO
import SocketIOServer

/// The `dialogue:*` events clients send (the wire contract of PROTOCOL.md). A failure is answered with
/// `dialogue:error {code, message}`, or, when the request asked for an acknowledgement, through it:
/// `{ok: true, …}` or `{ok: false, error: {code, message}}` (so a client that matches answers to requests
/// never sees another request's error).
extension DialogueServer {
    /// Handles one `dialogue:*` event of `client` (its socket's ``SocketEventDispatcher``); `false` for a
    /// name outside the contract.
    func handleWireEvent(_ event: String, arguments: [SocketValue], ack: SocketAck?, client: ConnectedClient) async -> Bool {
        let payload = arguments.first ?? .null
        let socket = client.socket
        switch event {
        case "dialogue:join":
            await respond(event, payload, ack, on: socket) { request throws(DialogueError) in
                let outcome = try await join(client, request.string("roomId"), asked: true, resume: request.resume())
                var answer = outcome.joined.objectValue ?? [:]
                answer["subscriptions"] = .array(outcome.subscriptions.map(SocketValue.string))
                return answer
            }
        case "dialogue:leave":
            await respond(event, payload, ack, on: socket) { request throws(DialogueError) in
                try await leave(client, request.string("roomId"))
                return nil
            }
        case "dialogue:subscribe":
            await respond(event, payload, ack, on: socket) { request throws(DialogueError) in
                try subscribe(client, request.string("roomId"), request.string("eventName"))
                return nil
            }
        case "dialogue:subscribeAll":
            await respond(event, payload, ack, on: socket) { request throws(DialogueError) in
                try subscribe(client, request.string("roomId"), "*")
                return nil
            }
        case "dialogue:unsubscribe":
            await respond(event, payload, ack, on: socket) { request throws(DialogueError) in
                try unsubscribe(client, request.string("roomId"), request.string("eventName"))
                return nil
            }
        case "dialogue:trigger":
            await trigger(payload, ack: ack, client: client)
        case "dialogue:refreshToken":
            await respond(event, payload, ack, on: socket) { request throws(DialogueError) in
                try await refreshToken(client, request.string("token"))
            }
        case "dialogue:getHistory":
            await respond(event, payload, ack, on: socket) { request throws(DialogueError) in
                try await historyRequest(request, client: client)
            }
        case "dialogue:presence":
            await respond(event, payload, ack, on: socket) { request throws(DialogueError) in
                try presenceRequest(request.string("roomId"), client: client)
            }
        case "dialogue:listRooms":
            await respond(event, payload, ack, on: socket, payloadRequired: false) { _ throws(DialogueError) in
                let listed = rooms().filter(\.isListed).map(\.listing)
                client.socket.emit("dialogue:rooms", .array(listed))
                return ["rooms": .array(listed)]
            }
        case "dialogue:createRoom":
            await respond(event, payload, ack, on: socket) { request throws(DialogueError) in
                try await clientCreatesRoom(request, client: client)
            }
        case "dialogue:deleteRoom":
            await respond(event, payload, ack, on: socket) { request throws(DialogueError) in
                let roomId = try request.string("roomId")
                try state.withLock { state throws(DialogueError) in
                    guard let room = state.rooms[roomId] else { throw .roomNotFound(roomId) }
                    guard room.origin == .client else { throw DialogueError(.permissionDenied, "Only rooms created by clients can be deleted by clients") }
                    guard room.createdById == client.userId else { throw DialogueError(.permissionDenied, "Only the room creator can delete this room") }
                }
                await removeRoom(roomId)
                return nil
            }
        default:
            return false
        }
        return true
    }

    /// Runs a request and answers it (``answer(_:to:on:ack:)``).
    private func respond(
        _ event: String, _ payload: SocketValue, _ ack: SocketAck?, on socket: ServerSocket, payloadRequired: Bool = true,
        _ body: (WireRequest) async throws(DialogueError) -> OrderedDictionary<SocketKey, SocketValue>?
    ) async {
        let result: Result<OrderedDictionary<SocketKey, SocketValue>?, DialogueError>
        if payloadRequired, payload.objectValue == nil {
            result = .failure(Self.objectExpected(event))
        } else {
            do throws(DialogueError) {
                result = .success(try await body(WireRequest(value: payload)))
            } catch {
                result = .failure(error)
            }
        }
        Self.answer(result, to: payload, on: socket, ack: ack)
    }

    /// `dialogue:trigger`: admitted in the order the client sent its events; a kept event that waits for the
    /// store's commit is finished (stored, delivered in offset order, answered) without holding up the
    /// client's next ones — at most ``ConnectedClient/TriggerWindow/size`` at a time, beyond which the
    /// client's events wait. Any other event is finished before the next is admitted.
    private func trigger(_ payload: SocketValue, ack: SocketAck?, client: ConnectedClient) async {
        await client.triggers.enter()
        let admitted: AdmittedTrigger
        do throws(DialogueError) {
            guard payload.objectValue != nil else { throw Self.objectExpected("dialogue:trigger") }
            let request = WireRequest(value: payload)
            admitted = try await admit(
                request.string("roomId"), request.string("event"), payload["data"] ?? .null,
                from: client.userId, meta: payload["meta"].flatMap { $0 == .null ? nil : $0 }, sender: client, definition: nil
            )
        } catch {
            client.triggers.leave()
            Self.answer(.failure(error), to: payload, on: client.socket, ack: ack)
            return
        }
        if admitted.waitsForCommit {
            Task { await Self.finish(admitted, payload: payload, ack: ack, client: client) }
        } else {
            await Self.finish(admitted, payload: payload, ack: ack, client: client)
        }
    }

    /// Stores, delivers and answers an admitted trigger.
    private static func finish(_ admitted: AdmittedTrigger, payload: SocketValue, ack: SocketAck?, client: ConnectedClient) async {
        let (message, persisted) = await admitted.finish()
        client.triggers.leave()
        var answer: OrderedDictionary<SocketKey, SocketValue> = ["timestamp": .int(message.timestamp)]
        if let offset = message.offset { answer["offset"] = .int(offset) }
        // Delivered, but the history store failed: the client knows this one is not durable.
        if !persisted { answer["persisted"] = false }
        Self.answer(.success(answer), to: payload, on: client.socket, ack: ack)
    }

    private static func objectExpected(_ event: String) -> DialogueError {
        DialogueError(.invalidRequest, "\(event) expects an object payload")
    }

    /// Answers a request: through its acknowledgement if it asked for one (`{ok: true, …}` or
    /// `{ok: false, error}`), else a failure as `dialogue:error`.
    private static func answer(
        _ result: Result<OrderedDictionary<SocketKey, SocketValue>?, DialogueError>, to payload: SocketValue, on socket: ServerSocket, ack: SocketAck?
    ) {
        switch result {
        case .success(let extra):
            var answer: OrderedDictionary<SocketKey, SocketValue> = ["ok": true]
            answer.merge(extra ?? [:]) { _, new in new }
            ack?(.object(answer))
        case .failure(let error):
            let roomId = payload["roomId"]?.stringValue ?? payload["id"]?.stringValue
            if let ack {
                ack(["ok": false, "error": error.payload(roomId: roomId)])
            } else {
                socket.emit("dialogue:error", error.payload(roomId: roomId))
            }
        }
    }

    private func historyRequest(_ request: WireRequest, client: ConnectedClient) async throws(DialogueError) -> OrderedDictionary<SocketKey, SocketValue>? {
        let now = ContinuousClock.now
        guard state.withLock({ $0.historyRequests.attempt(client.id, at: now) }) else {
            throw DialogueError(.rateLimited, "Too many history requests. Please wait before trying again.")
        }
        let roomId = try request.string("roomId")
        let eventName = try request.optionalString("eventName")
        let start = try request.optionalInt("start") ?? 0
        let requestedEnd = try request.optionalInt("end") ?? 50
        guard requestedEnd >= start else { throw DialogueError(.invalidRequest, "end must not be less than start") }
        let end = min(requestedEnd, start + configuration.maxHistoryPage)
        try state.withLock { state throws(DialogueError) in
            guard state.rooms[roomId] != nil else { throw .roomNotFound(roomId) }
            guard state.clients[client.id]?.subscriptions[roomId] != nil else { throw .notInRoom(roomId) }
        }
        let events: [AnyEventMessage]
        if let eventName {
            events = await history(roomId: roomId, eventName: eventName, start: start, end: end)
        } else {
            events = recentHistory(roomId: roomId, start: start, end: end)
        }
        let response: OrderedDictionary<SocketKey, SocketValue> = [
            "roomId": .string(roomId), "eventName": eventName.map(SocketValue.string) ?? .null,
            "events": .array(events.map(\.socketValue)), "start": .int(Int64(start)), "end": .int(Int64(end)),
        ]
        client.socket.emit("dialogue:historyResponse", .object(response))
        return response
    }

    private func clientCreatesRoom(_ request: WireRequest, client: ConnectedClient) async throws(DialogueError) -> OrderedDictionary<SocketKey, SocketValue>? {
        let id = try request.string("id", maxLength: 128)
        guard !id.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw DialogueError(.invalidRequest, "id must not contain control characters", field: "id")
        }
        var room = configuration.clientRooms.template
        room.name = try request.string("name", maxLength: 256)
        room.description = try request.optionalString("description", maxLength: 1024)
        if let maxSize = try request.optionalInt("maxSize") {
            guard maxSize > 0 else { throw DialogueError(.invalidRequest, "maxSize must be positive", field: "maxSize") }
            room.maxSize = maxSize
        }
        let policy = configuration.clientRooms
        let templates = configuration.roomTemplates
        let created = try await createRoom(id, RoomState(configuration: room, createdById: client.userId, origin: .client)) { state throws(DialogueError) in
            guard policy.limitPerUser > 0 else { throw DialogueError(.permissionDenied, "Clients cannot create rooms on this server") }
            guard !templates.contains(where: { $0.matches(id) }) else { throw DialogueError(.permissionDenied, "Room id '\(id)' is reserved") }
            let count = state.roomsCreatedByUser[client.userId] ?? 0
            guard count < policy.limitPerUser else {
                throw DialogueError(.permissionDenied, "A user may have at most \(policy.limitPerUser) rooms; delete one first")
            }
            state.roomsCreatedByUser[client.userId] = count + 1
        }
        logger.info("room created by a client", metadata: ["dialogue.room": .string(id), "dialogue.user": .string(client.userId)])
        tellCluster(.clientRoomCreated(ClientRoom(id: id, name: room.name, description: room.description, maxSize: room.maxSize, createdById: client.userId)))
        return ["room": created.announcement]
    }
}

/// A `dialogue:*` request payload, with typed accessors that fail with `INVALID_REQUEST` naming the field.
struct WireRequest: Sendable {
    let value: SocketValue

    func string(_ name: String, maxLength: Int = 1024) throws(DialogueError) -> String {
        guard let string = try optionalString(name, maxLength: maxLength), !string.isEmpty else {
            throw DialogueError(.invalidRequest, "\(name) is required (a non-empty string)", field: name)
        }
        return string
    }

    func optionalString(_ name: String, maxLength: Int = 1024) throws(DialogueError) -> String? {
        switch value[name] {
        case nil, .null?: return nil
        case .string(let string)?:
            guard string.count <= maxLength else { throw DialogueError(.invalidRequest, "\(name) must be at most \(maxLength) characters", field: name) }
            return string
        default: throw DialogueError(.invalidRequest, "\(name) must be a string", field: name)
        }
    }

    /// `offset` (and `epoch`, `subscriptions`) of a re-join: what the client saw before it reconnected.
    func resume() throws(DialogueError) -> Resume? {
        guard let offset = try optionalInt("offset") else { return nil }
        var epoch: Int64?
        switch value["epoch"] {
        case nil, .null?: break
        case .int(let number)?: epoch = number
        default: throw DialogueError(.invalidRequest, "epoch must be an integer", field: "epoch")
        }
        var subscriptions: [String]?
        switch value["subscriptions"] {
        case nil, .null?: break
        case .array(let names)?:
            subscriptions = try names.map { name throws(DialogueError) -> String in
                guard case .string(let text) = name, !text.isEmpty else {
                    throw DialogueError(.invalidRequest, "subscriptions must be event names", field: "subscriptions")
                }
                return text
            }
        default: throw DialogueError(.invalidRequest, "subscriptions must be an array of event names", field: "subscriptions")
        }
        return Resume(offset: Int64(offset), epoch: epoch, subscriptions: subscriptions)
    }

    func optionalInt(_ name: String) throws(DialogueError) -> Int? {
        switch value[name] {
        case nil, .null?: return nil
        case .int(let integer)? where integer >= 0 && integer <= Int64(Int32.max): return Int(integer)
        case .double(let double)? where double >= 0 && double <= Double(Int32.max) && double.rounded() == double: return Int(double)
        default: throw DialogueError(.invalidRequest, "\(name) must be a non-negative integer", field: name)
        }
    }
}
