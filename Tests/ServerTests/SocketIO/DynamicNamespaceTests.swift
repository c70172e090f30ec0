import SocketIO
@testable import SocketIOServer
import TestSupport
import Testing

/// Namespaces created when a client first connects to them (socket.io's `io.of(regex)` and `io.of(fn)`).
@Suite("Dynamic namespaces")
struct DynamicNamespaceTests {
    @Test func aPatternOrAClosureCreatesTheNamespaceSetUpOnce() async throws {
        let setUps = Recorder<String>()
        try await withSocketServer(setUp: { server in
            server.dynamicNamespaces(matching: "/team-*") { namespace in
                setUps.append(namespace.name)
                namespace.use { socket in
                    guard socket.handshake.auth["banned"] == nil else { throw SocketConnectError("banned") }
                }
                namespace.onConnection { socket in socket.emit("welcome", .string(socket.namespace.name)) }
            }
            server.dynamicNamespaces({ name, auth in name.hasPrefix("/private-") && auth["key"] == "k" }) { namespace in
                setUps.append(namespace.name)
                namespace.onConnection { socket in socket.emit("welcome", .string(socket.namespace.name)) }
            }
        }) { running, server async throws in
            try await RawWebSocket.withConnection(port: running.port, SocketProtocolTests.path) { socket async throws in
                _ = try await socket.nextText()
                socket.send("40/team-7,")
                #expect(try await socket.nextText().hasPrefix(#"40/team-7,{"sid":""#))
                #expect(try await socket.nextText() == #"42/team-7,["welcome","/team-7"]"#)
                // Its middlewares apply.
                socket.send(#"40/team-8,{"banned":true}"#)
                #expect(try await socket.nextText() == #"44/team-8,{"message":"banned"}"#)
                // No rule: the protocol's refusal; the closure sees the auth.
                socket.send("40/other,")
                #expect(try await socket.nextText() == #"44/other,{"message":"Invalid namespace"}"#)
                socket.send(#"40/private-1,{"key":"nope"}"#)
                #expect(try await socket.nextText() == #"44/private-1,{"message":"Invalid namespace"}"#)
                socket.send(#"40/private-1,{"key":"k"}"#)
                #expect(try await socket.nextText().hasPrefix(#"40/private-1,{"sid":""#))
                #expect(try await socket.nextText() == #"42/private-1,["welcome","/private-1"]"#)
            }
            // A second client of /team-7 finds it as it was: set up once.
            try await RawWebSocket.withConnection(port: running.port, SocketProtocolTests.path) { socket async throws in
                _ = try await socket.nextText()
                socket.send("40/team-7,")
                #expect(try await socket.nextText().hasPrefix(#"40/team-7,{"sid":""#))
                #expect(try await socket.nextText() == #"42/team-7,["welcome","/team-7"]"#)
            }
            #expect(setUps.all == ["/team-7", "/team-8", "/private-1"])
            try await eventually("the namespace stays, empty") { server.namespace("/team-7").sockets.isEmpty }
        }
    }

    @Test(arguments: [
        ("/team-*", "/team-7", true), ("/team-*", "/team-", true), ("/team-*", "/tea", false), ("/*/chat", "/a/b/chat", true),
        ("/*/chat", "/chat", false), ("/a*b*c", "/abc", true), ("/a*b*c", "/acb", false), ("/exact", "/exact", true), ("/exact", "/exactly", false),
    ])
    func patterns(pattern: String, name: String, matches: Bool) {
        #expect(SocketServer.name(name, matches: pattern) == matches)
    }
}
