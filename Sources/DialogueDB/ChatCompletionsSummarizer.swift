import AsyncHTTPClient
import DialogueDBCore
import Foundation
import NIOCore
import NIOHTTP1
import SocketIO

/// Summaries written by a model behind an OpenAI-compatible `POST {baseURL}/chat/completions` (OpenAI,
/// a local llama.cpp or vLLM server, …).
///
/// ```swift
/// let api = DialogueDBAPI(storage: storage, summarizer: ChatCompletionsSummarizer(baseURL: "http://127.0.0.1:8080/v1", model: "llama-3"))
/// ```
public struct ChatCompletionsSummarizer: Summarizer {
    public let provider = "openai-compatible"
    public let model: String?
    public let baseURL: String
    let apiKey: String?
    let client: HTTPClient

    public init(baseURL: String, model: String, apiKey: String? = nil, client: HTTPClient = .shared) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.model = model
        self.apiKey = apiKey
        self.client = client
    }

    /// Why the endpoint gave no summary.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public func summarize(_ messages: [MessageRecord], template: String?) async throws -> String {
        let transcript = messages.map { "\($0.role): \(SearchText.of(content: $0.content))" }.joined(separator: "\n")
        let instruction = template.map { "Summarize the conversation (template: \($0))." } ?? "Summarize the conversation in a few sentences, keeping names, decisions and open questions."
        let body: SocketValue = [
            "model": .string(model ?? ""),
            "messages": [["role": "system", "content": .string(instruction)], ["role": "user", "content": .string(transcript)]],
            "temperature": 0,
        ]
        var request = HTTPClientRequest(url: "\(baseURL)/chat/completions")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        request.body = .bytes(ByteBuffer(string: body.jsonText))
        let response = try await client.execute(request, timeout: .seconds(120))
        let text = String(buffer: try await response.body.collect(upTo: 8 << 20))
        guard response.status == .ok else { throw Failure(description: "the summarizer answered \(response.status.code)") }
        guard let answer = (try? SocketValue(jsonText: text))?["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue, !answer.isEmpty else {
            throw Failure(description: "the summarizer's answer has no choices[0].message.content")
        }
        return answer
    }
}
