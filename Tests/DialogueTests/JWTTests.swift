import Dialogue
import DialogueClient
import Foundation
import JWTKit
import SocketIO
import SocketIOClient
import TestSupport
import Testing

/// Claims the tests sign.
struct TestClaims: JWTPayload {
    var sub: SubjectClaim
    var exp: ExpirationClaim?
    var role: String?
    func verify(using _: some JWTAlgorithm) async throws {}
}

@Suite("JWT verification at the handshake")
struct JWTTests {
    /// 64 bytes: long enough for HS512.
    static let secret = String(repeating: "s3cr3t-k", count: 8)

    static func token(_ claims: TestClaims, hmac secret: String = secret, _ digest: DigestAlgorithm = .sha256) async throws -> String {
        try await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: digest).sign(claims)
    }

    static func claims(sub: String = "user-1", expiresIn seconds: Double = 3600, role: String? = nil) -> TestClaims {
        TestClaims(sub: SubjectClaim(value: sub), exp: ExpirationClaim(value: Date().addingTimeInterval(seconds)), role: role)
    }

    /// The reason the server gives for refusing `auth`, or `nil` if it accepted.
    static func refusal(_ url: String, _ auth: SocketValue) async throws -> String? {
        try await SocketClient.withConnection(to: url, logger: testLogger) { connection in
            do {
                _ = try await connection.socket(auth: auth)
                return nil
            } catch let error as SocketClientError {
                return error.message
            }
        }
    }

    @Test func hmacTokensAreVerifiedAndSubBecomesTheUserId() async throws {
        var configuration = testConfiguration()
        configuration.jwt = try await JWTVerifier(keys: [.secret(Self.secret, algorithm: .hs256)])
        configuration.hooks.socket.authenticate = { request in
            request.token?["role"] == "banned" ? .reject("banned") : .accept(AuthData(jwt: request.token!))
        }
        try await withDialogue(configuration) { server, url in
            let good = try await Self.token(Self.claims(sub: "alice", role: "admin"))
            try await TestClient.with(url, auth: ["token": .string(good), "userId": "mallory"]) { _ in
                let client = try #require(server.getClients("alice").first, "sub is the user id, auth.userId is ignored")
                #expect(client.auth?.jwt["role"] == "admin")
                #expect(client.auth?.jwt.exp != nil)
            }
            #expect(try await Self.refusal(url, ["token": .string(try await Self.token(Self.claims(expiresIn: -10)))]) == "Token expired")
            #expect(try await Self.refusal(url, ["token": .string(try await Self.token(Self.claims(), hmac: String(repeating: "other-ke", count: 8)))]) == "Invalid token signature")
            #expect(try await Self.refusal(url, ["token": .string(try await Self.token(Self.claims(), .sha384))]) == "Token algorithm HS384 is not accepted")
            #expect(try await Self.refusal(url, ["token": "not.a.token"]) == "Malformed token")
            #expect(try await Self.refusal(url, ["userId": "alice"]) == "Authentication required: send a token in auth.token")
            #expect(try await Self.refusal(url, ["token": .string(try await Self.token(Self.claims(role: "banned")))]) == "banned", "the hook still decides")
            #expect(server.getAllClients().isEmpty)
        }
    }

    @Test func publicKeyTokensAreVerified() async throws {
        let privateKey = ES256PrivateKey()
        var configuration = testConfiguration()
        configuration.jwt = try await JWTVerifier(keys: [.publicKey(pem: privateKey.publicKey.pemRepresentation, algorithm: .es256)])
        try await withDialogue(configuration) { server, url in
            let token = try await JWTKeyCollection().add(ecdsa: privateKey).sign(Self.claims(sub: "bob"))
            try await TestClient.with(url, auth: ["token": .string(token)]) { _ in
                #expect(server.getClients("bob").count == 1)
            }
            let otherKey = try await JWTKeyCollection().add(ecdsa: ES256PrivateKey()).sign(Self.claims(sub: "eve"))
            #expect(try await Self.refusal(url, ["token": .string(otherKey)]) == "Invalid token signature")
            let hmac = try await Self.token(Self.claims(sub: "eve"))
            #expect(try await Self.refusal(url, ["token": .string(hmac)]) == "Token algorithm HS256 is not accepted", "no algorithm confusion")
        }
    }

    @Test func jwksKeysAreFoundByKid() async throws {
        let privateKey = ES256PrivateKey()
        let parameters = try #require(privateKey.publicKey.parameters)
        let jwks = #"{"keys": [{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "k1", "x": ""# + parameters.x
            + #"", "y": ""# + parameters.y + #""}]}"#
        var configuration = testConfiguration()
        configuration.jwt = try await JWTVerifier(keys: [.jwks(json: jwks)])
        try await withDialogue(configuration) { server, url in
            let token = try await JWTKeyCollection().add(ecdsa: privateKey, kid: "k1").sign(Self.claims(sub: "carol"))
            try await TestClient.with(url, auth: ["token": .string(token)]) { _ in
                #expect(server.getClients("carol").count == 1)
            }
            let stranger = try await JWTKeyCollection().add(ecdsa: ES256PrivateKey(), kid: "k1").sign(Self.claims(sub: "eve"))
            #expect(try await Self.refusal(url, ["token": .string(stranger)]) == "Invalid token signature")
        }
    }

    @Test func keysAreCheckedWhenConfigured() async throws {
        await #expect(throws: JWTVerifier.Failure.self) { try await JWTVerifier(keys: [.secret("short", algorithm: .hs256)]) }
        await #expect(throws: JWTVerifier.Failure.self) { try await JWTVerifier(keys: [.secret(String(repeating: "x", count: 40), algorithm: .hs384)]) }
        await #expect(throws: JWTVerifier.Failure.self) { try await JWTVerifier(keys: [.secret(Self.secret, algorithm: .rs256)]) }
        await #expect(throws: (any Error).self) { try await JWTVerifier(keys: [.publicKey(pem: "not a key", algorithm: .es256)]) }
    }

    @Test func dialogueServeVerifiesTokensWithASecretFromTheEnvironmentOrAnOption() async throws {
        let executable = try #require(ServeProcess.executable, "the dialogue executable is not built: run ./scripts/test (swift build --build-tests)")
        try await withTemporaryDirectory { data in
            let server = try ServeProcess(executable: executable, data: data, postgres: nil, extraArguments: ["--jwt-secret", Self.secret, "--jwt-algorithm", "HS512"])
            defer { server.ensureStopped() }
            let url = try await server.url()
            #expect(try await Self.refusal(url, ["userId": "alice"]) == "Authentication required: send a token in auth.token")
            #expect(try await Self.refusal(url, ["token": .string(try await Self.token(Self.claims(), .sha256))]) == "Token algorithm HS256 is not accepted")
            #expect(try await Self.refusal(url, ["token": .string(try await Self.token(Self.claims(sub: "alice"), .sha512))]) == nil)
            #expect(!server.printed.contains("user ids are whatever clients claim"), "no warning about client-asserted identities")
            try await server.stop()
        }
    }
}

@Suite("Tokens expiring during a connection")
struct TokenExpiryTests {
    static func configuration() async throws -> DialogueConfiguration {
        var configuration = testConfiguration(rooms: [("general", chatRoom)])
        configuration.jwt = try await JWTVerifier(keys: [.secret(JWTTests.secret, algorithm: .hs256)])
        return configuration
    }

    @Test func anExpiredConnectionIsToldAndDisconnected() async throws {
        try await withDialogue(try await Self.configuration()) { server, url in
            // Long enough to connect on a busy machine (the suite runs in parallel).
            let token = try await JWTTests.token(JWTTests.claims(sub: "alice", expiresIn: 8))
            try await TestClient.with(url, auth: ["token": .string(token)]) { alice in
                #expect(server.getClients("alice").count == 1)
                let error = try await alice.next("dialogue:error", timeout: .seconds(20))
                #expect(error["code"] == "TOKEN_EXPIRED")
                try await eventually("the server let the connection go") { server.getClients("alice").isEmpty }
            }
        }
    }

    @Test func aRefreshedTokenKeepsTheConnection() async throws {
        try await withDialogue(try await Self.configuration()) { server, url in
            // Long enough to connect and refresh in time while the whole suite starts on two cores; the wait
            // below outlasts it.
            let lifetime = 12.0
            let token = try await JWTTests.token(JWTTests.claims(sub: "alice", expiresIn: lifetime))
            let issued = ContinuousClock.now
            let client = DialogueClient(configuration: .init(url: url, auth: ["token": .string(token)]), logger: testLogger)
            try await client.connect()
            let fresh = try await JWTTests.token(JWTTests.claims(sub: "alice", expiresIn: 3600))
            let exp = try await client.refreshToken(fresh)
            #expect(exp.map { $0 > Int64(Date().timeIntervalSince1970) + 3000 } == true)
            #expect(server.getClients("alice").first?.auth?.jwt.exp == exp)
            let bob = try await JWTTests.token(JWTTests.claims(sub: "bob"))
            let otherUser = await #expect(throws: DialogueError.self) { try await client.refreshToken(bob) }
            #expect(otherUser?.code == .permissionDenied)
            let expired = try await JWTTests.token(JWTTests.claims(sub: "alice", expiresIn: -5))
            let refused = await #expect(throws: DialogueError.self) { try await client.refreshToken(expired) }
            #expect(refused?.code == .unauthorized && refused?.message == "Token expired")
            // Past the first token's expiry: still connected.
            try await Task.sleep(until: issued + .seconds(lifetime + 1))
            #expect(server.getClients("alice").count == 1)
            #expect(client.state == .connected)
            await client.disconnect()
        }
    }
}

@Suite("Room access rules from token claims")
struct AccessRuleTests {
    @Test func claimsAndOwnershipDecideWhoMayJoin() async throws {
        var configuration = testConfiguration(rooms: [
            ("admins", RoomConfiguration(name: "Admins", access: [.claim("role", equals: "admin")])),
            ("ops", RoomConfiguration(name: "Ops", access: [.claim("teams", equals: "ops")])),
        ])
        configuration.roomTemplates = [RoomTemplate("user:*", room: RoomConfiguration(name: "Inbox", access: [.owner("user:{sub}")]))]
        configuration.jwt = try await JWTVerifier(keys: [.secret(JWTTests.secret, algorithm: .hs256)])
        configuration.hooks.socket.authenticate = { request in
            // Adds a team list claim to show array claims.
            var claims = request.token!
            if claims.sub == "alice" { claims.all = ["sub": "alice", "role": "admin", "teams": ["ops", "web"]] }
            return .accept(AuthData(jwt: claims))
        }
        try await withDialogue(configuration) { server, url in
            let alice = try await JWTTests.token(JWTTests.claims(sub: "alice", role: "admin"))
            let bob = try await JWTTests.token(JWTTests.claims(sub: "bob", role: "user"))
            try await TestClient.with(url, auth: ["token": .string(alice)]) { alice in
                for room in ["admins", "ops", "user:alice"] {
                    #expect(try await alice.request("dialogue:join", ["roomId": .string(room)])["ok"] == true, "alice may join \(room)")
                }
                let other = try await alice.request("dialogue:join", ["roomId": "user:bob"])
                #expect(other["error"]?["code"] == "JOIN_DENIED" && other["error"]?["message"] == "Access to 'user:bob' requires the room is user:{sub}")
            }
            try await TestClient.with(url, auth: ["token": .string(bob)]) { bob in
                let admins = try await bob.request("dialogue:join", ["roomId": "admins"])
                #expect(admins["error"]?["code"] == "JOIN_DENIED" && admins["error"]?["message"] == #"Access to 'admins' requires role = "admin""#)
                #expect(try await bob.request("dialogue:join", ["roomId": "ops"])["error"]?["code"] == "JOIN_DENIED")
                #expect(try await bob.request("dialogue:join", ["roomId": "user:bob"])["ok"] == true)
                // The server itself may still put anyone anywhere.
                let client = try #require(server.getClients("bob").first)
                try await client.join("admins")
                #expect(client.rooms().contains("admins"))
            }
        }
    }
}
