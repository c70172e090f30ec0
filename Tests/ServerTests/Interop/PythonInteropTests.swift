import Foundation
import TestSupport
import SocketIOServer
import Synchronization
import Testing

/// python-socketio's AsyncClient, an independent implementation, against our server over each transport.
///
/// The interpreter is `$DIALOGUE_PYTHON`, else the `.venv` that `./scripts/test` creates. A missing
/// interpreter or package fails the test: it never skips.
@Suite("Interop with python-socketio")
struct PythonInteropTests {
    @Test(arguments: ["websocket", "polling", "upgrade"])
    func pythonClientScenario(transports: String) async throws {
        let python = try #require(InteropPython.interpreter, Comment(rawValue: InteropPython.missing))
        try await withTestSocketServer { url, disconnects, _ async throws in
            let script = InteropPython.script("interop_client.py")
            let (status, output) = try await runProcess(python, [script, "--url", url, "--transports", transports], timeout: .seconds(60))
            #expect(status == 0, "interop client failed:\n\(output)")
            #expect(output.contains("interop: 11 passed, 0 failed"), "unexpected output:\n\(output)")
            // The client left both namespaces on its own.
            try await disconnects.wait {
                Set($0).isSuperset(of: ["/ client namespace disconnect", "/custom client namespace disconnect"])
            }
        }
    }
}
