import CodexAppServer
import JSON
import SaturatingArithmetic

/// Usage and cost: each model call from the change in a thread's cumulative usage, priced; and the account's
/// quotas.
extension SessionTelemetry {

    mutating func recordUsage(
        _ key: TurnKey,
        total: TokenUsage,
        last: TokenUsage,
        context: ContextUsage?,
        at time: UInt64
    ) -> [TelemetryEvent] {
        guard total.hasCounts(upTo: SessionLimits.maximumTokenCount),
            last.hasCounts(upTo: SessionLimits.maximumTokenCount)
        else {
            discards.outOfRange += 1
            return []
        }
        let context = context.flatMap { believable($0) }
        let previous = threads[key.threadID]?.total
        recordThreadTotal(key.threadID, total, after: previous, context: context, at: time)
        // Taken out while it changes, so its tables are changed in place, not copied.
        guard total != previous, withOpenTurn(key, { $0.ending == nil }) == true,
            var turn = openTurns.removeValue(forKey: key)
        else {
            return []
        }
        defer { openTurns[key] = turn }
        // The change in the cumulative total is this call. With no earlier total (a thread whose history we did not
        // see) or a total that went down, the server's own per-call figure is the best there is.
        let usage = previous.map { total.dominates($0) ? total - $0 : last } ?? last
        guard usage.hasCounts(upTo: SessionLimits.maximumCallTokens) else {
            discards.outOfRange += 1
            return []
        }
        let start = turn.nextCallStart()
        let end = turn.callEnd(startedAt: start, usageAt: time)
        var attributes = dimensions(key, turn)
        attributes.append(TelemetryAttribute(key: .operationName, value: .string("chat")))
        attributes.append(
            TelemetryAttribute(key: .durationMilliseconds, value: .int(milliseconds(from: start, to: end)))
        )
        attributes += usageAttributes(usage)
        if let context { attributes += contextAttributes(context) }
        let cost = turn.model.flatMap(prices.price(of:))?.cost(of: usage)
        if let cost { attributes.append(TelemetryAttribute(key: .costUSD, value: .double(cost))) }
        // A turn's cost is known only if every one of its calls could be priced.
        turn.cost = turn.llmCalls == 0 ? cost : turn.cost.flatMap { sum in cost.map { sum + $0 } }
        turn.llmCalls += 1
        turn.usage = turn.usage + usage
        // What the next call's tools are told apart by: they start after this call's usage came.
        turn.lastCallEnd = time
        turn.modelOutputs = []
        turn.include(start...max(start, end))
        return [TelemetryEvent(name: .llmCall, startTimeUnixNano: start, endTimeUnixNano: end, attributes: attributes)]
    }

    /// Keeps a thread's cumulative usage. A snapshot with a new total follows a model call; a repeated one that
    /// changes the context's size follows a compaction.
    private mutating func recordThreadTotal(
        _ threadID: String,
        _ total: TokenUsage,
        after previous: TokenUsage?,
        context: ContextUsage?,
        at time: UInt64
    ) {
        updateThread(threadID, at: time) { thread in
            thread.total = total
            if total != previous {
                thread.callContext = context?.tokens
                thread.contextSinceCall = nil
            } else if let tokens = context?.tokens, tokens != thread.callContext {
                thread.contextSinceCall = tokens
            }
        }
    }

    /// How full the model's context was after a call, and of what window.
    private func contextAttributes(_ context: ContextUsage) -> [TelemetryAttribute] {
        var attributes = [TelemetryAttribute(key: .contextTokens, value: .int(context.tokens))]
        if let window = context.window {
            attributes.append(TelemetryAttribute(key: .contextWindow, value: .int(window)))
            attributes.append(
                TelemetryAttribute(key: .contextUtilization, value: .double(Double(context.tokens) / Double(window)))
            )
        }
        return attributes
    }

    func usageAttributes(_ usage: TokenUsage) -> [TelemetryAttribute] {
        [
            TelemetryAttribute(key: .inputTokens, value: .int(usage.input)),
            TelemetryAttribute(key: .cacheReadInputTokens, value: .int(usage.cachedInput)),
            TelemetryAttribute(key: .cacheWriteInputTokens, value: .int(usage.cacheWriteInput)),
            TelemetryAttribute(key: .outputTokens, value: .int(usage.output)),
            TelemetryAttribute(key: .reasoningOutputTokens, value: .int(usage.reasoningOutput)),
        ]
    }

    // MARK: - Quotas

    /// One event per window of the account's quota, with what is used of it, its length and when it resets.
    func rateLimitEvents(_ limits: RateLimits, at time: UInt64) -> [TelemetryEvent] {
        limits.windows.compactMap { window in
            guard let used = window.usedPercent, (0...1000).contains(used) else { return nil }
            var attributes = [
                TelemetryAttribute(key: .rateLimitWindow, value: .dimension(window.name)),
                TelemetryAttribute(key: .usedPercent, value: .int(used)),
            ]
            if let id = limits.limitID {
                attributes.append(TelemetryAttribute(key: .rateLimitID, value: .dimension(id)))
            }
            if let plan = limits.planType {
                attributes.append(TelemetryAttribute(key: .planType, value: .dimension(plan)))
            }
            if let minutes = window.durationMinutes,
                SessionLimits.duration(milliseconds: minutes.multipliedSaturated(by: 60_000)) != nil
            {
                attributes.append(TelemetryAttribute(key: .windowMinutes, value: .int(minutes)))
            }
            if let resetsAt = window.resetsAt,
                SessionLimits.nanoseconds(fromUnixMilliseconds: resetsAt.multipliedSaturated(by: 1000)) != nil
            {
                attributes.append(TelemetryAttribute(key: .resetsAt, value: .int(resetsAt)))
            }
            return TelemetryEvent(
                name: .rateLimit,
                startTimeUnixNano: time,
                endTimeUnixNano: time,
                attributes: attributes
            )
        }
    }
}
