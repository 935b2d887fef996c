import Foundation
import JSONRPC
import TestSupport
import Testing

/// One trace with Codex's spans: `exec` hands each turn's trace position to Codex with its `turn/start`, so that
/// with Codex's own tracing on (to one rotel), Codex's spans of the turn sit under our turn's span (sent to
/// another), in its trace; under a harness's `TRACEPARENT`, all of it is in the harness's trace. `proxy` does the
/// same in a client's own `turn/start`.
struct TraceContextLiveTests {
    /// A Codex home whose tracing goes to `collector`.
    static func tracingHome(to collector: Rotel) throws -> URL {
        let home = try TestTools.makeTemporaryDirectory("codex-trace-home")
        try Data(
            """
            [otel]
            environment = "test"
            trace_exporter = { otlp-http = { endpoint = "http://127.0.0.1:\(collector.port)/v1/traces", protocol = "binary" } }

            """.utf8
        ).write(to: home.appendingPathComponent("config.toml"))
        return home
    }

    @Test(arguments: [false, true])
    func codexsSpansSitUnderOurTurn(withHarnessTrace: Bool) async throws {
        let server = try await StandInModelServer.start()
        let ours = try await Rotel()
        let codexs = try await Rotel()
        let home = try Self.tracingHome(to: codexs)
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

    /// Through `proxy`, the official Python SDK's turns: each `turn/start` gains our turn's position on its way to
    /// Codex, and Codex's spans of each turn sit under that turn's span.
    @Test func throughTheProxyCodexsSpansSitUnderEachTurn() async throws {
        let server = try await StandInModelServer.start()
        let ours = try await Rotel()
        let codexs = try await Rotel()
        let folder = try TestTools.makeTemporaryDirectory("proxy-trace")
        let wrapper = folder.appendingPathComponent("codex")
        try Data(
            """
            #!/bin/sh
            exec '\(try TestTools.cli())' proxy --otlp-endpoint http://127.0.0.1:\(ours.port) \\
                --spool-dir '\(folder.path)/spool' -- '\(try TestTools.codex())' "$@"

            """.utf8
        ).write(to: wrapper)
        chmod(wrapper.path, 0o755)
        let client = try TestTools.startSDKClient(
            codexBin: wrapper,
            modelPort: server.port,
            scenarios: ["plain", "command"],
            environment: ["CODEX_HOME": try Self.tracingHome(to: codexs).path]
        )
        var turns = 0
        for await line in client.lines where String(decoding: line, as: UTF8.self) != "closed" {
            turns += 1
            if turns == 2 { client.send(line: Array("close".utf8)) }
        }
        #expect(await client.waitForExit() == .exited(0), "\(client.stderrText)")
        let ourSpans = try await ours.items { $0.filter { $0.name == "invoke_agent codex" }.count >= 2 }
        let codexSpans = try await codexs.items { $0.filter { $0.name == "turn/start" }.count >= 2 }
        await server.stop()
        await ours.stop()
        await codexs.stop()

        let turnSpans = ourSpans.filter { $0.kind == "span" && $0.name == "invoke_agent codex" }
        let starts = codexSpans.filter { $0.kind == "span" && $0.name == "turn/start" }
        #expect(turnSpans.count == 2 && starts.count == 2)
        for turn in turnSpans {
            #expect(
                starts.contains {
                    $0.fields["Trace ID"] == turn.fields["Trace ID"] && $0.fields["Parent ID"] == turn.fields["ID"]
                },
                "no turn/start of Codex's under our turn span \(turn.fields["ID"] ?? "")"
            )
        }
    }
}
