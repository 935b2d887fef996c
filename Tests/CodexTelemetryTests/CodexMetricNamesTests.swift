import CodexTelemetry
import OTLP
import Testing

/// Codex's own metric names, made from the bundled session's events: the instruments, units, attribute keys and
/// values Codex 0.163's `[otel]` export uses (the live comparison with Codex itself is in `EndToEndTests`).
struct CodexMetricNamesTests {
    static func metrics(_ names: MetricNames) throws -> [String: OTLPMetric] {
        var mapping = OpenTelemetryMapping(temporality: names.defaultTemporality, metricNames: names)
        for event in try OpenTelemetryMappingTests.events() { _ = mapping.map(event) }
        return Dictionary(uniqueKeysWithValues: mapping.metrics.collect().map { ($0.name, $0) })
    }

    static let codexNames: Set<String> = [
        "codex.thread.started", "codex.conversation.turn.count", "codex.turn.e2e_duration_ms", "codex.turn.tool.call",
        "codex.turn.token_usage", "codex.tool.call", "codex.tool.call.duration_ms",
    ]
    /// Named as Codex would name them, where Codex defines no such metric: what the agent produced (those the
    /// bundled session gives, its patch and its turns, of `codex.turn.lines_changed`,
    /// `codex.turn.user_active_duration_ms`, `codex.edit.decision`, `codex.commit` and `codex.pull_request`) and
    /// what its model calls cost (`codex.cost`).
    static let productionNames: Set<String> = [
        "codex.turn.lines_changed", "codex.turn.user_active_duration_ms", "codex.edit.decision", "codex.cost",
    ]

    @Test func codexNamesAreCodexsOwnAndNoOthers() throws {
        let metrics = try Self.metrics(.codex)
        #expect(Set(metrics.keys) == Self.codexNames.union(Self.productionNames))
        #expect(metrics.values.allSatisfy { $0.temporality == .delta }, "delta by default, as Codex sends them")
        #expect(metrics["codex.turn.e2e_duration_ms"]?.unit == "ms")
        #expect(metrics["codex.tool.call.duration_ms"]?.unit == "ms")
        guard case .sum(let turns, true)? = metrics["codex.conversation.turn.count"]?.data,
            case .sum(let threads, true)? = metrics["codex.thread.started"]?.data,
            case .histogram(let tokens)? = metrics["codex.turn.token_usage"]?.data,
            case .sum(let tools, true)? = metrics["codex.tool.call"]?.data,
            case .histogram? = metrics["codex.turn.tool.call"]?.data
        else {
            Issue.record("an instrument of another kind than Codex's")
            return
        }
        #expect(turns.map(\.value).reduce(0, +) == 9)
        #expect(threads.map(\.value).reduce(0, +) >= 1)
        // What the model calls cost, as the GenAI set's cost says.
        let genAI = try Self.metrics(.genai)
        guard case .sum(let cost, true)? = metrics["codex.cost"]?.data,
            case .sum(let ours, true)? = genAI["codex.cost.usd"]?.data
        else {
            Issue.record("no cost")
            return
        }
        #expect(abs(cost.map(\.value).reduce(0, +) - ours.map(\.value).reduce(0, +)) < 1e-9)
        #expect(metrics["codex.cost"]?.unit == "USD")
        func values(_ key: String, _ points: [[OTLPAttribute]]) -> Set<String> {
            Set(
                points.flatMap { $0.filter { $0.key == key } }.compactMap { attribute -> String? in
                    if case .string(let text) = attribute.value { return text }
                    return nil
                }
            )
        }
        #expect(
            values("token_type", tokens.map(\.attributes)) == [
                "input", "cached_input", "cache_write_input", "output", "reasoning_output", "total",
            ]
        )
        // Input counts the cached tokens and output the reasoning, as Codex's do; total is the two.
        func tokenSum(_ type: String) -> Double {
            tokens.filter { $0.attributes.contains(OTLPAttribute("token_type", .string(type))) }.map(\.sum)
                .reduce(0, +)
        }
        #expect(tokenSum("total") == tokenSum("input") + tokenSum("output"))
        #expect(tokenSum("input") == 11_070 && tokenSum("cached_input") == 3_300)
        #expect(values("tool", tools.map(\.attributes)) == ["exec_command", "apply_patch", "web_search"])
        #expect(values("success", tools.map(\.attributes)) == ["true", "false"])
        let keys = Set((tokens.map(\.attributes) + tools.map(\.attributes)).flatMap { $0.map(\.key) })
        #expect(keys == ["model", "session_source", "token_type", "tool", "success"])
    }

    /// The values, not only the names: what a dashboard sums and charts is what the events say, in the units the
    /// metric is named for. Each figure is worked out from the events themselves.
    @Test func codexNamesCarryTheEventsValuesInTheirUnits() throws {
        let events = try OpenTelemetryMappingTests.events()
        let metrics = try Self.metrics(.codex)
        let turns = events.filter { $0.name == .turn }
        let tools = events.filter { $0.name == .toolCall }
        func milliseconds(_ event: TelemetryEvent) -> Double {
            Double(event.endTimeUnixNano - event.startTimeUnixNano) / 1e6
        }
        guard case .histogram(let turnDurations)? = metrics["codex.turn.e2e_duration_ms"]?.data,
            case .histogram(let toolDurations)? = metrics["codex.tool.call.duration_ms"]?.data,
            case .histogram(let toolsPerTurn)? = metrics["codex.turn.tool.call"]?.data,
            case .sum(let calls, true)? = metrics["codex.tool.call"]?.data
        else {
            Issue.record("an instrument of another kind than Codex's")
            return
        }
        // Durations in milliseconds: a turn of 47 ms is 47, not 0.047.
        #expect(turnDurations.map(\.count).reduce(0, +) == UInt64(turns.count))
        #expect(abs(turnDurations.map(\.sum).reduce(0, +) - turns.map(milliseconds).reduce(0, +)) < 0.001)
        #expect(turnDurations.map(\.max).max() == turns.map(milliseconds).max())
        let toolMilliseconds = tools.compactMap { tool -> Double? in
            if case .int(let milliseconds) = tool[.durationMilliseconds] { return Double(milliseconds) }
            return nil
        }
        #expect(toolDurations.map(\.count).reduce(0, +) == UInt64(tools.count))
        #expect(toolDurations.map(\.sum).reduce(0, +) == toolMilliseconds.reduce(0, +))
        #expect(toolMilliseconds.reduce(0, +) > 100, "the bundled session's tools took some time")
        // Tool calls per turn: one sample per turn, summing to the calls.
        #expect(toolsPerTurn.map(\.count).reduce(0, +) == UInt64(turns.count))
        #expect(toolsPerTurn.map(\.sum).reduce(0, +) == Double(tools.count))
        // success is whether the call completed: each call counted once, under its own outcome.
        func count(success: String) -> Double {
            calls.filter { $0.attributes.contains(OTLPAttribute("success", .string(success))) }.map(\.value)
                .reduce(0, +)
        }
        let completed = tools.count { $0[.toolStatus] == .string("completed") }
        #expect(count(success: "true") == Double(completed))
        #expect(count(success: "false") == Double(tools.count - completed))
        #expect(completed > 0 && completed < tools.count, "the bundled session has calls of both outcomes")
    }

    @Test func bothNamesCarryEachSetAndGenAIStaysTheDefault() throws {
        let both = try Self.metrics(.both)
        let genai = try Self.metrics(.genai)
        #expect(Self.codexNames.isSubset(of: Set(both.keys)))
        #expect(Set(genai.keys).isSubset(of: Set(both.keys)))
        #expect(Self.codexNames.isDisjoint(with: Set(genai.keys)))
        #expect(
            MetricNames.both.defaultTemporality == .cumulative && MetricNames.genai.defaultTemporality == .cumulative
        )
    }
}
