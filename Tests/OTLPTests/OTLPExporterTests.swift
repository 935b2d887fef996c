import Foundation
import TestSupport
import Testing

@testable import OTLP
@testable import OTLPExport

/// The exporter against a scripted transport and a clock that moves only when told: backoff, `Retry-After`,
/// redirects, partial success, the spool's bound and cancellation, without real time or a network.
struct OTLPExporterTests {
    static let configuration: OTLPExporterConfiguration = {
        var configuration = OTLPExporterConfiguration(serviceName: "test")
        try! configuration.setBaseEndpoint("http://collector.invalid:4318")
        return configuration
    }()

    static let record = OTLPLogRecord(
        timeUnixNano: 1_795_000_000_000_000_000,
        observedTimeUnixNano: 1_795_000_000_000_000_000,
        eventName: "codex.turn",
        attributes: [OTLPAttribute("codex.turn.status", .string("completed"))]
    )

    static let span = OTLPSpan(
        traceID: TraceID(bytes: Array(1...16)),
        spanID: SpanID(bytes: Array(1...8)),
        parentSpanID: nil,
        name: "invoke_agent codex",
        kind: .internal,
        startTimeUnixNano: 1_795_000_000_000_000_000,
        endTimeUnixNano: 1_795_000_001_000_000_000,
        attributes: [],
        status: .unset
    )

    /// A spooled request's destination tag.
    static let destination = "0123456789abcdef"

    /// A flush deadline no test reaches unless it moves the clock there.
    static let deadline = Duration.seconds(600)

    static func spool(maximumBytes: Int = 1 << 20) throws -> DiskSpool {
        try DiskSpool(directory: TestTools.makeTemporaryDirectory("spool"), maximumBytes: maximumBytes)
    }

    /// Exports one log record (and a span, with `spans`) in the background; the task ends with the report.
    static func export(
        _ transport: ScriptedHTTPTransport,
        _ clock: TestClock,
        spool: DiskSpool?,
        spans: Bool = false,
        configuration: OTLPExporterConfiguration = configuration
    ) -> Task<ExportReport, any Error> {
        Task {
            try await OTLPExporter.withExporter(
                configuration: configuration,
                scope: OTLPScope(name: "test", version: "0"),
                spool: spool,
                flushTimeout: deadline,
                transport: transport,
                clock: clock
            ) { exporter in
                exporter.enqueue(record)
                if spans { exporter.enqueue(span) }
            }.1
        }
    }

    @Test func aRetryAfterBelowTheBackoffFloorWaitsTheFloor() async throws {
        let transport = ScriptedHTTPTransport([.status(503, ["retry-after": "0"]), .status(200)])
        let clock = TestClock()
        let export = Self.export(transport, clock, spool: try Self.spool())
        let sleeps = await clock.sleeps(atLeast: 2)
        #expect(Set(sleeps) == [Self.deadline, .milliseconds(500)])
        clock.advance(by: .milliseconds(500))
        let report = try await export.value
        #expect(transport.requests.count == 2)
        #expect(report.sent == [.logs: 1])
        #expect(report.retries == 1)
        #expect(!report.lostAnything)
    }

    @Test(arguments: [("3", Duration.seconds(3)), ("Wed, 18 Nov 2026 11:06:47 GMT", .seconds(7))])
    func retryAfterIsHonouredInBothForms(header: String, wait: Duration) async throws {
        let transport = ScriptedHTTPTransport([.status(429, ["retry-after": header]), .status(200)])
        let clock = TestClock()
        let export = Self.export(transport, clock, spool: try Self.spool())
        #expect(Set(await clock.sleeps(atLeast: 2)) == [Self.deadline, wait])
        clock.advance(by: wait)
        #expect(try await export.value.sent == [.logs: 1])
    }

    /// A gRPC collector behind a proxy that throttles (a bare HTTP 429, 502, 503 or 504, with no `grpc-status`):
    /// gRPC reads it as UNAVAILABLE, so the batch is sent again after a backoff, and delivered, not dropped.
    @Test(arguments: [429, 502, 503, 504])
    func aBareThrottlingAnswerToAGRPCCallIsRetriedNotDropped(status: Int) async throws {
        let configuration = try OTLPExporterConfiguration(serviceName: "test").applying(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector.invalid:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        ])
        let transport = ScriptedHTTPTransport([.status(status), .status(200, ["grpc-status": "0"])])
        let clock = TestClock()
        let export = Self.export(transport, clock, spool: try Self.spool(), configuration: configuration)
        let backoff = try #require(await clock.sleeps(atLeast: 2).first { $0 != Self.deadline })
        clock.advance(by: backoff)
        let report = try await export.value
        #expect(transport.requests.count == 2)
        #expect(report.sent == [.logs: 1])
        #expect(report.retries == 1 && !report.lostAnything)
    }

    @Test func repeatedFailuresBackOffExponentiallyWithJitter() async throws {
        let transport = ScriptedHTTPTransport([
            .failed("refused"), .failed("refused"), .failed("refused"), .status(200),
        ])
        let clock = TestClock()
        let export = Self.export(transport, clock, spool: try Self.spool())
        for (attempt, range) in [(0.25...0.5), (0.5...1.0), (1.0...2.0)].enumerated() {
            let sleeps = await clock.sleeps(atLeast: attempt + 2).filter { $0 != Self.deadline }
            let seconds =
                Double(sleeps[attempt].components.attoseconds) / 1e18 + Double(sleeps[attempt].components.seconds)
            #expect(range.contains(seconds), "attempt \(attempt + 1) waited \(seconds) s")
            clock.advance(by: sleeps[attempt])
        }
        let report = try await export.value
        #expect(report.retries == 3)
        #expect(report.lastRetryReason == "refused")
        #expect(report.sent == [.logs: 1])
    }

    @Test(arguments: [301, 307, 308])
    func aRedirectIsNeverFollowedAndItsBatchesWaitInTheSpool(status: Int) async throws {
        let transport = ScriptedHTTPTransport([.status(status, ["location": "http://elsewhere.invalid/v1/logs"])])
        let spool = try Self.spool()
        let report = try await Self.export(transport, TestClock(), spool: spool, spans: true).value
        // One attempt per signal, to the configured endpoint only; nothing lost, both batches kept.
        #expect(transport.requests.map(\.url.host) == ["collector.invalid", "collector.invalid"])
        #expect(report.redirectStatuses == [status])
        #expect(report.leftInSpool == [.logs: 1, .traces: 1])
        #expect(report.sent.isEmpty)
        #expect(!report.lostAnything)
    }

    @Test(arguments: [
        (#"{"partialSuccess":{"rejectedLogRecords":"99999999999","errorMessage":"\u001b[31mbad\u0007"}}"#, 1, 0),
        (#"{"partialSuccess":{"rejectedLogRecords":"-5"}}"#, 0, 1),
        (#"{"partialSuccess":{"rejectedLogRecords":1}}"#, 1, 0),
        ("not json at all", 0, 1),
    ])
    func aPartialSuccessIsClampedToTheBatch(body: String, rejected: Int, sent: Int) async throws {
        var configuration = Self.configuration
        configuration.protocols[.logs] = .json
        let transport = ScriptedHTTPTransport([.status(200, body: body)])
        let report = try await Self.export(
            transport,
            TestClock(),
            spool: try Self.spool(),
            configuration: configuration
        )
        .value
        #expect(report.partiallyRejected[.logs, default: 0] == rejected)
        #expect(report.sent[.logs, default: 0] == sent)
        // What the collector said reaches a terminal without its control characters.
        #expect(report.collectorMessages.allSatisfy { !$0.contains("\u{1B}") && !$0.contains("\u{7}") })
    }

    @Test func aRefusalIsFinalAndCountedAsLost() async throws {
        let transport = ScriptedHTTPTransport([.status(400)])
        let spool = try Self.spool()
        let report = try await Self.export(transport, TestClock(), spool: spool).value
        #expect(transport.requests.count == 1)
        #expect(report.refused == [.logs: 1])
        #expect(report.lost == [.logs: 1])
        #expect(report.leftInSpool.isEmpty)
    }

    @Test func pastItsBoundTheSpoolDropsTheOldestAndCountsIt() throws {
        let spool = try Self.spool(maximumBytes: 1)
        #expect(
            try spool.write(
                [1, 2, 3],
                signal: .logs,
                destination: Self.destination,
                wireProtocol: .protobuf,
                itemCount: 5
            ).dropped.isEmpty
        )
        #expect(
            try spool.write(
                [1, 2, 3],
                signal: .traces,
                destination: Self.destination,
                wireProtocol: .json,
                itemCount: 7
            ).dropped == [.logs: 5]
        )
        #expect(spool.list().entries.map(\.signal) == [.traces])
        var report = ExportReport()
        report.droppedBySpoolLimit = [.logs: 5]
        #expect(report.lost == [.logs: 5])
    }

    @Test func aRequestSpooledByAnEarlierReleaseIsForAnyCollector() throws {
        let spool = try Self.spool()
        let name = "01795000000000000000-42-000000-logs-3.pb"  // no destination tag
        try Data([1, 2, 3]).write(to: spool.directory.appendingPathComponent(name))
        try spool.write([4, 5, 6], signal: .logs, destination: Self.destination, wireProtocol: .protobuf, itemCount: 5)
        let entries = spool.list().entries
        #expect(entries.map(\.destination) == [nil, Self.destination])
        #expect(entries.map { $0.isFor("fedcba9876543210") } == [true, false])
        #expect(entries.map { $0.isFor(Self.destination) } == [true, true])
    }

    @Test func withoutASpoolBatchesAreSentFromMemory() async throws {
        let transport = ScriptedHTTPTransport([.status(200)])
        let report = try await Self.export(transport, TestClock(), spool: nil, spans: true).value
        #expect(report.sent == [.logs: 1, .traces: 1])
        #expect(!report.lostAnything)
    }

    @Test func whatMemoryCouldNotDeliverByTheDeadlineIsCountedAsLost() async throws {
        let transport = ScriptedHTTPTransport([.failed("down")])
        let clock = TestClock()
        let export = Self.export(transport, clock, spool: nil)
        _ = await clock.sleeps(atLeast: 2)
        clock.advance(by: Self.deadline)
        let report = try await export.value
        #expect(report.lostFromMemory == [.logs: 1])
        #expect(report.lost == [.logs: 1])
    }

    /// A quiet producer (a live session between turns): each record leaves within its signal's schedule delay,
    /// though no batch fills and the run goes on.
    @Test func aLoneRecordLeavesWithinItsScheduleDelay() async throws {
        let transport = ScriptedHTTPTransport([.status(200)])
        var configuration = Self.configuration
        configuration.scheduleDelays = [.logs: .milliseconds(50), .traces: .milliseconds(80)]
        let (paths, _) = try await OTLPExporter.withExporter(
            configuration: configuration,
            scope: OTLPScope(name: "test", version: "0"),
            spool: try Self.spool(),
            flushTimeout: Self.deadline,
            transport: transport,
            clock: TestClock()
        ) { exporter in
            // A record, then a record and a span, each awaited while the run goes on (up to 5 s).
            for (expected, withSpan) in [(1, false), (3, true)] {
                exporter.enqueue(Self.record)
                if withSpan { exporter.enqueue(Self.span) }
                for _ in 0..<500 where transport.requests.count < expected {
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            return transport.requests.map { $0.url.path }
        }
        #expect(paths == ["/v1/logs", "/v1/logs", "/v1/traces"])
    }

    /// A cancelled caller: what it handed over is still spooled and sent, and the cancellation still reaches it.
    @Test func cancellingTheCallerStillFlushes() async throws {
        let transport = ScriptedHTTPTransport([.status(200)])
        let started = AsyncStream<Void>.makeStream()
        let export = Task {
            try await OTLPExporter.withExporter(
                configuration: Self.configuration,
                scope: OTLPScope(name: "test", version: "0"),
                spool: try Self.spool(),
                flushTimeout: Self.deadline,
                transport: transport,
                clock: TestClock()
            ) { exporter in
                exporter.enqueue(Self.record)
                started.continuation.yield()
                try await Task.sleep(for: .seconds(3600))
            }
        }
        for await _ in started.stream { break }
        export.cancel()
        await #expect(throws: CancellationError.self) { try await export.value }
        #expect(transport.requests.count == 1)
    }

    @Test func aHeaderThatCannotBeSentIsRefusedBeforeAnythingIsSent() async throws {
        var configuration = Self.configuration
        configuration.headers[.logs] = ["x-key": "a\r\nInjected: yes"]
        let transport = ScriptedHTTPTransport([.status(200)])
        await #expect(throws: OTLPConfigurationError.self) {
            try await Self.export(transport, TestClock(), spool: nil, configuration: configuration).value
        }
        #expect(transport.requests.isEmpty)
    }

    @Test func requestsCarryTheConfiguredHeadersAndTheirOwnFraming() async throws {
        var configuration = Self.configuration
        configuration.headers[.logs] = ["authorization": "Bearer x", "user-agent": "mine"]
        configuration.compressions[.logs] = .gzip
        let transport = ScriptedHTTPTransport([.status(200)])
        _ = try await Self.export(transport, TestClock(), spool: nil, configuration: configuration).value
        let headers = try #require(transport.requests.first).headers.map { "\($0.name.lowercased())=\($0.value)" }
        #expect(
            headers.sorted() == [
                "authorization=Bearer x", "content-encoding=gzip", "content-type=application/x-protobuf",
                "user-agent=mine",
            ]
        )
    }
}
