import Dialogue
import Foundation
import ServiceLifecycle

/// Seed example 5: IoT sensor readings with threshold alerts.
enum SensorsExample {
    enum Status: String, CaseIterable, Codable { case online, offline, error, maintenance }
    enum AlertType: String, CaseIterable, Codable { case temperature, battery, connectivity, error }

    struct Reading: EventPayload {
        var deviceId: String
        var temperature, humidity, pressure, battery: Double
        var timestamp: Int64
        static let schema: Schema = .object([
            "deviceId": .string(), "temperature": .number(), "humidity": .number(), "pressure": .number(),
            "battery": .number(minimum: 0, maximum: 100), "timestamp": .integer(),
        ])
    }

    struct DeviceStatus: EventPayload {
        var deviceId: String
        var status: Status
        var lastSeen: Int64
        static let schema: Schema = .object(["deviceId": .string(), "status": .enumeration(Status.self), "lastSeen": .integer()])
    }

    struct DeviceAlert: EventPayload {
        var deviceId: String
        var alertType: AlertType
        var message: String
        var value: Double?
        var threshold: Double?
        static let schema: Schema = .object([
            "deviceId": .string(), "alertType": .enumeration(AlertType.self), "message": .string(),
            "value": .number().optional(), "threshold": .number().optional(),
        ])
    }

    static let reading = EventDefinition("sensor:reading", of: Reading.self)
    static let deviceStatus = EventDefinition("device:status", of: DeviceStatus.self)
    static let deviceAlert = EventDefinition("device:alert", of: DeviceAlert.self, history: EventHistory(limit: 200))

    static func make(port: Int) -> (DialogueServer, [any Service]) {
        let configuration = DialogueConfiguration(port: port, rooms: [
            "sensors": RoomConfiguration(
                name: "Sensor Data", description: "Real-time sensor readings", events: [reading, deviceStatus, deviceAlert],
                defaultSubscriptions: ["sensor:reading", "device:status", "device:alert"]
            ),
        ])
        return (DialogueServer(configuration: configuration), [])
    }

    /// Processes one reading (from an MQTT bridge, say): broadcast it, then raise alerts.
    static func process(_ dialogue: DialogueServer, deviceId: String, temperature: Double, humidity: Double, pressure: Double, battery: Double) async throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try await dialogue.trigger("sensors", reading, Reading(
            deviceId: deviceId, temperature: temperature, humidity: humidity, pressure: pressure, battery: battery, timestamp: now
        ), from: deviceId)
        if temperature > 40 {
            try await dialogue.trigger("sensors", deviceAlert, DeviceAlert(
                deviceId: deviceId, alertType: .temperature, message: "High temperature detected: \(temperature)°C", value: temperature, threshold: 40
            ), from: "system")
        }
        if battery < 20 {
            try await dialogue.trigger("sensors", deviceAlert, DeviceAlert(
                deviceId: deviceId, alertType: .battery, message: "Low battery: \(battery)%", value: battery, threshold: 20
            ), from: "system")
        }
    }
}
