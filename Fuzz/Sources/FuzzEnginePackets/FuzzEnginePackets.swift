import FuzzSupport
import EngineIO
import NIOCore

/// The input as a WebSocket text message and as a long-polling body. Whatever decodes must encode and
/// decode again to the same packets (over polling, for a WebSocket message without the record separator).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEnginePackets(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    // A WebSocket message may hold the polling record separator; such a packet cannot go over polling.
    if let packet = try? EngineCodec.decodeText(String(decoding: bytes, as: UTF8.self)), !bytes.contains(0x1E) {
        let again = try? EngineCodec.decodePayload(EngineCodec.encodePayload([EngineFrame(packet)]))
        precondition(again == [packet], "a WebSocket packet does not survive a polling round trip")
    }
    if let packets = try? EngineCodec.decodePayload(ByteBuffer(bytes: bytes)) {
        let again = try? EngineCodec.decodePayload(EngineCodec.encodePayload(packets.map { EngineFrame($0) }))
        precondition(again == packets, "a polling payload does not survive a round trip")
    }
    return 0
}

@_cdecl("FuzzEnginePackets_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzzEnginePackets)
}
