import EngineIO
@testable import EngineIOServer
import TestSupport

/// The conformance suites' Engine.IO server: every message goes back to its session as is.
struct EchoHandler: EngineSessionHandler {
    let closeReasons = Recorder<EngineCloseReason>()

    func engineSessionOpened(_ session: EngineSession) {}

    func engineSession(_ session: EngineSession, received message: EnginePacket.Payload) {
        session.send(EngineFrame(EnginePacket(.message, message)))
    }

    func engineSessionClosed(_ session: EngineSession, reason: EngineCloseReason) {
        closeReasons.append(reason)
    }
}

/// A running echo server.
struct EchoServer: Sendable {
    let running: RunningServer
    let engine: EngineServer

    func shutdown() async { await running.shutdown() }
}

/// Runs an echo Engine.IO server at `/engine.io` for the duration of `body`.
@discardableResult
func withEchoServer<Result: Sendable>(
    _ configuration: EngineServerConfiguration = testEngine(path: "/engine.io"),
    _ body: @Sendable (_ polling: Polling, _ handler: EchoHandler, _ server: EchoServer) async throws -> Result
) async throws -> Result {
    let handler = EchoHandler()
    let engine = EngineServer(configuration: configuration, handler: handler, logger: testLogger)
    return try await withServer([engine]) { running in
        try await body(Polling(port: running.port, path: configuration.path), handler, EchoServer(running: running, engine: engine))
    }
}

extension Polling {
    /// Waits until the server holds a GET of session `sid` (so that a test can act on a pending poll).
    func waitForPendingPoll(_ sid: String, on server: EngineServer) async throws {
        try await eventually("a pending poll of \(sid)") { server.session(id: sid)?.hasWaitingPoll == true }
    }
}
