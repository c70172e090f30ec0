import EngineIO
import EngineIOServer
import Foundation
import HTTPTypes
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import ServiceLifecycle
import SocketIO
import SocketIOServer
import Synchronization
import TestSupport
import Testing

/// Logger for tests: quiet unless `TEST_LOG_LEVEL` is set.
let testLogger: Logger = {
    var logger = Logger(label: "test")
    logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    return logger
}()

/// An engine configuration for tests. The heartbeat is slow by default, so that a busy machine running
/// tests in parallel does not close sessions by ping timeout; heartbeat tests pass their own values.
func testEngine(path: String, pingInterval: Int = 10_000, pingTimeout: Int = 5_000, maxPayload: Int = 1_000_000, cors: CORSConfiguration? = CORSConfiguration()) -> EngineServerConfiguration {
    EngineServerConfiguration(
        engine: EngineConfiguration(pingInterval: .milliseconds(pingInterval), pingTimeout: .milliseconds(pingTimeout), maxPayload: maxPayload),
        path: path,
        cors: cors
    )
}

/// A server started by ``withServer(_:_:)``.
struct RunningServer: Sendable {
    let port: Int
    let group: ServiceGroup

    /// Starts the graceful shutdown (as SIGTERM would).
    func shutdown() async { await group.triggerGracefulShutdown() }
}

/// Runs the endpoints on 127.0.0.1 at a free port for the duration of `body`, then shuts them down gracefully.
@discardableResult
func withServer<Result: Sendable>(
    _ endpoints: [any EngineEndpoint & Service],
    _ body: @Sendable (_ server: RunningServer) async throws -> Result
) async throws -> Result {
    let port = AsyncValue<Int>()
    let app = EngineApplication.make(endpoints: endpoints, port: 0, logger: testLogger, onServerRunning: { port.set($0) })
    let group = ServiceGroup(services: [app] + endpoints.map { $0 as any Service }, logger: testLogger)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        let result: Swift.Result<Result, any Error>
        do {
            result = .success(try await body(RunningServer(port: try await port.value(timeout: patience), group: group)))
        } catch {
            result = .failure(error)
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return try result.get()
    }
}

/// Runs a Socket.IO server configured by `setUp`.
@discardableResult
func withSocketServer<Result: Sendable>(
    _ configuration: SocketServerConfiguration = .init(engine: testEngine(path: "/socket.io")),
    setUp: (SocketServer) -> Void,
    _ body: @Sendable (_ running: RunningServer, _ server: SocketServer) async throws -> Result
) async throws -> Result {
    let server = SocketServer(configuration: configuration, logger: testLogger)
    setUp(server)
    return try await withServer([server]) { running in try await body(running, server) }
}

// MARK: Long-polling

/// Plain HTTP requests against an Engine.IO endpoint, one connection per call (so polls can overlap).
struct Polling {
    let port: Int
    let path: String

    func url(_ query: String) -> String { "\(path)/?\(query)" }

    func request(_ method: HTTPRequest.Method, _ query: String, body: String? = nil, headers: HTTPFields = [:]) async throws -> TestClient.Response {
        try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
            try await client.execute(TestClient.Request(url(query), method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }))
        }
    }

    /// Opens a polling session and returns its sid and the open packet's JSON.
    func handshake() async throws -> (sid: String, open: SocketValue) {
        let response = try await request(.get, "EIO=4&transport=polling")
        try #require(response.status == .ok)
        let body = response.text
        try #require(body.hasPrefix("0"))
        let open = try SocketValue(jsonText: String(body.dropFirst()))
        return (try #require(open["sid"]?.stringValue), open)
    }

    func get(_ sid: String) async throws -> TestClient.Response {
        try await request(.get, "EIO=4&transport=polling&sid=\(sid)")
    }

    func post(_ sid: String, _ body: String) async throws -> TestClient.Response {
        try await request(.post, "EIO=4&transport=polling&sid=\(sid)", body: body)
    }
}

extension TestClient.Response {
    var text: String { body.map { String(buffer: $0) } ?? "" }
}

// MARK: WebSocket

/// A raw WebSocket peer for protocol-level tests: send frames, read frames, see the close.
final class RawWebSocket: Sendable {
    enum Message: Sendable, Equatable {
        case text(String)
        case binary([UInt8])
    }

    let messages: AsyncStream<Message>
    private let continuation: AsyncStream<Message>.Continuation
    private let outgoing: AsyncStream<WebSocketFrame>
    private let outgoingContinuation: AsyncStream<WebSocketFrame>.Continuation
    /// Set when the connection has closed.
    let closed = AsyncValue<Void>()

    private init() {
        (messages, continuation) = AsyncStream.makeStream()
        (outgoing, outgoingContinuation) = AsyncStream.makeStream()
    }

    func send(_ text: String) { outgoingContinuation.yield(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: text))) }
    func send(binary: [UInt8]) { outgoingContinuation.yield(WebSocketFrame(fin: true, opcode: .binary, data: ByteBuffer(bytes: binary))) }
    func close() { outgoingContinuation.finish() }

    /// Connects to `ws://127.0.0.1:port{pathAndQuery}` and runs `body`; the socket closes when `body` returns.
    static func withConnection<Result: Sendable>(
        port: Int,
        _ pathAndQuery: String,
        maxFrameSize: Int = 1 << 22,
        _ body: @Sendable (RawWebSocket) async throws -> Result
    ) async throws -> Result {
        let socket = RawWebSocket()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer {
                    socket.continuation.finish()
                    socket.closed.set(())
                }
                _ = try? await WebSocketClient.connect(
                    url: "ws://127.0.0.1:\(port)\(pathAndQuery)",
                    configuration: .init(maxFrameSize: maxFrameSize),
                    logger: testLogger
                ) { inbound, outbound, _ in
                    await withTaskGroup(of: Void.self) { inner in
                        inner.addTask {
                            for await frame in socket.outgoing {
                                try? await outbound.write(.custom(frame))
                            }
                            // Close from this side only when the test is done, not when the server closed first.
                            if !Task.isCancelled { try? await outbound.close(.normalClosure, reason: nil) }
                        }
                        inner.addTask {
                            do {
                                for try await message in inbound.messages(maxSize: maxFrameSize) {
                                    switch message {
                                    case .text(let text): socket.continuation.yield(.text(text))
                                    case .binary(let bytes): socket.continuation.yield(.binary(Array(bytes.readableBytesView)))
                                    }
                                }
                            } catch {}
                            // The server closed (or the connection broke): that is what tests wait for; the
                            // client's own teardown afterwards may take longer on a loaded machine.
                            socket.continuation.finish()
                            socket.closed.set(())
                        }
                        await inner.next()
                        inner.cancelAll()
                    }
                }
            }
            defer {
                socket.close()
                group.cancelAll()
            }
            return try await body(socket)
        }
    }

    /// The next message, failing after `timeout`.
    func next(timeout: Duration = patience) async throws -> Message {
        let stream = messages
        return try await withThrowingTaskGroup(of: Message?.self) { group in
            group.addTask {
                var iterator = stream.makeAsyncIterator()
                return await iterator.next()
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw TestTimeout()
            }
            defer { group.cancelAll() }
            guard let message = try await group.next()! else { throw ConnectionClosed() }
            return message
        }
    }

    /// The next text message, skipping pings (answering them) when `answerPings` is set.
    func nextText(answerPings: Bool = true, timeout: Duration = patience) async throws -> String {
        while true {
            let message = try await next(timeout: timeout)
            guard case .text(let text) = message else { throw UnexpectedMessage(message: message) }
            if answerPings && text == "2" {
                send("3")
                continue
            }
            return text
        }
    }

    struct ConnectionClosed: Error {}
    struct UnexpectedMessage: Error { let message: Message }
}
