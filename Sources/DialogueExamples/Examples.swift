import Dialogue
import EngineIOServer
import Logging
import ServiceLifecycle

/// The seeds' examples in Swift, compiled with the package so they stay true to the API:
/// `swift run dialogue-examples <name> [port]`, then connect any Socket.IO client to `http://127.0.0.1:3000`.
@main
enum Examples {
    static let all: [String: @Sendable (Int) -> (DialogueServer, [any Service])] = [
        "chat": ChatExample.make,
        "notifications": NotificationsExample.make,
        "dashboard": DashboardExample.make,
        "game": GameExample.make,
        "iot": SensorsExample.make,
        "collaboration": CollaborationExample.make,
        "persistence": PersistenceExample.make,
        "authentication": AuthenticationExample.make,
    ]

    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let make = all[name] else {
            print("usage: dialogue-examples <\(all.keys.sorted().joined(separator: "|"))> [port]")
            return
        }
        let port = arguments.dropFirst().first.flatMap(Int.init) ?? 3000
        let (dialogue, workers) = make(port)
        let app = EngineApplication.make(endpoints: [dialogue], port: port, logger: dialogue.logger)
        let services: [any Service] = [app, dialogue] + workers
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: dialogue.logger
        ))
        try await group.run()
    }
}

/// A service that runs `body` every `interval` until shutdown: the Swift form of the seeds' `setInterval`.
struct Every: Service {
    let interval: Duration
    let body: @Sendable () async throws -> Void

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                try await body()
            }
        }
    }
}
