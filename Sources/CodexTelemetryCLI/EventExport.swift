import CodexTelemetry
import Foundation
import OTLP

/// Feeds events to an exporter as log records, spans and metrics.
struct EventExport {
    let exporter: OTLPExporter
    let signals: Set<OTLPSignal>
    private var mapping: OpenTelemetryMapping

    init(exporter: OTLPExporter, configuration: OTLPExporterConfiguration) {
        self.exporter = exporter
        signals = configuration.signals
        mapping = OpenTelemetryMapping(temporality: configuration.temporality)
    }

    mutating func export(_ event: TelemetryEvent) {
        let (log, span) = mapping.map(event)
        if signals.contains(.logs) { exporter.enqueue(log) }
        if signals.contains(.traces) { exporter.enqueue(span) }
    }

    /// Sends the metrics aggregated so far.
    mutating func finish() {
        if signals.contains(.metrics) { exporter.enqueue(mapping.metrics.collect()) }
    }
}

extension ExportReport {
    /// One or a few lines for stderr. Names no URL and no header: either may carry a secret.
    func text(spoolDirectory: URL) -> String {
        func counts(_ bySignal: [OTLPSignal: Int]) -> String {
            OTLPSignal.allCases.compactMap { signal in
                bySignal[signal].map { "\($0) \(signal.itemName)" }
            }.joined(separator: ", ")
        }
        var lines = [
            "exported \(sent.isEmpty ? "nothing" : counts(sent)) in \(requests) request\(requests == 1 ? "" : "s")"
        ]
        if !refused.isEmpty {
            let statuses = refusalStatuses.sorted().map { "HTTP \($0)" }.joined(separator: ", ")
            lines.append("the collector refused \(counts(refused)) (\(statuses)); not retried")
        }
        if !partiallyRejected.isEmpty {
            let why = collectorMessages.sorted().joined(separator: "; ")
            lines.append("the collector rejected \(counts(partiallyRejected))\(why.isEmpty ? "" : ": \(why)")")
        }
        if droppedBySpoolLimit > 0 { lines.append("\(droppedBySpoolLimit) items were dropped: the spool was full") }
        if !unspooled.isEmpty { lines.append("could not write to the spool: \(counts(unspooled)) lost") }
        if !leftInSpool.isEmpty {
            let reason = lastRetryReason.map { " (last attempt: \($0))" } ?? ""
            lines.append(
                "not yet sent\(reason): \(counts(leftInSpool)), \(leftInSpoolBytes / 1024 + 1) KiB, kept in "
                    + "\(spoolDirectory.path); the next run sends them"
            )
        }
        return lines.joined(separator: "\n")
    }
}

extension OTLPSignal {
    var itemName: String {
        switch self {
        case .logs: "log records"
        case .traces: "spans"
        case .metrics: "metric points"
        }
    }
}
