import EngineIO
import HummingbirdWSClient
import Logging
import NIOCore
import SocketIO
import Synchronization

/// Configuration of a Socket.IO client connection.
public struct SocketClientConfiguration: Sendable {
    /// The Socket.IO path on the server. Defaults to `/socket.io`.
    public var path: String
    /// Extra query parameters of the handshake.
    public var query: [String: String]
    /// How long to wait for the Engine.IO handshake and for each namespace's CONNECT answer. Defaults to 20 s.
    public var connectTimeout: Duration
    /// The default timeout of ``ClientSocket/emitWithAck(_:_:timeout:)``. Defaults to 10 s.
    public var ackTimeout: Duration
    /// The largest message accepted from the server. Defaults to 1 000 000 bytes.
    public var maxPayload: Int

    public init(
        path: String = "/socket.io",
        query: [String: String] = [:],
        connectTimeout: Duration = .seconds(20),
        ackTimeout: Duration = .seconds(10),
        maxPayload: Int = 1_000_000
    ) {
        self.path = path
        self.query = query
        self.connectTimeout = connectTimeout
        self.ackTimeout = ackTimeout
        self.maxPayload = maxPayload
    }
}

/// A client error, with a code.
public struct SocketClientError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The server answered the namespace's CONNECT with CONNECT_ERROR; ``message`` holds its reason.
        case connectionRefused
        /// The connection closed (or was never established).
        case disconnected
        /// No answer in time (the handshake or a namespace's CONNECT).
        case timeout
        /// The server broke the protocol.
        case protocolViolation
    }

    public let code: Code
    /// Details; for ``Code/connectionRefused`` the server's message.
    public let message: String

    public init(_ code: Code, _ message: String = "") {
        self.code = code
        self.message = message
    }

    public var description: String { message.isEmpty ? "SocketClientError(\(code.rawValue))" : "SocketClientError(\(code.rawValue): \(message))" }
}

/// Socket.IO v5 over an Engine.IO v4 WebSocket, as a scoped connection.
///
/// ```swift
/// try await SocketClient.withConnection(to: "http://127.0.0.1:3000", logger: logger) { connection in
///     let socket = try await connection.socket(namespace: "/", auth: ["token": "abc"])
///     let reply = try await socket.emitWithAck("echo", ["hello"])
/// }
/// ```
public enum SocketClient {
    /// Opens a connection to `url` (`http://host:port`), runs `body` with it, then closes it.
    public static func withConnection<Result: Sendable>(
        to url: String,
        configuration: SocketClientConfiguration = .init(),
        logger: Logger,
        _ body: @Sendable (SocketClientConnection) async throws -> Result
    ) async throws -> Result {
        let connection = SocketClientConnection(configuration: configuration, logger: logger)
        let webSocketURL = connection.webSocketURL(base: url)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { connection.close() }
                try await WebSocketClient.connect(
                    url: webSocketURL,
                    configuration: .init(maxFrameSize: configuration.maxPayload),
                    logger: logger
                ) { inbound, outbound, _ in
                    await connection.serve(inbound: inbound, outbound: outbound)
                }
            }
            defer {
                connection.close()
                group.cancelAll()
            }
            try await connection.waitUntilOpen()
            return try await body(connection)
        }
    }
}
