import Dialogue
import Foundation
import SocketIO
import TestSupport
import Testing

/// The read-only Server-Sent Events channel, read by an independent client (`Tests/Interop/sse_client.py`,
/// aiohttp) that publishes through the HTTP API once its stream is open.
@Suite("Server-Sent Events")
struct ServerSentEventsTests {
    static let apiKey = "sse-test-api-key-0123456789"
    static let message = EventDefinition("message", schema: .object(["text": .string(minLength: 1)]), history: EventHistory(limit: 100))
    static let typing = EventDefinition("typing")

    static func configuration() -> DialogueConfiguration {
        var configuration = testConfiguration(rooms: [
            ("feed", RoomConfiguration(name: "Feed", events: [message, typing], defaultSubscriptions: ["message"])),
            ("admins", RoomConfiguration(name: "Admins", events: [message], access: [.claim("role", equals: "admin")])),
        ])
        configuration.httpAPI.apiKeys = [apiKey]
        return configuration
    }

    /// The events the client printed, as `(id, event, data)`.
    static func subscribe(_ url: String, count: Int, lastEventID: Int? = nil, token: String? = nil, publish: [(String, String)] = []) async throws -> [SocketValue] {
        let python = try #require(InteropPython.interpreter, Comment(rawValue: InteropPython.missing))
        var arguments = [InteropPython.script("sse_client.py"), "--url", url, "--count", String(count), "--api-key", apiKey]
        if let lastEventID { arguments += ["--last-event-id", String(lastEventID)] }
        if let token { arguments += ["--token", token] }
        for (target, body) in publish { arguments += ["--publish", "\(target)|\(body)"] }
        let (status, output) = try await runProcess(python, arguments, timeout: .seconds(60))
        #expect(status == 0, "\(output)")
        return output.split(separator: "\n").compactMap { try? SocketValue(jsonText: String($0)) }
    }

    @Test func liveEventsCarryTheirRoomOffsetAndOnlyTheAskedNames() async throws {
        try await withDialogue(Self.configuration()) { server, url in
            for n in 1...3 { try await server.trigger("feed", Self.message, ["text": .string("before \(n)")]) }
            let publish = "\(url)/api/rooms/feed/events/"
            let events = try await Self.subscribe("\(url)/sse/rooms/feed", count: 2, publish: [
                (publish + "message", #"{"text": "live 1"}"#), (publish + "typing", #"{"on": true}"#), (publish + "message", #"{"text": "live 2"}"#),
            ])
            #expect(events.map { $0["id"] } == ["4", "5"], "ids are room offsets, continuing the stored ones")
            #expect(events.map { $0["event"] } == ["message", "message"], "typing is not among the default subscriptions")
            #expect(events.map { $0["data"]?["data"]?["text"] } == ["live 1", "live 2"])
            #expect(events.first?["data"]?["from"] == "api" && events.first?["data"]?["roomId"] == "feed")
            let both = try await Self.subscribe("\(url)/sse/rooms/feed?events=message,typing", count: 1, publish: [(publish + "typing", #"{"on": false}"#)])
            #expect(both.first?["event"] == "typing" && both.first?["id"] == .null, "events without history have no id")
        }
    }

    @Test func lastEventIDReplaysWhatWasMissedThenGoesLive() async throws {
        try await withDialogue(Self.configuration()) { server, url in
            for n in 1...5 { try await server.trigger("feed", Self.message, ["text": .string("m\(n)")]) }
            let events = try await Self.subscribe(
                "\(url)/sse/rooms/feed?events=message", count: 4, lastEventID: 2,
                publish: [("\(url)/api/rooms/feed/events/message", #"{"text": "m6"}"#)]
            )
            #expect(events.map { $0["id"] } == ["3", "4", "5", "6"], "replayed once each, in order, then live")
            #expect(events.map { $0["data"]?["data"]?["text"] } == ["m3", "m4", "m5", "m6"])
        }
    }

    @Test func refusalsAreCodedJSON() async throws {
        var configuration = Self.configuration()
        configuration.jwt = try await JWTVerifier(keys: [.secret(JWTTests.secret, algorithm: .hs256)])
        try await withDialogue(configuration) { server, url in
            let anonymous = try await httpRequest("GET", "\(url)/sse/rooms/feed")
            #expect(anonymous.status == 401 && anonymous.body.contains("UNAUTHORIZED"))
            let forged = try await httpRequest("GET", "\(url)/sse/rooms/feed?token=not.a.token")
            #expect(forged.status == 401)
            let user = try await JWTTests.token(JWTTests.claims(sub: "bob"))
            let denied = try await httpRequest("GET", "\(url)/sse/rooms/admins", headers: ["Authorization": "Bearer \(user)"])
            #expect(denied.status == 403 && denied.body.contains("JOIN_DENIED"), "\(denied.body)")
            let missing = try await httpRequest("GET", "\(url)/sse/rooms/nowhere?token=\(user)")
            #expect(missing.status == 404 && missing.body.contains("ROOM_NOT_FOUND"))
            let unknownEvent = try await httpRequest("GET", "\(url)/sse/rooms/feed?events=nope&token=\(user)")
            #expect(unknownEvent.status == 400 && unknownEvent.body.contains("EVENT_NOT_ALLOWED"))
            // The right claim opens the stream (token in the header, as a backend sends it).
            let admin = try await JWTTests.token(JWTTests.claims(sub: "alice", role: "admin"))
            let events = try await Self.subscribe("\(url)/sse/rooms/admins?events=message", count: 1, token: admin,
                                                  publish: [("\(url)/api/rooms/admins/events/message", #"{"text": "for admins"}"#)])
            #expect(events.first?["data"]?["data"]?["text"] == "for admins")
        }
    }
}

extension ServerSentEventsTests {
    /// With JWT verification, a client's token publishes over HTTP as its subject, within the room's access
    /// rules; `?from=` cannot change who it is.
    @Test func tokensPublishAsTheirSubject() async throws {
        var configuration = Self.configuration()
        configuration.httpAPI.apiKeys = []
        configuration.jwt = try await JWTVerifier(keys: [.secret(JWTTests.secret, algorithm: .hs256)])
        try await withDialogue(configuration) { server, url in
            let bob = try await JWTTests.token(JWTTests.claims(sub: "bob"))
            let published = try await httpRequest("POST", "\(url)/api/rooms/feed/events/message?from=mallory", headers: ["Authorization": "Bearer \(bob)"], body: #"{"text": "hi"}"#)
            #expect(published.status == 200, "\(published.body)")
            #expect(await server.room("feed")?.history("message").first?.from == "bob")
            let denied = try await httpRequest("POST", "\(url)/api/rooms/admins/events/message", headers: ["Authorization": "Bearer \(bob)"], body: #"{"text": "hi"}"#)
            #expect(denied.status == 403 && denied.body.contains("JOIN_DENIED"))
            let forged = try await httpRequest("POST", "\(url)/api/rooms/feed/events/message", headers: ["Authorization": "Bearer x.y.z"], body: #"{"text": "hi"}"#)
            #expect(forged.status == 401)
        }
    }
}
