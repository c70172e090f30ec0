import Dialogue
import ServiceLifecycle

/// Authentication: the hook verifies the client's token and names the user; a rejection reaches the client
/// as CONNECT_ERROR. Here tokens are looked up in a table; a production server verifies a signed JWT.
enum AuthenticationExample {
    static let sessions: [String: JWTClaims] = [
        "token-alice": JWTClaims(sub: "alice", exp: 4_102_444_800, all: ["sub": "alice", "role": "admin"]),
        "token-bob": JWTClaims(sub: "bob", exp: 4_102_444_800, all: ["sub": "bob", "role": "member"]),
    ]

    static func make(port: Int) -> (DialogueServer, [any Service]) {
        var configuration = DialogueConfiguration(port: port, rooms: [
            "staff": RoomConfiguration(name: "Staff", defaultSubscriptions: ["*"]),
        ])
        configuration.hooks.socket.authenticate = { request in
            guard let token = request.auth["token"]?.stringValue, let claims = sessions[token] else { return .reject("invalid token") }
            return .accept(AuthData(jwt: claims))
        }
        configuration.hooks.clients.beforeJoin = { request in
            request.client.auth?.jwt["role"] == "admin" ? .allow : .deny("Staff only")
        }
        return (DialogueServer(configuration: configuration), [])
    }
}
