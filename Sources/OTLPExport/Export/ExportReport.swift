public import OTLP
import SaturatingArithmetic

/// What an exporter did: counts of items (log records, spans, metric points) by signal.
///
/// Every item handed to the exporter ends in exactly one place: `sent`, `leftInSpool` (for a later run), or one of
/// the ways it can be lost, which `lost` sums.
public struct ExportReport: Sendable, Hashable {
    /// Items the collector accepted.
    public var sent: [OTLPSignal: Int] = [:]
    /// Items the collector refused for good (a 4xx other than 429, a 5xx or a gRPC status not retried): lost.
    public var refused: [OTLPSignal: Int] = [:]
    /// The statuses of those refusals: `HTTP 400`, `gRPC INVALID_ARGUMENT`.
    public var refusals: Set<String> = []
    /// Items a collector accepted the request of but rejected (partial success): lost.
    public var partiallyRejected: [OTLPSignal: Int] = [:]
    /// What the collector said about rejected items, without control characters.
    public var collectorMessages: Set<String> = []
    /// The redirects met. A redirect is never followed; that signal was not sent again in the run, and its
    /// requests wait in the spool.
    public var redirectStatuses: Set<Int> = []
    /// Items still waiting in the spool, for the next run.
    public var leftInSpool: [OTLPSignal: Int] = [:]
    public var leftInSpoolBytes = 0
    /// Items dropped because the spool was full: lost.
    public var droppedBySpoolLimit: [OTLPSignal: Int] = [:]
    /// Why the spool could not take a batch, if it could not: such batches were sent from memory.
    public var spoolFailure: String?
    /// Items the spool could not take that were not delivered from memory before the end (or were dropped to keep
    /// memory bounded): lost.
    public var lostFromMemory: [OTLPSignal: Int] = [:]
    /// Entries in the spool that were not requests it wrote (links, pipes, other users' files): left alone.
    public var ignoredSpoolEntries = 0
    /// Requests in the spool for another collector than this run's (a run with another endpoint shares the spool):
    /// left for a run that sends there. Not items of this run.
    public var requestsForOtherCollectors = 0
    public var requests = 0
    public var retries = 0
    public var lastRetryReason: String?

    public init() {}

    /// Items neither delivered nor kept for a later run, by signal.
    public var lost: [OTLPSignal: Int] {
        [refused, partiallyRejected, droppedBySpoolLimit, lostFromMemory].reduce(into: [:]) { total, counts in
            total.merge(counts) { $0.addingSaturated($1) }
        }
    }

    /// Whether anything handed over was lost.
    public var lostAnything: Bool { lost.values.contains { $0 > 0 } }
}
