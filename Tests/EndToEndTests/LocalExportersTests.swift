import Foundation
import JSONRPC
import TestSupport
import Testing

/// The exporters the OpenTelemetry specification names beside OTLP, chosen per signal as its variables say: the
/// console (standard error, never the standard output a command owns) and Prometheus' scrape endpoint.
@Suite(.serialized)
struct LocalExportersTests {
    @Test func theConsoleWritesEverySignalToStandardErrorAndNoContent() async throws {
        let plain = try await TestTools.runCLI(["replay", OTLPExportTests.session])
        let console = try await TestTools.runCLI(
            ["replay", OTLPExportTests.session],
            environment: [
                "OTEL_LOGS_EXPORTER": "console", "OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "console",
            ]
        )
        #expect(console.status == .exited(0))
        #expect(console.stdout == plain.stdout, "the standard output is the command's")
        let lines = console.stderr.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("log ") }.count == OTLPExportTests.expected.logs)
        #expect(lines.filter { $0.hasPrefix("span ") }.count == OTLPExportTests.expected.spans)
        #expect(lines.filter { $0.hasPrefix("metric ") }.count == OTLPExportTests.expected.points)
        #expect(
            lines.contains {
                $0.hasPrefix("log ") && $0.contains(" codex.tool_call ") && $0.contains("process.exit.code=3")
            }
        )
        #expect(!console.stderr.contains("no OTLP endpoint"), "the console is somewhere to export to")
        #expect(!(console.stdout + console.stderr).contains(TestTools.contentMarker))
    }

    /// Each signal goes where its exporter variable says, a flag beating its variable: here logs over OTLP only,
    /// spans to the console only, metrics nowhere.
    @Test func eachSignalGoesWhereItsExporterSays() async throws {
        let collector = try await StandInCollector(respond: "200")
        defer { Task { await collector.stop() } }
        let outcome = try await TestTools.runCLI(
            [
                "replay", OTLPExportTests.session, "--otlp-endpoint", "http://127.0.0.1:\(collector.port)",
                "--spool-dir", try TestTools.makeTemporaryDirectory("spool").path, "--metrics-exporter", "none",
            ],
            environment: [
                "OTEL_LOGS_EXPORTER": "otlp", "OTEL_TRACES_EXPORTER": "console",
                "OTEL_METRICS_EXPORTER": "otlp,console",
            ]
        )
        #expect(outcome.status == .exited(0), "\(outcome.stderr)")
        #expect(collector.itemsByPath == ["/v1/logs": OTLPExportTests.expected.logs])
        let lines = outcome.stderr.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("span ") }.count == OTLPExportTests.expected.spans)
        #expect(!lines.contains { $0.hasPrefix("log ") || $0.hasPrefix("metric ") })
    }

    @Test(arguments: [
        (["OTEL_METRICS_EXPORTER": "zipkin"], "OTEL_METRICS_EXPORTER takes otlp, prometheus, console"),
        (["OTEL_LOGS_EXPORTER": "prometheus"], "OTEL_LOGS_EXPORTER takes otlp, console"),
        (["OTEL_TRACES_EXPORTER": "none,console"], "OTEL_TRACES_EXPORTER takes otlp, console"),
        (["OTEL_METRICS_EXPORTER": "prometheus", "OTEL_EXPORTER_PROMETHEUS_PORT": "99999"], "must be 1 to 65535"),
    ])
    func anExporterThatCannotBeIsAUsageError(environment: [String: String], message: String) async throws {
        let outcome = try await TestTools.runCLI(["proxy", "--", "true"], environment: environment)
        #expect(outcome.status == .exited(64))
        #expect(outcome.stderr.contains(message), "\(outcome.stderr)")
    }

    /// A command that ends before a scrape would see it says so, serves nothing, and still exports elsewhere.
    @Test func theScrapeEndpointIsForCommandsThatLast() async throws {
        let port = freePort()
        let outcome = try await TestTools.runCLI(
            ["replay", OTLPExportTests.session],
            environment: [
                "OTEL_METRICS_EXPORTER": "prometheus,console", "OTEL_EXPORTER_PROMETHEUS_PORT": "\(port)",
            ]
        )
        #expect(outcome.status == .exited(0))
        #expect(outcome.stderr.contains("the prometheus exporter serves watch and proxy"))
        #expect(outcome.stderr.contains("metric codex.turns"))
        #expect(!isListening(port))
    }

    /// `watch` with Prometheus as its only destination: its endpoint serves what it counted, in a text that
    /// Prometheus' own checker takes, with no content; a port in use is a clear error.
    @Test func watchServesWhatItCountedForAScrape() async throws {
        let home = try TestTools.makeTemporaryDirectory("scrape")
        let sessions = home.appendingPathComponent("codex/sessions/2026/12/07")
        try FileManager.default.createDirectory(at: sessions, withIntermediateDirectories: true)
        let rollouts = TestTools.packageRoot.appendingPathComponent("protocol/rollouts/codex-0.169.0-production")
        for name in try FileManager.default.contentsOfDirectory(atPath: rollouts.path) {
            try FileManager.default.copyItem(
                at: rollouts.appendingPathComponent(name),
                to: sessions.appendingPathComponent(name)
            )
        }
        let port = freePort()
        let environment = [
            "CODEX_HOME": home.appendingPathComponent("codex").path,
            "XDG_STATE_HOME": home.appendingPathComponent("state").path, "OTEL_METRICS_EXPORTER": "prometheus",
            "OTEL_EXPORTER_PROMETHEUS_PORT": "\(port)",
        ]
        let watch = try TestTools.startCLI(["watch"], environment: environment)
        var body = ""
        try await TestTools.eventually {
            body = (try? await TestTools.fetch("http://127.0.0.1:\(port)/metrics")) ?? ""
            return body.contains("codex_commit_count_total")
        }
        #expect(body.contains("# TYPE codex_turns_total counter"))
        #expect(body.contains(#"target_info{service_name="codex-telemetry""#))
        #expect(!body.contains(TestTools.contentMarker))
        let scraped = home.appendingPathComponent("scraped.txt")
        try Data((body + "\n").utf8).write(to: scraped)
        let (status, lint) = try await TestTools.output(
            of: "/bin/sh",
            ["-c", "'\(try MetricsStore.promtool())' check metrics < '\(scraped.path)' 2>&1"]
        )
        #expect(status == .exited(0), "promtool: \(lint)")

        let second = try await TestTools.runCLI(["watch"], environment: environment)
        #expect(second.status == .exited(1), "\(second.stderr)")
        #expect(second.stderr.contains("cannot listen on localhost:\(port)"), "\(second.stderr)")

        try await watch.send(SIGTERM)
        let outcome = await watch.finish(within: TestTools.patience)
        #expect(outcome.status == .exited(0), "\(outcome.stderr)")
        #expect(!(outcome.stdout + outcome.stderr).contains(TestTools.contentMarker))
    }
}
