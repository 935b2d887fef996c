import CodexAppServer
public import OTLP
import SaturatingArithmetic

/// The names metrics go by: those of the OpenTelemetry GenAI semantic conventions, those Codex's own `[otel]` export
/// uses (which the dashboards built for Codex read), or both.
public enum MetricNames: String, Sendable, CaseIterable {
    case genai, codex, both

    var includesGenAI: Bool { self != .codex }
    var includesCodex: Bool { self != .genai }

    /// The temporality these metrics go by when none is asked for: delta for Codex's names alone, as Codex sends
    /// them; cumulative otherwise, as the GenAI conventions' consumers (Prometheus among them) expect.
    public var defaultTemporality: AggregationTemporality { self == .codex ? .delta : .cumulative }
}

/// The metrics Codex itself exports for a session (Codex 0.163, `codex-rs/otel`), with its names, instruments,
/// units, attribute keys and values, made from our events. An attribute whose value we cannot know (the client's
/// `originator`, `app.version`, the sandbox) is left out rather than invented.
struct CodexMetrics {
    /// The threads counted started so far; a bound on memory, cleared past it (a thread may then count twice).
    private var startedThreads: Set<String> = []
    private static let maximumStartedThreads = 65_536

    /// OpenTelemetry's default bounds, which Codex's counts and token histograms use.
    private static let defaultBounds: [Double] = [
        0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000,
    ]
    /// The bounds of Codex's durations in milliseconds.
    private static let durationBounds: [Double] = [
        0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2250, 2500, 3000, 3500, 4000, 4500,
        5000, 6000, 7000, 7500, 8000, 9000, 10000, 12000, 15000, 20000, 30000, 60000, 120000,
    ]

    static let threadStarted = MetricAggregator.Descriptor(name: "codex.thread.started", description: "", unit: "")
    static let turnCount = MetricAggregator.Descriptor(
        name: "codex.conversation.turn.count",
        description: "",
        unit: ""
    )
    static let turnDuration = MetricAggregator.Descriptor(
        name: "codex.turn.e2e_duration_ms",
        description: "Duration in milliseconds.",
        unit: "ms",
        kind: .histogram(bounds: durationBounds)
    )
    static let turnToolCalls = MetricAggregator.Descriptor(
        name: "codex.turn.tool.call",
        description: "",
        unit: "",
        kind: .histogram(bounds: defaultBounds)
    )
    static let turnTokenUsage = MetricAggregator.Descriptor(
        name: "codex.turn.token_usage",
        description: "",
        unit: "",
        kind: .histogram(bounds: defaultBounds)
    )
    static let toolCall = MetricAggregator.Descriptor(name: "codex.tool.call", description: "", unit: "")
    // What the agent produced: Codex defines no such metric; these are named the way it names its own.
    static let turnLinesChanged = MetricAggregator.Descriptor(
        name: "codex.turn.lines_changed",
        description: "Lines of code added and removed by the turn's patches",
        unit: "",
        kind: .histogram(bounds: defaultBounds)
    )
    /// What model calls cost: Codex defines no such metric (nor prices); named the way it names its counters.
    static let cost = MetricAggregator.Descriptor(name: "codex.cost", description: "Cost of model calls", unit: "USD")
    // Counters as Codex names its own (`codex.tool.call`): named apart from ours (`codex.commit.count`), which
    // `--metric-names both` sends beside them.
    static let commitCount = MetricAggregator.Descriptor(name: "codex.commit", description: "", unit: "")
    static let pullRequestCount = MetricAggregator.Descriptor(name: "codex.pull_request", description: "", unit: "")
    static let editDecision = MetricAggregator.Descriptor(name: "codex.edit.decision", description: "", unit: "")
    static let userActiveDuration = MetricAggregator.Descriptor(
        name: "codex.turn.user_active_duration_ms",
        description:
            "The user's time before the turn, in milliseconds: the gap since the thread's last turn, when short",
        unit: "ms",
        kind: .histogram(bounds: durationBounds)
    )
    static let toolCallDuration = MetricAggregator.Descriptor(
        name: "codex.tool.call.duration_ms",
        description: "Duration in milliseconds.",
        unit: "ms",
        kind: .histogram(bounds: durationBounds)
    )

    /// What every metric of a thread carries: `model` and `session_source`, when known.
    private static func common(_ event: TelemetryEvent) -> [OTLPAttribute] {
        var attributes: [OTLPAttribute] = []
        if let model = event[.requestModel]?.text { attributes.append(OTLPAttribute("model", .string(model))) }
        if let source = event[.sessionSource]?.text {
            attributes.append(OTLPAttribute("session_source", .string(source)))
        }
        return attributes
    }

    mutating func record(_ event: TelemetryEvent, into metrics: inout MetricAggregator) {
        let time = event.endTimeUnixNano
        let common = Self.common(event)
        if let thread = event[.conversationID]?.text, event.name == .turn || event.name == .toolCall,
            !startedThreads.contains(thread)
        {
            if startedThreads.count >= Self.maximumStartedThreads { startedThreads = [] }
            startedThreads.insert(thread)
            metrics.record(1, to: Self.threadStarted, attributes: common, at: time)
        }
        switch event.name {
        case .turn: recordTurn(event, common, into: &metrics)
        case .toolCall: recordToolCall(event, common, into: &metrics)
        case .llmCall:
            if case .double(let cost) = event[.costUSD] {
                metrics.record(cost, to: Self.cost, attributes: common, at: time)
            }
        default: break
        }
    }

    private func recordTurn(_ event: TelemetryEvent, _ common: [OTLPAttribute], into metrics: inout MetricAggregator) {
        let time = event.endTimeUnixNano
        metrics.record(1, to: Self.turnCount, attributes: common, at: time)
        let milliseconds = Double(event.endTimeUnixNano - min(event.startTimeUnixNano, event.endTimeUnixNano)) / 1e6
        metrics.record(milliseconds, to: Self.turnDuration, attributes: common, at: time)
        if case .int(let calls) = event[.toolCallCount] {
            metrics.record(Double(calls), to: Self.turnToolCalls, attributes: common, at: time)
        }
        func tokens(_ key: TelemetryAttribute.Key) -> Int64 {
            if case .int(let count) = event[key] { return count }
            return 0
        }
        let (input, output) = (tokens(.inputTokens), tokens(.outputTokens))
        // Codex's input counts the cached tokens, and its output the reasoning, as ours do; total is the two.
        let usage: [(String, Int64)] = [
            ("input", input), ("cached_input", tokens(.cacheReadInputTokens)),
            ("cache_write_input", tokens(.cacheWriteInputTokens)), ("output", output),
            ("reasoning_output", tokens(.reasoningOutputTokens)), ("total", input.addingSaturated(output)),
        ]
        for (type, count) in usage {
            let attributes = common + [OTLPAttribute("token_type", .string(type))]
            metrics.record(Double(count), to: Self.turnTokenUsage, attributes: attributes, at: time)
        }
        // One sample for each turn and change type, as token usage has.
        for (type, count) in [("added", tokens(.linesAdded)), ("removed", tokens(.linesRemoved))] {
            let attributes = common + [OTLPAttribute("change_type", .string(type))]
            metrics.record(Double(count), to: Self.turnLinesChanged, attributes: attributes, at: time)
        }
        if case .int(let milliseconds) = event[.userActiveMilliseconds] {
            metrics.record(Double(milliseconds), to: Self.userActiveDuration, attributes: common, at: time)
        }
    }

    private func recordToolCall(
        _ event: TelemetryEvent,
        _ common: [OTLPAttribute],
        into metrics: inout MetricAggregator
    ) {
        let time = event.endTimeUnixNano
        var attributes = common
        attributes.append(
            OTLPAttribute("success", .string(event[.toolStatus] == .string("completed") ? "true" : "false"))
        )
        if let kind = event[.toolKind]?.text {
            let name = CodexVocabulary.codexToolName(
                kind: kind,
                named: event[.toolName]?.text,
                server: event[.mcpServer]?.text
            )
            attributes.append(OTLPAttribute("tool", .string(name)))
        }
        metrics.record(1, to: Self.toolCall, attributes: attributes, at: time)
        if case .int(let milliseconds) = event[.durationMilliseconds] {
            metrics.record(Double(milliseconds), to: Self.toolCallDuration, attributes: attributes, at: time)
        }
        if event[.commits] != nil { metrics.record(1, to: Self.commitCount, attributes: common, at: time) }
        for (key, platform) in [(TelemetryAttribute.Key.pullRequests, "github"), (.mergeRequests, "gitlab")]
        where event[key] != nil {
            let attributes = common + [OTLPAttribute("platform", .string(platform))]
            metrics.record(1, to: Self.pullRequestCount, attributes: attributes, at: time)
        }
        if let decision = event[.editDecision]?.text {
            let language = OTLPAttribute("language", .string(event[.fileLanguage]?.text ?? "other"))
            let attributes = common + [OTLPAttribute("decision", .string(decision)), language]
            metrics.record(1, to: Self.editDecision, attributes: attributes, at: time)
        }
    }
}
