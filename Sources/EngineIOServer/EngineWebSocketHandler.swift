import EngineIO
import HTTPTypes
import NIOCore
import NIOWebSocket

/// Serves one Engine.IO session over a WebSocket channel with plain NIO handlers: no task, stream or
/// buffer per connection beyond what the channel itself holds.
///
/// It is the connection's only handler once ``EngineWebSocketUpgrader`` is done: it reads frames
/// (``WebSocketFrameReader``), reassembles fragmented messages, hands messages to the session on the event
/// loop, answers pings and close frames, and closes with RFC 6455's codes what breaks the protocol — a
/// broken frame, an unmasked one or a stray continuation (1002), text that is not UTF-8 (1007), a message
/// over `maxPayload` (1009). Everything it writes is prebuilt frame bytes (``WebSocketWriter``).
final class EngineWebSocketHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The longest fragmented message, in frames: each costs the reassembly a little, however small.
    static let maxFragments = 1_000

    private let engine: EngineServer
    private var reader: WebSocketFrameReader
    private var opening: (query: [String: String], headers: HTTPFields, address: String)?
    private var writer: WebSocketWriter?
    /// The message being reassembled from fragments: its opcode, bytes so far and frame count.
    private var fragmented: (opcode: WebSocketOpcode, bytes: ByteBuffer, frames: Int)?

    init(engine: EngineServer, query: [String: String], headers: HTTPFields, address: String) {
        self.engine = engine
        self.reader = WebSocketFrameReader(maxFrameSize: engine.configuration.engine.maxPayload)
        self.opening = (query, headers, address)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard let (query, headers, address) = opening else { return }
        opening = nil
        let writer = WebSocketWriter(sink: .raw(context), eventLoop: context.eventLoop, pacing: engine.configuration.webSocketPacing)
        self.writer = writer
        guard let session = engine.webSocketOpened(query: query, headers: headers, address: address, writer: writer, eventLoop: context.eventLoop) else {
            writer.close(code: .policyViolation)
            return
        }
        writer.session = session
        writer.write()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let writer, writer.session != nil else { return }
        do {
            try reader.read(unwrapInboundIn(data)) { frame in handle(frame, context: context, writer: writer) }
        } catch {
            writer.close(code: error.code)
        }
    }

    /// Handles one frame; returns whether to go on reading.
    private func handle(_ frame: WebSocketFrameReader.Frame, context: ChannelHandlerContext, writer: WebSocketWriter) -> Bool {
        guard let session = writer.session else { return false }
        switch frame.opcode {
        case .text, .binary:
            guard fragmented == nil else { return close(writer, .protocolError) }
            if frame.fin {
                return deliver(frame.opcode, frame.payload, to: session, writer: writer)
            }
            fragmented = (frame.opcode, frame.payload, 1)
        case .continuation:
            guard var message = fragmented else { return close(writer, .protocolError) }
            fragmented = nil  // the bytes are not shared while they grow
            guard message.bytes.readableBytes + frame.payload.readableBytes <= engine.configuration.engine.maxPayload,
                message.frames < Self.maxFragments
            else { return close(writer, .messageTooLarge) }
            message.bytes.writeImmutableBuffer(frame.payload)
            message.frames += 1
            if frame.fin {
                return deliver(message.opcode, message.bytes, to: session, writer: writer)
            }
            fragmented = message
        case .ping:
            context.writeAndFlush(wrapOutboundOut(controlFrame(.pong, frame.payload, allocator: context.channel.allocator)), promise: nil)
        case .connectionClose:
            return close(writer, .normalClosure)
        default:
            break  // pong
        }
        return true
    }

    private func close(_ writer: WebSocketWriter, _ code: WebSocketErrorCode) -> Bool {
        writer.close(code: code)
        return false
    }

    /// Hands a message to the session; returns whether to go on reading.
    private func deliver(_ opcode: WebSocketOpcode, _ bytes: ByteBuffer, to session: EngineSession, writer: WebSocketWriter) -> Bool {
        let received: EngineSession.Received
        if opcode == .text {
            guard let text = String(validating: bytes.readableBytesView, as: UTF8.self) else {
                session.log(.debug, "websocket text frame is not UTF-8")
                return close(writer, .dataInconsistentWithMessage)
            }
            received = session.receivedWebSocketText(text)
        } else {
            received = session.received(.message(bytes), on: .webSocket)
        }
        return received == .rejectTransport ? close(writer, .policyViolation) : true
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
        writer?.session?.log(.debug, "websocket failed", metadata: ["eio.error": "\(error)"])
        context.close(promise: nil)
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
