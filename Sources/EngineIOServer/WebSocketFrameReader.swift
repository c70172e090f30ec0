import NIOCore
import NIOWebSocket

/// Cuts the frames a WebSocket client sends out of the bytes its connection reads, as a struct inside
/// ``EngineWebSocketHandler`` rather than a handler of its own: NIO's decoder needs a `ByteToMessageHandler`,
/// which with its pipeline context costs each connection about 500 bytes for as long as it is open.
///
/// It keeps RFC 6455's framing rules for a server: every client frame masked, no reserved bits (no
/// extension is negotiated), no reserved opcodes, control frames unfragmented and at most 125 bytes — each
/// broken rule is a protocol error (1002) — and no frame over `maxFrameSize` (1009). Bytes of a frame
/// that has not fully arrived are copied aside (never the connection's read buffer, which NIO reuses);
/// between frames it holds nothing.
struct WebSocketFrameReader {
    struct Frame {
        var fin: Bool
        var opcode: WebSocketOpcode
        /// The unmasked payload.
        var payload: ByteBuffer
    }

    let maxFrameSize: Int
    /// The start of a frame that has not fully arrived.
    private var partial: ByteBuffer?

    init(maxFrameSize: Int) {
        self.maxFrameSize = maxFrameSize
    }

    /// Reads `bytes` and hands each complete frame to `body`, in order, until `body` returns `false`.
    /// Throws the close code of a frame that breaks the protocol.
    mutating func read(_ bytes: ByteBuffer, _ body: (Frame) -> Bool) throws(WebSocketProtocolViolation) {
        var buffer = bytes
        if var partial {
            self.partial = nil
            partial.writeImmutableBuffer(buffer)
            buffer = partial
        }
        while let frame = try Self.frame(from: &buffer, maxFrameSize: maxFrameSize) {
            guard body(frame) else { return }
        }
        if buffer.readableBytes > 0 {
            var rest = ByteBufferAllocator().buffer(capacity: buffer.readableBytes)
            rest.writeImmutableBuffer(buffer)
            partial = rest
        }
    }

    /// One complete frame from the front of `buffer` (which then starts after it), or `nil` if it has not
    /// fully arrived (and `buffer` is left as it was).
    private static func frame(from buffer: inout ByteBuffer, maxFrameSize: Int) throws(WebSocketProtocolViolation) -> Frame? {
        var peek = buffer
        guard let first = peek.readInteger(as: UInt8.self), let second = peek.readInteger(as: UInt8.self) else { return nil }
        // Reserved bits, a reserved opcode, or an unmasked frame.
        guard first & 0x70 == 0, second & 0x80 != 0, [0x0, 0x1, 0x2, 0x8, 0x9, 0xA].contains(first & 0x0F) else {
            throw WebSocketProtocolViolation(code: .protocolError)
        }
        let opcode = WebSocketOpcode(encodedWebSocketOpcode: first & 0x0F)!
        let fin = first & 0x80 != 0
        var length = UInt64(second & 0x7F)
        if length == 126 {
            guard let extended = peek.readInteger(as: UInt16.self) else { return nil }
            length = UInt64(extended)
        } else if length == 127 {
            guard let extended = peek.readInteger(as: UInt64.self) else { return nil }
            length = extended
        }
        if opcode.isControlOpcode, !fin || length > 125 { throw WebSocketProtocolViolation(code: .protocolError) }
        guard length <= UInt64(maxFrameSize) else { throw WebSocketProtocolViolation(code: .messageTooLarge) }
        guard let maskBytes = peek.readBytes(length: 4), var payload = peek.readSlice(length: Int(length)) else { return nil }
        payload.webSocketUnmask(WebSocketMaskingKey(maskBytes)!)
        buffer = peek
        return Frame(fin: fin, opcode: opcode, payload: payload)
    }
}

/// A frame broke the protocol: the connection closes with `code`.
struct WebSocketProtocolViolation: Error {
    let code: WebSocketErrorCode
}
