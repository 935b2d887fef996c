import SaturatingArithmetic

/// Totals per model over a set of events: what a person wants to know after a run.
public struct UsageSummary: Sendable, Hashable {
    /// The totals of one model.
    public struct ModelTotals: Sendable, Hashable {
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

    /// Totals keyed by model name; `unknown` for turns whose model was never announced.
    public private(set) var models: [String: ModelTotals] = [:]
    /// Totals keyed by the run's root thread, for the first `maximumRuns` runs seen.
    public private(set) var runs: [String: RunTotals] = [:]
    /// Turns of runs seen after `maximumRuns` runs: in the model totals, not itemised.
    public private(set) var turnsNotItemised = 0
    /// How many runs are itemised; the rest are only counted, so memory stays bounded.
    public static let maximumRuns = 4096
    private var subAgentThreadsSeen = RecentThreads()

    /// The totals over every model; the cost is `nil` if any model's is.
    public var overall: ModelTotals {
        models.values.reduce(into: ModelTotals()) { sum, next in
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

    public init() {}

    /// Adds an event to the totals. Tool calls are counted through their turn's total.
    public mutating func add(_ event: TelemetryEvent) {
        guard event.name == .turn || event.name == .llmCall,
            case .string(let model) = event[.requestModel] ?? .string("unknown")
        else { return }
        if event.name == .turn { addToRun(event) }
        var totals = models[model, default: ModelTotals()]
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
        models[model] = totals
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
