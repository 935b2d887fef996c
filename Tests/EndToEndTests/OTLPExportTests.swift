import Foundation
import JSONRPC
import TestSupport
import Testing

/// `codex-telemetry replay` exporting to real receivers: rotel, and the scriptable stand-in collector for faults.
@Suite(.serialized)
struct OTLPExportTests {
    static let session = TestTools.packageRoot.appendingPathComponent("protocol/sessions/codex-0.163.0-scenarios.jsonl")
        .path
    /// What the bundled session holds: 26 events, so 26 log records and 26 spans; 23 metric points.
    static let expected = (logs: 26, spans: 26, points: 23)
    static let everything = ["/v1/logs": expected.logs, "/v1/traces": expected.spans, "/v1/metrics": expected.points]

    /// The bundled session's signals as the command counts them, `less` of each.
    static func counted(less: Int = 0) -> String {
        "\(expected.logs - less) log records, \(expected.spans - less) spans, \(expected.points - less) metric points"
    }

    /// Replays the bundled session to a collector on `port`: a run that must end by itself (its flush is
    /// bounded), so one that does not end is killed, and fails.
    func replay(
        to port: Int,
        _ extra: [String] = [],
        environment: [String: String] = [:],
        spool: URL? = nil
    ) async throws -> CommandOutcome {
        let spool = try spool ?? TestTools.makeTemporaryDirectory("spool")
        return try await TestTools.runCLI(
            ["replay", Self.session, "--otlp-endpoint", "http://127.0.0.1:\(port)", "--spool-dir", spool.path] + extra,
            environment: environment,
            within: TestTools.patience
        )
    }

    static func complete(_ items: [Rotel.Item]) -> Bool {
        items.filter { $0.kind == "log" }.count >= expected.logs
            && items.filter { $0.kind == "span" }.count >= expected.spans
            && items.filter { $0.kind == "point" }.count >= expected.points - histogramPoints
    }

    /// rotel 0.0.1a15 decodes histograms from protobuf but drops their data from OTLP/JSON, even the official
    /// library's own JSON; so with JSON, the histograms are checked by the official decoder instead
    /// (`noContentMarkerAndNoHeaderValueIsInAnyByteSentOrPrinted`).
    static let histogramPoints = 6

    @Test(arguments: ["http/protobuf", "http/json", "grpc"])
    func aRealCollectorDecodesEverySignal(wireProtocol: String) async throws {
        let rotel = try await Rotel()
        defer { Task { await rotel.stop() } }
        let port = wireProtocol == "grpc" ? rotel.grpcPort : rotel.port
        let outcome = try await replay(to: port, ["--otlp-protocol", wireProtocol])
        #expect(outcome.status == .exited(0))
        #expect(outcome.stderr.contains("exported \(OTLPExportTests.counted()) in 3 requests"))
        let items = try await rotel.items(until: Self.complete)

        // Logs: one per event, named, with its attributes and the span it belongs to.
        let logs = items.filter { $0.kind == "log" }
        #expect(logs.count == Self.expected.logs)
        #expect(logs.filter { $0.name == "codex.turn" }.count == 9)
        #expect(logs.filter { $0.attributes["event.name"] == "codex.llm_call" }.count == 11)
        let failedTool = try #require(logs.first { $0.attributes["process.exit.code"] == "3" })
        #expect(failedTool.attributes["codex.tool.status"] == "failed")
        #expect(failedTool.attributes["gen_ai.tool.name"] == "shell")
        let failedTurn = try #require(logs.first { $0.attributes["codex.turn.status"] == "failed" })
        #expect(failedTurn.attributes["error.type"] == "internalServerError")

        // Traces: a root span per turn, its model and tool calls under it.
        let spans = items.filter { $0.kind == "span" }
        #expect(spans.count == Self.expected.spans)
        let roots = spans.filter { $0.name == "invoke_agent codex" }
        #expect(roots.count == 9)
        #expect(
            roots.allSatisfy { $0.fields["Kind"] == "SPAN_KIND_INTERNAL" && ($0.fields["Parent ID"] ?? "").isEmpty }
        )
        #expect(roots.allSatisfy { $0.attributes["gen_ai.agent.name"] == "codex" })
        #expect(spans.filter { $0.name == "chat gpt-5.5" && $0.fields["Kind"] == "SPAN_KIND_CLIENT" }.count == 11)
        #expect(spans.filter { $0.name.hasPrefix("execute_tool ") }.count == 6)
        let rootsByTrace = Dictionary(uniqueKeysWithValues: roots.map { ($0.fields["Trace ID"]!, $0.fields["ID"]!) })
        for child in spans where child.name != "invoke_agent codex" {
            #expect(child.fields["Parent ID"] == rootsByTrace[child.fields["Trace ID"] ?? ""], "\(child.name)")
        }
        let errors = roots.filter { $0.fields["Status code"] == "STATUS_CODE_ERROR" }
        #expect(Set(errors.map { $0.attributes["codex.turn.status"] }) == ["failed", "interrupted"])
        #expect(
            errors.first { $0.attributes["codex.turn.status"] == "interrupted" }?.attributes["error.type"]
                == "interrupted"
        )

        // Metrics: the token histogram sums to the session's tokens; turns counted by status.
        let points = items.filter { $0.kind == "point" }
        if wireProtocol != "http/json" {
            #expect(points.count == Self.expected.points)
            let input = points.first {
                $0.name == "gen_ai.client.token.usage" && $0.attributes["gen_ai.token.type"] == "input"
            }
            #expect(input?.fields["Count"] == "11")
            #expect(input?.fields["Sum"] == "11070")
        } else {
            #expect(points.count == Self.expected.points - Self.histogramPoints)
        }
        let completed = points.first { $0.name == "codex.turns" && $0.attributes["codex.turn.status"] == "completed" }
        #expect(completed?.fields["Value"] == "7")
        #expect(points.contains { $0.name == "codex.cost.usd" })
        #expect(points.filter { $0.name == "codex.tool_calls" }.count == 5)
    }

    @Test(arguments: ["http/protobuf", "grpc"])
    func gzipCompressedRequestsAreDecodedByARealCollector(wireProtocol: String) async throws {
        let rotel = try await Rotel()
        defer { Task { await rotel.stop() } }
        let outcome = try await replay(
            to: wireProtocol == "grpc" ? rotel.grpcPort : rotel.port,
            ["--otlp-protocol", wireProtocol],
            environment: ["OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"]
        )
        #expect(outcome.status == .exited(0))
        let items = try await rotel.items(until: Self.complete)
        #expect(items.filter { $0.kind == "log" }.count == Self.expected.logs)
        #expect(items.filter { $0.kind == "span" }.count == Self.expected.spans)
        #expect(items.filter { $0.kind == "point" }.count == Self.expected.points)
        guard wireProtocol != "grpc" else { return }

        let collector = try await StandInCollector(respond: "200")
        defer { Task { await collector.stop() } }
        _ = try await replay(
            to: collector.port,
            ["--otlp-protocol", "http/json"],
            environment: ["OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"]
        )
        #expect(collector.requests.allSatisfy { $0.headers.contains("content-encoding") })
        #expect(collector.itemsByPath == OTLPExportTests.everything)
    }

    /// As a dashboard built for Codex would take it: Codex's metric names, over gRPC.
    @Test func aBundledSessionReachesACollectorWithCodexsMetricNamesOverGRPC() async throws {
        let rotel = try await Rotel()
        defer { Task { await rotel.stop() } }
        let outcome = try await replay(to: rotel.grpcPort, ["--otlp-protocol", "grpc", "--metric-names", "codex"])
        #expect(outcome.status == .exited(0))
        let names = Set(CodexMetricNamesLiveTests.names)
        let items = try await rotel.items { Set($0.map(\.name)).isSuperset(of: names) }
        #expect(Set(items.map(\.name)).isSuperset(of: names))
        #expect(!items.contains { $0.name.hasPrefix("gen_ai.") })
        #expect(
            rotel.metricDescriptors["codex.turn.token_usage"]?["AggregationTemporality"]
                == "AGGREGATION_TEMPORALITY_DELTA"
        )
    }

    /// `VARIABLE= command` means the variable's default, for every variable of ours, as for the XDG ones.
    @Test func aVariableSetEmptyMeansItsDefault() async throws {
        let collector = try await StandInCollector(respond: "200")
        defer { Task { await collector.stop() } }
        let state = try TestTools.makeTemporaryDirectory("state")
        let empty = [
            "CODEX_TELEMETRY_SPOOL_DIR", "CODEX_TELEMETRY_FLUSH_TIMEOUT", "CODEX_TELEMETRY_METRIC_NAMES",
            "CODEX_TELEMETRY_PRICES", "CODEX_TELEMETRY_IDENTIFY_USER", "CODEX_TELEMETRY_STATE",
        ]
        let outcome = try await TestTools.runCLI(
            ["replay", Self.session, "--otlp-endpoint", "http://127.0.0.1:\(collector.port)"],
            environment: Dictionary(uniqueKeysWithValues: empty.map { ($0, "") }).merging(["XDG_STATE_HOME": state.path]
            ) {
                $1
            }
        )
        #expect(outcome.status == .exited(0), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("exported \(OTLPExportTests.counted()) in 3 requests"))
        // The spool is the default one, not the current folder.
        #expect(FileManager.default.fileExists(atPath: state.appendingPathComponent("codex-telemetry/spool").path))
    }

    @Test func aCollectorThatIsDownAtFirstGetsEverythingExactlyOnce() async throws {
        let port = freePort()
        let spool = try TestTools.makeTemporaryDirectory("spool")
        let running = try TestTools.startCLI([
            "replay", Self.session, "--otlp-endpoint", "http://127.0.0.1:\(port)", "--spool-dir", spool.path,
            "--flush-timeout", "30",
        ])
        try await Task.sleep(for: .seconds(2))
        let rotel = try await Rotel(port: port)
        defer { Task { await rotel.stop() } }
        let outcome = await running.finish()
        #expect(outcome.status == .exited(0))
        let items = try await rotel.items(until: Self.complete)
        #expect(items.filter { $0.kind == "log" }.count == Self.expected.logs)
        #expect(items.filter { $0.kind == "span" }.count == Self.expected.spans)
        #expect(items.filter { $0.kind == "point" }.count == Self.expected.points)
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool.path).isEmpty)
    }

    @Test func runsSharingASpoolSendEachRequestToTheCollectorItWasFor() async throws {
        let spool = try TestTools.makeTemporaryDirectory("spool")
        let port = freePort()
        func spooled() throws -> Int { try FileManager.default.contentsOfDirectory(atPath: spool.path).count }
        // Nothing listens yet: the first run's requests wait in the spool.
        _ = try await replay(to: port, ["--flush-timeout", "1"], spool: spool)
        #expect(try spooled() == 3)

        let other = try await StandInCollector(respond: "200")
        defer { Task { await other.stop() } }
        let second = try await replay(to: other.port, spool: spool)
        #expect(second.status == .exited(0))
        #expect(other.itemsByPath == OTLPExportTests.everything)
        #expect(try spooled() == 3)
        #expect(second.stderr.contains("3 requests in the spool are for another collector than this run's"))

        let first = try await StandInCollector(respond: "200", port: port)
        defer { Task { await first.stop() } }
        let third = try await replay(to: port, spool: spool)
        #expect(third.status == .exited(0))
        #expect(first.itemsByPath == OTLPExportTests.everything.mapValues { $0 * 2 })
        #expect(try spooled() == 0)
    }

    @Test(arguments: ["503", "429"])
    func throttlingWithRetryAfterIsRetriedAfterTheWaitAndNothingIsLost(status: String) async throws {
        let collector = try await StandInCollector(respond: "\(status),200", retryAfter: 1)
        defer { Task { await collector.stop() } }
        let started = ContinuousClock.now
        let outcome = try await replay(to: collector.port)
        #expect(outcome.status == .exited(0))
        #expect(ContinuousClock.now - started >= .seconds(1))
        let accepted = collector.requests.filter { $0.status == "200" }
        #expect(collector.requests.first?.status == status)
        #expect(accepted.filter { $0.path == "/v1/logs" }.map(\.items).reduce(0, +) == Self.expected.logs)
        #expect(accepted.filter { $0.path == "/v1/traces" }.map(\.items).reduce(0, +) == Self.expected.spans)
        #expect(accepted.filter { $0.path == "/v1/metrics" }.map(\.items).reduce(0, +) == Self.expected.points)
    }

    @Test func a400IsDroppedReportedAsLostAndNotRetried() async throws {
        let collector = try await StandInCollector(respond: "400")
        defer { Task { await collector.stop() } }
        let spool = try TestTools.makeTemporaryDirectory("spool")
        let outcome = try await replay(to: collector.port, spool: spool)
        #expect(outcome.status == .exited(74))
        #expect(outcome.stderr.contains("telemetry lost: \(OTLPExportTests.counted())"))
        #expect(collector.requests.count == 3)
        #expect(
            outcome.stderr.contains(
                "the collector refused \(OTLPExportTests.counted()) (HTTP 400); not retried"
            )
        )
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool.path).isEmpty)
    }

    @Test(arguments: ["http/protobuf", "http/json"])
    func aPartialSuccessIsReadAndReportedAsLost(wireProtocol: String) async throws {
        let collector = try await StandInCollector(respond: "partial")
        defer { Task { await collector.stop() } }
        let outcome = try await replay(to: collector.port, ["--otlp-protocol", wireProtocol])
        #expect(outcome.status == .exited(74))
        #expect(outcome.stderr.contains("telemetry lost: 1 log records, 1 spans, 1 metric points"))
        #expect(outcome.stderr.contains("exported \(OTLPExportTests.counted(less: 1)) in 3 requests"))
        #expect(
            outcome.stderr.contains("the collector rejected 1 log records, 1 spans, 1 metric points: one item refused")
        )
    }

    @Test func aCollectorThatNeverAnswersTimesOutAndTheBatchesWaitInTheSpool() async throws {
        let collector = try await StandInCollector(respond: "hang")
        defer { Task { await collector.stop() } }
        let spool = try TestTools.makeTemporaryDirectory("spool")
        let outcome = try await replay(
            to: collector.port,
            ["--flush-timeout", "2"],
            environment: ["OTEL_EXPORTER_OTLP_TIMEOUT": "500"],
            spool: spool
        )
        #expect(outcome.status == .exited(0))
        #expect(outcome.stderr.contains("not yet sent"))
        #expect(outcome.stderr.contains("\(OTLPExportTests.counted())"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool.path).count == 3)
    }

    @Test func httpsDeliversToACollectorWhoseCertificateIsTrustedAndToNoOther() async throws {
        let collector = try await StandInCollector(respond: "200", tls: true)
        defer { Task { await collector.stop() } }
        let endpoint = ["--otlp-endpoint", "https://127.0.0.1:\(collector.port)"]
        let spool = try TestTools.makeTemporaryDirectory("spool")
        let untrusted = try await TestTools.runCLI(
            ["replay", Self.session, "--spool-dir", spool.path, "--flush-timeout", "1"] + endpoint
        )
        #expect(collector.requests.isEmpty)
        #expect(untrusted.stderr.contains("certificate"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool.path).count == 3)

        // The dynamic loader's log (LD_DEBUG) says which libraries the run loaded: libcurl, for https only.
        let trusted = try await TestTools.runCLI(
            ["replay", Self.session, "--spool-dir", spool.path] + endpoint,
            environment: ["OTEL_EXPORTER_OTLP_CERTIFICATE": try #require(collector.certificate), "LD_DEBUG": "files"]
        )
        #expect(trusted.status == .exited(0))
        #expect(trusted.stderr.contains("file=libcurl.so.4 [0];  dynamically loaded"))
        // The spooled batches of the first run, then this run's.
        #expect(collector.itemsByPath == OTLPExportTests.everything.mapValues { $0 * 2 })
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool.path).isEmpty)
    }

    @Test func overHTTPSTheCollectorsBodyAndHeadersAreRead() async throws {
        let partial = try await StandInCollector(respond: "partial", tls: true)
        defer { Task { await partial.stop() } }
        let outcome = try await TestTools.runCLI(
            [
                "replay", Self.session, "--otlp-endpoint", "https://127.0.0.1:\(partial.port)", "--spool-dir",
                try TestTools.makeTemporaryDirectory("spool").path,
            ],
            environment: ["OTEL_EXPORTER_OTLP_CERTIFICATE": try #require(partial.certificate)]
        )
        #expect(
            outcome.stderr.contains("the collector rejected 1 log records, 1 spans, 1 metric points: one item refused")
        )

        let throttling = try await StandInCollector(respond: "503,200", retryAfter: 2, tls: true)
        defer { Task { await throttling.stop() } }
        let started = ContinuousClock.now
        let throttled = try await TestTools.runCLI(
            [
                "replay", Self.session, "--otlp-endpoint", "https://127.0.0.1:\(throttling.port)", "--spool-dir",
                try TestTools.makeTemporaryDirectory("spool").path,
            ],
            environment: ["OTEL_EXPORTER_OTLP_CERTIFICATE": try #require(throttling.certificate)]
        )
        #expect(throttled.status == .exited(0), "\(throttled.stderr)")
        #expect(ContinuousClock.now - started >= .seconds(2))  // Retry-After, a header, was read
        #expect(throttling.requests.first?.status == "503")
    }

    @Test func anHTTPSCollectorThatNeverAnswersTimesOutAndTheBatchesWaitInTheSpool() async throws {
        let collector = try await StandInCollector(respond: "hang", tls: true)
        defer { Task { await collector.stop() } }
        let spool = try TestTools.makeTemporaryDirectory("spool")
        let outcome = try await TestTools.runCLI(
            [
                "replay", Self.session, "--otlp-endpoint", "https://127.0.0.1:\(collector.port)", "--spool-dir",
                spool.path, "--flush-timeout", "2",
            ],
            environment: [
                "OTEL_EXPORTER_OTLP_CERTIFICATE": try #require(collector.certificate),
                "OTEL_EXPORTER_OTLP_TIMEOUT": "500",
            ],
            within: TestTools.patience
        )
        #expect(outcome.status == .exited(0))
        #expect(!collector.requests.isEmpty)
        #expect(outcome.stderr.contains("\(OTLPExportTests.counted())"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool.path).count == 3)
    }

    /// Nor Foundation beyond its essentials: its internationalization (the ICU tables) and CoreFoundation would add
    /// megabytes to every run's memory and milliseconds to its start.
    @Test func plainHTTPLoadsNoNetworkingLibraryNorMoreOfFoundationThanItsEssentials() async throws {
        let collector = try await StandInCollector(respond: "200")
        defer { Task { await collector.stop() } }
        let outcome = try await replay(to: collector.port, environment: ["LD_DEBUG": "files"])
        #expect(outcome.status == .exited(0))
        #expect(collector.itemsByPath == OTLPExportTests.everything)
        #expect(outcome.stderr.contains("file=libFoundationEssentials.so"))  // the loader's log is there
        #expect(!outcome.stderr.contains("libcurl"))
        #expect(!outcome.stderr.contains("FoundationNetworking"))
        #expect(!outcome.stderr.contains("file=libFoundation.so"))
        #expect(!outcome.stderr.contains("FoundationInternationalization"))
        #expect(!outcome.stderr.contains("_FoundationICU"))
    }

    @Test func aZeroFlushTimeoutStillKeepsEverythingInTheSpool() async throws {
        let spool = try TestTools.makeTemporaryDirectory("spool")
        let outcome = try await replay(to: freePort(), ["--flush-timeout", "0"], spool: spool)
        #expect(outcome.status == .exited(0))
        #expect(outcome.stderr.contains("not yet sent"))
        #expect(outcome.stderr.contains("\(OTLPExportTests.counted())"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool.path).count == 3)
    }

    @Test func aRunKilledMidFlushLeavesItsSpoolAndTheNextRunSendsIt() async throws {
        let port = freePort()
        let spool = try TestTools.makeTemporaryDirectory("spool")
        let running = try TestTools.startCLI([
            "replay", Self.session, "--otlp-endpoint", "http://127.0.0.1:\(port)", "--spool-dir", spool.path,
            "--flush-timeout", "60",
        ])
        let deadline = ContinuousClock.now + .seconds(20)
        while try FileManager.default.contentsOfDirectory(atPath: spool.path).count < 3, ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(100))
        }
        kill(running.process.pid, SIGKILL)
        #expect(await running.finish().status == .signalled(SIGKILL))
        let files = try FileManager.default.contentsOfDirectory(atPath: spool.path)
        #expect(files.count == 3)
        for file in files {
            let mode =
                try FileManager.default.attributesOfItem(atPath: spool.appendingPathComponent(file).path)[
                    .posixPermissions
                ] as? Int
            #expect(mode == 0o600)
        }

        let rotel = try await Rotel(port: port)
        defer { Task { await rotel.stop() } }
        let empty = try TestTools.makeTemporaryDirectory("empty").appendingPathComponent("none.jsonl")
        try Data().write(to: empty)
        let next = try await TestTools.runCLI([
            "replay", empty.path, "--otlp-endpoint", "http://127.0.0.1:\(port)", "--spool-dir", spool.path,
        ])
        #expect(next.status == .exited(0))
        let items = try await rotel.items(until: Self.complete)
        #expect(items.filter { $0.kind == "log" }.count == Self.expected.logs)
        #expect(items.filter { $0.kind == "span" }.count == Self.expected.spans)
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool.path).isEmpty)
    }

    @Test(arguments: ["http/protobuf", "http/json", "grpc"])
    func noContentMarkerAndNoHeaderValueIsInAnyByteSentOrPrinted(wireProtocol: String) async throws {
        let grpc = wireProtocol == "grpc"
        let collector = try await StandInCollector(respond: grpc ? "ok" : "200", grpc: grpc)
        defer { Task { await collector.stop() } }
        let spool = try TestTools.makeTemporaryDirectory("spool")
        let secret = "Bearer sk-not-a-real-key-77"
        let outcome = try await replay(
            to: collector.port,
            ["--otlp-protocol", wireProtocol, "--otlp-header", "authorization=\(secret)"],
            spool: spool
        )
        #expect(outcome.status == .exited(0))
        // The official definitions decode every item, histograms included, in both encodings.
        #expect(collector.itemsByPath == Self.everything)
        let sent = try collector.receivedBytes()
        #expect(sent.count > 1000)
        #expect(!String(decoding: sent, as: UTF8.self).contains(TestTools.contentMarker))
        #expect(collector.requests.allSatisfy { $0.headers.contains("authorization") })
        #expect(!(outcome.stdout + outcome.stderr).contains("sk-not-a-real-key"))
    }

    @Test func withNoEndpointNothingIsSentAndTheCommandSaysHowOnce() async throws {
        let outcome = try await TestTools.runCLI(
            ["replay", Self.session],
            environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": ""]
        )
        #expect(outcome.status == .exited(0))
        #expect(outcome.stderr.components(separatedBy: "OTEL_EXPORTER_OTLP_ENDPOINT").count == 2)
    }

    @Test func onlyTheChosenSignalsAreSent() async throws {
        let collector = try await StandInCollector(respond: "200")
        defer { Task { await collector.stop() } }
        let outcome = try await replay(to: collector.port, ["--signals", "logs,metrics"])
        #expect(outcome.status == .exited(0))
        #expect(collector.itemsByPath == OTLPExportTests.everything.filter { $0.key != "/v1/traces" })
    }

    @Test func aFlagBeatsTheEnvironment() async throws {
        let collector = try await StandInCollector(respond: "200")
        defer { Task { await collector.stop() } }
        let outcome = try await replay(
            to: collector.port,
            environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(freePort())"]
        )
        #expect(outcome.stderr.contains("exported 26 log records"))
        #expect(collector.requests.count == 3)
    }
}
