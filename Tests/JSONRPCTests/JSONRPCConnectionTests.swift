import Foundation
import JSON
import JSONRPC
import Synchronization
import Testing

/// The connection against real child processes: a scripted Python peer, and `sh` for the failure paths.
struct JSONRPCConnectionTests {
    /// A peer that asks us something first (with id 0, as Codex does) and answers our request only once our
    /// answer has arrived, while writing a lot to stderr. If we could not answer while waiting, both would hang.
    static let peer = #"""
        import json, sys
        sys.stderr.write("noise " * 200000)
        sys.stderr.flush()
        print(json.dumps({"method": "item/commandExecution/requestApproval", "id": 0, "params": {}}), flush=True)
        print(json.dumps({"method": "note", "params": {"n": 1}}), flush=True)
        print("this line is not JSON", flush=True)
        answer, waiting = None, []
        for line in sys.stdin:
            message = json.loads(line)
            if "method" in message and "id" in message:
                waiting.append(message["id"])
            elif message.get("id") == 0:
                answer = message.get("result")
            if answer is not None:
                for request_id in waiting:
                    print(json.dumps({"id": request_id, "result": {"gotAnswer": answer}}), flush=True)
                waiting = []
        """#

    @Test func serverRequestsAreAnsweredAndOurRequestsGetTheirResults() async throws {
        let process = try ChildProcess(ChildProcess.Configuration(executable: "python3", arguments: ["-c", Self.peer]))
        let connection = JSONRPCConnection(process: process)
        let notifications = Mutex<[String]>([])
        async let running: Void = connection.run(
            handler: { request in .success(["decision": "decline", "to": .string(request.method)]) },
            observer: { line in
                if case .notification(let note)? = line.message { notifications.withLock { $0.append(note.method) } }
            }
        )
        let result = try await connection.request("ask", params: [:])
        #expect(result["gotAnswer"]?["decision"] == .string("decline"))
        #expect(notifications.withLock { $0 } == ["note"])
        #expect(connection.undecodableLineCount == 1)
        await process.terminate(grace: .seconds(1))
        await running
    }

    @Test func aChildThatDiesFailsPendingAndLaterRequestsWithItsStderr() async throws {
        let process = try ChildProcess(
            ChildProcess.Configuration(
                executable: "sh",
                arguments: ["-c", "read line; echo 'bad config: model missing' >&2; exit 3"]
            )
        )
        let connection = JSONRPCConnection(process: process)
        async let running: Void = connection.run(handler: { _ in .failure(.methodNotFound("")) })
        await #expect {
            _ = try await connection.request("initialize")
        } throws: { error in
            let failure = error as? JSONRPCConnectionError
            return failure?.code == .connectionClosed && failure!.message.contains("exited with status 3")
                && failure!.message.contains("bad config")
        }
        await running
        await #expect(throws: JSONRPCConnectionError.self) { _ = try await connection.request("again") }
    }

    @Test func terminationEscalatesToSIGKILLForAChildThatIgnoresTheRest() async throws {
        let process = try ChildProcess(
            ChildProcess.Configuration(
                executable: "sh",
                arguments: ["-c", "trap '' TERM; exec 0<&-; while true; do sleep 1; done"]
            )
        )
        let ended = await process.terminate(grace: .milliseconds(200))
        #expect(ended == .signalled(SIGKILL))
    }

    @Test func aMissingExecutableIsAClearError() {
        #expect {
            _ = try ChildProcess(ChildProcess.Configuration(executable: "no-such-codex-binary"))
        } throws: { error in
            (error as? ChildProcessError)?.code == .executableNotFound
        }
    }
}
