import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SocketIO

/// What the OpenAI-compatible clients share: a JSON POST with an optional bearer key.
enum OpenAICompatible {
    /// Why an endpoint gave no usable answer.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func trimmed(_ baseURL: String) -> String {
        baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
    }

    /// POSTs `body` to `url` and returns the JSON answer of a 200.
    static func post(_ body: SocketValue, to url: String, apiKey: String?, client: HTTPClient, timeout: TimeAmount) async throws -> SocketValue {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        request.body = .bytes(ByteBuffer(string: body.jsonText))
        let response = try await client.execute(request, timeout: timeout)
        let text = String(buffer: try await response.body.collect(upTo: 64 << 20))
        guard response.status == .ok else { throw Failure(description: "\(url) answered \(response.status.code)") }
        guard let json = try? SocketValue(jsonText: text) else { throw Failure(description: "\(url) answered something that is not JSON") }
        return json
    }
}
