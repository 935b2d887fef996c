import CodexAppServer
import CodexHarness
import CodexTelemetry
import Foundation
import JSONRPC
import TestSupport
import Testing

@Suite(.serialized)
struct HarnessTests {
    @Test func theExampleRunsAJoinsTheCallersTraceAndPrintsNoContent() async throws {
        let server = try await StandInModelServer.start()
        let rotel = try await Rotel()
        defer {
            Task {
                await server.stop()
                await rotel.stop()
            }
        }
        let example = TestTools.packageRoot.appendingPathComponent(".build/debug/HarnessExample").path
        let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        let process = try ChildProcess(
            ChildProcess.Configuration(
                executable: example,
                arguments: server.codexOverrides.flatMap { ["-c", $0] } + [
                    "\(TestTools.contentMarker) scenario:command"
                ],
                environment: ProcessInfo.processInfo.environment.merging([
                    "CODEX_HOME": try TestTools.makeTemporaryDirectory("codex-home").path,
                    "CODEX_BIN": try TestTools.codex(),
                    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(rotel.port)",
                    "TRACEPARENT": traceparent,
                ]) { $1 },
                workingDirectory: try TestTools.makeTemporaryDirectory("work").path
            )
        )
        var output: [String] = []
        for await line in process.lines { output.append(String(decoding: line, as: UTF8.self)) }
        #expect(await process.waitForExit() == .exited(0))
        #expect(output.count == 2)
        #expect(output.first?.contains(": completed, 2 model calls, 1 tool calls, 2") == true)
        #expect(output.last == "events: codex.llm_call=2 codex.tool_call=1 codex.turn=1")
        #expect(!output.joined().contains(TestTools.contentMarker))
        let spans = try await rotel.items { $0.contains { $0.name == "invoke_agent codex" } }.filter {
            $0.kind == "span"
        }
        let root = try #require(spans.first { $0.name == "invoke_agent codex" })
        #expect(root.fields["Trace ID"] == "0af7651916cd43dd8448eb211c80319c")
        #expect(root.fields["Parent ID"] == "b7ad6b7169203331")
        #expect(spans.allSatisfy { $0.fields["Trace ID"] == "0af7651916cd43dd8448eb211c80319c" })
    }

    @Test func aRecordingReplaysToTheEventsTheLiveRunProduced() async throws {
        let server = try await StandInModelServer.start()
        defer { Task { await server.stop() } }
        let work = try TestTools.makeTemporaryDirectory("work")
        let recording = try TestTools.makeTemporaryDirectory("recording").appendingPathComponent("session.jsonl")
        var environment = ProcessInfo.processInfo.environment
        environment["CODEX_HOME"] = try TestTools.makeTemporaryDirectory("codex-home").path
        let sink = InMemorySink()
        let configuration = HarnessConfiguration(
            appServer: AppServerConfiguration(
                executable: try TestTools.codex(),
                configOverrides: server.codexOverrides,
                workingDirectory: work.path,
                environment: environment
            ),
            sinks: [sink],
            recordingPath: recording.path
        )
        let outcome = try await CodexHarness.withSession(configuration) { session in
            let thread = try await session.startThread(
                ThreadOptions(workingDirectory: work.path, approvalPolicy: "never", sandbox: "danger-full-access")
            )
            var results: [TurnResult] = []
            for scenario in ["command", "two-tools", "fail", "plain"] {
                results.append(try await session.runTurn(threadID: thread.id, prompt: "scenario:\(scenario)"))
            }
            return results
        }
        let results = try outcome.result.get()
        #expect(results.map(\.status) == ["completed", "completed", "failed", "completed"])
        #expect(results[0].finalMessage == "\(TestTools.contentMarker)_final_answer")
        #expect(results[0].usage.input > 0 && results[0].costUSD != nil)
        #expect(results[2].errorClass == "internalServerError")
        #expect(sink.events == outcome.events)

        let attributes = try FileManager.default.attributesOfItem(atPath: recording.path)
        #expect(attributes[.posixPermissions] as? Int == 0o600)
        let replayed = try await TestTools.runCLI(["replay", recording.path, "--format", "json"])
        #expect(replayed.stdout.split(separator: "\n").map(String.init) == outcome.events.map(\.jsonLine))
        #expect(replayed.stderr.contains("0 skipped"))
    }
}
