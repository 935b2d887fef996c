import Foundation
import JSONRPC
import Testing

struct ChildProcessTests {
    @Test func aChildGetsOnlyItsStandardStreamsNotOurOtherDescriptors() async throws {
        // Opened without close-on-exec, as Foundation opens files.
        let leaked = open("/dev/null", O_RDONLY)
        defer { close(leaked) }
        let process = try ChildProcess(
            ChildProcess.Configuration(executable: "sh", arguments: ["-c", "ls /proc/$$/fd"])
        )
        var descriptors: [String] = []
        for await line in process.lines { descriptors.append(String(decoding: line, as: UTF8.self)) }
        #expect(await process.waitForExit() == .exited(0))
        #expect(descriptors.contains("1"))
        #expect(!descriptors.contains(String(leaked)))
    }

    @Test func theWorkingDirectoryAndEnvironmentAreTheChildsOwn() async throws {
        let process = try ChildProcess(
            ChildProcess.Configuration(
                executable: "sh",
                arguments: ["-c", "pwd; echo \"$ONLY_HERE\""],
                environment: ["PATH": "/usr/bin:/bin", "ONLY_HERE": "yes"],
                workingDirectory: "/tmp"
            )
        )
        var lines: [String] = []
        for await line in process.lines { lines.append(String(decoding: line, as: UTF8.self)) }
        #expect(lines == ["/tmp", "yes"])
    }

    /// A child that takes half a second to stop on SIGTERM and ignores its stdin closing: stopping it from a task
    /// that is already cancelled still gives it its grace, so it exits on its own (not by SIGKILL).
    @Test func aCancelledTerminateStillGivesEachStepItsGrace() async throws {
        let child = try ChildProcess(
            ChildProcess.Configuration(
                executable: "sh",
                arguments: ["-c", "trap 'sleep 0.5; exit 5' TERM; while :; do sleep 0.05; done"]
            )
        )
        try await Task.sleep(for: .milliseconds(200))
        let stopping = Task { await child.terminate(grace: .seconds(2)) }
        stopping.cancel()
        #expect(await stopping.value == .exited(5))
    }
}
