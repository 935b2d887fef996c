import Foundation
import JSONRPC
import TestSupport
import Testing

/// One session through `codex-telemetry exec --metric-names codex --otlp-protocol grpc`, with Codex's own `[otel]`
/// export on: what the pinned Codex sends (to one rotel) and what we send (to another, over gRPC as Codex's
/// dashboards' collectors often take it) compared name by name, for the metrics Codex exports for a session.
struct CodexMetricNamesLiveTests {
    static let names = [
        "codex.thread.started", "codex.conversation.turn.count", "codex.turn.e2e_duration_ms", "codex.turn.tool.call",
        "codex.turn.token_usage", "codex.tool.call", "codex.tool.call.duration_ms",
    ]

    @Test func ourCodexNamedMetricsAreCodexsOwn() async throws {
        let server = try await StandInModelServer.start()
        let ours = try await Rotel()
        let codexs = try await Rotel()
        let home = try TestTools.makeTemporaryDirectory("codex-otel-home")
        let collector = "http://127.0.0.1:\(codexs.port)"
        try Data(
            """
            [otel]
            environment = "test"
            exporter = { otlp-http = { endpoint = "\(collector)/v1/logs", protocol = "binary" } }
            trace_exporter = { otlp-http = { endpoint = "\(collector)/v1/traces", protocol = "binary" } }
            metrics_exporter = { otlp-http = { endpoint = "\(collector)/v1/metrics", protocol = "binary" } }

            """.utf8
        ).write(to: home.appendingPathComponent("config.toml"))
        let outcome = try await TestTools.runCLI(
            [
                "exec", "--sandbox", "danger-full-access", "--cwd", try TestTools.makeTemporaryDirectory("work").path,
                "--otlp-endpoint", "http://127.0.0.1:\(ours.grpcPort)", "--otlp-protocol", "grpc", "--spool-dir",
                try TestTools.makeTemporaryDirectory("spool").path, "--metric-names", "codex",
            ] + server.codexOverrides.flatMap { ["-c", $0] } + ["scenario:command"],
            environment: ["CODEX_HOME": home.path, "CODEX_BIN": try TestTools.codex()]
        )
        #expect(outcome.status == .exited(0), "\(outcome.stderr)")
        let received = { (rotel: Rotel) in
            try await rotel.items { items in Set(items.map(\.name)).isSuperset(of: Self.names) }
        }
        let theirPoints = try await received(codexs)
        let ourPoints = try await received(ours)
        await server.stop()
        await ours.stop()
        await codexs.stop()

        for name in Self.names {
            let theirs = theirPoints.filter { $0.name == name }
            let mine = ourPoints.filter { $0.name == name }
            try #require(!theirs.isEmpty, "Codex sent no \(name)")
            try #require(!mine.isEmpty, "we sent no \(name)")
            let (theirDescriptor, ourDescriptor) = (codexs.metricDescriptors[name], ours.metricDescriptors[name])
            for field in ["DataType", "Unit", "IsMonotonic", "AggregationTemporality"] {
                #expect(ourDescriptor?[field] == theirDescriptor?[field], "\(name): \(field)")
            }
            // Every attribute we send, Codex sends too, with the same values; what we cannot know, we leave out.
            let theirKeys = Set(theirs.flatMap(\.attributes.keys))
            let ourKeys = Set(mine.flatMap(\.attributes.keys))
            #expect(ourKeys.isSubset(of: theirKeys), "\(name): \(ourKeys.subtracting(theirKeys))")
            for key in ourKeys {
                let values = { (points: [Rotel.Item]) in Set(points.compactMap { $0.attributes[key] }) }
                #expect(values(mine) == values(theirs), "\(name): \(key)")
            }
        }
        // The turn's tokens, type by type, as Codex counted them.
        func tokens(_ points: [Rotel.Item]) -> [String: String] {
            Dictionary(
                points.filter { $0.name == "codex.turn.token_usage" }.map {
                    ($0.attributes["token_type"] ?? "", $0.fields["Sum"] ?? "")
                }
            ) { first, _ in first }
        }
        #expect(tokens(ourPoints) == tokens(theirPoints))
        #expect(!ourPoints.flatMap(\.attributes.values).joined().contains(TestTools.contentMarker))
    }
}
