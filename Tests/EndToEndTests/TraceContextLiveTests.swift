import Foundation
import JSONRPC
import TestSupport
import Testing

/// One trace with Codex's spans: `exec` hands each turn's trace position to Codex with its `turn/start`, so that
/// with Codex's own tracing on (to one rotel), Codex's spans of the turn sit under our turn's span (sent to
/// another), in its trace; under a harness's `TRACEPARENT`, all of it is in the harness's trace.
struct TraceContextLiveTests {
    @Test(arguments: [false, true])
    func codexsSpansSitUnderOurTurn(withHarnessTrace: Bool) async throws {
        let server = try await StandInModelServer.start()
        let ours = try await Rotel()
        let codexs = try await Rotel()
        let home = try TestTools.makeTemporaryDirectory("codex-trace-home")
        try Data(
            """
            [otel]
            environment = "test"
            trace_exporter = { otlp-http = { endpoint = "http://127.0.0.1:\(codexs.port)/v1/traces", protocol = "binary" } }

            """.utf8
        ).write(to: home.appendingPathComponent("config.toml"))
        let harnessTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
        var environment = ["CODEX_HOME": home.path, "CODEX_BIN": try TestTools.codex()]
        if withHarnessTrace { environment["TRACEPARENT"] = "00-\(harnessTrace)-00f067aa0ba902b7-01" }
        let outcome = try await TestTools.runCLI(
            [
                "exec", "--sandbox", "danger-full-access", "--cwd", try TestTools.makeTemporaryDirectory("work").path,
                "--otlp-endpoint", "http://127.0.0.1:\(ours.port)", "--spool-dir",
                try TestTools.makeTemporaryDirectory("spool").path,
            ] + server.codexOverrides.flatMap { ["-c", $0] } + ["scenario:command"],
            environment: environment
        )
        #expect(outcome.status == .exited(0), "\(outcome.stderr)")
        let ourSpans = try await ours.items { $0.contains { $0.name == "invoke_agent codex" } }
        let codexSpans = try await codexs.items { $0.contains { $0.name == "turn/start" } }
        await server.stop()
        await ours.stop()
        await codexs.stop()

        let turn = try #require(ourSpans.first { $0.kind == "span" && $0.name == "invoke_agent codex" })
        let start = try #require(codexSpans.first { $0.kind == "span" && $0.name == "turn/start" })
        #expect(start.fields["Trace ID"] == turn.fields["Trace ID"])
        #expect(start.fields["Parent ID"] == turn.fields["ID"])
        if withHarnessTrace {
            #expect(turn.fields["Trace ID"] == harnessTrace)
            #expect(turn.fields["Parent ID"] == "00f067aa0ba902b7")
        }
        // Codex's spans of the turn are in our trace.
        let inOurTrace = codexSpans.filter { $0.fields["Trace ID"] == turn.fields["Trace ID"] }
        #expect(inOurTrace.count > 3)
    }
}
