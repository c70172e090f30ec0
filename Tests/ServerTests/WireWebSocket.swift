import NIOCore
import NIOPosix
import TestSupport

/// A WebSocket client written byte by byte over TCP, for what a proper client library never sends:
/// unmasked frames, broken fragments, invalid UTF-8, oversize control frames. It reads the server's
/// frames as they are, close codes included.
struct WireWebSocket {
    struct Frame: Equatable {
        var opcode: UInt8
        var payload: [UInt8]

        var text: String { String(decoding: payload, as: UTF8.self) }
        /// The status code of a close frame.
        var closeCode: UInt16? {
            opcode == 0x8 && payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil
        }
    }

    /// RFC 6455's example key, whose accept value the RFC gives.
    static let key = "dGhlIHNhbXBsZSBub25jZQ=="
    static let expectedAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private let reader: Reader

    /// The server's side of the upgrade: its response head.
    let responseHead: String

    /// Connects to `127.0.0.1:port`, upgrades `pathAndQuery` (sending `headers` too) and runs `body`
    /// (within `patience`). `receiveBuffer` fixes the socket's receive buffer (the kernel's autotuning off),
    /// so that a client that stops reading holds back a known amount.
    static func withConnection<Result: Sendable>(
        port: Int, _ pathAndQuery: String, headers: [String: String] = [:], receiveBuffer: Int? = nil,
        _ body: @escaping @Sendable (WireWebSocket) async throws -> Result
    ) async throws -> Result {
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        if let receiveBuffer { bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBuffer)) }
        let channel = try await bootstrap
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: Result?.self) { group in
                group.addTask {
                    let request = "GET \(pathAndQuery) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
                        + headers.map { "\($0.key): \($0.value)\r\n" }.joined() + "\r\n"
                    try await outbound.write(ByteBuffer(string: request))
                    let reader = Reader(iterator: inbound.makeAsyncIterator())
                    let head = try await reader.responseHead()
                    return try await body(WireWebSocket(outbound: outbound, reader: reader, responseHead: head))
                }
                group.addTask {
                    try await Task.sleep(for: patience)
                    throw TestTimeout(what: "the WebSocket exchange")
                }
                let result = try await group.next()!
                group.cancelAll()
                return result!
            }
        }
    }

    /// Sends one frame; masked (as clients must) unless `masked` is false; with `splitAfter`, in two
    /// writes 50 ms apart, the first of that many bytes.
    func send(opcode: UInt8, fin: Bool = true, rsv: UInt8 = 0, _ payload: [UInt8], masked: Bool = true, splitAfter: Int? = nil) async throws {
        var frame = ByteBuffer()
        frame.writeInteger(UInt8(fin ? 0x80 : 0) | rsv << 4 | opcode)
        let maskBit: UInt8 = masked ? 0x80 : 0
        switch payload.count {
        case ..<126: frame.writeInteger(maskBit | UInt8(payload.count))
        case ..<65_536:
            frame.writeInteger(maskBit | 126)
            frame.writeInteger(UInt16(payload.count))
        default:
            frame.writeInteger(maskBit | 127)
            frame.writeInteger(UInt64(payload.count))
        }
        if masked {
            let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
            frame.writeBytes(mask)
            frame.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        } else {
            frame.writeBytes(payload)
        }
        if let splitAfter {
            try await outbound.write(frame.readSlice(length: splitAfter)!)
            try await Task.sleep(for: .milliseconds(50))
        }
        try await outbound.write(frame)
    }

    func send(text: String, fin: Bool = true) async throws { try await send(opcode: 0x1, fin: fin, Array(text.utf8)) }

    /// The next frame from the server, or `nil` once the connection closed.
    func next() async throws -> Frame? { try await reader.frame() }

    /// The next text frame, skipping nothing: fails on anything else.
    func nextText() async throws -> String {
        guard let frame = try await next(), frame.opcode == 0x1 else { throw TestTimeout(what: "a text frame") }
        return frame.text
    }

    /// Reads frames until the server's close frame and returns its code (`nil` if the connection ended
    /// without one).
    func closeCode() async throws -> UInt16? {
        while let frame = try await next() {
            if frame.opcode == 0x8 { return frame.closeCode }
        }
        return nil
    }

    /// Accumulates what the server sends and cuts it into the response head and frames.
    final class Reader: @unchecked Sendable {
        private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        private var buffer = ByteBuffer()

        init(iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator) { self.iterator = iterator }

        private func more() async throws -> Bool {
            guard var chunk = try await iterator.next() else { return false }
            buffer.writeBuffer(&chunk)
            return true
        }

        func responseHead() async throws -> String {
            while true {
                let view = buffer.readableBytesView
                if let end = view.firstRange(of: Array("\r\n\r\n".utf8)) {
                    let length = end.upperBound - view.startIndex
                    return buffer.readString(length: length)!
                }
                guard try await more() else { throw TestTimeout(what: "the upgrade response") }
            }
        }

        func frame() async throws -> Frame? {
            while true {
                if let frame = parse() { return frame }
                guard try await more() else { return nil }
            }
        }

        /// One complete unmasked server frame from the buffer, if there is one.
        private func parse() -> Frame? {
            var peek = buffer
            guard let first = peek.readInteger(as: UInt8.self), let second = peek.readInteger(as: UInt8.self) else { return nil }
            var length = Int(second & 0x7F)
            if length == 126 {
                guard let long = peek.readInteger(as: UInt16.self) else { return nil }
                length = Int(long)
            } else if length == 127 {
                guard let long = peek.readInteger(as: UInt64.self) else { return nil }
                length = Int(long)
            }
            guard let payload = peek.readBytes(length: length) else { return nil }
            buffer = peek
            return Frame(opcode: first & 0x0F, payload: payload)
        }
    }
}
