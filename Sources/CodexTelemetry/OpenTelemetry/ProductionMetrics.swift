import OTLP

/// What the agent produced, as metrics in our vocabulary: named as Claude Code names its own (`claude_code.` being
/// `codex.` here: `codex.lines_of_code.count`, `codex.commit.count`, …), with attributes in their style (`type`,
/// `decision`, `tool`, `language`, `platform`), so that the dashboards and reports teams build on those carry over.
/// Every value is a count or a duration the events carry; the attributes' values come from closed tables.
struct ProductionMetrics {
    static let linesOfCode = MetricAggregator.Descriptor(
        name: "codex.lines_of_code.count",
        description: "Lines of code added and removed by patches applied",
        unit: "{line}"
    )
    static let commits = MetricAggregator.Descriptor(
        name: "codex.commit.count",
        description: "Commits the agent made: git commit, or a GitHub or GitLab MCP tool that commits",
        unit: "{commit}"
    )
    static let pullRequests = MetricAggregator.Descriptor(
        name: "codex.pull_request.count",
        description: "Pull requests (GitHub) and merge requests (GitLab) the agent opened",
        unit: "{pull_request}"
    )
    static let editDecisions = MetricAggregator.Descriptor(
        name: "codex.code_edit_tool.decision",
        description:
            "Decisions on the agent's file edits: by a person (accept, acceptForSession, decline) or none asked",
        unit: "{decision}"
    )
    static let activeTime = MetricAggregator.Descriptor(
        name: "codex.active_time.total",
        description: "Active time: the agent's turns running, and the user's short gaps between turns",
        unit: "s"
    )
    static let sessions = MetricAggregator.Descriptor(
        name: "codex.session.count",
        description: "Sessions started, by source",
        unit: "{session}"
    )

    /// The threads counted started so far; cleared past a bound (a thread may then count twice).
    private var startedThreads: Set<String> = []
    private static let maximumStartedThreads = 65_536

    mutating func record(_ event: TelemetryEvent, into metrics: inout MetricAggregator) {
        let time = event.endTimeUnixNano
        let model = event[.requestModel]?.text.map { [OTLPAttribute("gen_ai.request.model", .string($0))] } ?? []
        if let thread = event[.conversationID]?.text, event.name == .turn || event.name == .toolCall,
            !startedThreads.contains(thread)
        {
            if startedThreads.count >= Self.maximumStartedThreads { startedThreads = [] }
            startedThreads.insert(thread)
            let source = [OTLPAttribute("codex.session.source", .string(event[.sessionSource]?.text ?? "unknown"))]
            metrics.record(1, to: Self.sessions, attributes: source, at: time)
        }
        switch event.name {
        case .toolCall:
            let tool = OTLPAttribute("tool", .string(event[.toolName]?.text ?? "unknown"))
            let language = OTLPAttribute("language", .string(event[.fileLanguage]?.text ?? "other"))
            for (type, key) in [("added", TelemetryAttribute.Key.linesAdded), ("removed", .linesRemoved)] {
                guard case .int(let lines) = event[key], lines > 0 else { continue }
                let attributes = model + [tool, language, OTLPAttribute("type", .string(type))]
                metrics.record(Double(lines), to: Self.linesOfCode, attributes: attributes, at: time)
            }
            if let decision = event[.editDecision]?.text {
                let attributes = model + [tool, language, OTLPAttribute("decision", .string(decision))]
                metrics.record(1, to: Self.editDecisions, attributes: attributes, at: time)
            }
            if event[.commits] != nil { metrics.record(1, to: Self.commits, attributes: model, at: time) }
            for (key, platform) in [(TelemetryAttribute.Key.pullRequests, "github"), (.mergeRequests, "gitlab")]
            where event[key] != nil {
                let attributes = model + [OTLPAttribute("platform", .string(platform))]
                metrics.record(1, to: Self.pullRequests, attributes: attributes, at: time)
            }
        case .turn:
            // The agent's time is its own turns': a sub-agent's run inside them, and would count twice.
            if event[.rootThreadID] == nil {
                let seconds = Double(event.endTimeUnixNano - event.startTimeUnixNano) / 1e9
                let agent = [OTLPAttribute("type", .string("agent"))]
                metrics.record(seconds, to: Self.activeTime, attributes: agent, at: time)
            }
            if case .int(let milliseconds) = event[.userActiveMilliseconds] {
                let user = [OTLPAttribute("type", .string("user"))]
                metrics.record(Double(milliseconds) / 1000, to: Self.activeTime, attributes: user, at: time)
            }
        default:
            break
        }
    }
}
