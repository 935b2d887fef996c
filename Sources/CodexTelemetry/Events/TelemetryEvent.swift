/// One dimension-only telemetry event: a name, a time span and a flat set of allowlisted attributes.
public struct TelemetryEvent: Sendable, Hashable {
    /// The kinds of event; the raw value is the event name on the wire.
    public enum Name: String, Sendable, Hashable, CaseIterable {
        /// One model response, with its token usage and cost.
        case llmCall = "codex.llm_call"
        /// One tool item: a command, a patch, an MCP or dynamic tool, a web search, …
        case toolCall = "codex.tool_call"
        /// One turn, from start to end, with its totals.
        case turn = "codex.turn"
        /// A compaction of the thread's context, with the tokens it held before and after.
        case compaction = "codex.compaction"
        /// An account's quota at a moment: how much of one window is used. It belongs to no turn.
        case rateLimit = "codex.rate_limit"
        /// One run of a hook Codex is configured with: which event it ran for, how it ended, how long it took.
        case hookRun = "codex.hook_run"
    }

    public var name: Name
    /// Unix time in nanoseconds.
    public var startTimeUnixNano: UInt64
    /// Unix time in nanoseconds.
    public var endTimeUnixNano: UInt64
    /// The attributes, at most one per key, in key order.
    public private(set) var attributes: [TelemetryAttribute]

    /// Creates an event; attributes are put in key order and a repeated key keeps its last value.
    public init(
        name: Name,
        startTimeUnixNano: UInt64,
        endTimeUnixNano: UInt64,
        attributes: [TelemetryAttribute]
    ) {
        self.name = name
        self.startTimeUnixNano = startTimeUnixNano
        self.endTimeUnixNano = max(startTimeUnixNano, endTimeUnixNano)
        self.attributes = Self.inKeyOrder(attributes)
    }

    /// The attributes in key order, of a repeated key the last given. Events have a few dozen attributes at most,
    /// and this runs for every event of a backfill: what is sorted (by insertion) is a number for each, its key's
    /// precomputed place above its position, and then each attribute is copied once, to its place.
    private static func inKeyOrder(_ attributes: [TelemetryAttribute]) -> [TelemetryAttribute] {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: attributes.count) { order in
            for (position, attribute) in attributes.enumerated() {
                let entry = attribute.key.rank << 32 | position
                var index = position
                while index > 0, order[index - 1] > entry {
                    order[index] = order[index - 1]
                    index -= 1
                }
                order[index] = entry
            }
            var sorted: [TelemetryAttribute] = []
            sorted.reserveCapacity(attributes.count)
            for entry in order {
                let attribute = attributes[entry & 0xFFFF_FFFF]
                if !sorted.isEmpty, sorted[sorted.count - 1].key == attribute.key {
                    sorted[sorted.count - 1] = attribute
                } else {
                    sorted.append(attribute)
                }
            }
            return sorted
        }
    }

    /// The value of an attribute, if the event has it.
    public subscript(key: TelemetryAttribute.Key) -> TelemetryAttribute.Value? {
        attributes.first { $0.key == key }?.value
    }
}

/// An attribute whose key is on the allowlist.
///
/// The allowlist is this enum: there is no way to make an attribute with any other key. Every key names a count,
/// a duration, a status, an enum, an id, a model or a tool name, never text from the session. String values go
/// through `Value.dimension(_:)`, which refuses anything that looks like free text.
public struct TelemetryAttribute: Sendable, Hashable {
    /// The allowed keys, following the OpenTelemetry GenAI semantic conventions where one exists.
    public enum Key: String, Sendable, Hashable, CaseIterable {
        case operationName = "gen_ai.operation.name"
        case providerName = "gen_ai.provider.name"
        case requestModel = "gen_ai.request.model"
        case conversationID = "gen_ai.conversation.id"
        case turnID = "codex.turn.id"
        case inputTokens = "gen_ai.usage.input_tokens"
        case cacheReadInputTokens = "gen_ai.usage.cache_read.input_tokens"
        case outputTokens = "gen_ai.usage.output_tokens"
        case reasoningOutputTokens = "gen_ai.usage.reasoning.output_tokens"
        case cacheWriteInputTokens = "gen_ai.usage.cache_creation.input_tokens"
        case contextTokens = "codex.context.tokens"
        case contextWindow = "codex.context.window"
        case contextUtilization = "codex.context.utilization"
        case costUSD = "codex.cost.usd"
        case toolCallID = "gen_ai.tool.call.id"
        case toolKind = "codex.tool.kind"
        case toolName = "gen_ai.tool.name"
        case toolStatus = "codex.tool.status"
        case processExitCode = "process.exit.code"
        case turnStatus = "codex.turn.status"
        case errorType = "error.type"
        case llmCallCount = "codex.turn.llm_calls"
        case toolCallCount = "codex.turn.tool_calls"
        case durationMilliseconds = "codex.duration_ms"
        case sessionSource = "codex.session.source"
        case agentKind = "codex.agent.kind"
        case agentRole = "codex.agent.role"
        case agentDepth = "codex.agent.depth"
        case parentThreadID = "codex.parent.thread.id"
        case parentTurnID = "codex.parent.turn.id"
        case parentToolCallID = "codex.parent.tool_call.id"
        case rootThreadID = "codex.root.thread.id"
        case rootTurnID = "codex.root.turn.id"
        case reasoningEffort = "codex.reasoning.effort"
        case projectID = "codex.project.id"
        case mcpServer = "codex.mcp.server"
        case compactionID = "codex.compaction.id"
        case tokensBefore = "codex.compaction.tokens_before"
        case tokensAfter = "codex.compaction.tokens_after"
        case rateLimitID = "codex.rate_limit.id"
        case rateLimitWindow = "codex.rate_limit.window"
        case planType = "codex.plan.type"
        case usedPercent = "codex.rate_limit.used_percent"
        case windowMinutes = "codex.rate_limit.window_minutes"
        case resetsAt = "codex.rate_limit.resets_at"
        case approvalWaitMilliseconds = "codex.approval.wait_ms"
        case hookEvent = "codex.hook.event"
        case hookHandlerType = "codex.hook.handler_type"
        case hookSource = "codex.hook.source"
        case hookStatus = "codex.hook.status"
        case linesAdded = "codex.lines.added"
        case linesRemoved = "codex.lines.removed"
        case filesChanged = "codex.files.changed"
        case fileLanguage = "codex.file.language"
        case editDecision = "codex.edit.decision"
        case commits = "codex.commits"
        case pullRequests = "codex.pull_requests"
        case mergeRequests = "codex.merge_requests"
        case editsAccepted = "codex.edits.accepted"
        case editsRejected = "codex.edits.rejected"
        case editsUnprompted = "codex.edits.unprompted"
        case userActiveMilliseconds = "codex.user.active_ms"
        // Added by the OpenTelemetry mapping: log records, spans and metrics.
        case eventName = "event.name"
        case agentName = "gen_ai.agent.name"
        case tokenType = "gen_ai.token.type"
    }

    /// A value: a dimension string, an integer or a floating-point number.
    public enum Value: Sendable, Hashable {
        case string(String)
        case int(Int64)
        case double(Double)

        /// The longest string value kept; a longer one is replaced by `"invalid"`.
        public static let maximumStringLength = 256

        /// A string value that can only be an identifier-like dimension: letters, digits and `. _ - : / @ + =`,
        /// at most `maximumStringLength` long. Anything else (spaces, quotes, newlines: the stuff of prompts,
        /// commands and messages) is replaced by `"invalid"`, so a mistake upstream cannot leak text.
        public static func dimension(_ text: String) -> Value {
            let allowed =
                text.utf8.count <= maximumStringLength && !text.isEmpty
                && (text.utf8.withContiguousStorageIfAvailable { $0.allSatisfy(isAllowed) }
                    ?? text.utf8.allSatisfy(isAllowed))
            return .string(allowed ? text : "invalid")
        }

        /// Whether a byte may appear in a dimension: one bit per ASCII byte, `+ - . / 0-9 : =` in the first word,
        /// `@ A-Z _ a-z` in the second (the test of every byte holds them to the list above). A table would be
        /// looked up through a lazily made global, for every byte of every id of every event.
        @inline(__always)
        private static func isAllowed(_ byte: UInt8) -> Bool {
            let low: UInt64 = 0x27ff_e800_0000_0000
            let high: UInt64 = 0x07ff_fffe_87ff_ffff
            return byte < 64 ? low >> byte & 1 == 1 : byte < 128 && high >> (byte - 64) & 1 == 1
        }
    }

    public var key: Key
    public var value: Value

    public init(key: Key, value: Value) {
        self.key = key
        self.value = value
    }
}

extension TelemetryAttribute.Key {
    /// The key's place in the order of the keys' names, the order an event keeps its attributes in. Read from a
    /// table by the case's number: a dictionary would hash the key's name, on every attribute of every event.
    var rank: Int { Self.ranks[Int(unsafeBitCast(self, to: UInt8.self))] }

    /// By case number (declaration order, as `allCases` lists them), each key's place among the sorted names.
    private static let ranks: [Int] = {
        precondition(MemoryLayout<Self>.size == 1, "a key is stored as its case number")
        let byName = allCases.sorted { $0.rawValue < $1.rawValue }
        return allCases.map { key in byName.firstIndex(of: key) ?? 0 }
    }()
}
