import Foundation
import JSON
import JSONRPC
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The service files in `scripts/service`: what they start is a working `watch` that follows the user's sessions
/// with the defaults alone, and both start the same command.
struct ServiceFileTests {
    static let folder = TestTools.packageRoot.appendingPathComponent("scripts/service")

    /// The values of `key=` lines in the systemd unit, in order.
    static func unitValues(_ key: String) throws -> [String] {
        let unit = try String(
            contentsOf: folder.appendingPathComponent("codex-telemetry-watch.service"),
            encoding: .utf8
        )
        return unit.split(separator: "\n").filter { $0.hasPrefix(key + "=") }.map {
            String($0.dropFirst(key.count + 1))
        }
    }

    /// The unit's command, run as systemd would for a user whose home is a temporary folder (`%h`, its
    /// `Environment=`, then its `EnvironmentFile=` over it), exports a session Codex writes under `~/.codex`.
    @Test func theSystemdUnitStartsAWatchOfTheUsersSessions() async throws {
        let home = try TestTools.makeTemporaryDirectory("service-home")
        let installed = home.appendingPathComponent(".local/bin/codex-telemetry")
        try FileManager.default.createDirectory(
            at: installed.deletingLastPathComponent(),
            withIntermediateDirectories: true
        )
        try FileManager.default.createSymbolicLink(atPath: installed.path, withDestinationPath: try TestTools.cli())
        let collector = try await StandInCollector(respond: "200")
        let environmentFile = try #require(try Self.unitValues("EnvironmentFile").first).dropFirst()  // "-": optional
            .replacingOccurrences(of: "%h", with: home.path)
        try FileManager.default.createDirectory(
            at: URL(fileURLWithPath: environmentFile).deletingLastPathComponent(),
            withIntermediateDirectories: true
        )
        try Data("OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:\(collector.port)\n".utf8).write(
            to: URL(fileURLWithPath: environmentFile)
        )
        var environment = ["HOME": home.path, "PATH": "/usr/bin:/bin"]
        for assignment in try Self.unitValues("Environment") + [
            try String(contentsOfFile: environmentFile, encoding: .utf8)
        ] {
            let parts = assignment.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "=", maxSplits: 1)
            environment[String(parts[0])] = String(parts[1])
        }
        let command = try #require(try Self.unitValues("ExecStart").first).replacingOccurrences(
            of: "%h",
            with: home.path
        )
        .split(separator: " ").map(String.init)
        #expect(command.first == installed.path)

        let session = home.appendingPathComponent(".codex/sessions/2026/11/22/rollout-a.jsonl")
        try WatchCommandTests.append(WatchCommandTests.captureLines[...], to: session)
        let watch = try ChildProcess(
            ChildProcess.Configuration(
                executable: command[0],
                arguments: Array(command.dropFirst()),
                environment: environment
            )
        )
        try await TestTools.eventually { collector.itemsByPath["/v1/logs", default: 0] > 0 }
        kill(watch.pid, SIGTERM)
        #expect(await watch.waitForExit() == .exited(0), "\(watch.stderrText)")
        #expect(collector.itemsByPath["/v1/logs", default: 0] > 0)
        #expect(
            FileManager.default.fileExists(
                atPath: home.appendingPathComponent(".local/state/codex-telemetry/cursor.json").path
            )
        )
        await collector.stop()
    }

    /// The launchd agent runs what the systemd unit runs, with the same default endpoint.
    @Test func theLaunchdAgentRunsTheSameCommand() async throws {
        let plist = Self.folder.appendingPathComponent("com.github.codex-telemetry.watch.plist")
        let (_, json) = try await TestTools.output(of: "plutil", ["-convert", "json", "-o", "-", plist.path])
        let agent = try JSONValue(parsing: json)
        let arguments = agent["ProgramArguments"]?.array?.compactMap(\.string) ?? []
        let unitCommand = try Self.unitValues("ExecStart").first?.split(separator: " ").map(String.init) ?? []
        #expect(arguments.first?.hasSuffix("/codex-telemetry") == true)
        #expect(Array(arguments.dropFirst()) == Array(unitCommand.dropFirst()))
        let endpoint = agent["EnvironmentVariables"]?["OTEL_EXPORTER_OTLP_ENDPOINT"]?.string
        #expect(try Self.unitValues("Environment") == ["OTEL_EXPORTER_OTLP_ENDPOINT=" + (endpoint ?? "")])
    }
}
