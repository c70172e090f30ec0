import Foundation
import HTTPTypes
import Hummingbird
import OrderedCollections
import SocketIO

/// The HTTP side of the server: health, readiness, and publishing without a socket.
public struct HTTPAPIConfiguration: Sendable {
    /// Keys accepted by `POST /api/rooms/{roomId}/events/{event}`, as `Authorization: Bearer KEY` or
    /// `X-API-Key: KEY`. With JWT verification (``DialogueConfiguration/jwt``) a client's token is accepted
    /// too, publishing as its `sub` where the room's access rules let it. With neither, publishing over HTTP is off.
    public var apiKeys: Set<String>
    /// The largest request body accepted. Defaults to 1 MB.
    public var maxBodySize: Int
    /// Whether the server mounts `GET /health` and `GET /ready`. Defaults to `true`; turn it off when the
    /// application that mounts Dialogue has its own (Hummingbird refuses two handlers for one route).
    public var healthRoutes: Bool
    /// Whether the server mounts the read-only Server-Sent Events channel `GET /sse/rooms/{roomId}`.
    /// Defaults to `true`.
    public var serverSentEvents: Bool

    public init(apiKeys: Set<String> = [], maxBodySize: Int = 1 << 20, healthRoutes: Bool = true, serverSentEvents: Bool = true) {
        self.apiKeys = apiKeys
        self.maxBodySize = maxBodySize
        self.healthRoutes = healthRoutes
        self.serverSentEvents = serverSentEvents
    }
}

extension DialogueServer {
    /// `GET /health` (the process answers), `GET /ready` (the history store is open and healthy and, in a
    /// cluster, the node is a member — with the nodes it knows; 503 with the store's status otherwise), `GET /sse/rooms/{roomId}` and, when API keys or JWT verification are
    /// configured, `POST /api/rooms/{roomId}/events/{event}`.
    func mountHTTP<Context: RequestContext>(on router: Router<Context>) {
        let api = configuration.httpAPI
        if api.healthRoutes {
            router.get("/health") { _, _ in Self.json(.ok, ["status": "ok"]) }
            router.get("/ready") { [weak self] _, _ in
                guard let self else { return Self.json(.serviceUnavailable, ["status": "stopping"]) }
                return self.readiness()
            }
        }
        if api.serverSentEvents { mountSSE(on: router) }
        guard !api.apiKeys.isEmpty || configuration.jwt != nil else { return }
        router.post("/api/rooms/:roomId/events/:event") { [weak self] request, context in
            guard let self else { return Self.json(.serviceUnavailable, ["ok": false]) }
            return await self.publish(request, context, api: api)
        }
    }

    private func readiness() -> Response {
        let store = historyStoreStatus
        let cluster = configuration.cluster?.status
        let isReady = self.ready.isFired && store.healthy && (cluster.map { $0.nodeID != nil } ?? true)
        var body: OrderedDictionary<SocketKey, SocketValue> = ["status": .string(isReady ? "ready" : "not ready")]
        if let cluster {
            var members: OrderedDictionary<SocketKey, SocketValue> = ["node": .string(cluster.node)]
            members["nodeId"] = cluster.nodeID.map(SocketValue.string) ?? .null
            members["nodes"] = .array(cluster.nodes.map { .string($0.name) })
            body["cluster"] = .object(members)
        }
        if store.configured {
            var status: OrderedDictionary<SocketKey, SocketValue> = [
                "healthy": .bool(store.healthy), "pendingEvents": .int(Int64(store.pendingEvents)),
                "droppedEvents": .int(Int64(store.droppedEvents)), "failedWrites": .int(Int64(store.failedWrites)),
            ]
            if let lastError = store.lastError { status["lastError"] = .string(lastError) }
            body["historyStore"] = .object(status)
        }
        return Self.json(isReady ? .ok : .serviceUnavailable, .object(body))
    }

    private func publish<Context: RequestContext>(_ request: Request, _ context: Context, api: HTTPAPIConfiguration) async -> Response {
        guard let roomId = context.parameters.get("roomId"), let event = context.parameters.get("event") else {
            return Self.error(DialogueError(.invalidRequest, "Room and event are required"))
        }
        // An API key publishes as `?from=` (default `api`); a verified token as its subject, within the room's access rules.
        let from: String
        if let key = Self.credential(request), api.apiKeys.contains(where: { Self.constantTimeEquals($0, key) }) {
            from = request.uri.queryParameters.get("from") ?? "api"
        } else if configuration.jwt != nil, Self.bearerToken(request) != nil {
            switch await httpIdentity(request) {
            case .failure(let error): return Self.error(error, roomId: roomId)
            case .success(let auth):
                if let refusal = accessRefusal(auth, roomId: roomId) { return Self.error(refusal, roomId: roomId) }
                from = auth?.jwt.sub ?? "api"
            }
        } else {
            return Self.error(DialogueError(.unauthorized, "An API key (Authorization: Bearer KEY or X-API-Key) or a valid token is required"))
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: api.maxBodySize)
        } catch {
            return Self.json(.contentTooLarge, ["ok": false, "error": DialogueError(.invalidRequest, "The body is larger than \(api.maxBodySize) bytes").payload()])
        }
        let data: SocketValue
        if body.readableBytes == 0 {
            data = .object([:])
        } else {
            guard let parsed = try? SocketValue(jsonText: String(buffer: body)) else {
                return Self.error(DialogueError(.invalidRequest, "The body is not JSON"))
            }
            data = parsed
        }
        do {
            let (message, persisted) = try await dispatch(roomId, event, data, from: from, meta: nil, sender: nil, definition: nil)
            var answer: OrderedDictionary<SocketKey, SocketValue> = [
                "ok": true, "roomId": .string(roomId), "event": .string(event), "timestamp": .int(message.timestamp),
            ]
            if let offset = message.offset {
                answer["offset"] = .int(offset)
                answer["persisted"] = .bool(persisted)
            }
            return Self.json(.ok, .object(answer))
        } catch {
            return Self.error(error, roomId: roomId)
        }
    }

    private static func credential(_ request: Request) -> String? {
        bearerToken(request) ?? request.headers[HTTPField.Name("X-API-Key")!]
    }

    /// The token of an `Authorization: Bearer TOKEN` header.
    package static func bearerToken(_ request: Request) -> String? {
        guard let authorization = request.headers[.authorization], authorization.lowercased().hasPrefix("bearer ") else { return nil }
        return String(authorization.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces)
    }

    /// Compares secrets in time that does not depend on where they differ.
    package static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// `{ok: false, error: {code, message, field?, roomId?}}` with the status that fits the code.
    static func error(_ error: DialogueError, roomId: String? = nil) -> Response {
        let status: HTTPResponse.Status = switch error.code {
        case .unauthorized: .unauthorized
        case .roomNotFound: .notFound
        case .permissionDenied, .eventBlocked, .joinDenied: .forbidden
        case .rateLimited: .tooManyRequests
        case .serverStopping: .serviceUnavailable
        default: .badRequest
        }
        return json(status, ["ok": false, "error": error.payload(roomId: roomId)])
    }

    package static func json(_ status: HTTPResponse.Status, _ value: SocketValue) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: value.jsonText))
        )
    }
}
