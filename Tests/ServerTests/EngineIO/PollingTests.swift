import EngineIO
import EngineIOServer
import HTTPTypes
import SocketIO
import Testing

@Suite("Engine.IO long-polling")
struct PollingTests {
    @Test func handshakeSendsTheOpenPacketExactlyAsConfigured() async throws {
        try await withEchoServer(testEngine(path: "/engine.io", pingInterval: 300, pingTimeout: 200)) { polling, _, _ async throws in
            let response = try await polling.request(.get, "EIO=4&transport=polling")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/plain; charset=UTF-8")
            let body = response.text
            let sid = try #require(try SocketValue(jsonText: String(body.dropFirst()))["sid"]?.stringValue)
            #expect(body == #"0{"sid":"\#(sid)","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#)
        }
    }

    @Test(arguments: [
        ("transport=polling", 5, "Unsupported protocol version"),
        ("EIO=abc&transport=polling", 5, "Unsupported protocol version"),
        ("EIO=3&transport=polling", 5, "Unsupported protocol version"),
        ("EIO=4", 0, "Transport unknown"),
        ("EIO=4&transport=abc", 0, "Transport unknown"),
        ("EIO=4&transport=polling&sid=unknown", 1, "Session ID unknown"),
    ])
    func handshakeErrorsAnswer400WithTheProtocolsJSON(query: String, code: Int, message: String) async throws {
        try await withEchoServer { polling, _, _ async throws in
            let response = try await polling.request(.get, query)
            #expect(response.status == .badRequest)
            #expect(response.headers[.contentType] == "application/json")
            #expect(response.text == #"{"code":\#(code),"message":"\#(message)"}"#)
        }
    }

    @Test func handshakeWithAnotherMethodIsRefused() async throws {
        try await withEchoServer { polling, _, _ async throws in
            let post = try await polling.request(.post, "EIO=4&transport=polling", body: "")
            #expect(post.status == .badRequest)
            #expect(post.text == #"{"code":2,"message":"Bad handshake method"}"#)
            let put = try await polling.request(.put, "EIO=4&transport=polling", body: "")
            #expect(put.status == .badRequest)
        }
    }

    @Test func forbiddenHandshakeAnswers403() async throws {
        var configuration = testEngine(path: "/engine.io")
        configuration.allowRequest = { _, query in query["token"] == "yes" }
        try await withEchoServer(configuration) { polling, _, _ async throws in
            let refused = try await polling.request(.get, "EIO=4&transport=polling")
            #expect(refused.status == .forbidden)
            #expect(refused.text == #"{"code":4,"message":"Forbidden"}"#)
            let allowed = try await polling.request(.get, "EIO=4&transport=polling&token=yes")
            #expect(allowed.status == .ok)
        }
    }

    @Test func messagesAreEchoedInOnePayload() async throws {
        try await withEchoServer { polling, _, _ async throws in
            let (sid, _) = try await polling.handshake()
            let post = try await polling.post(sid, "4test1\u{1e}4test2\u{1e}4test3")
            #expect(post.status == .ok)
            #expect(post.text == "ok")
            let get = try await polling.get(sid)
            #expect(get.text == "4test1\u{1e}4test2\u{1e}4test3")
        }
    }

    @Test func binaryTravelsAsBase64WithPrefix() async throws {
        try await withEchoServer { polling, _, _ async throws in
            let (sid, _) = try await polling.handshake()
            _ = try await polling.post(sid, "4hello\u{1e}bAQIDBA==")
            let get = try await polling.get(sid)
            #expect(get.text == "4hello\u{1e}bAQIDBA==")
        }
    }

    @Test func aPendingPollWaitsForData() async throws {
        try await withEchoServer { polling, _, server async throws in
            let (sid, _) = try await polling.handshake()
            async let get = polling.get(sid)
            try await polling.waitForPendingPoll(sid, on: server.engine)
            _ = try await polling.post(sid, "4late")
            #expect(try await get.text == "4late")
        }
    }

    @Test func aSecondPendingPollClosesTheSession() async throws {
        try await withEchoServer { polling, handler, server async throws in
            let (sid, _) = try await polling.handshake()
            async let first = polling.get(sid)
            try await polling.waitForPendingPoll(sid, on: server.engine)
            let second = try await polling.get(sid)
            #expect(second.status == .badRequest)
            let firstResponse = try await first
            #expect(firstResponse.status == .ok)
            #expect(firstResponse.text == "1")
            #expect(try await polling.get(sid).status == .badRequest)
            try await handler.closeReasons.wait { $0 == [.transportError] }
        }
    }

    @Test func aClosePacketReleasesThePendingPollWithANoop() async throws {
        try await withEchoServer { polling, handler, server async throws in
            let (sid, _) = try await polling.handshake()
            async let pending = polling.get(sid)
            try await polling.waitForPendingPoll(sid, on: server.engine)
            #expect(try await polling.post(sid, "1").status == .ok)
            #expect(try await pending.text == "6")
            #expect(try await polling.get(sid).status == .badRequest)
            try await handler.closeReasons.wait { $0 == [.transportClose] }
        }
    }

    @Test func aGetRacingTheClientsCloseStillCollectsTheNoop() async throws {
        try await withEchoServer { polling, handler, _ async throws in
            let (sid, _) = try await polling.handshake()
            #expect(try await polling.post(sid, "1").status == .ok)
            // The GET sent together with the close arrives late: it still gets the noop, then the session is gone.
            // (Sent at once: the session lingers for five seconds at most, which a loaded machine can outwait.)
            #expect(try await polling.get(sid).text == "6")
            #expect(try await polling.get(sid).status == .badRequest)
            try await handler.closeReasons.wait { $0 == [.transportClose] }
        }
    }

    @Test func connectionCloseIsAnnouncedWhenTheClientAskedForIt() async throws {
        try await withEchoServer { polling, _, _ async throws in
            let closing = try await polling.request(.get, "EIO=4&transport=polling", headers: [.connection: "close"])
            #expect(closing.headers[.connection] == "close")
            let error = try await polling.request(.get, "EIO=9&transport=polling", headers: [.connection: "close"])
            #expect(error.headers[.connection] == "close")
            let keepAlive = try await polling.request(.get, "EIO=4&transport=polling")
            #expect(keepAlive.headers[.connection] == nil)
        }
    }

    @Test func theServerPingsAndClosesWithoutPong() async throws {
        // A ping timeout long enough that a loaded machine still sends the GET in time.
        try await withEchoServer(testEngine(path: "/engine.io", pingInterval: 100, pingTimeout: 3000)) { polling, handler, _ async throws in
            let (sid, _) = try await polling.handshake()
            let ping = try await polling.get(sid)
            #expect(ping.text == "2")
            // No pong: the session is gone once the ping timeout passes.
            try await handler.closeReasons.wait { $0 == [.pingTimeout] }
            #expect(try await polling.get(sid).status == .badRequest)
        }
    }

    @Test func pongsKeepTheSessionAlive() async throws {
        // A ping follows only the pong of the one before, so twelve pings 200 ms apart mean twelve pongs were
        // taken (without them the second GET would wait until the session timed out and closed). The timeout
        // is generous: the session's timer runs on an event loop, while the test's requests are handled by
        // tasks, which other suites of the same process can hold up for seconds (they wait for processes).
        try await withEchoServer(testEngine(path: "/engine.io", pingInterval: 200, pingTimeout: 8000)) { polling, handler, _ async throws in
            let (sid, _) = try await polling.handshake()
            for _ in 0..<12 {
                #expect(try await polling.get(sid).text == "2")
                #expect(try await polling.post(sid, "3").status == .ok)
            }
            #expect(handler.closeReasons.all.isEmpty)
        }
    }

    @Test func payloadOverMaxPayloadIsRefusedWith413() async throws {
        try await withEchoServer(testEngine(path: "/engine.io", maxPayload: 100)) { polling, _, _ async throws in
            let (sid, _) = try await polling.handshake()
            let response = try await polling.post(sid, "4" + String(repeating: "x", count: 200))
            #expect(response.status == .contentTooLarge)
            // Nothing was lost: the session still works.
            _ = try await polling.post(sid, "4small")
            #expect(try await polling.get(sid).text == "4small")
        }
    }

    @Test(arguments: ["abc", "", "4a\u{1e}", "bnot*base64", "9x"])
    func malformedPayloadClosesTheSession(body: String) async throws {
        try await withEchoServer { polling, handler, _ async throws in
            let (sid, _) = try await polling.handshake()
            let response = try await polling.post(sid, body)
            #expect(response.status == .badRequest)
            #expect(try await polling.get(sid).status == .badRequest)
            try await handler.closeReasons.wait { $0 == [.parseError] }
        }
    }

    @Test func corsAnyOriginOnResponsesAndPreflight() async throws {
        try await withEchoServer { polling, _, _ async throws in
            let get = try await polling.request(.get, "EIO=4&transport=polling", headers: [.origin: "http://example.com"])
            #expect(get.headers[.accessControlAllowOrigin] == "*")
            let error = try await polling.request(.get, "EIO=4&transport=nope")
            #expect(error.headers[.accessControlAllowOrigin] == "*")
            let preflight = try await polling.request(
                .options, "EIO=4&transport=polling",
                headers: [.origin: "http://example.com", .accessControlRequestMethod: "PUT", .accessControlRequestHeaders: "x-custom"]
            )
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowMethods] == "GET,HEAD,PUT,PATCH,POST,DELETE")
            #expect(preflight.headers[.accessControlAllowHeaders] == "x-custom")
        }
    }

    @Test func corsListReflectsOnlyAllowedOriginsWithCredentials() async throws {
        let configuration = testEngine(path: "/engine.io", cors: CORSConfiguration(origin: .list(["http://good.example"]), credentials: true))
        try await withEchoServer(configuration) { polling, _, _ async throws in
            let good = try await polling.request(.get, "EIO=4&transport=polling", headers: [.origin: "http://good.example"])
            #expect(good.headers[.accessControlAllowOrigin] == "http://good.example")
            #expect(good.headers[.accessControlAllowCredentials] == "true")
            #expect(good.headers[.vary] == "Origin")
            let bad = try await polling.request(.get, "EIO=4&transport=polling", headers: [.origin: "http://evil.example"])
            #expect(bad.headers[.accessControlAllowOrigin] == nil)
        }
    }

    @Test func corsReflectEchoesTheOrigin() async throws {
        try await withEchoServer(testEngine(path: "/engine.io", cors: CORSConfiguration(origin: .reflect))) { polling, _, _ async throws in
            let get = try await polling.request(.get, "EIO=4&transport=polling", headers: [.origin: "http://any.example"])
            #expect(get.headers[.accessControlAllowOrigin] == "http://any.example")
            #expect(get.headers[.vary] == "Origin")
            #expect(get.headers[.accessControlAllowCredentials] == nil)
        }
    }

    @Test func noCORSHeadersUnlessConfigured() async throws {
        try await withEchoServer(testEngine(path: "/engine.io", cors: nil)) { polling, _, _ async throws in
            let get = try await polling.request(.get, "EIO=4&transport=polling", headers: [.origin: "http://example.com"])
            #expect(get.headers[.accessControlAllowOrigin] == nil)
        }
    }

    @Test func shutdownClosesSessionsWithTheProtocolsClose() async throws {
        try await withEchoServer { polling, handler, server async throws in
            let (sid, _) = try await polling.handshake()
            async let pending = polling.get(sid)
            try await polling.waitForPendingPoll(sid, on: server.engine)
            await server.shutdown()
            #expect(try await pending.text == "1")
            try await handler.closeReasons.wait { $0 == [.serverShutdown] }
        }
    }
}
