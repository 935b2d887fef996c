import SaturatingArithmetic

/// Totals per group (model, day, thread or source) over a set of events: what a person wants to know after a run
/// or of a backfill.
public struct UsageSummary: Sendable, Hashable {
    /// What the totals are kept by.
    public enum Grouping: String, Sendable, Hashable, CaseIterable {
        /// The model (`unknown` for turns whose model was never announced).
        case model
        /// The UTC day the turn or call started, `YYYY-MM-DD`.
        case day
        /// The thread (a sub-agent's is its own; `runs` rolls them up to their root).
        case thread
        /// Where the session came from: `cli`, `vscode`, `exec`, `appServer`, `subAgent`, … (`unknown` if not said).
        case source
    }

    /// The totals of one group.
    public struct Totals: Sendable, Hashable {
        public var turns = 0
        public var turnsByStatus: [String: Int] = [:]
        public var llmCalls = 0
        public var toolCalls = 0
        public var inputTokens: Int64 = 0
        public var cachedInputTokens: Int64 = 0
        public var outputTokens: Int64 = 0
        public var reasoningOutputTokens: Int64 = 0
        /// The summed cost, or `nil` if any call of the model could not be priced.
        public var costUSD: Double? = 0

        public init() {}
    }

    /// What one run cost: a root thread's turns with those of the sub-agents it spawned, at any depth.
    public struct RunTotals: Sendable, Hashable {
        public var turns = 0
        /// The turns of the run's sub-agents, and their threads.
        public var subAgentTurns = 0
        public var subAgentThreads = 0
        public var tokens: Int64 = 0
        /// The summed cost, or `nil` if any turn could not be priced.
        public var costUSD: Double? = 0

        public init() {}
    }

    public let grouping: Grouping
    /// Totals keyed by the group's name; past `maximumGroups`, further groups are added up under `other`.
    public private(set) var groups: [String: Totals] = [:]
    /// How many groups are kept apart, so memory stays bounded whatever the backfill.
    public static let maximumGroups = 4096
    /// Totals keyed by the run's root thread, for the first `maximumRuns` runs seen.
    public private(set) var runs: [String: RunTotals] = [:]
    /// Turns of runs seen after `maximumRuns` runs: in the model totals, not itemised.
    public private(set) var turnsNotItemised = 0
    /// How many runs are itemised; the rest are only counted, so memory stays bounded.
    public static let maximumRuns = 4096
    private var subAgentThreadsSeen = RecentThreads()

    /// The totals over every group; the cost is `nil` if any group's is.
    public var overall: Totals {
        groups.values.reduce(into: Totals()) { sum, next in
            sum.turns += next.turns
            sum.turnsByStatus.merge(next.turnsByStatus, uniquingKeysWith: +)
            sum.llmCalls += next.llmCalls
            sum.toolCalls = sum.toolCalls.addingSaturated(next.toolCalls)
            sum.inputTokens = sum.inputTokens.addingSaturated(next.inputTokens)
            sum.cachedInputTokens = sum.cachedInputTokens.addingSaturated(next.cachedInputTokens)
            sum.outputTokens = sum.outputTokens.addingSaturated(next.outputTokens)
            sum.reasoningOutputTokens = sum.reasoningOutputTokens.addingSaturated(next.reasoningOutputTokens)
            sum.costUSD = sum.costUSD.flatMap { total in next.costUSD.map { total + $0 } }
        }
    }

    public init(groupingBy grouping: Grouping = .model) {
        self.grouping = grouping
    }

    /// Adds an event to the totals. Tool calls are counted through their turn's total.
    public mutating func add(_ event: TelemetryEvent) {
        guard event.name == .turn || event.name == .llmCall else { return }
        if event.name == .turn { addToRun(event) }
        var group = groupName(of: event)
        if groups[group] == nil, groups.count >= Self.maximumGroups { group = "other" }
        var totals = groups[group, default: Totals()]
        switch event.name {
        case .turn:
            totals.turns += 1
            if case .string(let status) = event[.turnStatus] { totals.turnsByStatus[status, default: 0] += 1 }
            totals.toolCalls = totals.toolCalls.addingSaturated(Int(event[.toolCallCount]?.integer ?? 0))
        case .llmCall:
            totals.llmCalls += 1
            totals.inputTokens = totals.inputTokens.addingSaturated(event[.inputTokens]?.integer ?? 0)
            totals.cachedInputTokens = totals.cachedInputTokens.addingSaturated(
                event[.cacheReadInputTokens]?.integer ?? 0
            )
            totals.outputTokens = totals.outputTokens.addingSaturated(event[.outputTokens]?.integer ?? 0)
            totals.reasoningOutputTokens = totals.reasoningOutputTokens.addingSaturated(
                event[.reasoningOutputTokens]?.integer ?? 0
            )
            if case .double(let cost) = event[.costUSD] {
                totals.costUSD? += cost
            } else {
                totals.costUSD = nil
            }
        case .toolCall, .compaction, .rateLimit, .hookRun:
            return
        }
        groups[group] = totals
    }

    private func groupName(of event: TelemetryEvent) -> String {
        switch grouping {
        case .model: event[.requestModel]?.text ?? "unknown"
        case .day: utcDay(unixNanoseconds: event.startTimeUnixNano)
        case .thread: event[.conversationID]?.text ?? "unknown"
        case .source: event[.sessionSource]?.text ?? "unknown"
        }
    }

    private mutating func addToRun(_ event: TelemetryEvent) {
        guard case .string(let thread) = event[.conversationID] else { return }
        let root = event[.rootThreadID]?.text ?? thread
        guard runs[root] != nil || runs.count < Self.maximumRuns else {
            turnsNotItemised += 1
            return
        }
        var run = runs[root, default: RunTotals()]
        run.turns += 1
        if root != thread {
            run.subAgentTurns += 1
            if subAgentThreadsSeen.insert(thread) { run.subAgentThreads += 1 }
        }
        let tokens = (event[.inputTokens]?.integer ?? 0).addingSaturated(event[.outputTokens]?.integer ?? 0)
        run.tokens = run.tokens.addingSaturated(tokens)
        if case .double(let cost) = event[.costUSD] {
            run.costUSD? += cost
        } else if (event[.llmCallCount]?.integer ?? 0) > 0 {
            run.costUSD = nil
        }
        runs[root] = run
    }
}

/// The sub-agent threads already counted in a run, by a hash of their id (the most recent are kept).
private struct RecentThreads: Sendable, Hashable {
    private var seen: Set<Int> = []

    /// Whether `thread` is new; forgets everything past `UsageSummary.maximumRuns` threads, to stay bounded.
    mutating func insert(_ thread: String) -> Bool {
        if seen.count >= UsageSummary.maximumRuns { seen = [] }
        return seen.insert(thread.hashValue).inserted
    }
}

extension TelemetryAttribute.Value {
    var integer: Int64? {
        if case .int(let number) = self { return number }
        return nil
    }
}

/// The UTC calendar day of a Unix time, `YYYY-MM-DD` (the proleptic Gregorian calendar, from days since 1970).
func utcDay(unixNanoseconds: UInt64) -> String {
    let (year, month, day) = civilDate(daysSince1970: Int64(unixNanoseconds / 86_400_000_000_000))
    func padded(_ number: Int64, _ width: Int) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
    return "\(padded(year, 4))-\(padded(month, 2))-\(padded(day, 2))"
}

/// The date of the proleptic Gregorian calendar that is `days` after 1970-01-01, or before it when negative
/// (Howard Hinnant's `civil_from_days`).
package func civilDate(daysSince1970 days: Int64) -> (year: Int64, month: Int64, day: Int64) {
    let shifted = days + 719_468
    let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
    let dayOfEra = shifted - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthIndex = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
    let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
}
