import Crypto
import EngineIO
import Foundation
import HTTPTypes
import HummingbirdCore
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import NIOWebSocket

/// Upgrades an HTTP/1.1 connection to an Engine.IO WebSocket and leaves one handler behind:
/// ``EngineWebSocketHandler``, which reads frames, reassembles fragments and answers protocol errors itself.
/// There is no frame decoder, encoder, aggregator or error handler: frames go out prebuilt, and every
/// handler a connection carries costs it memory for as long as it is open.
///
/// Whether a request may upgrade is decided on the event loop, without a task, unless the application set
/// ``EngineServerConfiguration/allowRequest``. A refused request is answered with the protocol's error
/// (status and JSON body) and the connection closed: NIO's HTTP decoder stops at an upgrade request, so
/// it cannot go on as plain HTTP.
struct EngineWebSocketUpgrader: NIOTypedHTTPServerProtocolUpgrader {
    typealias UpgradeResult = EngineChildChannel.UpgradeResult

    let supportedProtocol = "websocket"
    let requiredUpgradeHeaders: [String] = []
    let engines: [EngineServer]
    /// Where a refusal's error goes, for the connection to answer with (see ``EngineChildChannel``).
    let refusal: EngineChildChannel.UpgradeRefusal

    func buildUpgradeResponse(channel: any Channel, upgradeRequest head: HTTPRequestHead, initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        let loop = channel.eventLoop
        guard let key = head.headers.first(name: "Sec-WebSocket-Key"), head.headers.first(name: "Sec-WebSocket-Version") == "13",
            let (engine, query) = EngineChildChannel.route(URI(head.uri), engines)
        else { return loop.makeFailedFuture(NIOWebSocketUpgradeError.invalidUpgradeHeader) }
        var headers = initialResponseHeaders
        headers.replaceOrAdd(name: "Upgrade", value: "websocket")
        headers.replaceOrAdd(name: "Connection", value: "upgrade")
        headers.add(name: "Sec-WebSocket-Accept", value: Self.acceptValue(key: key))
        let address = Self.clientAddress(of: head, channel: channel, engine: engine)
        switch engine.upgradeDecision(query: query, address: address) {
        case .upgrade:
            return loop.makeSucceededFuture(headers)
        case .refuse(let error):
            refusal.error.withLock { $0 = error }
            return loop.makeFailedFuture(NIOWebSocketUpgradeError.unsupportedWebSocketTarget)
        case .askApplication:
            guard let fields = try? HTTPRequest(head, secure: false, splitCookie: false).headerFields else {
                return loop.makeFailedFuture(NIOWebSocketUpgradeError.invalidUpgradeHeader)
            }
            let promise = loop.makePromise(of: HTTPHeaders.self)
            promise.completeWithTask { [headers, refusal] in
                if let error = await engine.upgradeRefusal(headers: fields, query: query, address: address) {
                    refusal.error.withLock { $0 = error }
                    throw NIOWebSocketUpgradeError.unsupportedWebSocketTarget
                }
                return headers
            }
            return promise.futureResult
        }
    }

    func upgrade(channel: any Channel, upgradeRequest head: HTTPRequestHead) -> EventLoopFuture<UpgradeResult> {
        channel.eventLoop.makeCompletedFuture {
            guard let (engine, query) = EngineChildChannel.route(URI(head.uri), engines) else {
                throw ChannelError.inappropriateOperationForState
            }
            let pipeline = channel.pipeline.syncOperations
            let address = Self.clientAddress(of: head, channel: channel, engine: engine)
            try pipeline.addHandler(EngineWebSocketHandler(engine: engine, query: query, headers: Self.sessionHeaders(of: head), address: address))
            // The WebSocket handler answers the shutdown itself.
            if let quiescing = try? pipeline.handler(type: CloseSilentConnectionOnQuiesce.self) {
                pipeline.removeHandler(quiescing, promise: nil)
            }
            return .webSocket
        }
    }

    /// The upgrade request's headers as its session keeps them (``EngineHandshake/headers``): without Host
    /// (Swift HTTP Types keeps it apart, as a request's authority, for long-polling requests too) and
    /// without the WebSocket handshake's own — Connection, Upgrade, Sec-WebSocket-Key, -Version and
    /// -Extensions — which describe the negotiation, not the client, and would cost every connection a few
    /// hundred bytes for as long as it is open.
    static func sessionHeaders(of head: HTTPRequestHead) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in head.headers {
            guard let fieldName = HTTPField.Name(name), !handshakeOnly.contains(fieldName) else { continue }
            fields.append(HTTPField(name: fieldName, value: value))
        }
        return fields
    }

    private static let handshakeOnly: Set<HTTPField.Name> = [
        HTTPField.Name("Host")!, .connection, .upgrade, .secWebSocketKey, .secWebSocketVersion, .secWebSocketExtensions,
    ]

    /// The client's address for `engine`'s limits (``EngineServer/clientAddress(forwarded:peer:)``).
    static func clientAddress(of head: HTTPRequestHead, channel: any Channel, engine: EngineServer) -> String {
        engine.clientAddress(forwarded: engine.configuration.clientAddressHeader.flatMap { head.headers.first(name: $0.rawName) }, peer: channel.remoteAddress)
    }

    /// `Sec-WebSocket-Accept` for `key` (RFC 6455, section 4.2.2).
    static func acceptValue(key: String) -> String {
        let digest = Insecure.SHA1.hash(data: Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))
        return Data(digest).base64EncodedString()
    }
}
