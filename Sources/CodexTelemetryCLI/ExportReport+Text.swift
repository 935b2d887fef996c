import Foundation
import OTLP

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
