public import CodexTelemetry
import DescriptorIO
public import FoundationEssentials
public import OTLP
public import OTLPExport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where and how events are exported: over OTLP, to the console, and to a scraper.
public struct ExportSettings: Sendable {
    /// OTLP: the signals it sends, and where (none without an endpoint).
    public var configuration: OTLPExporterConfiguration
    /// Where batches wait until the collector takes them.
    public var spoolDirectory: URL
    /// How long the end of a run may wait for the collector; what is left stays in the spool.
    public var flushTimeout: Duration
    /// A harness's W3C trace context: the `invoke_agent` spans become children of its span.
    public var parent: TraceContext?
    /// The names the metrics go by: the GenAI conventions' (the default), Codex's own, or both.
    public var metricNames: MetricNames
    /// The signals also written to standard error, a line a record, as a person reads them.
    public var console: Set<OTLPSignal>
    /// Where a scraper reads the metrics (Prometheus' text format at `/metrics`) while the export runs.
    public var scrape: ScrapeAddress?

    public init(
        configuration: OTLPExporterConfiguration,
        spoolDirectory: URL,
        flushTimeout: Duration = .seconds(10),
        parent: TraceContext? = nil,
        metricNames: MetricNames = .genai,
        console: Set<OTLPSignal> = [],
        scrape: ScrapeAddress? = nil
    ) {
        self.configuration = configuration
        self.spoolDirectory = spoolDirectory
        self.flushTimeout = flushTimeout
        self.parent = parent
        self.metricNames = metricNames
        self.console = console
        self.scrape = scrape
    }

    /// Whether anything goes anywhere.
    public var exportsAnything: Bool { configuration.hasEndpoint || !console.isEmpty || scrape != nil }

    /// Whether metrics are sent as they go (OTLP, the console); a scrape reads them itself.
    var pushesMetrics: Bool { configuration.sends(.metrics) || console.contains(.metrics) }
}

/// Sends telemetry events as log records, spans and metrics, over OTLP, to the console and to a scraper: the one
/// path live runs and replays share.
public final class TelemetryExport: Sendable {
    private let exporter: OTLPExporter?
    private let mapping: SharedMapping
    private let parent: TraceContext?
    private let console: Set<OTLPSignal>
    private let pushesMetrics: Bool

    private init(exporter: OTLPExporter?, mapping: SharedMapping, settings: ExportSettings) {
        self.exporter = exporter
        self.mapping = mapping
        parent = settings.parent
        console = settings.console
        pushesMetrics = settings.pushesMetrics
    }

    /// Runs `body` with an export, sending the metrics every `metricExportInterval` and once more at the end, then
    /// flushes (bounded by the settings' flush timeout). With `atCheckpoints`, nothing becomes sendable, metrics
    /// included, except at `checkpoint`: for a reader that keeps a cursor, and reads again what it did not commit.
    /// A scraper reads the metrics so far, at any time, from the moment this starts until it returns.
    ///
    /// A spool that cannot be created or written is not fatal: batches are then held in memory and sent from
    /// there, and the report says so and counts what was not delivered.
    ///
    /// - Returns: what `body` returned, and what the exporter sent, refused, lost and left in the spool (nothing,
    ///   without OTLP).
    /// - Throws: `SpoolError` with code `.insecure` when the spool directory is not safe to use (a link, someone
    ///   else's, writable by others); `OTLPConfigurationError` when a configured header cannot be sent;
    ///   `ScrapeEndpointError` when the scrape address cannot be listened on.
    public static func withExport<Result: Sendable>(
        _ settings: ExportSettings,
        atCheckpoints: Bool = false,
        _ body: (TelemetryExport) async -> Result
    ) async throws -> (Result, ExportReport) {
        let temporality = settings.configuration.temporality ?? settings.metricNames.defaultTemporality
        var initial = OpenTelemetryMapping(
            temporality: temporality,
            parent: settings.parent,
            metricNames: settings.metricNames
        )
        if settings.scrape != nil {
            // What a scrape reads is the totals since the start: kept beside the changes only when those are pushed.
            initial.metrics =
                settings.pushesMetrics
                ? MetricAggregator(temporality: temporality, keepingTotals: true)
                : MetricAggregator(temporality: .cumulative)
        }
        let mapping = SharedMapping(initial)
        let scope = OTLPScope(name: "codex-telemetry", version: CodexHarness.version)
        let endpoint = try settings.scrape.map { address throws(ScrapeEndpointError) in
            let resource = settings.configuration.resource
            return try ScrapeEndpoint(address, contentType: PrometheusExposition.contentType) {
                PrometheusExposition.text(
                    mapping.state.withLock { $0.metrics.totals() },
                    resource: resource,
                    scope: scope
                )
            }
        }
        defer { endpoint?.stop() }
        guard settings.configuration.hasEndpoint else {
            let export = TelemetryExport(exporter: nil, mapping: mapping, settings: settings)
            return (await export.run(atCheckpoints: atCheckpoints, settings, body), ExportReport())
        }
        let opened = Swift.Result { () throws(SpoolError) in
            try DiskSpool(directory: settings.spoolDirectory, maximumBytes: DiskSpool.standardMaximumBytes)
        }
        if case .failure(let error) = opened, error.code == .insecure { throw error }
        let (result, exported) = try await OTLPExporter.withExporter(
            configuration: settings.configuration,
            scope: scope,
            spool: try? opened.get(),
            flushTimeout: settings.flushTimeout,
            batching: atCheckpoints ? .atCheckpoints() : OTLPExporter.Batching()
        ) { exporter in
            await TelemetryExport(exporter: exporter, mapping: mapping, settings: settings)
                .run(atCheckpoints: atCheckpoints, settings, body)
        }
        var report = exported
        if case .failure(let error) = opened { report.spoolFailure = report.spoolFailure ?? error.message }
        return (result, report)
    }

    /// `body`, and the metrics sent as it runs and at its end; or, at checkpoints, only at checkpoints.
    private func run<Result: Sendable>(
        atCheckpoints: Bool,
        _ settings: ExportSettings,
        _ body: (TelemetryExport) async -> Result
    ) async -> Result {
        guard !atCheckpoints, pushesMetrics else { return await body(self) }
        // A long run (a proxy in front of an IDE) sends its metrics as it goes, not only at its end.
        let interval = settings.configuration.metricExportInterval
        let periodic = Task {
            while (try? await Task.sleep(for: interval)) != nil { self.sendMetrics() }
        }
        let result = await body(self)
        periodic.cancel()
        sendMetrics()
        return result
    }

    /// A trace position for a turn about to start, to hand to Codex with its `turn/start`: in the harness's trace
    /// when it gave one, else in a new one. `assign` it to the turn once its id is known.
    public func positionForNextTurn() -> TraceContext {
        var random = SystemRandomNumberGenerator()
        let trace = parent?.traceID ?? TraceID(bytes: (0..<16).map { _ in UInt8.random(in: 0...255, using: &random) })
        let span = SpanID(bytes: withUnsafeBytes(of: random.next() | 1) { Array($0) })
        return TraceContext(traceID: trace, parentSpanID: span)
    }

    /// Gives the turn the position handed to Codex when it was started: its span, and Codex's own under it.
    public func assign(_ position: TraceContext, toTurn turnID: String, ofThread threadID: String) {
        mapping.state.withLock { $0.assign(position, toTurn: turnID, ofThread: threadID) }
    }

    /// Exports one event: its log record and span now, its measurements with the metrics at the end.
    public func record(_ event: TelemetryEvent) {
        let (log, span) = mapping.state.withLock { $0.map(event) }
        exporter?.enqueue(log)
        if console.contains(.logs) { Self.write([ConsoleText.line(log)]) }
        guard let span else { return }
        exporter?.enqueue(span)
        if console.contains(.traces) { Self.write([ConsoleText.line(span)]) }
    }

    /// Makes what was recorded since the last checkpoint sendable, with the metrics so far, once `commit` has
    /// recorded how far the caller read and the staged requests' names (see `OTLPExporter.checkpoint`).
    public func checkpoint(_ commit: ([String]) throws -> Void) rethrows {
        let metrics = pushesMetrics ? mapping.state.withLock { $0.metrics.collect() } : []
        if let exporter {
            try exporter.checkpoint(including: metrics, commit)
        } else {
            try commit([])
        }
        if console.contains(.metrics) { Self.write(ConsoleText.lines(metrics)) }
    }

    /// Bounds the flush at the end to `limit`: for a process asked to stop, which a client kills soon after. What
    /// is not sent by then stays in the spool for the next run.
    public func limitFlush(to limit: Duration) {
        exporter?.limitFlush(to: limit)
    }

    private func sendMetrics() {
        let metrics = mapping.state.withLock { $0.metrics.collect() }
        exporter?.enqueue(metrics)
        if console.contains(.metrics) { Self.write(ConsoleText.lines(metrics)) }
    }

    /// The console: standard error, a whole line at a time, lines of concurrent writers never mixed.
    private static func write(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        let text = Array(lines.map { $0 + "\n" }.joined().utf8)
        consoleLock.withLock { _ in text.withUnsafeBytes { _ = writeAll($0, to: STDERR_FILENO) } }
    }

    private static let consoleLock = Mutex(())
}

/// The mapping, shared by the export and a scraper reading its metrics.
private final class SharedMapping: Sendable {
    let state: Mutex<OpenTelemetryMapping>
    init(_ mapping: OpenTelemetryMapping) { state = Mutex(mapping) }
}
