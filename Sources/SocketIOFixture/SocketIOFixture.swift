import ArgumentParser
import Dispatch
import EngineIO
import EngineIOServer
import Hummingbird
import Logging
import ServiceLifecycle
import SocketIO
import SocketIOServer

/// A synchronous entry point, so that `scripts/profile` can run the fixture under callgrind: valgrind 3.19
/// stops on Swift's async `main` (`dispatch_main`). The command runs in a detached task — not on the main
/// actor, which the waiting main thread would never serve.
@main
enum FixtureMain {
    static func main() {
        let finished = DispatchSemaphore(value: 0)
        Task.detached {
            do {
                try await SocketIOFixture.parse().run()
            } catch {
                SocketIOFixture.exit(withError: error)
            }
            finished.signal()
        }
        finished.wait()
    }
}

/// The servers the public Engine.IO v4 and Socket.IO v5 conformance suites expect, or the bench protocol.
struct SocketIOFixture: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "socketio-fixture",
        abstract: "Conformance-suite reference servers (/engine.io/ echo, /socket.io/), or the fan-out bench protocol."
    )

    @Option(help: "Address to bind.") var host = "localhost"
    @Option(help: "Port to bind.") var port = 3000
    @Flag(help: "Serve the bench protocol (join, bcast, echo) at /socket.io/ with the default heartbeat.") var bench = false
    @Flag(help: "With --bench: Socket.IO's connection-state recovery on (2 minutes, middlewares skipped).") var recovery = false
    @Option(help: "Log level (trace, debug, info, notice, warning, error, critical).") var logLevel = "info"

    func run() async throws {
        var mutableLogger = Logger(label: "socketio-fixture")
        mutableLogger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let logger = mutableLogger
        guard bench || !recovery else { throw ValidationError("--recovery applies to --bench") }
        let endpoints: [any EngineEndpoint] = bench
            ? [Self.benchServer(recovery: recovery ? ConnectionStateRecovery() : nil, logger: logger)] : Self.conformanceServers(logger: logger)
        let app = EngineApplication.make(endpoints: endpoints, host: host, port: port, logger: logger, onServerRunning: { port in
            logger.info("listening", metadata: ["port": "\(port)", "mode": .string(bench ? "bench" : "conformance")])
        })
        var services: [any Service] = [app]
        for case let service as any Service in endpoints { services.append(service) }
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// `pingInterval` 300 ms, `pingTimeout` 200 ms, `maxPayload` 1 000 000, CORS origin `*`; packets queued
    /// together are written 1 ms apart, since the suites' client handles one message per network read.
    static func testEngineConfiguration(path: String) -> EngineServerConfiguration {
        EngineServerConfiguration(
            engine: EngineConfiguration(pingInterval: .milliseconds(300), pingTimeout: .milliseconds(200), maxPayload: 1_000_000),
            path: path,
            cors: CORSConfiguration(origin: .any),
            webSocketPacing: .milliseconds(1),
            limits: .unlimited  // the suites open connections faster than one address may by default
        )
    }

    static func conformanceServers(logger: Logger) -> [any EngineEndpoint] {
        let echo = EngineServer(configuration: testEngineConfiguration(path: "/engine.io"), handler: EchoHandler(), logger: logger)
        let io = SocketServer(
            configuration: SocketServerConfiguration(engine: testEngineConfiguration(path: "/socket.io"), connectTimeout: .milliseconds(1000)),
            logger: logger
        )
        for name in ["/", "/custom"] {
            io.namespace(name).onConnection { socket in socket.emit("auth", socket.handshake.auth) }
        }
        io.namespace("/").onConnection { socket in
            socket.on("message") { socket, arguments, _ in socket.emit("message-back", arguments) }
            socket.on("message-with-ack") { _, arguments, ack in ack?(arguments) }
        }
        return [echo, io]
    }

    static func benchServer(recovery: ConnectionStateRecovery?, logger: Logger) -> SocketServer {
        // Load generators connect from one address, thousands of clients at a time.
        let engine = EngineServerConfiguration(path: "/socket.io", cors: CORSConfiguration(), limits: .unlimited)
        let io = SocketServer(configuration: SocketServerConfiguration(engine: engine, connectionStateRecovery: recovery), logger: logger)
        let root = io.namespace("/")
        root.onConnection { socket in
            socket.on("join") { socket, arguments, ack in
                guard case .string(let room)? = arguments.first else { return }
                socket.join(room)
                ack?("ok")
            }
            socket.on("bcast") { _, arguments, _ in
                guard arguments.count >= 2, case .string(let room) = arguments[0] else { return }
                await root.to(room).emit("tick", arguments[1])
            }
            socket.on("echo") { _, arguments, ack in ack?(arguments.first ?? .null) }
        }
        return io
    }
}

/// Sends every message back to the session it came from, as is.
struct EchoHandler: EngineSessionHandler {
    func engineSessionOpened(_ session: EngineSession) {}

    func engineSession(_ session: EngineSession, received message: EnginePacket.Payload) {
        session.send(EngineFrame(EnginePacket(.message, message)))
    }

    func engineSessionClosed(_ session: EngineSession, reason: EngineCloseReason) {}
}
