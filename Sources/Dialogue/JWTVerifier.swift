import Foundation
import JWTKit
import SocketIO

/// Verifies JSON Web Tokens (jwt-kit): the signature with the configured keys, the `alg` the key is for,
/// `exp` (and `nbf`) against the clock. The token's `sub` becomes the client's user id.
///
/// ```swift
/// configuration.jwt = try await JWTVerifier(keys: [.secret(ProcessInfo.processInfo.environment["JWT_SECRET"]!, algorithm: .hs256)])
/// ```
/// Clients send the token in the handshake: `io(url, { auth: { token } })`.
public final class JWTVerifier: Sendable {
    /// The signing algorithms a key may be used with.
    public enum Algorithm: String, Sendable, CaseIterable {
        case hs256 = "HS256", hs384 = "HS384", hs512 = "HS512"
        case rs256 = "RS256", rs384 = "RS384", rs512 = "RS512"
        case es256 = "ES256", es384 = "ES384", es512 = "ES512"
        case eddsa = "EdDSA"

        /// For HS256/384/512, the shortest secret accepted: as long as the hash output (RFC 7518; jwt-kit
        /// asserts it); `nil` for the public-key algorithms.
        public var minimumSecretLength: Int? {
            switch self {
            case .hs256: 32
            case .hs384: 48
            case .hs512: 64
            default: nil
            }
        }
    }

    /// A verification key.
    public enum Key: Sendable {
        /// A shared secret for HS256/384/512 (at least 32/48/64 bytes).
        case secret(String, algorithm: Algorithm)
        /// A public key in PEM for RS*, ES* or EdDSA.
        case publicKey(pem: String, algorithm: Algorithm)
        /// A JSON Web Key Set (`{"keys": [...]}`); each key names its algorithm and `kid`.
        case jwks(json: String)
    }

    /// Why a token was refused; the message reaches the client as the connection error.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public let reason: String
        public var description: String { reason }
    }

    private let keys: JWTKeyCollection
    /// The algorithms the configured keys accept (`nil`: a JWKS, whose keys say so themselves).
    private let algorithms: Set<String>?

    public init(keys: [Key]) async throws {
        precondition(!keys.isEmpty, "JWTVerifier needs at least one key")
        let collection = JWTKeyCollection()
        var algorithms: Set<String>? = []
        for key in keys {
            switch key {
            case .secret(let secret, let algorithm):
                let digest: DigestAlgorithm
                switch algorithm {
                case .hs256: digest = .sha256
                case .hs384: digest = .sha384
                case .hs512: digest = .sha512
                default: throw Failure(reason: "a secret is for HS256, HS384 or HS512, not \(algorithm.rawValue)")
                }
                let minimum = algorithm.minimumSecretLength ?? 0
                guard secret.utf8.count >= minimum else {
                    throw Failure(reason: "an \(algorithm.rawValue) secret must be at least \(minimum) bytes")
                }
                await collection.add(hmac: HMACKey(from: secret), digestAlgorithm: digest)
                algorithms?.insert(algorithm.rawValue)
            case .publicKey(let pem, let algorithm):
                switch algorithm {
                case .rs256: await collection.add(rsa: try Insecure.RSA.PublicKey(pem: pem), digestAlgorithm: .sha256)
                case .rs384: await collection.add(rsa: try Insecure.RSA.PublicKey(pem: pem), digestAlgorithm: .sha384)
                case .rs512: await collection.add(rsa: try Insecure.RSA.PublicKey(pem: pem), digestAlgorithm: .sha512)
                case .es256: await collection.add(ecdsa: try ES256PublicKey(pem: pem))
                case .es384: await collection.add(ecdsa: try ES384PublicKey(pem: pem))
                case .es512: await collection.add(ecdsa: try ES512PublicKey(pem: pem))
                case .eddsa: await collection.add(eddsa: try EdDSA.PublicKey(pem: pem))
                case .hs256, .hs384, .hs512: throw Failure(reason: "\(algorithm.rawValue) takes a secret, not a public key")
                }
                algorithms?.insert(algorithm.rawValue)
            case .jwks(let json):
                try await collection.add(jwksJSON: json)
                algorithms = nil
            }
        }
        self.keys = collection
        self.algorithms = algorithms
    }

    /// The token's claims, once its signature, algorithm and time limits check out.
    public func verify(_ token: String) async throws(Failure) -> JWTClaims {
        guard let algorithm = Self.headerAlgorithm(token) else { throw Failure(reason: "Malformed token") }
        if let algorithms, !algorithms.contains(algorithm) { throw Failure(reason: "Token algorithm \(algorithm) is not accepted") }
        let payload: ClaimsPayload
        do {
            payload = try await keys.verify(token, as: ClaimsPayload.self)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(reason: "Invalid token signature")
        }
        guard case .string(let sub)? = payload.claims["sub"], !sub.isEmpty else { throw Failure(reason: "Token has no sub claim") }
        return JWTClaims(
            sub: sub, exp: payload.claims["exp"]?.doubleValue.map { Int64($0) }, iat: payload.claims["iat"]?.doubleValue.map { Int64($0) },
            all: payload.claims
        )
    }

    private static func headerAlgorithm(_ token: String) -> String? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var base64 = parts[0].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64),
            let header = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return header["alg"] as? String
    }

    /// Every claim as JSON; `exp` and `nbf` checked.
    private struct ClaimsPayload: JWTPayload {
        let claims: SocketValue

        init(from decoder: any Decoder) throws {
            claims = try SocketValue(from: decoder)
        }

        func encode(to encoder: any Encoder) throws {
            try claims.encode(to: encoder)
        }

        func verify(using _: some JWTAlgorithm) async throws {
            let now = Date().timeIntervalSince1970
            if let exp = claims["exp"]?.doubleValue, now >= exp { throw Failure(reason: "Token expired") }
            if let nbf = claims["nbf"]?.doubleValue, now < nbf { throw Failure(reason: "Token not valid yet") }
        }
    }
}
