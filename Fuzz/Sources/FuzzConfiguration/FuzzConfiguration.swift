import FuzzSupport
import DialogueApp

/// The configuration-file reader (YAML or JSON, `${ENV}` substitution, every section): any text is read
/// or refused with a ConfigurationError naming its path, never a crash. Relative files named in it are
/// looked for in a folder that does not exist.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfiguration(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? ServerSettings(text: text, baseDirectory: "/nonexistent-fuzz-folder", environment: ["SET": "value", "EMPTY": ""])
    return 0
}

@_cdecl("FuzzConfiguration_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzzConfiguration)
}
