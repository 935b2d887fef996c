public import CodexTelemetry
public import Foundation
public import OTLP
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

    public init(
        configuration: OTLPExporterConfiguration,
        spoolDirectory: URL,
        flushTimeout: Duration = .seconds(10),
        parent: TraceContext? = nil
    ) {
        self.configuration = configuration
        self.spoolDirectory = spoolDirectory
        self.flushTimeout = flushTimeout
        self.parent = parent
    }
}

/// Sends telemetry events over OTLP as log records, spans and metrics: the one path live runs and replays share.
public final class TelemetryExport: Sendable {
    private let exporter: OTLPExporter
    private let mapping: Mutex<OpenTelemetryMapping>

    private init(exporter: OTLPExporter, settings: ExportSettings) {
        self.exporter = exporter
        mapping = Mutex(OpenTelemetryMapping(temporality: settings.configuration.temporality, parent: settings.parent))
    }

    /// Runs `body` with an export, sending the metrics every `metricExportInterval` and once more at the end, then
    /// flushes (bounded by the settings' flush timeout).
    ///
    /// - Returns: what `body` returned, and what the exporter sent, refused and left in the spool.
    /// - Throws: `OTLPConfigurationError` when the spool cannot be created.
    public static func withExport<Result: Sendable>(
        _ settings: ExportSettings,
        _ body: (TelemetryExport) async -> Result
    ) async throws -> (Result, ExportReport) {
        let spool = try DiskSpool(directory: settings.spoolDirectory, maximumBytes: 256 << 20)
        let scope = OTLPScope(name: "codex-telemetry", version: CodexHarness.version)
        return try await OTLPExporter.withExporter(
            configuration: settings.configuration,
            scope: scope,
            spool: spool,
            flushTimeout: settings.flushTimeout
        ) { exporter in
            let export = TelemetryExport(exporter: exporter, settings: settings)
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
    }

    /// Exports one event: its log record and span now, its measurements with the metrics at the end.
    public func record(_ event: TelemetryEvent) {
        let (log, span) = mapping.withLock { $0.map(event) }
        exporter.enqueue(log)
        exporter.enqueue(span)
    }

    private func sendMetrics() {
        exporter.enqueue(mapping.withLock { $0.metrics.collect() })
    }
}
