import EngineIO
import Foundation
import Synchronization

/// Where the tests find Python with python-socketio, and the interop scripts. Used only by test targets.
public enum InteropPython {
    /// The repository root.
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `$DIALOGUE_PYTHON`, else the `.venv` that `./scripts/test` creates; `nil` when neither is executable.
    public static var interpreter: String? {
        let path = ProcessInfo.processInfo.environment["DIALOGUE_PYTHON"] ?? packageRoot.appendingPathComponent(".venv/bin/python").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    /// Why a test cannot run without the interpreter (a failure, never a skip).
    public static let missing = "no Python with python-socketio: run ./scripts/test (it creates .venv) or set DIALOGUE_PYTHON"

    /// The path of a script in `Tests/Interop`.
    public static func script(_ name: String) -> String {
        packageRoot.appendingPathComponent("Tests/Interop/\(name)").path
    }
}

/// A process timed out.
public struct ProcessTimeout: Error {}

/// Runs a process to completion and returns its exit status and combined output; terminates it after `timeout`.
public func runProcess(_ executable: String, _ arguments: [String], timeout: Duration) async throws -> (Int32, String) {
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
    let status = Mutex<Int32?>(nil)
    let finished = OneShotSignal()
    process.terminationHandler = { process in
        status.withLock { $0 = process.terminationStatus }
        finished.fire()
    }
    try process.run()
    guard await finished.wait(timeout: timeout), let exitStatus = status.withLock({ $0 }) else {
        process.terminate()
        throw ProcessTimeout()
    }
    pipe.fileHandleForReading.readabilityHandler = nil
    let rest = pipe.fileHandleForReading.readDataToEndOfFile()
    let text = output.withLock { data in
        data.append(rest)
        return String(decoding: data, as: UTF8.self)
    }
    return (exitStatus, text)
}
