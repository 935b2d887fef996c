package import CodexTelemetry
import SaturatingArithmetic

/// What one person wants to know of their Codex use, added up from telemetry events: totals by period, model,
/// session, source or project (one or two at once), and the figures the HTML report draws.
///
/// Everything is counted from the events themselves, so the totals equal the sums of `replay --format json`:
/// turns, model calls and tool calls are events of those kinds, tokens and cost are the model calls'. Memory is
/// bounded whatever the input: past `maximumGroups` groups or `maximumSessions` sessions, the rest are added up
/// under `other`.
package struct UsageReport: Sendable {
    /// What rows are keyed by.
    package enum Dimension: String, Sendable, CaseIterable {
        case day, week, month, model, session, source, project

        /// As a column's title: `Day`.
        package var title: String { rawValue.prefix(1).uppercased() + rawValue.dropFirst() }
    }

    /// The totals of one row, or of everything.
    package struct Totals: Sendable, Hashable {
        package var turns = 0
        /// Turns by how they ended: `completed`, `failed`, `interrupted`.
        package var turnsByStatus: [String: Int] = [:]
        package var modelCalls = 0
        package var toolCalls = 0
        package var inputTokens: Int64 = 0
        /// Input tokens read from the prompt cache: part of `inputTokens`.
        package var cachedInputTokens: Int64 = 0
        package var cacheWriteInputTokens: Int64 = 0
        package var outputTokens: Int64 = 0
        /// Output tokens spent reasoning: part of `outputTokens`.
        package var reasoningOutputTokens: Int64 = 0
        /// The cost of the model calls that could be priced.
        package var costUSD: Double = 0
        /// Model calls of models without a price: not in `costUSD`, never counted as free.
        package var unpricedModelCalls = 0
        package var unpricedModels: Set<String> = []
        /// What sub-agents did, as part of the above.
        package var subAgentTurns = 0
        package var subAgentCostUSD: Double = 0
        /// What was produced: lines of patches applied, commits, pull and merge requests, edits decided by a person.
        package var linesAdded: Int64 = 0
        package var linesRemoved: Int64 = 0
        package var commits: Int64 = 0
        package var pullRequests: Int64 = 0
        package var editsAccepted: Int64 = 0
        package var editsRejected: Int64 = 0
        /// The agent's time (its own turns, not its sub-agents', which run inside them) and the user's (the short
        /// gaps between a thread's turns), in milliseconds.
        package var agentActiveMilliseconds: Int64 = 0
        package var userActiveMilliseconds: Int64 = 0

        package init() {}

        package var failedTurns: Int { turnsByStatus["failed", default: 0] }
        package var interruptedTurns: Int { turnsByStatus["interrupted", default: 0] }
        /// The share of input tokens read from the cache, from 0 to 1; 0 when there was no input.
        package var cacheHitRatio: Double { inputTokens > 0 ? Double(cachedInputTokens) / Double(inputTokens) : 0 }

        mutating func add(_ other: Totals) {
            turns += other.turns
            turnsByStatus.merge(other.turnsByStatus, uniquingKeysWith: +)
            modelCalls += other.modelCalls
            toolCalls += other.toolCalls
            inputTokens = inputTokens.addingSaturated(other.inputTokens)
            cachedInputTokens = cachedInputTokens.addingSaturated(other.cachedInputTokens)
            cacheWriteInputTokens = cacheWriteInputTokens.addingSaturated(other.cacheWriteInputTokens)
            outputTokens = outputTokens.addingSaturated(other.outputTokens)
            reasoningOutputTokens = reasoningOutputTokens.addingSaturated(other.reasoningOutputTokens)
            costUSD += other.costUSD
            unpricedModelCalls += other.unpricedModelCalls
            unpricedModels.formUnion(other.unpricedModels)
            subAgentTurns += other.subAgentTurns
            subAgentCostUSD += other.subAgentCostUSD
            linesAdded = linesAdded.addingSaturated(other.linesAdded)
            linesRemoved = linesRemoved.addingSaturated(other.linesRemoved)
            commits = commits.addingSaturated(other.commits)
            pullRequests = pullRequests.addingSaturated(other.pullRequests)
            editsAccepted = editsAccepted.addingSaturated(other.editsAccepted)
            editsRejected = editsRejected.addingSaturated(other.editsRejected)
            agentActiveMilliseconds = agentActiveMilliseconds.addingSaturated(other.agentActiveMilliseconds)
            userActiveMilliseconds = userActiveMilliseconds.addingSaturated(other.userActiveMilliseconds)
        }

        /// Adds one event: a turn, a model call or a tool call; `subAgent` says whether a sub-agent's thread ran it.
        mutating func add(_ event: TelemetryEvent, subAgent: Bool) {
            switch event.name {
            case .turn:
                turns += 1
                if subAgent { subAgentTurns += 1 }
                turnsByStatus[event[.turnStatus]?.text ?? "unknown", default: 0] += 1
                if !subAgent {
                    let length = Int64(clamping: (event.endTimeUnixNano - event.startTimeUnixNano) / 1_000_000)
                    agentActiveMilliseconds = agentActiveMilliseconds.addingSaturated(length)
                }
                userActiveMilliseconds = userActiveMilliseconds.addingSaturated(event.integer(.userActiveMilliseconds))
            case .llmCall:
                modelCalls += 1
                inputTokens = inputTokens.addingSaturated(event.integer(.inputTokens))
                cachedInputTokens = cachedInputTokens.addingSaturated(event.integer(.cacheReadInputTokens))
                cacheWriteInputTokens = cacheWriteInputTokens.addingSaturated(event.integer(.cacheWriteInputTokens))
                outputTokens = outputTokens.addingSaturated(event.integer(.outputTokens))
                reasoningOutputTokens = reasoningOutputTokens.addingSaturated(event.integer(.reasoningOutputTokens))
                if case .double(let cost) = event[.costUSD], cost.isFinite {
                    costUSD += cost
                    if subAgent { subAgentCostUSD += cost }
                } else {
                    unpricedModelCalls += 1
                    if unpricedModels.count < 64 { unpricedModels.insert(event[.requestModel]?.text ?? "unknown") }
                }
            case .toolCall:
                toolCalls += 1
                linesAdded = linesAdded.addingSaturated(event.integer(.linesAdded))
                linesRemoved = linesRemoved.addingSaturated(event.integer(.linesRemoved))
                commits = commits.addingSaturated(event.integer(.commits))
                pullRequests = pullRequests.addingSaturated(event.integer(.pullRequests))
                    .addingSaturated(event.integer(.mergeRequests))
                switch event[.editDecision]?.text {
                case "accept", "acceptForSession": editsAccepted += 1
                case "decline": editsRejected += 1
                default: break
                }
            case .compaction, .rateLimit, .hookRun:
                return
            }
        }
    }

    /// A session: a root thread with the sub-agents it spawned, at any depth.
    package struct Session: Sendable, Hashable {
        package var totals = Totals()
        /// When its first event started, Unix nanoseconds.
        package var start: UInt64 = .max
        package var source: String?
    }

    /// The dimensions rows are keyed by, in order.
    package let dimensions: [Dimension]
    package let calendar: ReportCalendar
    /// The project of a thread, for `project` rows; `nil` when not known.
    private let project: @Sendable (_ thread: String) -> String?

    /// The rows, by their key: one value per dimension.
    package private(set) var groups: [[String]: Totals] = [:]
    package private(set) var total = Totals()
    /// Sessions by their root thread's id.
    package private(set) var sessions: [String: Session] = [:]
    /// Cost by day and model, for the chart of cost per day.
    package private(set) var costByDayAndModel: [String: [String: Double]] = [:]
    /// Tool calls by kind (`commandExecution`, `mcpToolCall`, …) and status.
    package private(set) var toolCallsByKindAndStatus: [String: [String: Int]] = [:]
    /// What was produced by day, for the chart of it.
    package private(set) var producedByDay: [String: Totals] = [:]
    /// The first and last start of an event counted, Unix nanoseconds.
    package private(set) var period: ClosedRange<UInt64>?
    private var costCells = 0
    /// The periods of the last quarter hour an event started in: events come in time order, and every zone's offset
    /// and its changes are whole quarter hours, so the quarter hour tells the periods.
    private var lastPeriods: (quarterHour: UInt64, day: String, week: String, month: String)?

    package static let maximumGroups = 4096
    package static let maximumSessions = 4096
    /// What stands for the groups and sessions past the bounds.
    package static let other = "other"

    /// - Parameters:
    ///   - dimensions: what rows are keyed by, one or two.
    ///   - calendar: the zone periods are told in.
    ///   - project: the project of a thread, for `project` rows.
    package init(
        by dimensions: [Dimension],
        calendar: ReportCalendar,
        project: @escaping @Sendable (_ thread: String) -> String? = { _ in nil }
    ) {
        self.dimensions = dimensions
        self.calendar = calendar
        self.project = project
    }

    /// Counts one event; events of other kinds than turns, model calls and tool calls are not counted.
    package mutating func add(_ event: TelemetryEvent) {
        switch event.name {
        case .turn, .llmCall, .toolCall: break
        case .compaction, .rateLimit, .hookRun: return
        }
        let thread = event[.conversationID]?.text ?? "unknown"
        let root = event[.rootThreadID]?.text ?? thread
        let subAgent = root != thread
        period =
            period.map { min($0.lowerBound, event.startTimeUnixNano)...max($0.upperBound, event.startTimeUnixNano) }
            ?? event.startTimeUnixNano...event.startTimeUnixNano
        total.add(event, subAgent: subAgent)

        let periods = periods(of: event.startTimeUnixNano)
        var key = dimensions.map { value(of: $0, for: event, periods: periods, thread: thread, root: root) }
        if groups[key] == nil, groups.count >= Self.maximumGroups { key = key.map { _ in Self.other } }
        groups[key, default: Totals()].add(event, subAgent: subAgent)

        let sessionKey = sessions[root] != nil || sessions.count < Self.maximumSessions ? root : Self.other
        var session = sessions[sessionKey, default: Session()]
        session.totals.add(event, subAgent: subAgent)
        session.start = min(session.start, event.startTimeUnixNano)
        if !subAgent, session.source == nil { session.source = event[.sessionSource]?.text }
        sessions[sessionKey] = session

        switch event.name {
        case .llmCall:
            guard case .double(let cost) = event[.costUSD], cost.isFinite else { break }
            let model = event[.requestModel]?.text ?? "unknown"
            if costByDayAndModel[periods.day]?[model] == nil {
                guard costCells < Self.maximumGroups else { break }
                costCells += 1
            }
            costByDayAndModel[periods.day, default: [:]][model, default: 0] += cost
        case .toolCall:
            let kind = event[.toolKind]?.text ?? "unknown"
            if toolCallsByKindAndStatus[kind] != nil || toolCallsByKindAndStatus.count < 64 {
                toolCallsByKindAndStatus[kind, default: [:]][event[.toolStatus]?.text ?? "unknown", default: 0] += 1
            }
            let produces = [.linesAdded, .linesRemoved, .commits, .pullRequests, .mergeRequests].contains {
                event[$0] != nil
            }
            if produces, producedByDay[periods.day] != nil || producedByDay.count < Self.maximumGroups {
                producedByDay[periods.day, default: Totals()].add(event, subAgent: subAgent)
            }
        default:
            break
        }
    }

    private mutating func periods(of time: UInt64) -> (quarterHour: UInt64, day: String, week: String, month: String) {
        let quarterHour = time / 900_000_000_000
        if let last = lastPeriods, last.quarterHour == quarterHour { return last }
        let periods = (quarterHour, calendar.day(time), calendar.week(time), calendar.month(time))
        lastPeriods = periods
        return periods
    }

    private func value(
        of dimension: Dimension,
        for event: TelemetryEvent,
        periods: (quarterHour: UInt64, day: String, week: String, month: String),
        thread: String,
        root: String
    ) -> String {
        switch dimension {
        case .day: periods.day
        case .week: periods.week
        case .month: periods.month
        case .model: event[.requestModel]?.text ?? "unknown"
        case .session: root
        case .source: event[.sessionSource]?.text ?? "unknown"
        case .project: project(thread) ?? project(root) ?? "unknown"
        }
    }

    /// The rows in order: periods and sessions by time, anything else by name.
    package var rows: [(key: [String], totals: Totals)] {
        groups.map { ($0.key, $0.value) }.sorted { left, right in
            for (index, dimension) in dimensions.enumerated() where left.key[index] != right.key[index] {
                if dimension == .session {
                    return (sessions[left.key[index]]?.start ?? .max, left.key[index])
                        < (sessions[right.key[index]]?.start ?? .max, right.key[index])
                }
                return left.key[index] < right.key[index]
            }
            return false
        }
    }

    /// The sessions that cost most, most first.
    package func costliestSessions(_ count: Int) -> [(id: String, session: Session)] {
        sessions.map { ($0.key, $0.value) }.sorted {
            ($0.1.totals.costUSD, $0.1.totals.modelCalls, $0.0) > ($1.1.totals.costUSD, $1.1.totals.modelCalls, $1.0)
        }.prefix(count).map { $0 }
    }
}

extension TelemetryEvent {
    fileprivate func integer(_ key: TelemetryAttribute.Key) -> Int64 {
        if case .int(let value) = self[key], value > 0 { return value }
        return 0
    }
}
