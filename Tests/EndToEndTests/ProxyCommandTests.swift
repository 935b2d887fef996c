import CodexAppServer
import Foundation
import JSON
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
        #expect(collector.itemsByPath["/v1/logs"] == OTLPExportTests.expected.logs)
        #expect(collector.itemsByPath["/v1/traces"] == OTLPExportTests.expected.spans)
        // Cumulative metrics go every OTEL_METRIC_EXPORT_INTERVAL (a minute, which a busy machine can take here)
        // and at the end, each time all of them: the last holds all the session's points.
        #expect(collector.requests.last { $0.path == "/v1/metrics" }?.items == OTLPExportTests.expected.points)
        let replayed = try await TestTools.runCLI(["replay", recording.path])
        // Turns, failed, interrupted, model calls, tool calls.
        #expect(replayed.tableRow("gpt-5.5")?.prefix(6) == ["gpt-5.5", "9", "1", "1", "11", "6"])
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
        #expect(metrics.last?.items == OTLPExportTests.expected.points)
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

extension ProxyCommandTests {
    /// OpenAI's official Python SDK, as its users run it: `codex_bin` set to the documented wrapper (Proxy.md), as written. It
    /// answers as it does without us, every turn reaches the collector while the session is still open, and when the
    /// SDK closes the server its way (stdin closed and SIGTERM at once, SIGKILL two seconds later) nothing is lost or
    /// left behind.
    @Test func theOfficialPythonSDKThroughTheDocumentedWrapperLosesNothing() async throws {
        let server = try await StandInModelServer.start()
        let rotel = try await Rotel()
        defer {
            Task {
                await server.stop()
                await rotel.stop()
            }
        }
        let folder = try TestTools.makeTemporaryDirectory("sdk")
        let written = try #require(TestTools.documentedBlock(containing: "exec codex-telemetry proxy"))
        let script = written.replacing("codex-telemetry proxy", with: "'\(try TestTools.cli())' proxy")
            .replacing("http://127.0.0.1:4318", with: "http://127.0.0.1:\(rotel.port)")
            .replacing("/usr/local/bin/codex", with: "'\(try TestTools.codex())'")
        let wrapper = folder.appendingPathComponent("codex-with-telemetry")
        try Data(script.utf8).write(to: wrapper)
        chmod(wrapper.path, 0o755)
        let state = folder.appendingPathComponent("state")
        let scenarios = ["plain", "command", "two-tools", "patch", "plain"]
        let client = try TestTools.startSDKClient(
            codexBin: wrapper,
            modelPort: server.port,
            scenarios: scenarios,
            environment: [
                "CODEX_HOME": try TestTools.makeTemporaryDirectory("sdk-home").path,
                "XDG_STATE_HOME": state.path,  // the wrapper's default spool
            ]
        )
        var turns: [JSONValue] = []
        for await line in client.lines {
            let text = String(decoding: line, as: UTF8.self)
            guard text != "closed" else { break }
            let turn = try JSONValue(parsing: text)
            turns.append(turn)
            // The session is still open: its turn is at the collector all the same.
            let id = try #require(turn["turn"]?.string)
            let arrived = try await rotel.items { items in
                items.contains { $0.kind == "log" && $0.name == "codex.turn" && $0.attributes["codex.turn.id"] == id }
            }
            #expect(arrived.contains { $0.attributes["codex.turn.id"] == id }, "turn \(turns.count) while open")
            if turns.count == scenarios.count { client.send(line: Array("close".utf8)) }
        }
        #expect(await client.waitForExit() == .exited(0), "\(client.stderrText)")
        #expect(turns.map { $0["status"]?.string } == Array(repeating: "completed", count: scenarios.count))

        // After the close: the metrics, sent as the proxy ends, and every record once.
        let items = try await rotel.items { $0.contains { $0.kind == "point" && $0.name == "codex.turns" } }
        let logs = items.filter { $0.kind == "log" }
        #expect(logs.filter { $0.name == "codex.turn" }.count == scenarios.count)
        #expect(logs.filter { $0.name == "codex.tool_call" }.count == 4)
        // One call for each answer, and one more for each turn whose tools ran first.
        #expect(logs.filter { $0.name == "codex.llm_call" }.count == scenarios.count + 3)
        let tokens = logs.filter { $0.name == "codex.llm_call" }.compactMap { log -> Int? in
            guard let input = log.attributes["gen_ai.usage.input_tokens"].flatMap({ Int($0) }),
                let output = log.attributes["gen_ai.usage.output_tokens"].flatMap({ Int($0) })
            else { return nil }
            return input + output
        }
        #expect(tokens.reduce(0, +) == Int(turns.last?["totalTokens"]?.int ?? 0), "the usage the SDK reported")
        #expect(items.contains { $0.kind == "point" && $0.name == "codex.turns" })
        #expect(!items.contains { ($0.attributes.values + [$0.name]).joined().contains(TestTools.contentMarker) })
        let spool = state.appendingPathComponent("codex-telemetry/spool")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: spool.path)) ?? []
        #expect(left.filter { !$0.hasPrefix(".") }.isEmpty, "nothing left in the spool: \(left)")
    }

    /// Asked to stop while its collector does not answer, the proxy passes the signal on to Codex, keeps what it
    /// cannot send in the spool, and exits with Codex's status within the grace a client gives: its flush is cut
    /// to a second (`ProxyCommand.flushGrace`) whatever the flush timeout, here an hour, which a proxy without the
    /// cut would wait out, and fail.
    @Test(arguments: [SIGTERM, SIGINT, SIGHUP])
    func aStopSignalEndsCodexAndKeepsWhatCouldNotBeSent(signal: Int32) async throws {
        let collector = try await StandInCollector(respond: "hang")
        defer { Task { await collector.stop() } }
        let spool = try TestTools.makeTemporaryDirectory("spool")
        let session = try String(
            contentsOf: TestTools.packageRoot.appendingPathComponent("protocol/sessions/codex-0.163.0-scenarios.jsonl"),
            encoding: .utf8
        )
        let proxy = try ChildProcess(
            ChildProcess.Configuration(
                executable: try TestTools.cli(),
                arguments: [
                    "proxy", "--otlp-endpoint", "http://127.0.0.1:\(collector.port)", "--spool-dir", spool.path,
                    "--flush-timeout", "3600", "--", "python3", "-c", Self.echoServer, session,
                ]
            )
        )
        // The server has written its session: once the proxy has passed it on, ask it to stop.
        var passedOn = 0
        for await _ in proxy.lines {
            passedOn += 1
            if passedOn == session.split(separator: "\n").count { break }
        }
        try await TestTools.eventually { proxy.hears(signal) }
        kill(proxy.pid, signal)
        let status = await proxy.waitForExit(within: TestTools.patience)
        #expect(status == .exited(40 + signal), "Codex's own status: \(proxy.stderrText)")
        let requests = try FileManager.default.contentsOfDirectory(atPath: spool.path).filter { !$0.hasPrefix(".") }
        #expect(!requests.isEmpty, "what could not be sent waits in the spool")
    }

    /// Writes its first argument, then waits for its stdin to close; on a stop signal, exits 40 plus its number.
    static let echoServer = #"""
        import signal, sys
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, lambda received, frame: sys.exit(40 + received))
        sys.stdout.write(sys.argv[1])
        sys.stdout.flush()
        sys.stdin.read()
        """#
}

/// FNV-1a over the bytes: enough to compare two streams.
func checksum(_ bytes: [UInt8]) -> UInt64 {
    bytes.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
}
