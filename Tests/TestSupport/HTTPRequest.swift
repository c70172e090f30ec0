import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A plain HTTP request, as any backend would send it (URLSession's data tasks work on Linux).
public struct HTTPReply: Sendable {
    public let status: Int
    public let headers: [String: String]
    public let body: String

    /// The body parsed as JSON.
    public var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) }
}

public func httpRequest(_ method: String, _ url: String, headers: [String: String] = [:], body: String? = nil) async throws -> HTTPReply {
    guard let target = URL(string: url) else { throw URLError(.badURL) }
    var request = URLRequest(url: target)
    request.httpMethod = method
    // Cookies only as a test sets them: no jar shared between tests.
    request.httpShouldHandleCookies = false
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    request.httpBody = body.map { Data($0.utf8) }
    let (data, response) = try await URLSession.shared.data(for: request)
    guard let http = response as? HTTPURLResponse else { throw URLError(.badServerResponse) }
    var headers: [String: String] = [:]
    for (name, value) in http.allHeaderFields { headers[String(describing: name).lowercased()] = String(describing: value) }
    return HTTPReply(status: http.statusCode, headers: headers, body: String(decoding: data, as: UTF8.self))
}
