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
}
