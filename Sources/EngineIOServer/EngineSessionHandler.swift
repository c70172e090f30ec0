import EngineIO
import Foundation
import HTTPTypes
import NIOCore

/// What the upper layer learns about the HTTP request that opened a session.
public struct EngineHandshake: Sendable {
    /// Query parameters of the opening request.
    public let query: [String: String]
    /// Headers of the opening request. Host is the request's authority (not a field, as Swift HTTP Types
    /// has it), and a WebSocket keeps none of its handshake's own (Connection, Upgrade,
    /// Sec-WebSocket-Key, -Version, -Extensions).
    public let headers: HTTPFields
    /// The transport the session opened on.
    public let transport: EngineTransport
    /// The client's address: the TCP peer's IP address, or the proxy header's entry (see
    /// ``EngineServerConfiguration/clientAddressHeader``).
    public let address: String
    /// When the session opened, in milliseconds since 1970 (socket.io's `handshake.issued`).
    public let issued: Int64

    public init(query: [String: String], headers: HTTPFields, transport: EngineTransport, address: String, issued: Int64 = Self.now) {
        self.query = query
        self.headers = headers
        self.transport = transport
        self.address = address
        self.issued = issued
    }

    /// Milliseconds since 1970, now.
    public static var now: Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
}

/// Receives what happens on Engine.IO sessions: the layer above (Socket.IO) implements it.
///
/// Every call is synchronous and made on the thread that learned of the event (a WebSocket's event loop,
/// a long-polling request's task, the session's timer): return quickly, and start a task of your own for
/// anything that waits.
public protocol EngineSessionHandler: Sendable {
    /// A session opened. Called before any message of the session is delivered.
    func engineSessionOpened(_ session: EngineSession)

    /// A message arrived. Messages of one session are delivered one at a time, in the order they arrived.
    func engineSession(_ session: EngineSession, received message: EnginePacket.Payload)

    /// The session closed; nothing more will be delivered or sent.
    func engineSessionClosed(_ session: EngineSession, reason: EngineCloseReason)
}
