public import OTLP

/// Turns telemetry events into OpenTelemetry records: a log record and a span per event, and metric measurements.
///
/// Spans follow the GenAI semantic conventions: per turn a span `invoke_agent codex`, with a child span per model
/// call (`chat <model>`), per tool call (`execute_tool <tool name>`), per compaction (`compact`) and per hook run
/// (`hook <event>`). A turn is the
/// root of its trace, unless it is a sub-agent's: then it is in the trace of the turn at the root of its run, under
/// the call that spawned its agent (or that call's turn, when the call is not known). Ids are derived from the
/// thread, turn and item ids, never random, so a session replayed twice produces the same trace and span ids. A
/// quota reading, and a hook run outside any turn, is a log record and metrics, with no span.
public struct OpenTelemetryMapping: Sendable {
    /// The measurements, aggregated; collect them for export.
    public var metrics: MetricAggregator
    private let parent: TraceContext?
    private let metricNames: MetricNames
    private var codexMetrics = CodexMetrics()
    private var productionMetrics = ProductionMetrics()
    /// Trace positions given to turns before they started, by thread and turn: handed to Codex with the turn's
    /// `turn/start`, so that its own spans sit under the turn's. Few, and forgotten oldest first past a bound.
    private var assignedTurns: [TurnPosition: TraceContext] = [:]
    private var assignmentOrder: [TurnPosition] = []
    private static let maximumAssignedTurns = 4096

    /// Creates a mapping whose metrics have `temporality`.
    ///
    /// - Parameters:
    ///   - temporality: cumulative (what Prometheus-style backends need) or delta.
    ///   - parent: a harness's trace position (from its `traceparent`): every turn's root span becomes a child of
    ///     it, in its trace. Without it, each turn is a trace of its own.
    ///   - metricNames: the GenAI conventions' metric names, Codex's own, or both.
    public init(temporality: AggregationTemporality, parent: TraceContext? = nil, metricNames: MetricNames = .genai) {
        metrics = MetricAggregator(temporality: temporality)
        self.parent = parent
        self.metricNames = metricNames
    }

    /// Gives a turn the trace and span handed to Codex when the turn was started: its span takes that id, in that
    /// trace, and so do the turns of the sub-agents it leads to.
    public mutating func assign(_ position: TraceContext, toTurn turnID: String, ofThread threadID: String) {
        let key = TurnPosition(thread: threadID, turn: turnID)
        if assignedTurns.updateValue(position, forKey: key) == nil { assignmentOrder.append(key) }
        if assignmentOrder.count > Self.maximumAssignedTurns {
            assignedTurns[assignmentOrder.removeFirst()] = nil
        }
    }

    /// The log record and span of an event (none for a quota reading); its measurements go into `metrics`.
    public mutating func map(_ event: TelemetryEvent) -> (log: OTLPLogRecord, span: OTLPSpan?) {
        if metricNames.includesCodex { codexMetrics.record(event, into: &metrics) }
        if metricNames.includesGenAI { productionMetrics.record(event, into: &metrics) }
        var spanAttributes = event.attributes
        var status = OTLPSpan.StatusCode.unset
        let name: String
        let kind: OTLPSpan.Kind
        switch event.name {
        case .turn:
            name = "invoke_agent codex"
            kind = .internal
            spanAttributes.append(TelemetryAttribute(key: .operationName, value: .string("invoke_agent")))
            spanAttributes.append(TelemetryAttribute(key: .agentName, value: .string("codex")))
            if case .string(let turnStatus) = event[.turnStatus], turnStatus != "completed" {
                status = .error
                if event[.errorType] == nil {
                    spanAttributes.append(TelemetryAttribute(key: .errorType, value: .string(turnStatus)))
                }
            }
            recordTurn(event)
        case .llmCall:
            name = "chat \(event[.requestModel]?.text ?? "unknown")"
            kind = .client
            recordModelCall(event)
        case .toolCall:
            name = "execute_tool \(event[.toolName]?.text ?? "unknown")"
            kind = .internal
            spanAttributes.append(TelemetryAttribute(key: .operationName, value: .string("execute_tool")))
            if event[.toolStatus] == .string("failed") {
                status = .error
                spanAttributes.append(TelemetryAttribute(key: .errorType, value: .string("failed")))
            }
            recordToolCall(event)
        case .compaction:
            name = "compact"
            kind = .internal
            recordCompaction(event)
        case .rateLimit:
            recordRateLimit(event)
            return (logRecord(event, ids: nil), nil)
        case .hookRun:
            name = "hook \(event[.hookEvent]?.text ?? "unknown")"
            kind = .internal
            recordHookRun(event)
            guard event[.turnID] != nil else { return (logRecord(event, ids: nil), nil) }
        }
        let ids = SpanIdentity(of: event, parent: parent, assigned: assignedTurns)
        let span = OTLPSpan(
            traceID: ids.trace,
            spanID: ids.span,
            parentSpanID: ids.parent,
            name: name,
            kind: kind,
            startTimeUnixNano: event.startTimeUnixNano,
            endTimeUnixNano: event.endTimeUnixNano,
            attributes: otlp(spanAttributes),
            status: status
        )
        return (logRecord(event, ids: ids), span)
    }

    private func logRecord(_ event: TelemetryEvent, ids: SpanIdentity?) -> OTLPLogRecord {
        OTLPLogRecord(
            timeUnixNano: event.endTimeUnixNano,
            observedTimeUnixNano: event.endTimeUnixNano,
            eventName: event.name.rawValue,
            attributes: otlp(
                event.attributes + [TelemetryAttribute(key: .eventName, value: .string(event.name.rawValue))]
            ),
            traceID: ids?.trace,
            spanID: ids?.span
        )
    }

    // MARK: - Metrics

    /// Bucket bounds from the GenAI metrics semantic conventions.
    static let tokenUsage = MetricAggregator.Descriptor(
        name: "gen_ai.client.token.usage",
        description: "Tokens used per model call",
        unit: "{token}",
        kind: .histogram(bounds: [
            1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1_048_576, 4_194_304, 16_777_216, 67_108_864,
        ])
    )
    static let operationDuration = MetricAggregator.Descriptor(
        name: "gen_ai.client.operation.duration",
        description: "Duration of model calls (chat), tool calls (execute_tool) and turns (invoke_agent)",
        unit: "s",
        kind: .histogram(bounds: [
            0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
        ])
    )
    static let cost = MetricAggregator.Descriptor(
        name: "codex.cost.usd",
        description: "Cost of model calls",
        unit: "USD"
    )
    /// Tokens by type as Claude Code counts them (`claude_code.token.usage`): `input` read neither from the cache
    /// nor written to it, `cacheRead`, `cacheCreation`, and `output` (reasoning included); together, every token.
    static let tokensByType = MetricAggregator.Descriptor(
        name: "codex.token.usage",
        description: "Tokens by type: input (not from or to the cache), cacheRead, cacheCreation, output",
        unit: "{token}"
    )
    static let turns = MetricAggregator.Descriptor(name: "codex.turns", description: "Turns by status", unit: "{turn}")
    static let toolCalls = MetricAggregator.Descriptor(
        name: "codex.tool_calls",
        description: "Tool calls by kind, name and status",
        unit: "{call}"
    )

    static let cacheWriteTokens = MetricAggregator.Descriptor(
        name: "codex.cache_write.input_tokens",
        description: "Input tokens written to the provider's prompt cache",
        unit: "{token}"
    )
    static let contextUtilization = MetricAggregator.Descriptor(
        name: "codex.context.utilization",
        description: "Share of the model's context window in use after a model call",
        unit: "1",
        kind: .histogram(bounds: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1])
    )
    static let compactions = MetricAggregator.Descriptor(
        name: "codex.compactions",
        description: "Compactions of a thread's context",
        unit: "{compaction}"
    )
    static let hookRuns = MetricAggregator.Descriptor(
        name: "codex.hook_runs",
        description: "Runs of configured hooks by event, handler type and status",
        unit: "{run}"
    )
    static let rateLimitUsed = MetricAggregator.Descriptor(
        name: "codex.rate_limit.used_percent",
        description: "Share of a quota window used",
        unit: "%",
        kind: .gauge
    )
    static let rateLimitWindow = MetricAggregator.Descriptor(
        name: "codex.rate_limit.window_minutes",
        description: "Length of a quota window",
        unit: "min",
        kind: .gauge
    )
    static let rateLimitReset = MetricAggregator.Descriptor(
        name: "codex.rate_limit.resets_at",
        description: "When a quota window resets, in Unix seconds",
        unit: "s",
        kind: .gauge
    )

    private mutating func recordModelCall(_ event: TelemetryEvent) {
        guard metricNames.includesGenAI else { return }
        let model = event.select([.operationName, .providerName, .requestModel])
        let time = event.endTimeUnixNano
        for (type, key) in [("input", TelemetryAttribute.Key.inputTokens), ("output", .outputTokens)] {
            guard case .int(let tokens) = event[key] else { continue }
            let typed = model + [TelemetryAttribute(key: .tokenType, value: .string(type))]
            metrics.record(Double(tokens), to: Self.tokenUsage, attributes: otlp(typed), at: time)
        }
        let seconds = Double(event.endTimeUnixNano - event.startTimeUnixNano) / 1e9
        metrics.record(seconds, to: Self.operationDuration, attributes: otlp(model), at: time)
        let byModel = otlp(event.select([.providerName, .requestModel]))
        // By source too: a sub-agent's share of the cost (`subAgent`) is what a dashboard asks of it.
        let bySource = otlp(event.select([.providerName, .requestModel, .sessionSource]))
        if case .double(let cost) = event[.costUSD] {
            metrics.record(cost, to: Self.cost, attributes: bySource, at: time)
        }
        func tokens(_ key: TelemetryAttribute.Key) -> Int64 {
            if case .int(let count) = event[key] { return max(count, 0) }
            return 0
        }
        let (cached, written) = (tokens(.cacheReadInputTokens), tokens(.cacheWriteInputTokens))
        let uncached = max(tokens(.inputTokens) - cached - written, 0)
        for (type, count) in [
            ("input", uncached), ("cacheRead", cached), ("cacheCreation", written), ("output", tokens(.outputTokens)),
        ] where count > 0 {
            let typed = bySource + [OTLPAttribute("type", .string(type))]
            metrics.record(Double(count), to: Self.tokensByType, attributes: typed, at: time)
        }
        if case .int(let written) = event[.cacheWriteInputTokens], written > 0 {
            metrics.record(Double(written), to: Self.cacheWriteTokens, attributes: byModel, at: time)
        }
        if case .double(let utilization) = event[.contextUtilization] {
            metrics.record(utilization, to: Self.contextUtilization, attributes: byModel, at: time)
        }
    }

    private mutating func recordCompaction(_ event: TelemetryEvent) {
        guard metricNames.includesGenAI else { return }
        let attributes = otlp(event.select([.providerName, .requestModel]))
        metrics.record(1, to: Self.compactions, attributes: attributes, at: event.endTimeUnixNano)
    }

    private mutating func recordRateLimit(_ event: TelemetryEvent) {
        guard metricNames.includesGenAI else { return }
        let attributes = otlp(event.select([.rateLimitID, .rateLimitWindow, .planType]))
        let time = event.endTimeUnixNano
        for (key, descriptor) in [
            (TelemetryAttribute.Key.usedPercent, Self.rateLimitUsed), (.windowMinutes, Self.rateLimitWindow),
            (.resetsAt, Self.rateLimitReset),
        ] {
            guard case .int(let value) = event[key] else { continue }
            metrics.record(Double(value), to: descriptor, attributes: attributes, at: time)
        }
    }

    private mutating func recordHookRun(_ event: TelemetryEvent) {
        guard metricNames.includesGenAI else { return }
        let attributes = event.select([.hookEvent, .hookHandlerType, .hookStatus])
        metrics.record(1, to: Self.hookRuns, attributes: otlp(attributes), at: event.endTimeUnixNano)
    }

    private mutating func recordTurn(_ event: TelemetryEvent) {
        guard metricNames.includesGenAI else { return }
        let attributes = event.select([.providerName, .requestModel, .turnStatus, .errorType])
        metrics.record(1, to: Self.turns, attributes: otlp(attributes), at: event.endTimeUnixNano)
        recordDuration(event, operation: "invoke_agent")
    }

    private mutating func recordToolCall(_ event: TelemetryEvent) {
        guard metricNames.includesGenAI else { return }
        let attributes = event.select([.toolKind, .toolName, .toolStatus])
        metrics.record(1, to: Self.toolCalls, attributes: otlp(attributes), at: event.endTimeUnixNano)
        recordDuration(event, operation: "execute_tool")
    }

    /// A turn's or a tool call's length, in `gen_ai.client.operation.duration` under its operation's name, as the
    /// GenAI conventions time every operation (a model call's is `chat`).
    private mutating func recordDuration(_ event: TelemetryEvent, operation: String) {
        let seconds = Double(event.endTimeUnixNano - min(event.startTimeUnixNano, event.endTimeUnixNano)) / 1e9
        let attributes =
            [OTLPAttribute("gen_ai.operation.name", .string(operation))]
            + otlp(event.select([.providerName, .requestModel]))
        metrics.record(seconds, to: Self.operationDuration, attributes: attributes, at: event.endTimeUnixNano)
    }
}

/// A turn, by its thread.
struct TurnPosition: Hashable, Sendable {
    var thread: String
    var turn: String
}

/// The trace and span ids of an event: one trace per run of turns (a turn and the sub-agent turns it led to), the
/// turn's span the parent of its calls.
struct SpanIdentity {
    var trace: TraceID
    var span: SpanID
    var parent: SpanID?

    init(of event: TelemetryEvent, parent context: TraceContext?, assigned: [TurnPosition: TraceContext] = [:]) {
        let thread = event[.conversationID]?.text ?? ""
        let turn = event[.turnID]?.text ?? ""
        let traceThread = event[.rootThreadID]?.text ?? thread
        let traceTurn = event[.rootTurnID]?.text ?? turn
        trace =
            context?.traceID
            ?? assigned[TurnPosition(thread: traceThread, turn: traceTurn)]?.traceID
            ?? TraceID(
                bytes: stableHash(["trace", traceThread, traceTurn], seed: 1)
                    + stableHash(["trace", traceThread, traceTurn], seed: 2)
            )
        func turnSpan(thread: String, turn: String) -> SpanID {
            assigned[TurnPosition(thread: thread, turn: turn)]?.parentSpanID
                ?? Self.turnSpan(thread: thread, turn: turn)
        }
        let root = turnSpan(thread: thread, turn: turn)
        switch event.name {
        // A quota reading has no span: it never gets here.
        case .turn, .rateLimit:
            span = root
            if let parentThread = event[.parentThreadID]?.text, let parentTurn = event[.parentTurnID]?.text {
                parent =
                    event[.parentToolCallID]?.text.map {
                        Self.toolSpan(thread: parentThread, turn: parentTurn, call: $0)
                    } ?? turnSpan(thread: parentThread, turn: parentTurn)
            } else {
                parent = context?.parentSpanID
            }
        case .toolCall:
            span = Self.toolSpan(thread: thread, turn: turn, call: event[.toolCallID]?.text ?? "")
            parent = root
        case .compaction:
            span = SpanID(bytes: stableHash(["compaction", thread, turn, event[.compactionID]?.text ?? ""], seed: 1))
            parent = root
        case .hookRun:
            // A hook's run id holds a path, so its event and place in time identify it within the turn.
            let when = "\(event.startTimeUnixNano)-\(event.endTimeUnixNano)"
            span = SpanID(bytes: stableHash(["hook", thread, turn, event[.hookEvent]?.text ?? "", when], seed: 1))
            parent = root
        case .llmCall:
            // A model call has no id of its own; its place in time identifies it within the turn.
            let when = "\(event.startTimeUnixNano)-\(event.endTimeUnixNano)"
            span = SpanID(bytes: stableHash(["chat", thread, turn, when], seed: 1))
            parent = root
        }
    }

    static func turnSpan(thread: String, turn: String) -> SpanID {
        SpanID(bytes: stableHash(["turn", thread, turn], seed: 1))
    }

    static func toolSpan(thread: String, turn: String, call: String) -> SpanID {
        SpanID(bytes: stableHash(["tool", thread, turn, call], seed: 1))
    }
}

/// Eight bytes of FNV-1a over the parts (each followed by a zero byte), never all zero. Not cryptographic: ids
/// only need to be stable and distinct, and they are derived from ids that are already public in the telemetry.
func stableHash(_ parts: [String], seed: UInt64) -> [UInt8] {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ (seed &* 0x9E37_79B9_7F4A_7C15)
    func mix(_ byte: UInt8) {
        hash ^= UInt64(byte)
        hash &*= 0x0000_0100_0000_01B3
    }
    for part in parts {
        for byte in part.utf8 { mix(byte) }
        mix(0)
    }
    if hash == 0 { hash = 1 }
    return withUnsafeBytes(of: hash.bigEndian) { Array($0) }
}

private func otlp(_ attributes: [TelemetryAttribute]) -> [OTLPAttribute] {
    attributes.map { attribute in
        switch attribute.value {
        case .string(let text): OTLPAttribute(attribute.key.rawValue, .string(text))
        case .int(let number): OTLPAttribute(attribute.key.rawValue, .int(number))
        case .double(let number): OTLPAttribute(attribute.key.rawValue, .double(number))
        }
    }
}

extension TelemetryEvent {
    /// The event's attributes with the given keys, those it has.
    func select(_ keys: [TelemetryAttribute.Key]) -> [TelemetryAttribute] {
        keys.compactMap { key in self[key].map { TelemetryAttribute(key: key, value: $0) } }
    }
}

extension TelemetryAttribute.Value {
    /// The string, or `nil` for a number.
    package var text: String? {
        if case .string(let text) = self { return text }
        return nil
    }
}
