import DialogueEvents
import Logging
import OrderedCollections
import SocketIO
import SocketIOClient
import Synchronization

/// A Dialogue client: the Swift form of the TypeScript `createDialogueClient`. It keeps one Socket.IO
/// connection, reconnects with backoff when it drops, re-joins its rooms and re-applies their
/// subscriptions, and matches every request to its own answer (Socket.IO acknowledgements).
///
/// ```swift
/// let client = DialogueClient(configuration: .init(url: "http://127.0.0.1:3000", auth: ["userId": "alice"]))
/// try await client.connect()
/// let room = try await client.join("general")
/// room.on(Message) { message in print("\(message.from): \(message.data.text)") }
/// try await room.trigger(Message, ChatMessage(text: "Hello", senderId: "alice"))
/// ```
public final class DialogueClient: Sendable {
    public let configuration: DialogueClientConfiguration
    let logger: Logger
    let storage = Mutex(State())
    private let connectedHub = SignalHub<String>()
    private let disconnectedHub = SignalHub<String>()
    private let errorHub = SignalHub<any Error>()
    private let historyHub = SignalHub<JoinHistory>()
    private let roomCreatedHub = SignalHub<RoomInfo>()
    private let roomDeletedHub = SignalHub<String>()
    private let stateHub = SignalHub<DialogueClientState>()
    private let recoveryHub = SignalHub<Recovery>()

    struct State {
        var phase: DialogueClientState = .disconnected
        var socket: ClientSocket?
        var userId: String?
        var rooms: OrderedDictionary<String, RoomContext> = [:]
        var runner: Task<Void, Never>?
        var waiters: [Int: CheckedContinuation<Void, any Error>] = [:]
        var nextWaiter = 0
        var stopRequested = false
        /// The handshake's `auth` for the next (re)connection; `refreshToken` replaces its token.
        var auth: SocketValue = [:]
    }

    public init(configuration: DialogueClientConfiguration, logger: Logger = Logger(label: "dialogue.client")) {
        self.configuration = configuration
        self.logger = logger
        storage.withLock { $0.auth = configuration.auth }
    }

    // MARK: Observation

    /// The client connected (or reconnected); the value is its user id.
    public var connected: ClientSignal<String> { connectedHub.signal }
    /// The connection dropped or was closed; the value is socket.io's reason (`transport close`, `io server disconnect`, …).
    public var disconnected: ClientSignal<String> { disconnectedHub.signal }
    /// Errors not tied to a request: `dialogue:error` events (as ``DialogueError``), a failed re-join after
    /// reconnecting, a payload that does not decode (``DialogueClientError`` `decodingFailed`), giving up.
    public var errors: ClientSignal<any Error> { errorHub.signal }
    /// History the server sent on joining a room (`syncHistoryOnJoin`).
    public var history: ClientSignal<JoinHistory> { historyHub.signal }
    /// A room was created (by anyone).
    public var roomCreated: ClientSignal<RoomInfo> { roomCreatedHub.signal }
    /// A room was deleted; the value is its id.
    public var roomDeleted: ClientSignal<String> { roomDeletedHub.signal }
    /// After each reconnection, per room: whether the server replayed every event missed while away
    /// (`false`: too many or too old; the newest history arrives on ``history`` instead).
    public var recoveries: ClientSignal<Recovery> { recoveryHub.signal }
    /// Every change of ``state``.
    public var stateChanges: ClientSignal<DialogueClientState> { stateHub.signal }

    /// Where the connection stands.
    public var state: DialogueClientState { storage.withLock { $0.phase } }
    /// Whether the client is connected now.
    public var isConnected: Bool { state == .connected }
    /// The user id the server gave this connection, once connected.
    public var userId: String? { storage.withLock { $0.userId } }

    // MARK: Connecting

    /// Connects (if not already) and waits until the server has announced the client and its rooms are
    /// re-joined.
    /// - Throws: ``DialogueClientError`` `connectionRefused` with the server's reason (it does not retry
    ///   then), `timeout`, or `notConnected` when reconnection gave up.
    public func connect() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.waitUntilConnected() }
            group.addTask {
                try await Task.sleep(for: self.configuration.connectTimeout)
                throw DialogueClientError(.timeout, "no connection to \(self.configuration.url) within \(self.configuration.connectTimeout)")
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// Closes the connection; no reconnection. Rooms are forgotten.
    public func disconnect() async {
        let (runner, socket) = storage.withLock { state -> (Task<Void, Never>?, ClientSocket?) in
            state.stopRequested = true
            return (state.runner, state.socket)
        }
        socket?.disconnect()
        runner?.cancel()
        await runner?.value
        storage.withLock { $0.rooms = [:] }
    }

    private func waitUntilConnected() async throws {
        let id = storage.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = storage.withLock { state -> Bool in
                    if Task.isCancelled || state.phase == .connected { return true }
                    state.waiters[id] = continuation
                    if state.runner == nil {
                        state.stopRequested = false
                        state.runner = Task { await self.runConnection() }
                    }
                    return false
                }
                if resumeNow {
                    if Task.isCancelled { continuation.resume(throwing: CancellationError()) } else { continuation.resume() }
                }
            }
        } onCancel: {
            storage.withLock { $0.waiters.removeValue(forKey: id) }?.resume(throwing: CancellationError())
        }
    }

    private func setPhase(_ phase: DialogueClientState) {
        let changed = storage.withLock { state -> Bool in
            defer { state.phase = phase }
            return state.phase != phase
        }
        if changed { stateHub.send(phase) }
    }

    /// Resumes everyone waiting in ``connect()``.
    private func resumeWaiters(_ result: Result<Void, any Error>) {
        let waiters = storage.withLock { state in
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(with: result) }
    }

    /// Connects, serves the connection, and reconnects with backoff until told to stop or giving up.
    private func runConnection() async {
        var attempt = 0
        defer {
            storage.withLock { state in
                state.runner = nil
                state.socket = nil
            }
            setPhase(.disconnected)
        }
        while !Task.isCancelled {
            setPhase(attempt == 0 ? .connecting : .reconnecting)
            let outcome = await serveOneConnection()
            let stop = storage.withLock { $0.stopRequested }
            switch outcome {
            case .refused(let reason):
                let error = DialogueClientError(.connectionRefused, reason)
                resumeWaiters(.failure(error))
                errorHub.send(error)
                return
            case .closed(let reason, let wasConnected):
                if wasConnected {
                    attempt = 0
                    disconnectedHub.send(reason)
                }
                if stop || reason == "io server disconnect" || reason == "io client disconnect" || !configuration.reconnection {
                    resumeWaiters(.failure(DialogueClientError(.notConnected, "disconnected: \(reason)")))
                    return
                }
            }
            if stop { return }
            attempt += 1
            guard attempt <= configuration.reconnectionAttempts else {
                let error = DialogueClientError(.notConnected, "gave up after \(configuration.reconnectionAttempts) reconnection attempts")
                resumeWaiters(.failure(error))
                errorHub.send(error)
                return
            }
            let delay = configuration.backoff.delay(attempt: attempt)
            logger.debug("reconnecting", metadata: ["dialogue.attempt": "\(attempt)", "dialogue.delay": "\(delay)"])
            do { try await Task.sleep(for: delay) } catch { return }
        }
    }

    private enum Outcome {
        case refused(String)
        case closed(reason: String, wasConnected: Bool)
    }

    private func serveOneConnection() async -> Outcome {
        let wasConnected = Mutex(false)
        do {
            return try await SocketClient.withConnection(to: configuration.url, configuration: configuration.socket, logger: logger) { connection in
                let socket = try await connection.socket(namespace: "/", auth: self.storage.withLock { $0.auth })
                self.storage.withLock { $0.socket = socket }
                for await event in socket.events {
                    if event.name == "dialogue:connected" {
                        await self.announced(event.arguments.first ?? .null)
                        wasConnected.withLock { $0 = true }
                    } else {
                        self.dispatch(event)
                    }
                }
                return .closed(reason: socket.disconnectReason ?? "transport close", wasConnected: wasConnected.withLock { $0 })
            }
        } catch let error as SocketClientError where error.code == .connectionRefused {
            return .refused(error.message)
        } catch {
            logger.debug("connection failed", metadata: ["dialogue.error": "\(error)"])
            return .closed(reason: "\(error)", wasConnected: wasConnected.withLock { $0 })
        }
    }

    /// `dialogue:connected`: re-join the rooms (re-applying their subscriptions), then report connected.
    private func announced(_ payload: SocketValue) async {
        let (userId, rooms) = storage.withLock { state in
            state.userId = payload["userId"]?.stringValue
            return (state.userId ?? "", Array(state.rooms.values))
        }
        for room in rooms {
            do {
                let recovered = try await room.rejoin()
                recoveryHub.send(Recovery(roomId: room.roomId, recovered: recovered))
            } catch {
                logger.warning("re-join failed", metadata: ["dialogue.room": .string(room.roomId), "dialogue.error": "\(error)"])
                storage.withLock { _ = $0.rooms.removeValue(forKey: room.roomId) }
                errorHub.send(error)
            }
        }
        setPhase(.connected)
        resumeWaiters(.success(()))
        connectedHub.send(userId)
    }

    /// Routes a server event to the rooms and observers.
    private func dispatch(_ event: ClientEvent) {
        let payload = event.arguments.first ?? .null
        switch event.name {
        case "dialogue:event":
            guard let message = AnyEventMessage(socketValue: payload) else {
                errorHub.send(DialogueClientError(.protocolViolation, "dialogue:event without an EventMessage"))
                return
            }
            storage.withLock { $0.rooms[message.roomId] }?.deliver(message)
        case "dialogue:joined":
            // Joins the server made (a hook's client.join) get a context too.
            guard let roomId = payload["roomId"]?.stringValue else { return }
            let roomName = payload["roomName"]?.stringValue ?? roomId
            let room = storage.withLock { state in
                if state.rooms[roomId] == nil { state.rooms[roomId] = RoomContext(client: self, roomId: roomId, roomName: roomName) }
                return state.rooms[roomId]
            }
            room?.update(from: payload)
        case "dialogue:left":
            guard let roomId = payload["roomId"]?.stringValue else { return }
            storage.withLock { _ = $0.rooms.removeValue(forKey: roomId) }
        case "dialogue:history":
            guard let roomId = payload["roomId"]?.stringValue else { return }
            let events = (payload["events"]?.arrayValue ?? []).compactMap(AnyEventMessage.init(socketValue:))
            historyHub.send(JoinHistory(roomId: roomId, events: events))
        case "dialogue:roomCreated":
            if let room = RoomInfo(payload) { roomCreatedHub.send(room) }
        case "dialogue:roomDeleted":
            guard let roomId = payload["roomId"]?.stringValue else { return }
            storage.withLock { _ = $0.rooms.removeValue(forKey: roomId) }
            roomDeletedHub.send(roomId)
        case "dialogue:error":
            errorHub.send(DialogueError(payload: payload) ?? DialogueError(.init(rawValue: "UNKNOWN"), payload.jsonText))
        default:
            logger.trace("unhandled event", metadata: ["dialogue.event": .string(event.name)])
        }
    }

    func reportDecodingFailure(_ error: DialogueClientError) {
        errorHub.send(error)
    }

    // MARK: Requests

    /// Sends a `dialogue:*` request with an acknowledgement and returns the answer's fields.
    /// - Throws: ``DialogueError`` with the server's code, or ``DialogueClientError``.
    /// `rejoining` uses the connection being set up (before the client reports itself connected).
    func request(_ event: String, _ payload: SocketValue?, rejoining: Bool = false) async throws -> SocketValue {
        var socket = storage.withLock { $0.phase == .connected || rejoining ? $0.socket : nil }
        if socket == nil, configuration.autoConnect, state == .disconnected {
            try await connect()
            socket = storage.withLock { $0.socket }
        }
        guard let socket, socket.isConnected else {
            throw DialogueClientError(.notConnected, "not connected to \(configuration.url)")
        }
        let answer: SocketValue
        do {
            answer = try await socket.emitWithAck(event, payload.map { [$0] } ?? [], timeout: configuration.requestTimeout).first ?? .null
        } catch let error as SocketAckError {
            switch error.code {
            case .timeout: throw DialogueClientError(.timeout, "no answer to \(event) within \(configuration.requestTimeout)")
            case .disconnected: throw DialogueClientError(.disconnected, "the connection dropped before \(event) was answered")
            }
        }
        switch answer["ok"] {
        case .bool(true)?: return answer
        case .bool(false)?:
            throw answer["error"].flatMap(DialogueError.init(payload:)) ?? DialogueClientError(.protocolViolation, "\(event) failed without an error")
        default:
            throw DialogueClientError(.protocolViolation, "\(event) was answered without ok: is the server a Dialogue server?")
        }
    }

    /// Joins a room (or returns its context if already joined) — the `client.join` of the original.
    /// - Throws: ``DialogueError`` `ROOM_NOT_FOUND`, `JOIN_DENIED`, `ROOM_FULL`, …
    public func join(_ roomId: String) async throws -> RoomContext {
        if let existing = getRoom(roomId) { return existing }
        let answer = try await request("dialogue:join", ["roomId": .string(roomId)])
        return storage.withLock { state in
            if let existing = state.rooms[roomId] { return existing }
            let room = RoomContext(client: self, roomId: roomId, roomName: answer["roomName"]?.stringValue ?? roomId)
            state.rooms[roomId] = room
            return room
        }.updated(from: answer)
    }

    /// The context of a joined room.
    public func getRoom(_ roomId: String) -> RoomContext? {
        storage.withLock { $0.rooms[roomId] }
    }

    /// The rooms this client is in.
    public var rooms: [RoomContext] { storage.withLock { Array($0.rooms.values) } }

    /// Sends a fresh token (`dialogue:refreshToken`) before the current one expires, so the server keeps
    /// the connection; later reconnections use it too.
    /// - Returns: the new token's expiry (Unix seconds), if it has one.
    /// - Throws: ``DialogueError`` `UNAUTHORIZED` (it does not verify), `PERMISSION_DENIED` (another user's).
    @discardableResult
    public func refreshToken(_ token: String) async throws -> Int64? {
        let answer = try await request("dialogue:refreshToken", ["token": .string(token)])
        storage.withLock { state in
            var auth = state.auth.objectValue ?? [:]
            auth["token"] = .string(token)
            state.auth = .object(auth)
        }
        if case .int(let exp)? = answer["exp"] { return exp }
        return nil
    }

    /// The rooms the server lists.
    public func listRooms() async throws -> [RoomInfo] {
        let answer = try await request("dialogue:listRooms", nil)
        return (answer["rooms"]?.arrayValue ?? []).compactMap(RoomInfo.init)
    }

    /// Creates a room (within the server's per-user limit).
    /// - Throws: ``DialogueError`` `ROOM_EXISTS`, `PERMISSION_DENIED`, `INVALID_REQUEST`.
    @discardableResult
    public func createRoom(id: String, name: String, description: String? = nil, maxSize: Int? = nil) async throws -> RoomInfo {
        var payload: OrderedDictionary<SocketKey, SocketValue> = ["id": .string(id), "name": .string(name)]
        if let description { payload["description"] = .string(description) }
        if let maxSize { payload["maxSize"] = .int(Int64(maxSize)) }
        let answer = try await request("dialogue:createRoom", .object(payload))
        guard let room = answer["room"].flatMap(RoomInfo.init) else { throw DialogueClientError(.protocolViolation, "createRoom answered without the room") }
        return room
    }

    /// Deletes a room this user created.
    /// - Throws: ``DialogueError`` `ROOM_NOT_FOUND`, `PERMISSION_DENIED`.
    public func deleteRoom(_ roomId: String) async throws {
        _ = try await request("dialogue:deleteRoom", ["roomId": .string(roomId)])
        storage.withLock { _ = $0.rooms.removeValue(forKey: roomId) }
    }

    func forget(_ roomId: String) {
        storage.withLock { _ = $0.rooms.removeValue(forKey: roomId) }
    }
}
