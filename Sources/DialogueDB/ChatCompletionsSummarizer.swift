import AsyncHTTPClient
import DialogueDBCore
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
        self.baseURL = OpenAICompatible.trimmed(baseURL)
        self.model = model
        self.apiKey = apiKey
        self.client = client
    }

    public func summarize(_ messages: [MessageRecord], template: String?) async throws -> String {
        let transcript = messages.map { "\($0.role): \(SearchText.of(content: $0.content))" }.joined(separator: "\n")
        let instruction = template.map { "Summarize the conversation (template: \($0))." } ?? "Summarize the conversation in a few sentences, keeping names, decisions and open questions."
        let body: SocketValue = [
            "model": .string(model ?? ""),
            "messages": [["role": "system", "content": .string(instruction)], ["role": "user", "content": .string(transcript)]],
            "temperature": 0,
        ]
        let answer = try await OpenAICompatible.post(body, to: "\(baseURL)/chat/completions", apiKey: apiKey, client: client, timeout: .seconds(120))
        guard let content = answer["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue, !content.isEmpty else {
            throw OpenAICompatible.Failure(description: "the summarizer's answer has no choices[0].message.content")
        }
        return content
    }
}
