import CodexTelemetry
import FoundationEssentials
import OTLP

extension UsageSummary {
    /// A few lines per group, for people, then the runs that had sub-agents, each with what it cost in all.
    var text: String {
        guard !groups.isEmpty else { return "no turns found" }
        return ([groupsText] + runsText).joined(separator: "\n")
    }

    /// How many runs with sub-agents are listed; the rest are counted.
    private static let listedRuns = 10

    private var runsText: [String] {
        let withAgents = runs.filter { $0.value.subAgentThreads > 0 }.sorted {
            ($0.value.costUSD ?? .infinity, $0.key) > ($1.value.costUSD ?? .infinity, $1.key)
        }
        guard !withAgents.isEmpty else { return [] }
        let lines = withAgents.prefix(Self.listedRuns).map { root, run in
            let cost = run.costUSD.map { "$" + $0.decimal(places: 4) } ?? "cost unknown"
            return """
                  \(root): \(run.turns) turns, \(run.subAgentTurns) of them by \(run.subAgentThreads) \
                sub-agent\(run.subAgentThreads == 1 ? "" : "s"); \(run.tokens) tokens, \(cost)
                """
        }
        let more = withAgents.count > Self.listedRuns ? ["  … and \(withAgents.count - Self.listedRuns) more"] : []
        return ["runs with sub-agents (root thread: totals including its sub-agents):"] + lines + more
    }

    private var groupsText: String {
        groups.keys.sorted().map { group in
            let totals = groups[group]!
            let statuses = totals.turnsByStatus.keys.sorted().map { "\(totals.turnsByStatus[$0]!) \($0)" }
            let unpriced = grouping == .model ? "no price for this model" : "a model without a price"
            let cost = totals.costUSD.map { "$" + $0.decimal(places: 4) } ?? "unknown (\(unpriced))"
            return """
                \(group): \(totals.turns) turn\(totals.turns == 1 ? "" : "s") (\(statuses.joined(separator: ", "))), \
                \(totals.llmCalls) model call\(totals.llmCalls == 1 ? "" : "s"), \
                \(totals.toolCalls) tool call\(totals.toolCalls == 1 ? "" : "s")
                  tokens: \(totals.inputTokens) input (\(totals.cachedInputTokens) cached), \
                \(totals.outputTokens) output (\(totals.reasoningOutputTokens) reasoning)
                  cost: \(cost)
                """
        }.joined(separator: "\n")
    }
}
