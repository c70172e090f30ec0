import Dialogue
import EngineIO
import Foundation
import Logging
import SocketIO
import SocketIOClient
import Synchronization
import TestSupport
import Testing

/// Logger for tests: quiet unless `TEST_LOG_LEVEL` is set.
let testLogger: Logger = {
    var logger = Logger(label: "test")
    logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    return logger
}()

/// A configuration for tests: a free port, and a slow heartbeat so that a busy machine running tests in
/// parallel does not close sessions by ping timeout.
func testConfiguration(rooms: [(String, RoomConfiguration)] = []) -> DialogueConfiguration {
    var configuration = DialogueConfiguration(port: 0)
    configuration.rooms = .init(uniqueKeysWithValues: rooms)
    configuration.socket.engine.engine = EngineConfiguration(pingInterval: .seconds(10), pingTimeout: .seconds(5))
    return configuration
}

/// Runs a Dialogue server on a free port for the duration of `body`, then stops it.
@discardableResult
func withDialogue<Result: Sendable>(
    _ configuration: DialogueConfiguration,
    logger: Logger = testLogger,
    _ body: @Sendable (DialogueServer, _ url: String) async throws -> Result
) async throws -> Result {
    let server = DialogueServer(configuration: configuration, logger: logger)
    let port = try await server.start()
    let result: Swift.Result<Result, any Error>
    do {
        result = .success(try await body(server, "http://127.0.0.1:\(port)"))
    } catch {
        result = .failure(error)
    }
    try await server.stop()
    return try result.get()
}

/// A client speaking the raw `dialogue:*` events, as a browser frontend does, with an inbox of what the
/// server sent so tests can wait for one event without losing the others.
final class TestClient: Sendable {
    let socket: ClientSocket
    private let inbox = Mutex<[ClientEvent]>([])

    init(socket: ClientSocket) { self.socket = socket }

    /// Connects to the default namespace and runs `body`; waits for `dialogue:connected` first.
    @discardableResult
    static func with<Result: Sendable>(
        _ url: String, auth: SocketValue? = nil, _ body: @Sendable (TestClient) async throws -> Result
    ) async throws -> Result {
        try await SocketClient.withConnection(to: url, logger: testLogger) { connection in
            let client = TestClient(socket: try await connection.socket(namespace: "/", auth: auth))
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { for await event in client.socket.events { client.inbox.withLock { $0.append(event) } } }
                defer { group.cancelAll() }
                _ = try await client.next("dialogue:connected")
                return try await body(client)
            }
        }
    }

    /// Sends a `dialogue:*` request.
    func send(_ event: String, _ payload: SocketValue) { socket.emit(event, payload) }

    /// Sends a request with an acknowledgement and returns the server's answer.
    func request(_ event: String, _ payload: SocketValue) async throws -> SocketValue {
        try await socket.emitWithAck(event, [payload], timeout: patience).first ?? .null
    }

    /// Removes and returns the first argument of the first `name` event matching `predicate`, waiting for it.
    @discardableResult
    func next(_ name: String, timeout: Duration = patience, where predicate: @Sendable (SocketValue) -> Bool = { _ in true }) async throws -> SocketValue {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let found = inbox.withLock { events -> SocketValue? in
                guard let index = events.firstIndex(where: { $0.name == name && predicate($0.arguments.first ?? .null) }) else { return nil }
                return events.remove(at: index).arguments.first ?? .null
            }
            if let found { return found }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw TestTimeout(what: name)
    }

    /// The next `dialogue:error`, as `(code, message)`.
    func nextError(timeout: Duration = patience) async throws -> (code: String, message: String, field: String?) {
        let error = try await next("dialogue:error", timeout: timeout)
        return (error["code"]?.stringValue ?? "", error["message"]?.stringValue ?? "", error["field"]?.stringValue)
    }

    /// The next `dialogue:event` of a given event name.
    func nextEvent(_ eventName: String, timeout: Duration = patience) async throws -> SocketValue {
        try await next("dialogue:event", timeout: timeout) { $0["event"]?.stringValue == eventName }
    }

    /// Names of events received and not yet consumed.
    var pending: [String] { inbox.withLock { $0.map(\.name) } }

    /// The pending `dialogue:event` messages' event names.
    var pendingEventNames: [String] {
        inbox.withLock { $0.filter { $0.name == "dialogue:event" }.compactMap { $0.arguments.first?["event"]?.stringValue } }
    }

    /// Joins a room and waits for `dialogue:joined`.
    func join(_ roomId: String) async throws {
        send("dialogue:join", ["roomId": .string(roomId)])
        try await next("dialogue:joined") { $0["roomId"]?.stringValue == roomId }
    }

    /// Triggers an event in a room.
    func trigger(_ roomId: String, _ event: String, _ data: SocketValue) {
        send("dialogue:trigger", ["roomId": .string(roomId), "event": .string(event), "data": data])
    }
}

/// Payload types of the seeds' chat example.
struct ChatMessage: EventPayload, Equatable {
    var text: String
    var senderId: String
    var replyTo: String?

    static let schema: Schema = .object([
        "text": .string(minLength: 1, maxLength: 2000),
        "senderId": .string(),
        "replyTo": .string().optional(),
    ])
}

struct Typing: EventPayload, Equatable {
    var isTyping: Bool
    static let schema: Schema = .object(["isTyping": .boolean])
}

let Message = EventDefinition("message", of: ChatMessage.self, history: EventHistory(limit: 3))
let TypingEvent = EventDefinition("typing", of: Typing.self)

/// The seeds' chat room: message (history 3) and typing; joiners get `message` only.
var chatRoom: RoomConfiguration {
    RoomConfiguration(name: "General Chat", events: [Message, TypingEvent], defaultSubscriptions: ["message"], syncHistoryOnJoin: true)
}

