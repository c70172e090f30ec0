import ArgumentParser
import EngineIOServer
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import SocketIOServer

/// `dialogue`: runs a Dialogue server.
@main
struct DialogueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dialogue",
        abstract: "Dialogue: real-time rooms and events over Socket.IO v5.",
        subcommands: [Serve.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server with its demo page.")

    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port to bind.") var port = 3000
    @Option(help: "Log level (trace, debug, info, notice, warning, error, critical).") var logLevel = "info"

    func run() async throws {
        var mutableLogger = Logger(label: "dialogue")
        mutableLogger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let logger = mutableLogger
        let io = SocketServer(configuration: .init(engine: .init(path: "/socket.io", cors: CORSConfiguration())), logger: logger)
        DemoChat.install(on: io)
        guard let page = Bundle.module.url(forResource: "Public/index", withExtension: "html").flatMap({ try? Data(contentsOf: $0) }) else {
            throw ValidationError("the demo page is missing from the package resources")
        }
        let app = EngineApplication.make(endpoints: [io], host: host, port: port, logger: logger) { router in
            router.get("/") { _, _ in
                Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: page)))
            }
        } onServerRunning: { port in
            logger.notice("Dialogue demo running: open http://\(host):\(port)/")
        }
        let group = ServiceGroup(configuration: .init(services: [.init(service: app), .init(service: io)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The demo's chat: join a room, send messages to it, see who is typing.
enum DemoChat {
    static func install(on io: SocketServer) {
        let root = io.namespace("/")
        root.onConnection { socket in
            let name = socket.handshake.auth["userId"]?.stringValue ?? socket.id
            socket.join("lobby")
            await socket.to("lobby").emit("user:joined", ["userId": .string(name)])
            socket.on("message") { socket, arguments, ack in
                guard case .string(let text)? = arguments.first, !text.isEmpty, text.count <= 1000 else {
                    ack?(["error": "INVALID_REQUEST"])
                    return
                }
                let timestamp = Int64(Date().timeIntervalSince1970 * 1000)
                await root.to("lobby").emit("message", ["from": .string(name), "text": .string(text), "timestamp": .int(timestamp)])
                ack?(["ok": true])
            }
            socket.on("typing") { socket, _, _ in
                await socket.to("lobby").emit("typing", ["userId": .string(name)])
            }
            socket.onDisconnect { _ in
                await root.to("lobby").emit("user:left", ["userId": .string(name)])
            }
        }
    }
}
