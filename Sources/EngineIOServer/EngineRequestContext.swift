import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// A request context that can serve Engine.IO: it supports the WebSocket upgrade and keeps the request's
/// channel, through which the WebSocket transport paces its writes.
public protocol EngineRequestContextProtocol: WebSocketRequestContext {
    /// The connection the request arrived on.
    var channel: any Channel { get }
}

/// The default request context for routers that serve Engine.IO.
public struct EngineRequestContext: RequestContext, EngineRequestContextProtocol {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
        self.channel = source.channel
    }
}
