import CodexAppServer
import JSONRPC
import SaturatingArithmetic

struct TurnKey: Hashable, Comparable, Sendable {
    let threadID: String
    let turnID: String
    /// The key as remembered once the turn has ended; worked out once, for the several lookups of a message.
    let hash: Int

    init(_ threadID: String, _ turnID: String) {
        self.threadID = threadID
        self.turnID = turnID
        hash = RecentKeys.hash(threadID, turnID)
    }

    static func == (left: TurnKey, right: TurnKey) -> Bool {
        left.hash == right.hash && left.threadID == right.threadID && left.turnID == right.turnID
    }

    func hash(into hasher: inout Hasher) { hasher.combine(hash) }

    static func < (left: TurnKey, right: TurnKey) -> Bool {
        (left.threadID, left.turnID) < (right.threadID, right.turnID)
    }
}

struct ThreadState: Sendable {
    var model: String?
    var provider: String?
    /// The thread's cumulative usage as last reported.
    var total: TokenUsage?
    var reasoningEffort: String?
    var source: SessionSource?
    var agentRole: String?
    var agentDepth: Int64?
    var projectID: String?
    /// The context's size after the last model call, and the size reported since without a call (after a
    /// compaction).
    var callContext: Int64?
    var contextSinceCall: Int64?
    /// When the thread was last heard of, to forget the least recent first.
    var lastSeen: UInt64 = 0
    /// When its last turn ended: the user's time runs from there to its next turn's start.
    var lastTurnEnd: UInt64?
}

/// How a turn ended, kept while it waits for tools still running.
struct TurnEnding: Sendable {
    var status: TurnStatus
    var errorClass: ErrorClass?
    var time: UInt64
    var reportedDuration: Int64?
}

/// A server request for approval, by the thread it came in and its id.
struct PendingApprovalKey: Hashable, Sendable {
    var threadID: String
    var requestID: JSONRPCID

    init(_ threadID: String, _ requestID: JSONRPCID) {
        self.threadID = threadID
        self.requestID = requestID
    }
}

struct PendingApproval: Sendable {
    var turn: TurnKey
    var itemID: String
    var requestedAt: UInt64
}

struct OpenTool: Sendable {
    var item: ItemInfo
    var start: UInt64
}

struct TurnState: Sendable {
    var start: UInt64
    var model: String?
    var provider: String?
    var reasoningEffort: String?
    /// The first turn of the chain of work this one belongs to, as the server reports it.
    var rootTurnID: String?
    /// Compactions started and not yet completed, by item id, with their start.
    var openCompactions: [String: UInt64] = [:]
    /// When the turn's last model call ended.
    var lastCallEnd: UInt64?
    /// The spans of completed tool calls not yet placed before a model call.
    var toolSpans: [ClosedRange<UInt64>] = []
    /// When the prompt was in, and when each piece of the model's output since the last call's usage completed: what
    /// bounds a model call closer than its usage does.
    var promptIn: UInt64?
    var modelOutputs: [UInt64] = []
    var openTools: [String: OpenTool] = [:]
    var completedTools: Set<String> = []
    var llmCalls: Int64 = 0
    var toolCalls: Int64 = 0
    var usage = TokenUsage.zero
    /// The summed cost, or `nil` if any call could not be priced.
    var cost: Double?
    /// The class of an error the server said it would not retry.
    var errorClass: ErrorClass?
    /// How long the client took to answer the approval requests for each tool item, until the item is reported.
    var approvalWaits: [String: Int64] = [:]
    /// The items Codex asked approval for, each with the client's answer as far as it is known (`""` until then).
    var approvals: [String: String] = [:]
    /// What its calls produced so far.
    var production = Production()
    /// The user's time before it: from the thread's previous turn's end to its start, when that was short.
    var userActiveMilliseconds: Int64?
    /// Set once the server has ended the turn while tools were still running.
    var ending: TurnEnding?
    /// From the earliest start to the latest end of the turn's calls so far.
    var callBounds: ClosedRange<UInt64>?

    mutating func include(_ span: ClosedRange<UInt64>) {
        callBounds =
            callBounds.map { min($0.lowerBound, span.lowerBound)...max($0.upperBound, span.upperBound) } ?? span
    }

    /// When the model call being reported began: after the previous call, and after the tools that call caused
    /// (those started before it ended). Tools started since were caused by this call and ran during it.
    mutating func nextCallStart() -> UInt64 {
        let previous = lastCallEnd ?? max(start, promptIn ?? start)
        let caused = toolSpans.filter { $0.lowerBound <= previous }
        toolSpans.removeAll { $0.lowerBound <= previous }
        return caused.map(\.upperBound).reduce(previous, max)
    }

    /// When the model call that began at `start` stopped: where the last of its output completed, or else at the
    /// start of the first tool it asked for; either comes long before the call's usage (`usageAt`), which the server
    /// reports once the tools have run. At the usage when the server says neither.
    func callEnd(startedAt start: UInt64, usageAt usage: UInt64) -> UInt64 {
        let caused = toolSpans.map(\.lowerBound) + openTools.values.map(\.start)
        let firstTool = caused.filter { $0 > start && $0 < usage }.min() ?? usage
        // Where its output ended, when the server says (a tool's start comes after the tool is set up).
        return modelOutputs.filter { $0 > start && $0 <= firstTool }.max() ?? firstTool
    }

    /// The attributes every event of the turn shares.
    func dimensions(_ key: TurnKey) -> [TelemetryAttribute] {
        var attributes: [TelemetryAttribute] = []
        // Room for what the events add after these: one array per event, not one per growth.
        attributes.reserveCapacity(24)
        attributes.append(TelemetryAttribute(key: .conversationID, value: .dimension(key.threadID)))
        attributes.append(TelemetryAttribute(key: .turnID, value: .dimension(key.turnID)))
        if let model { attributes.append(TelemetryAttribute(key: .requestModel, value: .dimension(model))) }
        if let provider { attributes.append(TelemetryAttribute(key: .providerName, value: .dimension(provider))) }
        if let reasoningEffort {
            attributes.append(TelemetryAttribute(key: .reasoningEffort, value: .dimension(reasoningEffort)))
        }
        return attributes
    }
}

func milliseconds(from start: UInt64, to end: UInt64) -> Int64 {
    Int64((end - min(start, end)) / 1_000_000)
}
