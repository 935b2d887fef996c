public import CodexTelemetry
public import FoundationEssentials
public import OTLP
public import OTLPExport
import Synchronization

/// Where and how events are exported, beyond the OTLP configuration itself.
public struct ExportSettings: Sendable {
    public var configuration: OTLPExporterConfiguration
    /// Where batches wait until the collector takes them.
    public var spoolDirectory: URL
    /// How long the end of a run may wait for the collector; what is left stays in the spool.
    public var flushTimeout: Duration
    /// A harness's W3C trace context: the `invoke_agent` spans become children of its span.
    public var parent: TraceContext?
    /// The names the metrics go by: the GenAI conventions' (the default), Codex's own, or both.
    public var metricNames: MetricNames

    public init(
        configuration: OTLPExporterConfiguration,
        spoolDirectory: URL,
        flushTimeout: Duration = .seconds(10),
        parent: TraceContext? = nil,
        metricNames: MetricNames = .genai
    ) {
        self.configuration = configuration
        self.spoolDirectory = spoolDirectory
        self.flushTimeout = flushTimeout
        self.parent = parent
        self.metricNames = metricNames
    }
}

/// Sends telemetry events over OTLP as log records, spans and metrics: the one path live runs and replays share.
public final class TelemetryExport: Sendable {
    private let exporter: OTLPExporter
    private let mapping: Mutex<OpenTelemetryMapping>
    private let parent: TraceContext?

    private init(exporter: OTLPExporter, settings: ExportSettings) {
        self.exporter = exporter
        parent = settings.parent
        let temporality = settings.configuration.temporality ?? settings.metricNames.defaultTemporality
        mapping = Mutex(
            OpenTelemetryMapping(temporality: temporality, parent: settings.parent, metricNames: settings.metricNames)
        )
    }

    /// Runs `body` with an export, sending the metrics every `metricExportInterval` and once more at the end, then
    /// flushes (bounded by the settings' flush timeout). With `atCheckpoints`, nothing becomes sendable, metrics
    /// included, except at `checkpoint`: for a reader that keeps a cursor, and reads again what it did not commit.
    ///
    /// A spool that cannot be created or written is not fatal: batches are then held in memory and sent from
    /// there, and the report says so and counts what was not delivered.
    ///
    /// - Returns: what `body` returned, and what the exporter sent, refused, lost and left in the spool.
    /// - Throws: `SpoolError` with code `.insecure` when the spool directory is not safe to use (a link, someone
    ///   else's, writable by others); `OTLPConfigurationError` when a configured header cannot be sent.
    public static func withExport<Result: Sendable>(
        _ settings: ExportSettings,
        atCheckpoints: Bool = false,
        _ body: (TelemetryExport) async -> Result
    ) async throws -> (Result, ExportReport) {
        let opened = Swift.Result { () throws(SpoolError) in
            try DiskSpool(directory: settings.spoolDirectory, maximumBytes: DiskSpool.standardMaximumBytes)
        }
        if case .failure(let error) = opened, error.code == .insecure { throw error }
        let spool = try? opened.get()
        let scope = OTLPScope(name: "codex-telemetry", version: CodexHarness.version)
        let (result, exported) = try await OTLPExporter.withExporter(
            configuration: settings.configuration,
            scope: scope,
            spool: spool,
            flushTimeout: settings.flushTimeout,
            batching: atCheckpoints ? .atCheckpoints() : OTLPExporter.Batching()
        ) { exporter in
            let export = TelemetryExport(exporter: exporter, settings: settings)
            guard !atCheckpoints else { return await body(export) }
            // A long run (a proxy in front of an IDE) sends its metrics as it goes, not only at its end.
            let interval = settings.configuration.metricExportInterval
            let periodic = Task {
                while (try? await Task.sleep(for: interval)) != nil { export.sendMetrics() }
            }
            let result = await body(export)
            periodic.cancel()
            export.sendMetrics()
            return result
        }
        var report = exported
        if case .failure(let error) = opened { report.spoolFailure = report.spoolFailure ?? error.message }
        return (result, report)
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
        mapping.withLock { $0.assign(position, toTurn: turnID, ofThread: threadID) }
    }

    /// Exports one event: its log record and span now, its measurements with the metrics at the end.
    public func record(_ event: TelemetryEvent) {
        let (log, span) = mapping.withLock { $0.map(event) }
        exporter.enqueue(log)
        if let span { exporter.enqueue(span) }
    }

    /// Makes what was recorded since the last checkpoint sendable, with the metrics so far, once `commit` has
    /// recorded how far the caller read and the staged requests' names (see `OTLPExporter.checkpoint`).
    public func checkpoint(_ commit: ([String]) throws -> Void) rethrows {
        try exporter.checkpoint(including: mapping.withLock { $0.metrics.collect() }, commit)
    }

    /// Bounds the flush at the end to `limit`: for a process asked to stop, which a client kills soon after. What
    /// is not sent by then stays in the spool for the next run.
    public func limitFlush(to limit: Duration) {
        exporter.limitFlush(to: limit)
    }

    private func sendMetrics() {
        exporter.enqueue(mapping.withLock { $0.metrics.collect() })
    }
}
