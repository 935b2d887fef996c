public import CodexAppServer

/// Turns the messages of an app-server session, live or replayed, into telemetry events.
///
/// A pure state machine: `receive(_:at:)` takes one message and the time it was emitted and returns the events it
/// completes; it does no I/O and reads no clock, so a replay produces exactly the events of the live run.
///
/// Invariants, each tested:
/// - Every turn that starts ends exactly once: by `turn/completed`, or by `finish()` as `incomplete`.
/// - Every tool item that starts produces one `codex.tool_call`: when it completes, or when its turn ends.
/// - A model call is counted only when a running turn's cumulative usage changes; its tokens are the change. A
///   repeated snapshot, or one for a turn that is not running (a resume or fork replaying history), only sets the
///   baseline.
public struct SessionTelemetry: Sendable {
    /// The item types reported as tool calls.
    public static let toolKinds: Set<String> = [
        "commandExecution", "fileChange", "mcpToolCall", "dynamicToolCall", "webSearch", "imageView",
        "imageGeneration", "collabAgentToolCall",
    ]

    /// The prices model calls are costed with.
    public let prices: PriceTable
    private var threads: [String: ThreadState] = [:]
    private var openTurns: [TurnKey: TurnState] = [:]
    private var endedTurns: Set<TurnKey> = []
    /// The latest time seen, in Unix nanoseconds.
    public private(set) var latestTime: UInt64 = 0

    /// Creates a state machine that prices model calls with `prices`.
    public init(prices: PriceTable = .bundled) {
        self.prices = prices
    }

    /// Takes one message with the Unix time, in nanoseconds, at which it was emitted (or received, when the message
    /// carries no time of its own), and returns the events it completes.
    public mutating func receive(_ message: AppServerMessage, at time: UInt64) -> [TelemetryEvent] {
        latestTime = max(latestTime, time)
        switch message {
        case .threadOpened(let info):
            openThread(info)
        case .threadSettingsUpdated(let threadID, let model):
            if let model { threads[threadID, default: ThreadState()].model = model }
        case .modelRerouted(let threadID, let turnID, let model):
            threads[threadID, default: ThreadState()].model = model
            openTurns[TurnKey(threadID, turnID)]?.model = model
        case .turnStarted(let threadID, let turn):
            _ = openTurn(TurnKey(threadID, turn.id), at: time)
        case .itemStarted(let threadID, let turnID, let item, let startedAt):
            guard Self.toolKinds.contains(item.type), let key = openTurn(TurnKey(threadID, turnID), at: time) else {
                break
            }
            let start = startedAt.map(nanoseconds(fromMilliseconds:)) ?? time
            openTurns[key]?.openTools[item.id] = OpenTool(item: item, start: start)
        case .itemCompleted(let threadID, let turnID, let item, let completedAt):
            guard Self.toolKinds.contains(item.type), let key = openTurn(TurnKey(threadID, turnID), at: time) else {
                break
            }
            return completeTool(item, in: key, at: completedAt.map(nanoseconds(fromMilliseconds:)) ?? time)
        case .tokenUsageUpdated(let threadID, let turnID, let total, let last):
            return recordUsage(TurnKey(threadID, turnID), total: total, last: last, at: time)
        case .error(let threadID, let turnID, let errorClass, let willRetry):
            if !willRetry, let errorClass { openTurns[TurnKey(threadID, turnID)]?.errorClass = errorClass }
        case .turnCompleted(let threadID, let turn):
            guard let key = openTurn(TurnKey(threadID, turn.id), at: time) else { break }
            return endTurn(
                key,
                status: turn.status,
                errorClass: turn.errorClass,
                at: time,
                reportedDuration: turn.durationMilliseconds
            )
        case .other:
            break
        }
        return []
    }

    /// Ends the session: every turn still running is closed as `incomplete` at the last time seen, with its open
    /// tool calls.
    public mutating func finish() -> [TelemetryEvent] {
        openTurns.keys.sorted().flatMap { key in
            endTurn(key, status: "incomplete", errorClass: nil, at: latestTime, reportedDuration: nil)
        }
    }

    // MARK: - Threads and turns

    private mutating func openThread(_ info: ThreadInfo) {
        var thread = threads[info.id] ?? ThreadState()
        if let model = info.model { thread.model = model }
        if let provider = info.provider { thread.provider = provider }
        // A fork starts from its parent's usage: that is history, not new calls.
        if thread.total == nil, let parent = info.forkedFromID, let parentTotal = threads[parent]?.total {
            thread.total = parentTotal
        }
        threads[info.id] = thread
    }

    /// The key of a running turn, opening it at `time` if this is the first we hear of it; `nil` if it has ended.
    private mutating func openTurn(_ key: TurnKey, at time: UInt64) -> TurnKey? {
        if openTurns[key] != nil { return key }
        if endedTurns.contains(key) { return nil }
        let thread = threads[key.threadID] ?? ThreadState()
        openTurns[key] = TurnState(start: time, model: thread.model, provider: thread.provider)
        return key
    }

    private mutating func endTurn(
        _ key: TurnKey,
        status: String,
        errorClass: String?,
        at time: UInt64,
        reportedDuration: Int64?
    ) -> [TelemetryEvent] {
        guard let turn = openTurns.removeValue(forKey: key) else { return [] }
        endedTurns.insert(key)
        let toolStatus = status == "interrupted" ? "interrupted" : "incomplete"
        var events = turn.openTools.values.sorted { ($0.start, $0.item.id) < ($1.start, $1.item.id) }.map { open in
            var item = open.item
            item.status = toolStatus
            return toolEvent(item, key: key, start: open.start, end: time)
        }
        var attributes = turn.dimensions(key)
        attributes += [
            TelemetryAttribute(key: .turnStatus, value: .dimension(status)),
            TelemetryAttribute(key: .llmCallCount, value: .int(turn.llmCalls)),
            TelemetryAttribute(key: .toolCallCount, value: .int(turn.toolCalls + Int64(events.count))),
            TelemetryAttribute(
                key: .durationMilliseconds,
                value: .int(reportedDuration ?? milliseconds(from: turn.start, to: time))
            ),
        ]
        attributes += usageAttributes(turn.usage)
        if turn.llmCalls > 0, let cost = turn.cost {
            attributes.append(TelemetryAttribute(key: .costUSD, value: .double(cost)))
        }
        if status == "failed" {
            let errorType = errorClass ?? turn.errorClass ?? "other"
            attributes.append(TelemetryAttribute(key: .errorType, value: .dimension(errorType)))
        }
        events.append(
            TelemetryEvent(name: .turn, startTimeUnixNano: turn.start, endTimeUnixNano: time, attributes: attributes)
        )
        return events
    }

    // MARK: - Tools

    private mutating func completeTool(_ item: ItemInfo, in key: TurnKey, at end: UInt64) -> [TelemetryEvent] {
        guard var turn = openTurns[key], !turn.completedTools.contains(item.id) else { return [] }
        let opened = turn.openTools.removeValue(forKey: item.id)
        let start =
            opened?.start ?? item.durationMilliseconds.map { end - min(end, nanoseconds(fromMilliseconds: $0)) } ?? end
        turn.completedTools.insert(item.id)
        turn.toolCalls += 1
        turn.toolSpans.append(start...end)
        openTurns[key] = turn
        return [toolEvent(item, key: key, start: start, end: end)]
    }

    private func toolEvent(_ item: ItemInfo, key: TurnKey, start: UInt64, end: UInt64) -> TelemetryEvent {
        var attributes = [
            TelemetryAttribute(key: .conversationID, value: .dimension(key.threadID)),
            TelemetryAttribute(key: .turnID, value: .dimension(key.turnID)),
            TelemetryAttribute(key: .toolCallID, value: .dimension(item.id)),
            TelemetryAttribute(key: .toolKind, value: .dimension(item.type)),
            TelemetryAttribute(key: .toolName, value: .dimension(Self.toolName(of: item))),
            // A web search carries no status: it is reported once it has completed.
            TelemetryAttribute(key: .toolStatus, value: .dimension(item.status ?? "completed")),
            TelemetryAttribute(
                key: .durationMilliseconds,
                value: .int(item.durationMilliseconds ?? milliseconds(from: start, to: end))
            ),
        ]
        if let exitCode = item.exitCode {
            attributes.append(TelemetryAttribute(key: .processExitCode, value: .int(exitCode)))
        }
        return TelemetryEvent(name: .toolCall, startTimeUnixNano: start, endTimeUnixNano: end, attributes: attributes)
    }

    /// A tool's name, never its arguments: the MCP, dynamic or collaboration tool's own name, or a fixed name for
    /// the built-in kinds.
    static func toolName(of item: ItemInfo) -> String {
        switch item.type {
        case "mcpToolCall", "dynamicToolCall", "collabAgentToolCall": item.toolName ?? item.type
        case "commandExecution": "shell"
        case "fileChange": "apply_patch"
        case "webSearch": "web_search"
        case "imageView": "view_image"
        case "imageGeneration": "image_generation"
        default: item.type
        }
    }

    // MARK: - Model calls

    private mutating func recordUsage(
        _ key: TurnKey,
        total: TokenUsage,
        last: TokenUsage,
        at time: UInt64
    ) -> [TelemetryEvent] {
        let previous = threads[key.threadID]?.total
        threads[key.threadID, default: ThreadState()].total = total
        guard var turn = openTurns[key], total != previous else { return [] }
        // The change in the cumulative total is this call. With no earlier total (a thread whose history we did not
        // see) or a total that went down, the server's own per-call figure is the best there is.
        let usage = previous.map { total.dominates($0) ? total - $0 : last } ?? last
        let start = turn.nextCallStart()
        var attributes = turn.dimensions(key)
        attributes.append(TelemetryAttribute(key: .operationName, value: .string("chat")))
        attributes.append(
            TelemetryAttribute(key: .durationMilliseconds, value: .int(milliseconds(from: start, to: time)))
        )
        attributes += usageAttributes(usage)
        let cost = turn.model.flatMap(prices.price(of:))?.cost(of: usage)
        if let cost { attributes.append(TelemetryAttribute(key: .costUSD, value: .double(cost))) }
        // A turn's cost is known only if every one of its calls could be priced.
        turn.cost = turn.llmCalls == 0 ? cost : turn.cost.flatMap { sum in cost.map { sum + $0 } }
        turn.llmCalls += 1
        turn.usage = turn.usage + usage
        turn.lastCallEnd = time
        openTurns[key] = turn
        return [TelemetryEvent(name: .llmCall, startTimeUnixNano: start, endTimeUnixNano: time, attributes: attributes)]
    }

    private func usageAttributes(_ usage: TokenUsage) -> [TelemetryAttribute] {
        [
            TelemetryAttribute(key: .inputTokens, value: .int(usage.input)),
            TelemetryAttribute(key: .cacheReadInputTokens, value: .int(usage.cachedInput)),
            TelemetryAttribute(key: .outputTokens, value: .int(usage.output)),
            TelemetryAttribute(key: .reasoningOutputTokens, value: .int(usage.reasoningOutput)),
        ]
    }
}

private struct TurnKey: Hashable, Comparable, Sendable {
    var threadID: String
    var turnID: String

    init(_ threadID: String, _ turnID: String) {
        self.threadID = threadID
        self.turnID = turnID
    }

    static func < (left: TurnKey, right: TurnKey) -> Bool {
        (left.threadID, left.turnID) < (right.threadID, right.turnID)
    }
}

private struct ThreadState: Sendable {
    var model: String?
    var provider: String?
    /// The thread's cumulative usage as last reported.
    var total: TokenUsage?
}

private struct OpenTool: Sendable {
    var item: ItemInfo
    var start: UInt64
}

private struct TurnState: Sendable {
    var start: UInt64
    var model: String?
    var provider: String?
    /// When the turn's last model call ended.
    var lastCallEnd: UInt64?
    /// The spans of completed tool calls not yet placed before a model call.
    var toolSpans: [ClosedRange<UInt64>] = []
    var openTools: [String: OpenTool] = [:]
    var completedTools: Set<String> = []
    var llmCalls: Int64 = 0
    var toolCalls: Int64 = 0
    var usage = TokenUsage.zero
    /// The summed cost, or `nil` if any call could not be priced.
    var cost: Double?
    /// The class of an error the server said it would not retry.
    var errorClass: String?

    /// When the model call being reported began: after the previous call, and after the tools that call caused
    /// (those started before it ended). Tools started since were caused by this call and ran during it.
    mutating func nextCallStart() -> UInt64 {
        let previous = lastCallEnd ?? start
        let caused = toolSpans.filter { $0.lowerBound <= previous }
        toolSpans.removeAll { $0.lowerBound <= previous }
        return caused.map(\.upperBound).reduce(previous, max)
    }

    /// The attributes every event of the turn shares.
    func dimensions(_ key: TurnKey) -> [TelemetryAttribute] {
        var attributes = [
            TelemetryAttribute(key: .conversationID, value: .dimension(key.threadID)),
            TelemetryAttribute(key: .turnID, value: .dimension(key.turnID)),
        ]
        if let model { attributes.append(TelemetryAttribute(key: .requestModel, value: .dimension(model))) }
        if let provider { attributes.append(TelemetryAttribute(key: .providerName, value: .dimension(provider))) }
        return attributes
    }
}

private func nanoseconds(fromMilliseconds milliseconds: Int64) -> UInt64 {
    UInt64(max(0, milliseconds)) * 1_000_000
}

private func milliseconds(from start: UInt64, to end: UInt64) -> Int64 {
    Int64((end - min(start, end)) / 1_000_000)
}
