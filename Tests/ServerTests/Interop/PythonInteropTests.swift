import Foundation
import SocketIOServer
import Synchronization
import Testing

/// python-socketio's AsyncClient, an independent implementation, against our server over each transport.
///
/// The interpreter is `$DIALOGUE_PYTHON`, else the `.venv` that `./scripts/test` creates. A missing
/// interpreter or package fails the test: it never skips.
@Suite("Interop with python-socketio")
struct PythonInteropTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static var python: String {
        ProcessInfo.processInfo.environment["DIALOGUE_PYTHON"] ?? packageRoot.appendingPathComponent(".venv/bin/python").path
    }

    @Test(arguments: ["websocket", "polling", "upgrade"])
    func pythonClientScenario(transports: String) async throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: Self.python),
            "no Python at \(Self.python): run ./scripts/test (it creates .venv with python-socketio) or set DIALOGUE_PYTHON"
        )
        try await withTestSocketServer { url, disconnects, _ async throws in
            let script = Self.packageRoot.appendingPathComponent("Tests/Interop/interop_client.py").path
            let (status, output) = try await run(Self.python, [script, "--url", url, "--transports", transports], timeout: .seconds(60))
            #expect(status == 0, "interop client failed:\n\(output)")
            #expect(output.contains("interop: 11 passed, 0 failed"), "unexpected output:\n\(output)")
            // The client left both namespaces on its own.
            try await disconnects.wait {
                Set($0).isSuperset(of: ["/ client namespace disconnect", "/custom client namespace disconnect"])
            }
        }
    }
}

/// Runs a process to completion and returns its exit status and combined output.
func run(_ executable: String, _ arguments: [String], timeout: Duration) async throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    let output = Mutex(Data())
    pipe.fileHandleForReading.readabilityHandler = { handle in
        let chunk = handle.availableData
        output.withLock { $0.append(chunk) }
    }
    let finished = AsyncValue<Int32>()
    process.terminationHandler = { finished.set($0.terminationStatus) }
    try process.run()
    let status: Int32
    do {
        status = try await finished.value(timeout: timeout)
    } catch {
        process.terminate()
        throw error
    }
    pipe.fileHandleForReading.readabilityHandler = nil
    let rest = pipe.fileHandleForReading.readDataToEndOfFile()
    let text = output.withLock { data in
        data.append(rest)
        return String(decoding: data, as: UTF8.self)
    }
    return (status, text)
}
