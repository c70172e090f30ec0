// bench-reference: the physical-limit reference of the fan-out benchmarks (scripts/bench).
//
// A minimal SwiftNIO WebSocket server that speaks just enough Engine.IO v4 / Socket.IO v5 for the bench
// protocol of shared/tools/fanout.c (modes `bench` and `idle`) and Benchmarks/fanout_rooms.c (mode `bench`):
//
//   HTTP/1.1 upgrade to WebSocket on any path  ->  0{"sid":..,"upgrades":[],"pingInterval":25000,...}
//   40                                         ->  40{"sid":..}
//   42<id>["join","ROOM"]                      ->  joins ROOM, 43<id>["ok"]
//   42<id>["bcast","ROOM",DATA]                ->  42["tick",DATA] to every member of ROOM (43<id>[] if acked)
//   2<probe>                                   ->  3<probe>        (WebSocket ping frames get pong frames)
//
// What it is for: the cost of the same fan-out with nothing but NIO underneath. One event loop, plain channel
// handlers, no Swift concurrency per connection, no JSON parser. A broadcast is encoded once, as one complete
// WebSocket text frame (header and payload in one ByteBuffer), and those same bytes are written to every member
// of the room; every channel written to is flushed once, when the publisher's read burst completes
// (channelReadComplete). Rooms live in a plain class confined to the one event loop (checked with NIOLoopBound).
// Not a server to use: it sends no Engine.IO heartbeat of its own (a client that checks pingInterval would give
// up after 45 s; the generators do not), has no long-polling, no namespaces, no back-pressure on slow readers.
//
// usage: bench-reference [--host 127.0.0.1] [--port 3300]
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Rooms (confined to the one event loop)

/// One room: its members, in no order. A member's position is remembered by the member (swap-remove on leave).
final class Room {
    let name: String
    var members: [Connection] = []
    init(name: String) { self.name = name }
}

/// Every room, and the channels written to since the last flush. Only ever touched on the server's one event loop.
final class Hub {
    let eventLoop: EventLoop
    var rooms: [String: Room] = [:]
    /// Channels with unflushed writes: flushed once per read burst of whichever channel caused them.
    var dirty: [Connection] = []
    private var nextID: UInt64 = 0
    private let idPrefix: String

    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
        self.idPrefix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    }

    /// A process-unique id (for Engine.IO and Socket.IO session ids). Not stored per connection.
    func uniqueID() -> String {
        nextID &+= 1
        return idPrefix + "-" + String(nextID, radix: 36)
    }

    func join(_ conn: Connection, room name: String) {
        eventLoop.assertInEventLoop()
        let room: Room
        if let existing = rooms[name] {
            room = existing
        } else {
            room = Room(name: name)
            rooms[name] = room
        }
        if conn.memberships.contains(where: { $0.room === room }) { return }
        conn.memberships.append(Membership(room: room, index: room.members.count))
        room.members.append(conn)
    }

    func leaveAll(_ conn: Connection) {
        eventLoop.assertInEventLoop()
        for membership in conn.memberships {
            let room = membership.room
            let index = membership.index
            let last = room.members.count - 1
            if index != last {
                let moved = room.members[last]
                room.members[index] = moved
                if let k = moved.memberships.firstIndex(where: { $0.room === room }) { moved.memberships[k].index = index }
            }
            room.members.removeLast()
            if room.members.isEmpty { rooms[room.name] = nil }
        }
        conn.memberships = []
    }

    func markDirty(_ conn: Connection) {
        if !conn.dirty {
            conn.dirty = true
            dirty.append(conn)
        }
    }

    func flushDirty() {
        eventLoop.assertInEventLoop()
        if dirty.isEmpty { return }
        for conn in dirty {
            conn.dirty = false
            conn.output?.flush()
        }
        dirty.removeAll(keepingCapacity: dirty.count <= 65536)
    }
}

struct Membership {
    unowned(unsafe) let room: Room  // the room outlives every membership (it is removed once it has no members)
    var index: Int
}

// MARK: - WebSocket frames, encoded by hand (server frames are never masked)

enum Frame {
    static let text: UInt8 = 0x1, close: UInt8 = 0x8, pong: UInt8 = 0xA

    /// A complete frame (FIN set): header and payload in one buffer.
    static func make(
        opcode: UInt8, payloadLength n: Int, allocator: ByteBufferAllocator, payload: (inout ByteBuffer) -> Void
    ) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: n + 10)
        buffer.writeInteger(0x80 | opcode)
        if n < 126 {
            buffer.writeInteger(UInt8(n))
        } else if n < 65536 {
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(n))
        } else {
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(n))
        }
        payload(&buffer)
        return buffer
    }

    static func text(_ string: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        make(opcode: text, payloadLength: string.utf8.count, allocator: allocator) { $0.writeString(string) }
    }
}

// MARK: - Bytes of a packet

private let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), openBracket = UInt8(ascii: "[")
private let closeBracket = UInt8(ascii: "]"), backslash = UInt8(ascii: "\\")

/// A forward cursor over the readable bytes of a packet.
struct Cursor {
    let bytes: ByteBufferView
    var i: Int

    init(_ bytes: ByteBufferView, from offset: Int = 0) {
        self.bytes = bytes
        self.i = bytes.startIndex + offset
    }

    var atEnd: Bool { i >= bytes.endIndex }

    mutating func skipSpaces() {
        while i < bytes.endIndex, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D { i += 1 }
    }

    mutating func expect(_ byte: UInt8) -> Bool {
        skipSpaces()
        guard i < bytes.endIndex, bytes[i] == byte else { return false }
        i += 1
        return true
    }

    /// Decimal digits (a Socket.IO ack id), as their bytes.
    mutating func digits() -> Range<Int> {
        let start = i
        while i < bytes.endIndex, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
        return start..<i
    }

    /// A JSON string's raw contents (escapes kept as they are; room and event names have none in the bench).
    mutating func string() -> Range<Int>? {
        guard expect(quote) else { return nil }
        let start = i
        while i < bytes.endIndex {
            if bytes[i] == backslash { i += 2; continue }
            if bytes[i] == quote {
                defer { i += 1 }
                return start..<i
            }
            i += 1
        }
        return nil
    }

    func equals(_ range: Range<Int>, _ literal: StaticString) -> Bool {
        guard range.count == literal.utf8CodeUnitCount else { return false }
        let p = literal.utf8Start
        var k = 0
        for j in range {
            if bytes[j] != p[k] { return false }
            k += 1
        }
        return true
    }
}

// MARK: - One connection

/// The handler of one upgraded connection. Per-connection state is kept to a minimum: the output context, the
/// room memberships (usually one), a dirty flag and, only while a fragmented message is arriving, its bytes.
final class Connection: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = ByteBuffer

    unowned(unsafe) let hub: Hub  // lives as long as the process
    /// The context of NIO's WebSocketFrameEncoder: writing from it skips that encoder, so the frames this handler
    /// encodes itself (a broadcast's one buffer) go to the socket as they are.
    var output: ChannelHandlerContext?
    var memberships: [Membership] = []
    var dirty = false
    private var fragments: ByteBuffer?

    init(hub: Hub) { self.hub = hub }

    func handlerAdded(context: ChannelHandlerContext) {
        output = try? context.pipeline.syncOperations.context(handlerType: WebSocketFrameEncoder.self)
        let open = "0{\"sid\":\"\(hub.uniqueID())\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}"
        output?.writeAndFlush(NIOAny(Frame.text(open, allocator: context.channel.allocator)), promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        hub.leaveAll(self)
        output = nil
        fragments = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        hub.leaveAll(self)
        output = nil
        fragments = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        hub.flushDirty()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            if frame.fin {
                packet(frame.unmaskedData, context: context)
            } else {
                fragments = frame.unmaskedData
            }
        case .continuation:
            guard var buffer = fragments else { return }
            var more = frame.unmaskedData
            buffer.writeBuffer(&more)
            if frame.fin {
                fragments = nil
                packet(buffer, context: context)
            } else {
                fragments = buffer
            }
        case .ping:
            var body = frame.unmaskedData
            send(Frame.make(opcode: Frame.pong, payloadLength: body.readableBytes, allocator: context.channel.allocator) {
                $0.writeBuffer(&body)
            })
        case .connectionClose:
            var body = frame.unmaskedData
            let code = body.readSlice(length: min(2, body.readableBytes)) ?? ByteBuffer()
            output?.writeAndFlush(
                NIOAny(Frame.make(opcode: Frame.close, payloadLength: code.readableBytes, allocator: context.channel.allocator) {
                    $0.writeImmutableBuffer(code)
                }),
                promise: nil
            )
            context.close(promise: nil)
        default:
            break
        }
    }

    /// Writes one complete frame to this connection; flushed when the current read burst completes.
    private func send(_ frame: ByteBuffer) {
        output?.write(NIOAny(frame), promise: nil)
        hub.markDirty(self)
    }

    private func sendText(_ text: String, context: ChannelHandlerContext) {
        send(Frame.text(text, allocator: context.channel.allocator))
    }

    /// One Engine.IO packet.
    private func packet(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        let bytes = buffer.readableBytesView
        guard let type = bytes.first else { return }
        switch type {
        case UInt8(ascii: "2"):  // ping (probe or not): pong with the same data
            let rest = buffer.getSlice(at: buffer.readerIndex + 1, length: buffer.readableBytes - 1) ?? ByteBuffer()
            send(Frame.make(opcode: Frame.text, payloadLength: 1 + rest.readableBytes, allocator: context.channel.allocator) {
                $0.writeInteger(UInt8(ascii: "3"))
                $0.writeImmutableBuffer(rest)
            })
        case UInt8(ascii: "4"):
            socketIO(buffer, context: context)
        case UInt8(ascii: "1"):  // Engine.IO close
            context.close(promise: nil)
        default:
            break
        }
    }

    /// One Socket.IO packet (the Engine.IO message's data), default namespace only.
    private func socketIO(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        var c = Cursor(buffer.readableBytesView, from: 1)
        guard !c.atEnd else { return }
        let type = c.bytes[c.i]
        c.i += 1
        switch type {
        case UInt8(ascii: "0"):
            sendText("40{\"sid\":\"\(hub.uniqueID())\"}", context: context)
        case UInt8(ascii: "1"):
            hub.leaveAll(self)
        case UInt8(ascii: "2"):
            event(&c, buffer: buffer, context: context)
        default:
            break
        }
    }

    /// `42<ack>[name, ...]`: the bench protocol's `join` and `bcast`.
    private func event(_ c: inout Cursor, buffer: ByteBuffer, context: ChannelHandlerContext) {
        let ack = c.digits()
        guard c.expect(openBracket), let name = c.string() else { return }
        if c.equals(name, "join") {
            guard c.expect(comma), let room = c.string() else { return }
            hub.join(self, room: String(decoding: c.bytes[room], as: UTF8.self))
            if !ack.isEmpty { sendText("43\(String(decoding: c.bytes[ack], as: UTF8.self))[\"ok\"]", context: context) }
        } else if c.equals(name, "bcast") {
            guard c.expect(comma), let roomRange = c.string(), c.expect(comma) else { return }
            c.skipSpaces()
            // DATA: everything up to the packet's closing bracket (trailing whitespace ignored).
            var end = c.bytes.endIndex
            while end > c.i, c.bytes[end - 1] != closeBracket { end -= 1 }
            guard end > c.i else { return }
            let dataStart = c.i - c.bytes.startIndex
            let dataLength = end - 1 - c.i
            broadcast(
                room: String(decoding: c.bytes[roomRange], as: UTF8.self),
                data: buffer.getSlice(at: buffer.readerIndex + dataStart, length: dataLength) ?? ByteBuffer(),
                allocator: context.channel.allocator
            )
            if !ack.isEmpty { sendText("43\(String(decoding: c.bytes[ack], as: UTF8.self))[]", context: context) }
        }
    }

    /// Encodes `42["tick",DATA]` once, as one complete text frame, and writes that same buffer to every member.
    private func broadcast(room name: String, data: ByteBuffer, allocator: ByteBufferAllocator) {
        guard let room = hub.rooms[name] else { return }
        let head: StaticString = "42[\"tick\","
        let frame = Frame.make(
            opcode: Frame.text, payloadLength: head.utf8CodeUnitCount + data.readableBytes + 1, allocator: allocator
        ) {
            $0.writeStaticString(head)
            $0.writeImmutableBuffer(data)
            $0.writeInteger(closeBracket)
        }
        let message = NIOAny(frame)
        for member in room.members {
            member.output?.write(message, promise: nil)
            hub.markDirty(member)
        }
    }
}

/// Plain HTTP requests (no upgrade): 400 and close.
final class NotWebSocket: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        var head = HTTPResponseHead(version: .http1_1, status: .badRequest)
        head.headers.add(name: "content-length", value: "0")
        head.headers.add(name: "connection", value: "close")
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}

// MARK: - Main

/// A line on standard error.
func warn(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}

func parseArguments() -> (host: String, port: Int) {
    var host = "127.0.0.1"
    var port = 3300
    var args = CommandLine.arguments.dropFirst().makeIterator()
    while let arg = args.next() {
        switch arg {
        case "--host":
            host = args.next() ?? host
        case "--port":
            guard let value = args.next().flatMap({ Int($0) }) else {
                warn("bench-reference: --port needs a number")
                exit(2)
            }
            port = value
        case "-h", "--help":
            print("usage: bench-reference [--host 127.0.0.1] [--port 3300]")
            exit(0)
        default:
            warn("bench-reference: unknown argument \(arg)")
            exit(2)
        }
    }
    return (host, port)
}

func runServer() throws {
    let (host, port) = parseArguments()
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let loop = group.next()
    // The hub is created on the loop and can only be reached from it: NIOLoopBound checks every access.
    let hub = try loop.submit { NIOLoopBound(Hub(eventLoop: loop), eventLoop: loop) }.wait()

    let upgrader = NIOTypedWebSocketServerUpgrader<Bool>(
        maxFrameSize: 1 << 20,
        enableAutomaticErrorHandling: false,
        shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
        upgradePipelineHandler: { channel, _ in
            channel.eventLoop.makeCompletedFuture {
                precondition(channel.eventLoop === loop, "bench-reference runs every channel on its one event loop")
                try channel.pipeline.syncOperations.addHandler(Connection(hub: hub.value))
                return true
            }
        }
    )
    var pipelineConfiguration = NIOUpgradableHTTPServerPipelineConfiguration(
        upgradeConfiguration: NIOTypedHTTPServerUpgradeConfiguration(
            upgraders: [upgrader],
            notUpgradingCompletionHandler: { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NotWebSocket())
                    return false
                }
            }
        )
    )
    pipelineConfiguration.enablePipelining = false
    let configuration = pipelineConfiguration

    let bootstrap = ServerBootstrap(group: group)
        .serverChannelOption(.backlog, value: 4096)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        // Each channel keeps its last receive buffer for reuse; an idle connection's should be small (NIO's
        // default starts at 2048 bytes). It grows for a busy publisher.
        .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536))
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                _ = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
            }
        }
    let server = try bootstrap.bind(host: host, port: port).wait()
    warn("bench-reference listening on \(server.localAddress.map { "\($0)" } ?? "\(host):\(port)")")
    try server.closeFuture.wait()
    try group.syncShutdownGracefully()
}

do {
    try runServer()
} catch {
    warn("bench-reference: \(error)")
    exit(1)
}
