import CodexReplay
import FoundationEssentials
import OTLP
import OTLPExport

extension ExportReport {
    /// A few lines for stderr: what was sent, lost, and left for the next run. Names no URL and no header: either
    /// may carry a secret.
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
            lines.append(
                "the collector refused \(counts(refused)) (\(refusals.sorted().joined(separator: ", "))); not retried"
            )
        }
        if !partiallyRejected.isEmpty {
            let why = collectorMessages.sorted().joined(separator: "; ")
            lines.append("the collector rejected \(counts(partiallyRejected))\(why.isEmpty ? "" : ": \(why)")")
        }
        if !redirectStatuses.isEmpty {
            let statuses = redirectStatuses.sorted().map { "HTTP \($0)" }.joined(separator: ", ")
            lines.append(
                "the collector answered with a redirect (\(statuses)), which is never followed: set the endpoint to "
                    + "the collector's own address"
            )
        }
        if !droppedBySpoolLimit.isEmpty { lines.append("the spool was full: \(counts(droppedBySpoolLimit)) dropped") }
        if let spoolFailure {
            lines.append("\(spoolFailure); batches were sent from memory instead")
        }
        if !lostFromMemory.isEmpty {
            lines.append("not delivered from memory before the end: \(counts(lostFromMemory))")
        }
        if !leftInSpool.isEmpty {
            let reason = lastRetryReason.map { " (last attempt: \($0))" } ?? ""
            lines.append(
                "not yet sent\(reason): \(counts(leftInSpool)), \(leftInSpoolBytes / 1024 + 1) KiB, kept in "
                    + "\(spoolDirectory.path); the next run sends them"
            )
        }
        if ignoredSpoolEntries > 0 {
            lines.append(
                "\(ignoredSpoolEntries) entr\(ignoredSpoolEntries == 1 ? "y" : "ies") in the spool "
                    + "\(ignoredSpoolEntries == 1 ? "is" : "are") not a request of ours (a link, a pipe, a stray file) "
                    + "and \(ignoredSpoolEntries == 1 ? "was" : "were") left alone"
            )
        }
        if requestsForOtherCollectors > 0 {
            let count = requestsForOtherCollectors
            lines.append(
                "\(count) request\(count == 1 ? "" : "s") in the spool \(count == 1 ? "is" : "are") for another "
                    + "collector than this run's, and wait\(count == 1 ? "s" : "") for a run that sends there"
            )
        }
        if lostAnything { lines.append("telemetry lost: \(counts(lost))") }
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
