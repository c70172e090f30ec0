import AsyncHTTPClient
import DialogueDBCore
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
        self.baseURL = OpenAICompatible.trimmed(baseURL)
        self.model = model
        self.apiKey = apiKey
        self.client = client
    }

    public func embed(_ texts: [String]) async throws -> [[Float]] {
        let body: SocketValue = ["model": .string(model), "input": .array(texts.map(SocketValue.string))]
        let answer = try await OpenAICompatible.post(body, to: "\(baseURL)/embeddings", apiKey: apiKey, client: client, timeout: .seconds(60))
        // Answers carry an index; order by it in case the endpoint does not keep the input's order.
        let vectors = (answer["data"]?.arrayValue ?? []).sorted { ($0["index"]?.intValue ?? 0) < ($1["index"]?.intValue ?? 0) }.map { item in
            (item["embedding"]?.arrayValue ?? []).compactMap { $0.doubleValue.map(Float.init) }
        }
        guard vectors.count == texts.count else {
            throw OpenAICompatible.Failure(description: "the embeddings endpoint answered \(vectors.count) vectors for \(texts.count) texts")
        }
        return vectors
    }
}
