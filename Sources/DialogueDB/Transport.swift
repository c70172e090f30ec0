import AsyncHTTPClient
import DialogueDBCore
import OrderedCollections
import Foundation
import NIOCore
import NIOHTTP1
import SocketIO

/// How the SDK reaches a DialogueDB: in-process (an SQLite file) or over HTTP. Both speak the same
/// requests, so an app behaves the same whichever it is given.
public protocol DialogueDBTransport: Sendable {
    /// Sends one API request; returns the 2xx body.
    /// - Throws: ``DialogueDBError`` (network failures are status 0, `NETWORK_ERROR`).
    func send(_ request: APIRequest) async throws(DialogueDBError) -> SocketValue
    /// Releases what the transport holds (an embedded store's database file).
    func close() async
}

/// The API in this process, on a storage the app owns.
public struct EmbeddedTransport: DialogueDBTransport {
    public let api: DialogueDBAPI
    /// The project every record belongs to. Defaults to `local`.
    public let projectId: String

    public init(api: DialogueDBAPI, projectId: String = "local") {
        self.api = api
        self.projectId = projectId
    }

    public func send(_ request: APIRequest) async throws(DialogueDBError) -> SocketValue {
        try await api.handle(request, context: RequestContext(projectId: projectId))
    }

    public func close() async {
        await api.storage.close()
    }
}

/// A DialogueDB server (this package's, or the hosted service) over HTTP with async-http-client: the
/// `/api/v1` prefix, `Authorization: Bearer`, and the hosted SDK's retries (network errors, 429 and 5xx,
/// three retries with backoff from one to ten seconds).
public final class RemoteTransport: DialogueDBTransport {
    public let endpoint: String
    private let apiKey: String
    private let client: HTTPClient
    /// Retries after the first attempt. Defaults to 3.
    public let retries: Int
    /// The first retry's delay, doubled each time up to ``retryMaxDelay``.
    public let retryMinDelay: Duration
    public let retryMaxDelay: Duration

    /// - Parameters:
    ///   - endpoint: e.g. `http://127.0.0.1:8787` (the default of the hosted SDK is `https://api.dialoguedb.com`).
    public init(endpoint: String, apiKey: String, retries: Int = 3, retryMinDelay: Duration = .seconds(1), retryMaxDelay: Duration = .seconds(10),
                client: HTTPClient = .shared) {
        precondition(!apiKey.isEmpty, "API key cannot be empty")
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.apiKey = apiKey
        self.client = client
        self.retries = retries
        self.retryMinDelay = retryMinDelay
        self.retryMaxDelay = retryMaxDelay
    }

    /// The HTTP client is the caller's (by default the shared one); nothing to release.
    public func close() async {}

    public func send(_ request: APIRequest) async throws(DialogueDBError) -> SocketValue {
        var delay = retryMinDelay
        var attempt = 0
        while true {
            do {
                return try await sendOnce(request)
            } catch where error.isRetryable && attempt < retries {
                attempt += 1
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, retryMaxDelay)
            }
        }
    }

    private func sendOnce(_ request: APIRequest) async throws(DialogueDBError) -> SocketValue {
        var components = URLComponents(string: "\(endpoint)/api/v1\(request.path)")
        if !request.query.isEmpty { components?.queryItems = request.query.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) } }
        guard let url = components?.string else { throw .invalidParameter("endpoint", "is not a valid URL") }
        var http = HTTPClientRequest(url: url)
        http.method = HTTPMethod(rawValue: request.method)
        http.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        http.headers.add(name: "User-Agent", value: "dialogue-db-swift")
        if let body = request.body {
            http.headers.add(name: "Content-Type", value: "application/json")
            http.body = .bytes(ByteBuffer(string: body.jsonText))
        }
        let status: Int
        let text: String
        do {
            let response = try await client.execute(http, timeout: .seconds(60))
            status = Int(response.status.code)
            text = String(buffer: try await response.body.collect(upTo: 64 << 20))
        } catch {
            throw DialogueDBError(statusCode: 0, code: "NETWORK_ERROR", type: "server_error", message: "\(error)")
        }
        let json = try? SocketValue(jsonText: text)
        guard (200..<300).contains(status) else { throw DialogueDBError(envelope: json, statusCode: status) }
        return json ?? [:]
    }
}
