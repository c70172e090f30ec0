import Dialogue
import DialogueHistory
import EngineIOServer
import Foundation
import Prometheus
import SocketIO
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Health, readiness, HTTP publishing and metrics")
struct OperationsTests {
    @Test func readinessFollowsTheHistoryStore() async throws {
        let (configuration, store) = FullDiskStore.chatConfiguration()
        try await withDialogue(configuration) { server, url in
            #expect(try await httpRequest("GET", "\(url)/health").status == 200)
            #expect(try await httpRequest("GET", "\(url)/ready").status == 200)
            try await server.trigger("general", Message, ChatMessage(text: "lost for now", senderId: "s"))
            let failing = try await httpRequest("GET", "\(url)/ready")
            #expect(failing.status == 503)
            let status = (failing.json as? [String: Any])?["historyStore"] as? [String: Any]
            #expect(status?["healthy"] as? Bool == false && status?["pendingEvents"] as? Int == 1 && status?["lastError"] as? String == "disk full")
            store.freeSpace()
            try await eventually("ready again") { (try? await httpRequest("GET", "\(url)/ready").status) == 200 }
        }
    }

    @Test func publishingOverHTTPNeedsAKeyAndValidatesLikeASocket() async throws {
        var configuration = testConfiguration(rooms: [("general", chatRoom)])
        configuration.httpAPI = HTTPAPIConfiguration(apiKeys: ["k-123"], maxBodySize: 1000)
        try await withDialogue(configuration) { _, url in
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                try await alice.join("general")
                let endpoint = "\(url)/api/rooms/general/events/message"
                let body = #"{"text": "order shipped", "senderId": "backend"}"#
                #expect(try await httpRequest("POST", endpoint, body: body).status == 401)
                #expect(try await httpRequest("POST", endpoint, headers: ["Authorization": "Bearer wrong"], body: body).status == 401)

                let published = try await httpRequest("POST", "\(endpoint)?from=orders", headers: ["Authorization": "Bearer k-123"], body: body)
                #expect(published.status == 200 && published.headers["content-type"]?.hasPrefix("application/json") == true)
                let answer = published.json as? [String: Any]
                #expect(answer?["ok"] as? Bool == true && answer?["offset"] as? Int == 1 && answer?["persisted"] as? Bool == true)
                let delivered = try await alice.nextEvent("message")
                #expect(delivered["data"]?["text"] == "order shipped" && delivered["from"] == "orders")

                let invalid = try await httpRequest("POST", endpoint, headers: ["X-API-Key": "k-123"], body: #"{"text": "", "senderId": "b"}"#)
                let error = (invalid.json as? [String: Any])?["error"] as? [String: Any]
                #expect(invalid.status == 400 && error?["code"] as? String == "VALIDATION_FAILED" && error?["field"] as? String == "text")
                let unknownRoom = try await httpRequest("POST", "\(url)/api/rooms/nowhere/events/message", headers: ["X-API-Key": "k-123"], body: body)
                #expect(unknownRoom.status == 404)
                let unknownEvent = try await httpRequest("POST", "\(url)/api/rooms/general/events/shout", headers: ["X-API-Key": "k-123"], body: body)
                #expect(unknownEvent.status == 400 && (unknownEvent.json as? [String: Any]).flatMap { ($0["error"] as? [String: Any])?["code"] as? String } == "EVENT_NOT_ALLOWED")
                #expect(try await httpRequest("POST", endpoint, headers: ["X-API-Key": "k-123"], body: "{not json").status == 400)
                let tooBig = #"{"text": ""# + String(repeating: "x", count: 2000) + #"", "senderId": "b"}"#
                #expect(try await httpRequest("POST", endpoint, headers: ["X-API-Key": "k-123"], body: tooBig).status == 413)
            }
        }
    }

    @Test func withoutKeysThereIsNoPublishRoute() async throws {
        try await withDialogue(testConfiguration(rooms: [("general", chatRoom)])) { _, url in
            let reply = try await httpRequest("POST", "\(url)/api/rooms/general/events/message", headers: ["X-API-Key": ""], body: "{}")
            #expect(reply.status == 404)
        }
    }

    @Test func metricsCountEventsFailuresConnectionsAndLatency() async throws {
        let registry = PrometheusCollectorRegistry()
        var configuration = testConfiguration(rooms: [("general", chatRoom)])
        configuration.metricsFactory = PrometheusMetricsFactory(registry: registry)
        configuration.historyStore = InMemoryHistoryStore()
        try await withDialogue(configuration) { server, url in
            try await TestClient.with(url, auth: ["userId": "alice"]) { alice in
                try await alice.join("general")
                _ = try await alice.request("dialogue:trigger", ["roomId": "general", "event": "message", "data": ["text": "hi", "senderId": "alice"]])
                _ = try await alice.request("dialogue:trigger", ["roomId": "general", "event": "message", "data": ["text": "", "senderId": "alice"]])
                try await server.trigger("general", Message, ChatMessage(text: "from the server", senderId: "s"))
                server.recordGauges()
                let text = registry.emitToString()
                #expect(text.contains(#"dialogue_events_in_total{room="general",event="message"} 2"#))
                #expect(text.contains(#"dialogue_events_out_total{room="general",event="message"} 2"#), "alice received both")
                #expect(text.contains(#"dialogue_validation_failures_total{room="general",event="message"} 1"#))
                #expect(text.contains(#"dialogue_delivery_seconds_count{room="general",event="message"} 2"#))
                #expect(text.contains("dialogue_history_append_seconds_count 2"))
                #expect(text.contains("dialogue_connections 1"))
                #expect(text.contains(#"dialogue_room_members{room="general"} 1"#))
                #expect(text.contains("dialogue_history_store_healthy 1"))
            }
        }
    }

    @Test func refusedConnectionsAreCounted() async throws {
        let registry = PrometheusCollectorRegistry()
        var configuration = testConfiguration()
        configuration.metricsFactory = PrometheusMetricsFactory(registry: registry)
        configuration.socket.engine.limits.maxConnectionsPerAddress = 1
        let told = Recorder<EngineConnectionRefusal>()
        configuration.socket.engine.onConnectionRefused = { told.append($0) }
        try await withDialogue(configuration) { _, url in
            try await TestClient.with(url, auth: ["userId": "alice"]) { _ in
                let refused = try await httpRequest("GET", "\(url)/socket.io/?EIO=4&transport=polling")
                #expect(refused.status == 403 && refused.body == #"{"code":4,"message":"Forbidden"}"#)
                #expect(registry.emitToString().contains(#"dialogue_connections_refused_total{limit="max connections per address"} 1"#))
                #expect(told.all == [EngineConnectionRefusal(limit: .maxConnectionsPerAddress, address: "127.0.0.1")], "the application's own callback too")
            }
        }
    }

    @Test func dialogueServeLogsJSONAndServesMetrics() async throws {
        let executable = try #require(ServeProcess.executable, "the dialogue executable is not built: run ./scripts/test (swift build --build-tests)")
        try await withTemporaryDirectory { data in
            let server = try ServeProcess(executable: executable, data: data, postgres: nil, extraArguments: ["--log-format", "json", "--api-key", "k-1"])
            defer { server.ensureStopped() }
            let url = try await server.url()
            let published = try await httpRequest("POST", "\(url)/api/rooms/general/events/message", headers: ["X-API-Key": "k-1"], body: #"{"text": "hi", "senderId": "ops"}"#)
            #expect(published.status == 200)
            #expect(try await httpRequest("GET", "\(url)/ready").status == 200)
            let metrics = try await httpRequest("GET", "\(url)/metrics")
            #expect(metrics.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
            #expect(metrics.body.contains(#"dialogue_events_in_total{room="general",event="message"} 1"#))
            #expect(metrics.body.contains(#"dialogue_delivery_seconds_bucket{room="general",event="message",le="0.0001"}"#), "real-time buckets")
            #expect(metrics.body.contains("dialogue_rooms "))
            try await server.stop()
            let lines = server.printed.split(separator: "\n").filter { !$0.isEmpty }
            #expect(!lines.isEmpty)
            for line in lines {
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object?["level"] is String && object?["message"] is String && object?["time"] is String, "not a JSON log line: \(line)")
            }
        }
    }

    /// SIGTERM while events are being published: the process exits 0 and, after a restart on the same
    /// data folder, every event it acknowledged — before the signal and while shutting down — is in the
    /// history.
    @Test func gracefulShutdownKeepsEveryAcknowledgedEvent() async throws {
        let executable = try #require(ServeProcess.executable, "the dialogue executable is not built: run ./scripts/test (swift build --build-tests)")
        try await withTemporaryDirectory { data in
            let key = "shutdown-key-0123456789"
            let server = try ServeProcess(executable: executable, data: data, postgres: nil, extraArguments: ["--api-key", key])
            defer { server.ensureStopped() }
            let url = try await server.url()
            // Four publishers each send events one after another until the server stops answering; the
            // signal lands while they are at it, once at least 20 events are acknowledged.
            let acknowledged = Recorder<Int>()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for publisher in 0..<4 {
                    group.addTask {
                        for sequence in 0..<500 {
                            let n = publisher * 1000 + sequence
                            let body = #"{"text": "n\#(n)", "senderId": "ops"}"#
                            let reply = try? await httpRequest("POST", "\(url)/api/rooms/general/events/message", headers: ["X-API-Key": key], body: body)
                            guard reply?.status == 200 else { return }
                            acknowledged.append(n)
                        }
                    }
                }
                try await acknowledged.wait { $0.count >= 20 }
                server.process.terminate()
                try await group.waitForAll()
            }
            try await server.stop()
            let second = try ServeProcess(executable: executable, data: data, postgres: nil)
            defer { second.ensureStopped() }
            let stored = try await TestClient.with(try await second.url(), auth: ["userId": "reader"]) { reader in
                try await reader.join("general")
                var texts = Set<Int>()
                for start in stride(from: 0, to: 4000, by: 100) {
                    let page = try await reader.request("dialogue:getHistory", ["roomId": "general", "eventName": "message", "start": .int(Int64(start)), "end": .int(Int64(start + 100))])
                    let events = page["events"]?.arrayValue ?? []
                    if events.isEmpty { break }
                    texts.formUnion(events.compactMap { $0["data"]?["text"]?.stringValue }.compactMap { Int($0.dropFirst()) })
                }
                return texts
            }
            let kept = Set(acknowledged.all)
            #expect(kept.count >= 20)
            #expect(kept.isSubset(of: stored), "acknowledged but not stored: \(kept.subtracting(stored).sorted())")
            try await second.stop()
        }
    }

    /// A port already in use: `dialogue serve` says so and exits 1 with its SQLite store closed (a debug
    /// build asserted on the store's open connection: its close gave up in the cancelled task).
    @Test func aPortInUseEndsTheServerCleanly() async throws {
        let executable = try #require(ServeProcess.executable, "the dialogue executable is not built: run ./scripts/test (swift build --build-tests)")
        try await withTemporaryDirectory { data in
            let first = try ServeProcess(executable: executable, data: data.appendingPathComponent("first"), postgres: nil)
            defer { first.ensureStopped() }
            let port = try #require(URL(string: try await first.url())?.port)
            let second = try ServeProcess(executable: executable, data: data.appendingPathComponent("second"), postgres: nil, extraArguments: ["--port", "\(port)"])
            defer { second.ensureStopped() }
            try await eventually("the second server exits") { !second.process.isRunning }
            #expect(second.process.terminationStatus == 1)
            #expect(second.printed.contains("Address already in use"), "\(second.printed)")
            #expect(!second.printed.contains("Assertion failed") && !second.printed.contains("crashed"), "\(second.printed)")
            try await first.stop()
        }
    }

    /// A connection that never sends a request (browsers open them ahead of time) does not keep the
    /// server from exiting on SIGTERM.
    @Test func anIdleConnectionDoesNotHoldShutdownOpen() async throws {
        let executable = try #require(ServeProcess.executable, "the dialogue executable is not built: run ./scripts/test (swift build --build-tests)")
        try await withTemporaryDirectory { data in
            let server = try ServeProcess(executable: executable, data: data, postgres: nil)
            defer { server.ensureStopped() }
            let port = try #require(URL(string: try await server.url())?.port)
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(descriptor) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            #expect(connected == 0)
            try await server.stop()
        }
    }
}
