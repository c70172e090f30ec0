import Dialogue
import Foundation
import ServiceLifecycle

/// Seed example 3: a live dashboard fed every second; only admins may join.
enum DashboardExample {
    enum Severity: String, CaseIterable, Codable { case low, medium, high, critical }

    struct Metrics: EventPayload {
        var cpu: Double
        var memory: Double
        var requests: Double
        var errors: Double
        var latency: Double
        static let schema: Schema = .object([
            "cpu": .number(minimum: 0, maximum: 100), "memory": .number(minimum: 0, maximum: 100),
            "requests": .number(), "errors": .number(), "latency": .number(),
        ])
    }

    struct AlertTriggered: EventPayload {
        var alertId: String
        var severity: Severity
        var message: String
        var timestamp: Int64
        static let schema: Schema = .object([
            "alertId": .string(), "severity": .enumeration(Severity.self), "message": .string(), "timestamp": .integer(),
        ])
    }

    static let metricsUpdate = EventDefinition("metrics:update", of: Metrics.self)
    static let alertTriggered = EventDefinition("alert:triggered", of: AlertTriggered.self)

    static func make(port: Int) -> (DialogueServer, [any Service]) {
        var configuration = DialogueConfiguration(port: port, rooms: [
            "dashboard": RoomConfiguration(
                name: "Dashboard", description: "Real-time metrics dashboard", events: [metricsUpdate, alertTriggered],
                defaultSubscriptions: ["metrics:update", "alert:triggered"]
            ),
        ])
        configuration.hooks.clients.onConnected = { client in
            if client.meta["role"] == "admin" { try await client.join("dashboard") }
        }
        let dialogue = DialogueServer(configuration: configuration)
        let broadcaster = Every(interval: .seconds(1)) {
            let metrics = Metrics(cpu: .random(in: 0...100), memory: .random(in: 0...100), requests: 120, errors: 1, latency: 42)
            try await dialogue.trigger("dashboard", metricsUpdate, metrics)
            if metrics.cpu > 90 {
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                try await dialogue.trigger("dashboard", alertTriggered, AlertTriggered(
                    alertId: "cpu-\(now)", severity: .high, message: "CPU usage critical: \(Int(metrics.cpu))%", timestamp: now
                ))
            }
        }
        return (dialogue, [broadcaster])
    }
}
