import AsyncHTTPClient
import DialogueDBCore
import Foundation
import NIOCore
import NIOHTTP1
import SocketIO

/// Embeddings from an OpenAI-compatible `POST {baseURL}/embeddings` (OpenAI, a local llama.cpp, vLLM or
/// text-embeddings server, …), for hybrid search ranking.
///
/// ```swift
/// let api = DialogueDBAPI(storage: storage, embeddings: OpenAIEmbeddings(baseURL: "http://127.0.0.1:8081/v1", model: "all-minilm"))
/// ```
public struct OpenAIEmbeddings: EmbeddingProvider {
    public let baseURL: String
    public let model: String
    let apiKey: String?
    let client: HTTPClient

    public init(baseURL: String, model: String, apiKey: String? = nil, client: HTTPClient = .shared) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.model = model
        self.apiKey = apiKey
        self.client = client
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public func embed(_ texts: [String]) async throws -> [[Float]] {
        var request = HTTPClientRequest(url: "\(baseURL)/embeddings")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        let body: SocketValue = ["model": .string(model), "input": .array(texts.map(SocketValue.string))]
        request.body = .bytes(ByteBuffer(string: body.jsonText))
        let response = try await client.execute(request, timeout: .seconds(60))
        let text = String(buffer: try await response.body.collect(upTo: 64 << 20))
        guard response.status == .ok else { throw Failure(description: "the embeddings endpoint answered \(response.status.code)") }
        let data = (try? SocketValue(jsonText: text))?["data"]?.arrayValue ?? []
        // Answers carry an index; order by it in case the endpoint does not keep the input's order.
        let vectors = data.sorted { ($0["index"]?.intValue ?? 0) < ($1["index"]?.intValue ?? 0) }.map { item in
            (item["embedding"]?.arrayValue ?? []).compactMap { $0.doubleValue.map(Float.init) }
        }
        guard vectors.count == texts.count else { throw Failure(description: "the embeddings endpoint answered \(vectors.count) vectors for \(texts.count) texts") }
        return vectors
    }
}
