import Foundation
import HTTPTypes
import Hummingbird
import SocketIO

/// Read-only subscribers over Server-Sent Events: `GET /sse/rooms/{roomId}?events=a,b`.
///
/// Each event is sent as `id: OFFSET` (its room offset, when its history is kept), `event: NAME` and
/// `data: {event, roomId, data, from, timestamp, offset?, meta?}`. A client that reconnects with
/// `Last-Event-ID` (browsers' `EventSource` does it by itself) first gets the logged events it missed.
/// The same identity rules as sockets apply: with ``DialogueConfiguration/jwt`` a token is required
/// (`Authorization: Bearer TOKEN`, or `?token=` since `EventSource` cannot set headers) and the room's
/// ``RoomConfiguration/access`` rules are checked.
extension DialogueServer {
    /// How often an idle stream gets a comment line, so proxies and dead peers are noticed.
    static let sseHeartbeat = Duration.seconds(15)
    /// The most events waiting for one slow subscriber; past it the stream ends and the client resumes.
    static let sseBuffer = 1024

    enum StreamItem: Sendable {
        /// An event's frame, encoded once for every subscriber of the room; its offset, when it has one.
        case event(ByteBuffer, offset: Int64?)
        case heartbeat
    }

    /// One open stream: which events it wants (`nil`: all) and where they go.
    struct StreamSubscriber: Sendable {
        let names: Set<String>?
        let continuation: AsyncStream<StreamItem>.Continuation

        func wants(_ event: String) -> Bool { names?.contains(event) ?? true }
    }

    func mountSSE<Context: RequestContext>(on router: Router<Context>) {
        router.get("/sse/rooms/:roomId") { [weak self] request, context in
            guard let self else { return Self.json(.serviceUnavailable, ["ok": false]) }
            return await self.eventStream(request, roomId: context.parameters.get("roomId") ?? "")
        }
    }

    private func eventStream(_ request: Request, roomId: String) async -> Response {
        let auth: AuthData?
        switch await httpIdentity(request) {
        case .success(let verified): auth = verified
        case .failure(let error): return Self.error(error, roomId: roomId)
        }
        guard let room = roomConfiguration(roomId) else { return Self.error(.roomNotFound(roomId), roomId: roomId) }
        if let refusal = accessRefusal(auth, roomId: roomId) { return Self.error(refusal, roomId: roomId) }
        let names = request.uri.queryParameters.get("events").map { $0.split(separator: ",").map(String.init) }
            ?? (room.defaultSubscriptions.isEmpty ? ["*"] : room.defaultSubscriptions)
        if let refused = names.first(where: { $0 != "*" && !room.events.allows($0) }) {
            return Self.error(.eventNotAllowed(refused, roomId), roomId: roomId)
        }
        let lastEventID = (request.headers[HTTPField.Name("Last-Event-ID")!] ?? request.uri.queryParameters.get("lastEventId")).flatMap { Int64($0) }
        let (stream, continuation) = AsyncStream<StreamItem>.makeStream(bufferingPolicy: .bufferingOldest(Self.sseBuffer))
        let subscriber = StreamSubscriber(names: names.contains("*") ? nil : Set(names), continuation: continuation)
        // Registered before the replay is read, so nothing delivered meanwhile is missed.
        guard let registration = streams.register(roomId, subscriber) else {
            return Self.json(.serviceUnavailable, ["ok": false, "error": DialogueError(.serverStopping, "The server is shutting down").payload()])
        }
        let body = ResponseBody { [weak self] writer in
            defer { self?.streams.unregister(roomId, registration) }
            try await writer.write(ByteBuffer(string: "retry: 3000\n\n"))
            var replayedThrough = Int64.min
            if let lastEventID, let self {
                for message in await self.loggedEvents(roomId, after: lastEventID, limit: self.configuration.maxRecoveryEvents) ?? [] where subscriber.wants(message.event) {
                    try await writer.write(Self.frame(message))
                    replayedThrough = message.offset ?? replayedThrough
                }
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    while true {
                        try await Task.sleep(for: Self.sseHeartbeat)
                        continuation.yield(.heartbeat)
                    }
                }
                for await item in stream {
                    switch item {
                    case .event(let frame, let offset):
                        if let offset, offset <= replayedThrough { continue }
                        try await writer.write(frame)
                    case .heartbeat:
                        try await writer.write(ByteBuffer(string: ": ping\n\n"))
                    }
                }
                group.cancelAll()
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store", HTTPField.Name("X-Accel-Buffering")!: "no"],
            body: body
        )
    }

    /// The settings of a room, or of the room a template would make for this id.
    func roomConfiguration(_ roomId: String) -> RoomConfiguration? {
        state.withLock { $0.rooms[roomId]?.configuration } ?? configuration.roomTemplates.first { $0.matches(roomId) }?.configuration(for: roomId)
    }

    /// `JOIN_DENIED` naming the first of the room's access rules `auth` breaks; `nil` when it may.
    func accessRefusal(_ auth: AuthData?, roomId: String) -> DialogueError? {
        roomConfiguration(roomId)?.access.refusal(auth, roomId: roomId)
    }

    /// The verified identity of an HTTP request: required with JWT (`Authorization: Bearer` or `?token=`), none without.
    func httpIdentity(_ request: Request) async -> Result<AuthData?, DialogueError> {
        guard let jwt = configuration.jwt else {
            // An authenticate hook needs a socket handshake; without JWT there is nothing to verify here.
            if configuration.hooks.socket.authenticate != nil {
                return .failure(DialogueError(.permissionDenied, "Server-Sent Events need JWT verification when an authenticate hook decides identities"))
            }
            return .success(nil)
        }
        let query: String? = request.uri.queryParameters.get("token")
        guard let token = Self.bearerToken(request) ?? query, !token.isEmpty else {
            return .failure(DialogueError(.unauthorized, "A token is required (Authorization: Bearer TOKEN or ?token=)"))
        }
        do throws(JWTVerifier.Failure) {
            return .success(AuthData(jwt: try await jwt.verify(token)))
        } catch {
            return .failure(DialogueError(.unauthorized, error.reason))
        }
    }

    private static func frame(_ message: AnyEventMessage) -> ByteBuffer {
        var text = ""
        if let offset = message.offset { text += "id: \(offset)\n" }
        text += "event: \(message.event)\ndata: \(message.socketValue.jsonText)\n\n"
        return ByteBuffer(string: text)
    }

    /// Hands a delivered event to its room's streams: encoded once, whatever their number. A stream more
    /// than ``sseBuffer`` events behind is ended (its client resumes by `Last-Event-ID`).
    func publish(_ message: AnyEventMessage, to subscribers: [StreamSubscriber]) {
        let interested = subscribers.filter { $0.wants(message.event) }
        guard !interested.isEmpty else { return }
        let frame = Self.frame(message)
        for subscriber in interested {
            if case .dropped = subscriber.continuation.yield(.event(frame, offset: message.offset)) { subscriber.continuation.finish() }
        }
    }

    /// Ends every event stream (the server is stopping); later requests are refused.
    func closeStreams() {
        for subscriber in streams.close() { subscriber.continuation.finish() }
    }
}
