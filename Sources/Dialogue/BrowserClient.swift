import Foundation
import NIOCore

/// The browser client (`Resources/client.js`), read once from the module's resources.
enum BrowserClient {
    static let script: ByteBuffer? = Bundle.module.url(forResource: "client", withExtension: "js")
        .flatMap { try? Data(contentsOf: $0) }
        .map { ByteBuffer(bytes: $0) }
}
