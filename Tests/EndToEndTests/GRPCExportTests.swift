import Foundation
import JSONRPC
import TestSupport
import Testing

/// OTLP/gRPC against a gRPC server made to misbehave (grpcio's own, and a bare HTTP/2 one that resets streams):
/// each status is retried or dropped as the OTLP specification says, a `RetryInfo` is waited for, and what is not
/// delivered is kept in the spool or reported lost, as over HTTP.
@Suite(.serialized)
struct GRPCExportTests {
    static let session = OTLPExportTests.session

    /// The bundled session replayed over gRPC, as the fault tests replay it over HTTP.
    func replay(
        to collector: StandInCollector,
        spool: URL,
        _ extra: [String] = [],
        environment: [String: String] = [:]
    ) async throws -> CommandOutcome {
        try await ExportFaultTests().replay(
            to: collector.port,
            spool: spool,
            ["--otlp-protocol", "grpc"] + extra,
            environment: environment
        )
    }

    /// Calls whose answer was `ok` or `partial`, by signal: what the collector took.
    static func taken(_ collector: StandInCollector) -> [String: Int] {
        collector.requests.filter { ["ok", "partial"].contains($0.status) }.reduce(into: [:]) {
            $0[$1.path, default: 0] += $1.items
        }
    }

    @Test(arguments: ["unavailable", "trailers-only"])
    func aRetryableStatusIsRetriedAndNothingIsLost(answer: String) async throws {
        let collector = try await StandInCollector(respond: "\(answer),ok", grpc: true)
        defer { Task { await collector.stop() } }
        let spool = try TestTools.makeTemporaryDirectory("spool")
        let outcome = try await replay(to: collector, spool: spool)
        #expect(outcome.status == .exited(0))
        #expect(outcome.stderr.contains("exported \(OTLPExportTests.counted()) in 3 requests"))
        #expect(collector.requests.first?.status == answer)
        #expect(Self.taken(collector) == OTLPExportTests.everything)
        #expect(try ExportFaultTests.files(in: spool).isEmpty)
    }

    @Test func resourceExhaustedWithRetryInfoIsRetriedAfterTheWaitItAsks() async throws {
        let collector = try await StandInCollector(respond: "exhausted,ok", retryAfter: 2, grpc: true)
        defer { Task { await collector.stop() } }
        let outcome = try await replay(to: collector, spool: try TestTools.makeTemporaryDirectory("spool"))
        #expect(outcome.status == .exited(0))
        #expect(Self.taken(collector) == OTLPExportTests.everything)
        let requests = collector.requests
        let (first, second) = (try #require(requests.first?.time), try #require(requests.dropFirst().first?.time))
        // Our own backoff would have waited at most half a second.
        #expect(second - first >= 1.9, "retried after \(second - first) s")
    }

    @Test(arguments: [("exhausted-bare", "RESOURCE_EXHAUSTED"), ("invalid", "INVALID_ARGUMENT")])
    func aStatusTheSpecificationDoesNotRetryIsDroppedAndReportedLost(answer: String, name: String) async throws {
        let collector = try await StandInCollector(respond: answer, grpc: true)
        defer { Task { await collector.stop() } }
        let spool = try TestTools.makeTemporaryDirectory("spool")
        let outcome = try await replay(to: collector, spool: spool)
        #expect(outcome.status != .exited(0))
        #expect(
            outcome.stderr.contains(
                "the collector refused \(OTLPExportTests.counted()) (gRPC \(name)); not retried"
            )
        )
        #expect(collector.requests.count == 3)
        #expect(try ExportFaultTests.files(in: spool).isEmpty)
    }

    @Test func aPartialSuccessIsReadAndReportedAsLost() async throws {
        let collector = try await StandInCollector(respond: "partial", grpc: true)
        defer { Task { await collector.stop() } }
        let outcome = try await replay(to: collector, spool: try TestTools.makeTemporaryDirectory("spool"))
        #expect(outcome.stderr.contains("exported \(OTLPExportTests.counted(less: 1)) in 3 requests"))
        #expect(outcome.stderr.contains("the collector rejected 1 log records, 1 spans, 1 metric points: one item is"))
    }

    /// A stream reset and a server that takes the call and never answers: no answer is a retry, and at the end of
    /// the flush everything waits in the spool, none of it lost; the run ends on time.
    @Test(arguments: ["reset", "hang"])
    func noAnswerIsRetriedAndTheBatchesWaitInTheSpool(answer: String) async throws {
        let collector = try await StandInCollector(respond: answer, grpc: true)
        defer { Task { await collector.stop() } }
        let spool = try TestTools.makeTemporaryDirectory("spool")
        let outcome = try await replay(
            to: collector,
            spool: spool,
            ["--flush-timeout", "3"],
            environment: ["OTEL_EXPORTER_OTLP_TIMEOUT": "1000"]
        )
        #expect(outcome.status == .exited(0))
        #expect(outcome.stderr.contains("not yet sent"))
        #expect(outcome.stderr.contains("\(OTLPExportTests.counted())"))
        #expect(!outcome.stderr.contains("lost"))
        #expect(collector.requests.count >= 2)
        #expect(try ExportFaultTests.files(in: spool).count == 3)
    }

    /// Over TLS, HTTP/2 is agreed by ALPN: delivered to a collector whose certificate is trusted, and to no other.
    @Test func overHTTPSTheCallsGoByALPNToATrustedCollectorOnly() async throws {
        let collector = try await StandInCollector(respond: "ok", tls: true, grpc: true)
        defer { Task { await collector.stop() } }
        let certificate = try #require(collector.certificate)
        let arguments = [
            "replay", Self.session, "--otlp-endpoint", "https://127.0.0.1:\(collector.port)", "--otlp-protocol", "grpc",
        ]
        let untrusted = try await TestTools.runCLI(
            arguments + ["--spool-dir", try TestTools.makeTemporaryDirectory("spool").path, "--flush-timeout", "1"]
        )
        #expect(untrusted.stderr.contains("not yet sent"))
        #expect(collector.requests.isEmpty)
        let outcome = try await TestTools.runCLI(
            arguments + ["--spool-dir", try TestTools.makeTemporaryDirectory("spool").path],
            environment: ["OTEL_EXPORTER_OTLP_CERTIFICATE": certificate]
        )
        #expect(outcome.status == .exited(0), "\(outcome.stderr)")
        #expect(Self.taken(collector) == OTLPExportTests.everything)
    }

    /// What waits in the spool for a gRPC collector goes there, whole, on the next run: the spool and its
    /// accounting are the same as over HTTP.
    @Test func whatWaitedInTheSpoolIsSentByTheNextRun() async throws {
        let port = freePort()
        let spool = try TestTools.makeTemporaryDirectory("spool")
        let down = try await TestTools.runCLI(
            [
                "replay", Self.session, "--otlp-endpoint", "http://127.0.0.1:\(port)", "--otlp-protocol", "grpc",
                "--spool-dir", spool.path, "--flush-timeout", "1",
            ]
        )
        #expect(down.stderr.contains("not yet sent"))
        let collector = try await StandInCollector(respond: "ok", grpc: true, port: port)
        defer { Task { await collector.stop() } }
        let empty = try TestTools.makeTemporaryDirectory("empty")
        let outcome = try await TestTools.runCLI(
            [
                "replay", empty.path, "--otlp-endpoint", "http://127.0.0.1:\(port)", "--otlp-protocol", "grpc",
                "--spool-dir", spool.path,
            ]
        )
        #expect(outcome.status == .exited(0))
        #expect(Self.taken(collector) == OTLPExportTests.everything)
        #expect(try ExportFaultTests.files(in: spool).isEmpty)
    }
}
