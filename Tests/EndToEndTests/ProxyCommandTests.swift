import CodexAppServer
import Foundation
import JSONRPC
import Synchronization
import TestSupport
import Testing

@Suite(.serialized)
struct ProxyCommandTests {
    /// A server that writes OUT to stdout, saves everything it reads to IN, and exits 7.
    static let fakeServer = #"""
        import sys
        out_path, in_path = sys.argv[1], sys.argv[2]
        sys.stdout.buffer.write(open(out_path, "rb").read())
        sys.stdout.buffer.flush()
        open(in_path, "wb").write(sys.stdin.buffer.read())
        sys.exit(7)
        """#

    @Test func bytesPassThroughUnchangedBothWaysAndTheSessionIsObserved() async throws {
        let folder = try TestTools.makeTemporaryDirectory("proxy")
        let session = Array(
            try Data(
                contentsOf: TestTools.packageRoot.appendingPathComponent(
                    "protocol/sessions/codex-0.163.0-scenarios.jsonl"
                )
            )
        )
        let bigDelta =
            Array(#"{"method":"item/agentMessage/delta","params":{"delta":""#.utf8)
            + Array(repeating: UInt8(ascii: "x"), count: 20 << 20) + Array(#""}}"#.utf8)
        let serverOutput = session + bigDelta + [0x0A] + Array(#"{"method":"last/line/without/newline"}"#.utf8)
        let clientInput =
            Array(#"{"id":1,"method":"initialize","params":{}}"#.utf8) + [0x0A]
            + Array(#"{"id":2,"method":"big","params":{"text":""#.utf8)
            + Array(repeating: UInt8(ascii: "y"), count: 16 << 20)
            + Array(#""}}"#.utf8) + [0x0A] + Array(#"{"id":3,"method":"no/newline"}"#.utf8)
        let outFile = folder.appendingPathComponent("out")
        let inFile = folder.appendingPathComponent("in")
        try Data(serverOutput).write(to: outFile)
        let collector = try await StandInCollector(respond: "200")
        defer { Task { await collector.stop() } }
        let recording = folder.appendingPathComponent("recording.jsonl")

        let received = Mutex<[UInt8]>([])
        var configuration = ChildProcess.Configuration(
            executable: try TestTools.cli(),
            arguments: [
                "proxy", "--record", recording.path, "--otlp-endpoint", "http://127.0.0.1:\(collector.port)",
                "--spool-dir", try TestTools.makeTemporaryDirectory("spool").path,
                "--", "python3", "-c", Self.fakeServer, outFile.path, inFile.path,
            ]
        )
        configuration.rawOutput = { chunk in received.withLock { $0.append(contentsOf: chunk) } }
        let proxy = try ChildProcess(configuration)
        proxy.write(bytes: clientInput)
        proxy.closeStdin()
        for await _ in proxy.lines {}
        #expect(await proxy.waitForExit() == .exited(7))

        #expect(received.withLock { $0 }.count == serverOutput.count)
        #expect(checksum(received.withLock { $0 }) == checksum(serverOutput))
        #expect(checksum(Array(try Data(contentsOf: inFile))) == checksum(clientInput))

        // The session inside the stream was observed: exported, and recorded for replay.
        #expect(collector.itemsByPath == ["/v1/logs": 26, "/v1/traces": 26, "/v1/metrics": 13])
        let replayed = try await TestTools.runCLI(["replay", recording.path])
        #expect(
            replayed.stdout.contains(
                "gpt-5.5: 9 turns (7 completed, 1 failed, 1 interrupted), 11 model calls, 6 tool calls"
            )
        )
    }

    @Test func aLongRunSendsItsMetricsAsItGoes() async throws {
        let collector = try await StandInCollector(respond: "200")
        defer { Task { await collector.stop() } }
        let session = TestTools.packageRoot.appendingPathComponent("protocol/sessions/codex-0.163.0-scenarios.jsonl")
        let lingering =
            #"import sys, time; sys.stdout.buffer.write(open(sys.argv[1], "rb").read()); sys.stdout.flush(); time.sleep(2)"#
        let outcome = try await TestTools.runCLI(
            [
                "proxy", "--otlp-endpoint", "http://127.0.0.1:\(collector.port)", "--spool-dir",
                try TestTools.makeTemporaryDirectory("spool").path, "--", "python3", "-c", lingering, session.path,
            ],
            environment: [
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "cumulative", "OTEL_METRIC_EXPORT_INTERVAL": "500",
            ]
        )
        #expect(outcome.status == .exited(0))
        let metrics = collector.requests.filter { $0.path == "/v1/metrics" }
        #expect(metrics.count >= 3)
        #expect(metrics.last?.items == 13)
    }

    @Test func aClientThatChoosesItsCodexGetsTelemetryThroughAWrapper() async throws {
        let server = try await StandInModelServer.start()
        let rotel = try await Rotel()
        defer {
            Task {
                await server.stop()
                await rotel.stop()
            }
        }
        // The documented setup: a wrapper script the client runs as its codex.
        let wrapper = try TestTools.makeTemporaryDirectory("wrapper").appendingPathComponent("codex")
        let script = """
            #!/bin/sh
            exec '\(try TestTools.cli())' proxy --otlp-endpoint http://127.0.0.1:\(rotel.port) \
              --spool-dir '\(try TestTools.makeTemporaryDirectory("spool").path)' -- '\(try TestTools.codex())' "$@"
            """
        try Data(script.utf8).write(to: wrapper)
        chmod(wrapper.path, 0o755)
        let session = try ScenarioSession()
        let turn = try await session.run(codex: wrapper.path, server: server) { client in
            let thread = try await session.startThread(client)
            return try await session.runTurn(client, thread: thread, scenario: "command")
        }
        #expect(turn.status == "completed")
        let items = try await rotel.items { $0.contains { $0.name == "codex.turn" } }
        #expect(
            items.filter { $0.kind == "log" && $0.name == "codex.turn" }.map { $0.attributes["codex.turn.status"] } == [
                "completed"
            ]
        )
        #expect(items.filter { $0.kind == "log" && $0.name == "codex.tool_call" }.count == 1)
    }
}

/// FNV-1a over the bytes: enough to compare two streams.
func checksum(_ bytes: [UInt8]) -> UInt64 {
    bytes.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
}
