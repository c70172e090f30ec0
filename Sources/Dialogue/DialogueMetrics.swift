import CoreMetrics
import Foundation
import Synchronization

/// What the server measures, through swift-metrics: any backend (Prometheus with `dialogue serve`).
///
/// Series (labels in brackets): `dialogue_events_in_total` [room, event] — events accepted for delivery;
/// `dialogue_events_out_total` [room, event] — deliveries to clients; `dialogue_validation_failures_total`
/// [room, event]; `dialogue_events_refused_total` [room, code] — triggers refused for another reason;
/// `dialogue_disconnects_total` [reason] — including `slow client` and `ping timeout`;
/// `dialogue_connections_refused_total` [limit] — handshakes refused by the connection limits
/// (`max connections`, `max connections per address`, `handshake rate`);
/// `dialogue_delivery_seconds` [room, event] — from accepting a trigger to handing it to every subscriber;
/// `dialogue_history_append_seconds` and `dialogue_history_append_failures_total` — the history store;
/// and, set by ``DialogueServer/recordGauges()``: `dialogue_connections`, `dialogue_rooms`,
/// `dialogue_room_members` [room], `dialogue_history_pending_events`, `dialogue_history_store_healthy`.
///
/// The `room` label is the room id for configured rooms, the pattern for template rooms (`user:*`), and
/// `runtime` for rooms made at runtime, so a server with many rooms keeps a bounded number of series.
final class DialogueMetrics: Sendable {
    let factory: any MetricsFactory
    private let appendDuration: CoreMetrics.Timer
    private let appendFailures: Counter
    /// The trigger path's handles per (room label, event), made once: no factory lookup or label arrays per event.
    private let deliveries = Mutex<[DeliveryKey: DeliveryHandles]>([:])

    private struct DeliveryKey: Hashable {
        let room: String
        let event: String
    }

    private struct DeliveryHandles {
        let eventsIn: Counter
        let eventsOut: Counter
        let latency: CoreMetrics.Timer
    }

    init(factory: any MetricsFactory) {
        self.factory = factory
        appendDuration = CoreMetrics.Timer(label: "dialogue_history_append_seconds", factory: factory)
        appendFailures = Counter(label: "dialogue_history_append_failures_total", factory: factory)
    }

    /// An event accepted and handed to `recipients` clients, `duration` after the trigger arrived.
    func delivered(room: String, event: String, recipients: Int, after duration: Duration) {
        let key = DeliveryKey(room: room, event: event)
        let handles = deliveries.withLock { handles in
            if let existing = handles[key] { return existing }
            let made = DeliveryHandles(
                eventsIn: Counter(label: "dialogue_events_in_total", dimensions: [("room", room), ("event", event)], factory: factory),
                eventsOut: Counter(label: "dialogue_events_out_total", dimensions: [("room", room), ("event", event)], factory: factory),
                latency: CoreMetrics.Timer(label: "dialogue_delivery_seconds", dimensions: [("room", room), ("event", event)], factory: factory)
            )
            handles[key] = made
            return made
        }
        handles.eventsIn.increment()
        if recipients > 0 { handles.eventsOut.increment(by: recipients) }
        handles.latency.recordNanoseconds(duration.nanoseconds)
    }

    func refused(room: String, event: String, error: DialogueError) {
        if error.code == .validationFailed {
            Counter(label: "dialogue_validation_failures_total", dimensions: [("room", room), ("event", event)], factory: factory).increment()
        } else {
            Counter(label: "dialogue_events_refused_total", dimensions: [("room", room), ("code", error.code.rawValue)], factory: factory).increment()
        }
    }

    func disconnected(reason: String) {
        Counter(label: "dialogue_disconnects_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    func connectionRefused(limit: String) {
        Counter(label: "dialogue_connections_refused_total", dimensions: [("limit", limit)], factory: factory).increment()
    }

    func storeAppend(after duration: Duration, failed: Bool) {
        appendDuration.recordNanoseconds(duration.nanoseconds)
        if failed { appendFailures.increment() }
    }

    func gauge(_ label: String, _ value: Int, dimensions: [(String, String)] = []) {
        Gauge(label: label, dimensions: dimensions, factory: factory).record(value)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

extension DialogueServer {
    /// The `room` label of a room's series: its id if configured, its template's pattern, or `runtime`.
    func metricsLabel(roomId: String) -> String {
        if configuration.rooms[roomId] != nil { return roomId }
        return configuration.roomTemplates.first { $0.matches(roomId) }?.pattern ?? "runtime"
    }

    /// Sets the gauges (connections, rooms, configured rooms' members, history store state, cluster
    /// membership) to their values now; call before each scrape. In a cluster they are the node's own.
    public func recordGauges() {
        let (connections, rooms, members) = state.withLock { state in
            (state.clients.count, state.rooms.count, configuration.rooms.keys.map { ($0, state.rooms[$0]?.members.count ?? 0) })
        }
        metrics.gauge("dialogue_connections", connections)
        metrics.gauge("dialogue_rooms", rooms)
        for (room, count) in members { metrics.gauge("dialogue_room_members", count, dimensions: [("room", room)]) }
        let store = historyStoreStatus
        if store.configured {
            metrics.gauge("dialogue_history_pending_events", store.pendingEvents)
            metrics.gauge("dialogue_history_store_healthy", store.healthy ? 1 : 0)
        }
        if let cluster = configuration.cluster?.status {
            metrics.gauge("dialogue_cluster_nodes", cluster.nodes.count)
            metrics.gauge("dialogue_cluster_member", cluster.nodeID == nil ? 0 : 1)
        }
    }
}
