import EngineIO
import HTTPTypes
import NIOCore
import NIOWebSocket

/// Serves one Engine.IO session over a WebSocket channel with plain NIO handlers: no task, stream or
/// buffer per connection beyond what the channel itself holds.
///
/// It sits right after NIO's frame decoder, the only other handler of the connection
/// (``EngineWebSocketUpgrader``): it reassembles fragmented messages, hands messages to the session on the
/// event loop, answers pings and close frames, and closes with RFC 6455's codes what breaks the protocol —
/// an unmasked client frame or a stray continuation (1002), text that is not UTF-8 (1007), a message over
/// `maxPayload` (1009). Everything it writes is prebuilt frame bytes (``WebSocketWriter``).
final class EngineWebSocketHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = ByteBuffer

    /// The longest fragmented message, in frames: each costs the reassembly a little, however small.
    static let maxFragments = 1_000

    private let engine: EngineServer
    private var opening: (query: [String: String], headers: HTTPFields)?
    private var writer: WebSocketWriter?
    /// The message being reassembled from fragments: its opcode, bytes so far and frame count.
    private var fragmented: (opcode: WebSocketOpcode, bytes: ByteBuffer, frames: Int)?

    init(engine: EngineServer, query: [String: String], headers: HTTPFields) {
        self.engine = engine
        self.opening = (query, headers)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard let (query, headers) = opening else { return }
        opening = nil
        let writer = WebSocketWriter(sink: .raw(context), eventLoop: context.eventLoop, pacing: engine.configuration.webSocketPacing)
        self.writer = writer
        guard let session = engine.webSocketOpened(query: query, headers: headers, writer: writer, eventLoop: context.eventLoop) else {
            writer.close(code: .policyViolation)
            return
        }
        writer.session = session
        writer.write()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard let writer, let session = writer.session else { return }
        guard frame.maskKey != nil else { return writer.close(code: .protocolError) }
        switch frame.opcode {
        case .text, .binary:
            guard fragmented == nil else { return writer.close(code: .protocolError) }
            if frame.fin {
                deliver(frame.opcode, frame.unmaskedData, to: session, writer: writer)
            } else {
                fragmented = (frame.opcode, frame.unmaskedData, 1)
            }
        case .continuation:
            guard var message = fragmented else { return writer.close(code: .protocolError) }
            fragmented = nil  // the bytes are not shared while they grow
            var bytes = frame.unmaskedData
            guard message.bytes.readableBytes + bytes.readableBytes <= engine.configuration.engine.maxPayload,
                message.frames < Self.maxFragments
            else { return writer.close(code: .messageTooLarge) }
            message.bytes.writeBuffer(&bytes)
            message.frames += 1
            if frame.fin {
                deliver(message.opcode, message.bytes, to: session, writer: writer)
            } else {
                fragmented = message
            }
        case .ping:
            context.writeAndFlush(wrapOutboundOut(controlFrame(.pong, frame.unmaskedData, allocator: context.channel.allocator)), promise: nil)
        case .connectionClose:
            writer.close(code: .normalClosure)
        default:
            return
        }
    }

    private func deliver(_ opcode: WebSocketOpcode, _ bytes: ByteBuffer, to session: EngineSession, writer: WebSocketWriter) {
        let received: EngineSession.Received
        if opcode == .text {
            guard let text = String(validating: bytes.readableBytesView, as: UTF8.self) else {
                session.log(.debug, "websocket text frame is not UTF-8")
                return writer.close(code: .dataInconsistentWithMessage)
            }
            received = session.receivedWebSocketText(text)
        } else {
            received = session.received(.message(bytes), on: .webSocket)
        }
        if received == .rejectTransport {
            writer.close(code: .policyViolation)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { writer?.write() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let writer, let session = writer.session { session.webSocketClosed(writer) }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed:
            // The server allows half-closure (for HTTP); a WebSocket client that stops sending is gone.
            context.close(promise: nil)
        case is ChannelShouldQuiesceEvent:
            writer?.session?.close(.serverShutdown)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let writer else { return context.close(promise: nil) }
        writer.session?.log(.debug, "websocket failed", metadata: ["eio.error": "\(error)"])
        switch error as? NIOWebSocketError {
        case .invalidFrameLength?:
            writer.close(code: .messageTooLarge)
        case .fragmentedControlFrame?, .multiByteControlFrameLength?:
            writer.close(code: .protocolError)
        default:
            context.close(promise: nil)
        }
    }
}

/// An unmasked control frame (ping, pong, close) of at most 125 payload bytes, as a server sends it.
func controlFrame(_ opcode: WebSocketOpcode, _ payload: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
    precondition(payload.readableBytes <= 125, "a control frame carries at most 125 bytes")
    var frame = allocator.buffer(capacity: 2 + payload.readableBytes)
    frame.writeInteger(UInt8(0x80) | UInt8(webSocketOpcode: opcode))  // FIN
    frame.writeInteger(UInt8(payload.readableBytes))
    frame.writeImmutableBuffer(payload)
    return frame
}
