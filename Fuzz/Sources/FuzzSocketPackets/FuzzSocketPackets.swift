import FuzzSupport
import EngineIO
import Foundation
import NIOCore
import SocketIO

/// The input as Socket.IO messages: text, then binary attachments. The first byte says how many messages
/// (1–4) and whether the last ones are binary; the rest is cut into that many parts at `\u{1F}` bytes.
/// Whatever decodes must encode to frames that decode and encode to the same frames.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSocketPackets(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let mode = data[0]
    let parts = UnsafeBufferPointer(start: data + 1, count: size - 1).split(separator: 0x1F, maxSplits: Int(mode & 0x3), omittingEmptySubsequences: false)
    var decoder = SocketDecoder(maxAttachments: 10)
    for (index, part) in parts.enumerated() {
        let decoded: SocketPacket?
        do {
            if index > 0 && mode & 0x80 != 0 {
                decoded = try decoder.decode(binary: ByteBuffer(bytes: part))
            } else {
                decoded = try decoder.decode(text: String(decoding: part, as: UTF8.self))
            }
        } catch {
            return 0
        }
        guard let packet = decoded else { continue }
        // Encoding is stable: the encoded packet decodes to one that encodes to the same frames.
        let frames = SocketEncoder.encode(packet)
        var again = SocketDecoder(maxAttachments: 10)
        var roundTrip: SocketPacket?
        for frame in frames {
            // A frame is an Engine.IO packet: a text one starts with its type (4, message).
            if frame.isBinary {
                roundTrip = try? again.decode(binary: frame.bytes)
            } else if case .text(let text)? = (try? EngineCodec.decodeText(String(buffer: frame.bytes)))?.payload {
                roundTrip = try? again.decode(text: text)
            }
        }
        guard let roundTrip else { preconditionFailure("an encoded packet does not decode: \(packet)") }
        let encodedAgain = SocketEncoder.encode(roundTrip).map(\.bytes)
        if encodedAgain != frames.map(\.bytes) {
            // Release builds drop a precondition's message: say what differs first.
            FileHandle.standardError.write(Data("encoding is not stable: \(frames.map { String(buffer: $0.bytes) }) then \(encodedAgain.map { String(buffer: $0) })\n".utf8))
            preconditionFailure()
        }
    }
    return 0
}

@_cdecl("FuzzSocketPackets_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzzSocketPackets)
}
