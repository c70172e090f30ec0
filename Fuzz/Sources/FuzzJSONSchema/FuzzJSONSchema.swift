import FuzzSupport
import DialogueEvents
import SocketIO

/// JSON Schema documents and validation: the input is a schema document and an instance, split at the
/// first `\u{1F}` byte. A document is compiled or refused with a SchemaViolation; a compiled schema
/// validates any instance or refuses it, and a valid instance validates again, to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONSchema(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let parts = bytes.split(separator: 0x1F, maxSplits: 1, omittingEmptySubsequences: false)
    guard parts.count == 2,
        let document = try? SocketValue(jsonText: String(decoding: parts[0], as: UTF8.self)),
        let instance = try? SocketValue(jsonText: String(decoding: parts[1], as: UTF8.self)),
        let schema = try? Schema(jsonSchema: document)
    else { return 0 }
    if let valid = try? schema.validate(instance) {
        precondition((try? schema.validate(valid))?.jsonText == valid.jsonText, "a validated value is not valid again")
    }
    return 0
}

@_cdecl("FuzzJSONSchema_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzzJSONSchema)
}
