import Foundation
import OrderedCollections
import SocketIO

/// Tokens expire during a connection too: a client whose token's `exp` passes is told (`dialogue:error`
/// `TOKEN_EXPIRED`) and disconnected, unless it sent a fresh token with `dialogue:refreshToken` before.
extension DialogueServer {
    /// Arms (or re-arms) the client's expiry; nothing to do without an `exp`.
    func watchExpiry(of client: ConnectedClient) {
        guard let exp = client.auth?.jwt.exp else { return }
        let watch = Task { [weak self] in
            let remaining = Double(exp) - Date().timeIntervalSince1970
            if remaining > 0 {
                do {
                    try await Task.sleep(for: .milliseconds(Int64((remaining * 1000).rounded(.up))))
                } catch {
                    return
                }
            }
            await self?.expire(client, exp: exp)
        }
        let replaced = state.withLock { state -> Task<Void, Never>? in
            guard state.clients[client.id] != nil else { return watch }
            defer { state.clients[client.id]?.expiry = watch }
            return state.clients[client.id]?.expiry
        }
        replaced?.cancel()
    }

    private func expire(_ client: ConnectedClient, exp: Int64) async {
        guard client.auth?.jwt.exp == exp else { return }
        logger.info("token expired; disconnecting", metadata: ["dialogue.client": .string(client.id), "dialogue.user": .string(client.userId)])
        let error = DialogueError(.tokenExpired, "Token expired: send a fresh one with dialogue:refreshToken before it expires, or reconnect with one")
        client.socket.emit("dialogue:error", error.payload())
        client.socket.disconnect(close: true)
    }

    /// `dialogue:refreshToken {token}`: a token of the same user replaces the connection's identity and
    /// moves its expiry.
    func refreshToken(_ client: ConnectedClient, _ token: String) async throws(DialogueError) -> OrderedDictionary<SocketKey, SocketValue> {
        guard let jwt = configuration.jwt else { throw DialogueError(.invalidRequest, "This server does not verify tokens") }
        let claims: JWTClaims
        do {
            claims = try await jwt.verify(token)
        } catch {
            throw DialogueError(.unauthorized, error.reason)
        }
        guard claims.sub == client.userId else { throw DialogueError(.permissionDenied, "The token is for another user") }
        client.replaceAuth(AuthData(jwt: claims, extra: client.auth?.extra))
        watchExpiry(of: client)
        var answer: OrderedDictionary<SocketKey, SocketValue> = [:]
        if let exp = claims.exp { answer["exp"] = .int(exp) }
        return answer
    }
}
