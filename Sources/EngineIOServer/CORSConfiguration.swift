import HTTPTypes

/// Cross-origin rules for the long-polling transport, following the `cors` options of the reference server.
public struct CORSConfiguration: Sendable {
    /// Which origins may use the server.
    public enum AllowedOrigin: Sendable, Equatable {
        /// `Access-Control-Allow-Origin: *`.
        case any
        /// Reflect the request's `Origin` (the reference server's `origin: true`).
        case reflect
        /// Reflect the request's `Origin` only when it is one of these.
        case list([String])
    }

    /// Allowed origins. Defaults to ``AllowedOrigin/any``.
    public var origin: AllowedOrigin
    /// Whether to send `Access-Control-Allow-Credentials: true`. Defaults to `false`.
    public var credentials: Bool
    /// Methods announced on preflight. Defaults to `GET,HEAD,PUT,PATCH,POST,DELETE` (the `cors` package's).
    public var methods: [String]

    public init(origin: AllowedOrigin = .any, credentials: Bool = false, methods: [String] = ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"]) {
        self.origin = origin
        self.credentials = credentials
        self.methods = methods
    }

    /// Headers to add to a response to a request with these headers.
    func responseHeaders(for request: HTTPFields, preflight: Bool) -> HTTPFields {
        var headers = HTTPFields()
        let requestOrigin = request[.origin]
        switch origin {
        case .any:
            headers[.accessControlAllowOrigin] = "*"
        case .reflect:
            if let requestOrigin { headers[.accessControlAllowOrigin] = requestOrigin }
            headers[.vary] = "Origin"
        case .list(let allowed):
            if let requestOrigin, allowed.contains(requestOrigin) { headers[.accessControlAllowOrigin] = requestOrigin }
            headers[.vary] = "Origin"
        }
        if credentials { headers[.accessControlAllowCredentials] = "true" }
        if preflight {
            headers[.accessControlAllowMethods] = methods.joined(separator: ",")
            if let requested = request[.accessControlRequestHeaders] {
                headers[.accessControlAllowHeaders] = requested
                headers.append(HTTPField(name: .vary, value: "Access-Control-Request-Headers"))
            }
        }
        return headers
    }
}
