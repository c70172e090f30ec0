import FuzzSupport
import SocketIO

/// The hand-written JSON parser: any input parses or is refused (never a crash), and printing is stable:
/// what it prints parses back and prints the same (numbers may change form once: `1.0` prints as `1`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let value = try? SocketValue(jsonText: text) else { return 0 }
    let printed = value.jsonText
    guard let again = try? SocketValue(jsonText: printed) else { preconditionFailure("printed JSON does not parse: \(printed)") }
    precondition(again.jsonText == printed, "printing is not stable: \(printed) then \(again.jsonText)")
    return 0
}

@_cdecl("FuzzJSON_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzzJSON)
}
