import Crypto
import DialogueDBCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SocketIO
import Synchronization

/// The settings of the REST server, with the hosted service's limits.
public struct DialogueDBServerConfiguration: Sendable {
    /// Defaults to `127.0.0.1`.
    public var host: String
    /// Defaults to 8787; 0 picks a free port.
    public var port: Int
    /// The largest request body; above it the answer is a bare 413, as the hosted service's. Defaults to 36 MiB.
    public var maxBodySize: Int
    /// Requests per key per `rateWindow` before 429 with `Retry-After`. Defaults to 600.
    public var rateLimit: Int
    /// Defaults to one minute.
    public var rateWindow: Duration

    public init(host: String = "127.0.0.1", port: Int = 8787, maxBodySize: Int = 36 << 20, rateLimit: Int = 600, rateWindow: Duration = .seconds(60)) {
        precondition(maxBodySize > 0 && rateLimit > 0 && rateWindow > .zero, "limits must be positive")
        self.host = host
        self.port = port
        self.maxBodySize = maxBodySize
        self.rateLimit = rateLimit
        self.rateWindow = rateWindow
    }
}

/// API keys: made by the CLI, shown once, kept as SHA-256 hashes.
public enum APIKeys {
    /// A new key for `projectId`: the secret to hand out (`ddb_…`), and its record (already stored).
    public static func create(projectId: String, name: String, in storage: any APIKeyStorage) async throws -> (secret: String, record: APIKeyRecord) {
        var bytes = [UInt8](repeating: 0, count: 24)
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0 ... .max) }
        let secret = "ddb_" + bytes.map { String(format: "%02x", $0) }.joined()
        let record = APIKeyRecord(id: "key_" + ULIDGenerator().next(), projectId: projectId, name: name, created: Timestamp.now)
        try await storage.insertKey(record, hash: hash(secret))
        return (secret, record)
    }

    public static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// The DialogueDB REST server: every endpoint of the hosted API under `/api/v1/…` and the bare paths,
/// `Authorization: Bearer <key>`, the hosted error envelope, request ids, JSON bodies whatever the
/// Content-Type, and a rate limit per key.
///
/// ```swift
/// let app = DialogueDBHTTPServer.application(api: api, keys: storage, configuration: .init(port: 8787), logger: logger)
/// try await app.runService()
/// ```
public enum DialogueDBHTTPServer {
    public static func application(
        api: DialogueDBAPI, keys: any APIKeyStorage, configuration: DialogueDBServerConfiguration, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        let limiter = RequestRateLimiter(limit: configuration.rateLimit, window: configuration.rateWindow)
        let ids = ULIDGenerator()
        router.get("/health") { _, _ in json(.ok, ["status": "ok"], requestId: nil) }
        // The API's description, without a key (it holds no data).
        router.get("/openapi.json") { _, _ in
            guard let document = openAPIDocument else { return Response(status: .notFound) }
            return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: document))
        }
        let handler: @Sendable (Request, BasicRequestContext) async -> Response = { request, _ in
            let requestId = "req_" + ids.next()
            return await handle(request, requestId: requestId, api: api, keys: keys, limiter: limiter, configuration: configuration, logger: logger)
        }
        for method in [HTTPRequest.Method.get, .post, .put, .delete] {
            router.on("**", method: method, use: handler)
        }
        return Application(
            router: router, configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "DialogueDB"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) }, logger: logger
        )
    }

    static func handle(
        _ request: Request, requestId: String, api: DialogueDBAPI, keys: any APIKeyStorage, limiter: RequestRateLimiter,
        configuration: DialogueDBServerConfiguration, logger: Logger
    ) async -> Response {
        var path = request.uri.path
        if path.hasPrefix("/api/v1/") { path = String(path.dropFirst("/api/v1".count)) }
        func failure(_ error: DialogueDBError, headers: HTTPFields = [:]) -> Response {
            var error = error
            error.requestId = requestId
            return json(HTTPResponse.Status(code: error.statusCode), error.envelope(timestamp: Timestamp.now), requestId: requestId, headers: headers)
        }
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer "), !header.dropFirst(7).isEmpty else {
            return failure(.unauthorized)
        }
        let key: APIKeyRecord?
        do {
            key = try await keys.key(hash: APIKeys.hash(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)))
        } catch {
            logger.error("API key lookup failed", metadata: ["db.error": "\(error)", "db.request": .string(requestId)])
            return failure(.internalError)
        }
        guard let key else { return failure(.unauthorized) }
        if let retryAfter = limiter.admit(key.id) {
            return failure(
                DialogueDBError(statusCode: 429, code: "RATE_LIMIT_EXCEEDED", type: "rate_limit_exceeded",
                                message: "Too many requests for this API key; retry after \(retryAfter) seconds"),
                headers: [.retryAfter: String(retryAfter)]
            )
        }
        let body: SocketValue?
        do {
            let bytes = try await request.body.collect(upTo: configuration.maxBodySize)
            let text = String(buffer: bytes)
            if text.allSatisfy(\.isWhitespace) {
                body = nil
            } else {
                guard let parsed = try? SocketValue(jsonText: text) else { return failure(.invalidParameter("body", "is not valid JSON")) }
                body = parsed
            }
        } catch {
            // The hosted service's transport answers a bare 413 above its ceiling.
            return Response(status: .contentTooLarge, headers: [HTTPField.Name("X-Request-Id")!: requestId])
        }
        var query: [String: String] = [:]
        for (name, value) in request.uri.queryParameters { query[String(name)] = String(value) }
        do {
            let answer = try await api.handle(
                APIRequest(request.method.rawValue, path, query: query, body: body), context: RequestContext(projectId: key.projectId, requestId: requestId)
            )
            return json(.ok, answer, requestId: requestId)
        } catch {
            if error.statusCode >= 500 { logger.error("request failed", metadata: ["db.request": .string(requestId), "db.code": .string(error.code)]) }
            return failure(error)
        }
    }

    static func json(_ status: HTTPResponse.Status, _ value: SocketValue, requestId: String?, headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"]
        if let requestId { headers[HTTPField.Name("X-Request-Id")!] = requestId }
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: value.jsonText)))
    }
}

/// `Resources/openapi.json`, read once.
let openAPIDocument: ByteBuffer? = Bundle.module.url(forResource: "openapi", withExtension: "json")
    .flatMap { try? Data(contentsOf: $0) }.map { ByteBuffer(bytes: $0) }

/// A fixed window per key: at most `limit` requests in each `window`; a refused request learns how many
/// seconds remain.
final class RequestRateLimiter: Sendable {
    private let limit: Int
    private let window: Duration
    private let windows = Mutex<[String: (start: ContinuousClock.Instant, count: Int)]>([:])

    init(limit: Int, window: Duration) {
        self.limit = limit
        self.window = window
    }

    /// `nil` when admitted, else the seconds to wait.
    func admit(_ key: String, now: ContinuousClock.Instant = .now) -> Int? {
        windows.withLock { windows in
            var current = windows[key] ?? (now, 0)
            if now - current.start >= window { current = (now, 0) }
            guard current.count < limit else {
                let remaining = window - (now - current.start)
                return max(1, Int(remaining.components.seconds) + (remaining.components.attoseconds > 0 ? 1 : 0))
            }
            current.count += 1
            windows[key] = current
            return nil
        }
    }
}
