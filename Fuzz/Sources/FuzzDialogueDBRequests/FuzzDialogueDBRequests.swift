import FuzzSupport
import DialogueDBCore
import DialogueDBSQLite
import Dispatch
import Foundation
import Logging
import SocketIO

/// DialogueDB's request validation, through the API every transport uses, on a real SQLite store: the
/// first byte picks the method, the rest is a path and a JSON body split at the first `\u{1F}` byte. Every
/// request is answered or refused with a coded DialogueDBError; a 500 (INTERNAL_ERROR) is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDialogueDBRequests(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let method = ["GET", "POST", "PUT", "PATCH", "DELETE"][Int(data[0]) % 5]
    let parts = UnsafeBufferPointer(start: data + 1, count: size - 1).split(separator: 0x1F, maxSplits: 1, omittingEmptySubsequences: false)
    let path = String(decoding: parts[0], as: UTF8.self)
    let body = parts.count > 1 ? try? SocketValue(jsonText: String(decoding: parts[1], as: UTF8.self)) : nil
    let request = APIRequest(method, path, body: body)
    let api = FuzzStore.api
    let finished = DispatchSemaphore(value: 0)
    Task {
        defer { finished.signal() }
        do throws(DialogueDBError) {
            _ = try await api.handle(request, context: RequestContext(projectId: "fuzz"))
        } catch {
            // Release builds drop a precondition's message: say what failed first.
            if error.statusCode == 500 { FileHandle.standardError.write(Data("\(method) \(path) failed inside: \(error)\n".utf8)) }
            precondition(error.statusCode != 500)
        }
    }
    finished.wait()
    return 0
}

/// One store for the whole run, in a fresh temporary folder.
enum FuzzStore {
    static let api: DialogueDBAPI = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dialoguedb-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let opened = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var storage: SQLiteConversationStorage?
        Task {
            storage = try? await SQLiteConversationStorage(path: folder.appendingPathComponent("fuzz.sqlite").path, logger: Logger(label: "fuzz"))
            try? await storage?.migrate()
            opened.signal()
        }
        opened.wait()
        guard let storage else { fatalError("cannot open the store in \(folder.path)") }
        var logger = Logger(label: "fuzz")
        logger.logLevel = .critical
        return DialogueDBAPI(storage: storage, logger: logger)
    }()
}

@_cdecl("FuzzDialogueDBRequests_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    // Opened before the first input, so that its threads and buffers are not taken for a leak of one.
    _ = FuzzStore.api
    return runFuzzer(argc, argv, fuzzDialogueDBRequests)
}
