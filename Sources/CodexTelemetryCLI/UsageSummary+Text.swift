import CodexTelemetry
import Foundation

extension UsageSummary {
    /// A few lines per model, for people.
    var text: String {
        guard !models.isEmpty else { return "no turns found" }
        return models.keys.sorted().map { model in
            let totals = models[model]!
            let statuses = totals.turnsByStatus.keys.sorted().map { "\(totals.turnsByStatus[$0]!) \($0)" }
            let cost = totals.costUSD.map { String(format: "$%.4f", $0) } ?? "unknown (no price for this model)"
            return """
                \(model): \(totals.turns) turn\(totals.turns == 1 ? "" : "s") (\(statuses.joined(separator: ", "))), \
                \(totals.llmCalls) model call\(totals.llmCalls == 1 ? "" : "s"), \
                \(totals.toolCalls) tool call\(totals.toolCalls == 1 ? "" : "s")
                  tokens: \(totals.inputTokens) input (\(totals.cachedInputTokens) cached), \
                \(totals.outputTokens) output (\(totals.reasoningOutputTokens) reasoning)
                  cost: \(cost)
                """
        }.joined(separator: "\n")
    }
}
