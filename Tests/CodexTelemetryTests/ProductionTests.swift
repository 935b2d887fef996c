import CodexAppServer
import CodexTelemetry
import JSONRPC
import OTLP
import Testing

/// What the agent produced, as the session core counts it: lines of patches applied, decisions on them, commits
/// and pull or merge requests that succeeded, and the user's time between turns.
struct ProductionTests {
    var session = SessionTelemetryTests()

    mutating func send(_ message: AppServerMessage, at milliseconds: UInt64) {
        session.send(message, at: milliseconds)
    }

    mutating func complete(_ item: ItemInfo, turn: String = "u1", thread: String = "t1", at time: UInt64) {
        send(.itemStarted(threadID: thread, turnID: turn, item: item, startedAtMilliseconds: nil), at: time - 10)
        send(.itemCompleted(threadID: thread, turnID: turn, item: item, completedAtMilliseconds: nil), at: time)
    }

    static func patch(_ id: String, _ status: ItemStatus, added: Int64, removed: Int64) -> ItemInfo {
        ItemInfo(
            id: id,
            type: "fileChange",
            status: status,
            fileChanges: FileChangeSummary(files: 1, linesAdded: added, linesRemoved: removed, language: "swift")
        )
    }

    /// Each patch decided as the client answered when that is seen, else as what became of it; only applied ones
    /// count lines; the turn totals them.
    @Test mutating func patchesAreCountedWhenAppliedAndDecidedAsTheyWere() throws {
        session.startTurn()
        func ask(_ item: String, request: Int64, at time: UInt64) {
            send(
                .approvalRequested(
                    threadID: "t1",
                    turnID: "u1",
                    itemID: item,
                    requestID: .int(request),
                    requestedAtMilliseconds: nil
                ),
                at: time
            )
        }
        ask("p1", request: 1, at: 1100)
        send(.approvalAnswered(requestID: .int(1), decision: "acceptForSession"), at: 1150)
        send(.serverRequestResolved(threadID: "t1", requestID: .int(1)), at: 1160)
        complete(Self.patch("p1", .completed, added: 10, removed: 2), at: 1200)
        ask("p2", request: 2, at: 1300)
        complete(Self.patch("p2", .completed, added: 5, removed: 0), at: 1400)
        ask("p3", request: 3, at: 1500)
        complete(Self.patch("p3", .declined, added: 7, removed: 7), at: 1600)
        complete(Self.patch("p4", .completed, added: 1, removed: 1), at: 1700)
        complete(Self.patch("p5", .failed, added: 3, removed: 3), at: 1800)
        send(.turnCompleted(threadID: "t1", turn: TurnInfo(id: "u1", status: "completed")), at: 1900)

        let calls = session.events.filter { $0.name == .toolCall }
        let decisions: [TelemetryAttribute.Value?] = [
            .string("acceptForSession"), .string("accept"), .string("decline"), .string("auto"), nil,
        ]
        #expect(calls.map { $0[.editDecision] } == decisions)
        #expect(calls.map { $0[.linesAdded] } == [.int(10), .int(5), nil, .int(1), nil])
        #expect(calls.map { $0[.linesRemoved] } == [.int(2), .int(0), nil, .int(1), nil])
        #expect(calls[0][.fileLanguage] == .string("swift") && calls[0][.filesChanged] == .int(1))
        let turn = try #require(session.events.last { $0.name == .turn })
        #expect(turn[.linesAdded] == .int(16) && turn[.linesRemoved] == .int(3) && turn[.filesChanged] == .int(3))
        #expect(turn[.editsAccepted] == .int(2) && turn[.editsRejected] == .int(1))
        #expect(turn[.editsUnprompted] == .int(1))
    }

    /// A commit, a pull request or a merge request counts when its call succeeded: a command that exited 0, an MCP
    /// tool that completed. One that failed counts nothing.
    @Test mutating func commitsAndRequestsCountWhenTheyHappened() throws {
        session.startTurn()
        complete(
            ItemInfo(id: "c1", type: "commandExecution", status: .completed, exitCode: 0, codeActions: .commit),
            at: 1100
        )
        complete(
            ItemInfo(id: "c2", type: "commandExecution", status: .failed, exitCode: 1, codeActions: .commit),
            at: 1200
        )
        complete(
            ItemInfo(
                id: "c3",
                type: "commandExecution",
                status: .completed,
                exitCode: 0,
                codeActions: [.commit, .pullRequest]
            ),
            at: 1300
        )
        complete(ItemInfo(id: "m1", type: "mcpToolCall", status: .completed, codeActions: .mergeRequest), at: 1400)
        complete(ItemInfo(id: "m2", type: "mcpToolCall", status: .failed, codeActions: .pullRequest), at: 1500)
        send(.turnCompleted(threadID: "t1", turn: TurnInfo(id: "u1", status: "completed")), at: 1600)

        let calls = session.events.filter { $0.name == .toolCall }
        #expect(calls.map { $0[.commits] } == [.int(1), nil, .int(1), nil, nil])
        #expect(calls.map { $0[.pullRequests] } == [nil, nil, .int(1), nil, nil])
        #expect(calls.map { $0[.mergeRequests] } == [nil, nil, nil, .int(1), nil])
        let turn = try #require(session.events.last { $0.name == .turn })
        #expect(turn[.commits] == .int(2) && turn[.pullRequests] == .int(1) && turn[.mergeRequests] == .int(1))
    }

    /// The user's time before a turn is the gap since the thread's last turn ended, under five minutes; a longer
    /// gap is the user away; a thread's first turn, and a sub-agent's turns, have none.
    @Test mutating func theUsersTimeIsTheShortGapsBetweenTurns() {
        func turn(_ id: String, thread: String = "t1", from start: UInt64, to end: UInt64) {
            send(.turnStarted(threadID: thread, turn: TurnInfo(id: id, status: "inProgress")), at: start)
            send(.turnCompleted(threadID: thread, turn: TurnInfo(id: id, status: "completed")), at: end)
        }
        send(.threadOpened(ThreadInfo(id: "t1", model: "m", provider: "openai")), at: 0)
        turn("u1", from: 1_000, to: 2_000)
        turn("u2", from: 62_000, to: 63_000)
        turn("u3", from: 63_000 + 5 * 60_000 + 1, to: 400_000)
        send(.threadOpened(ThreadInfo(id: "child", model: "m", provider: "openai", parentThreadID: "t1")), at: 0)
        turn("k1", thread: "child", from: 1_000, to: 2_000)
        turn("k2", thread: "child", from: 3_000, to: 4_000)
        let turns = session.events.filter { $0.name == .turn }
        #expect(turns.map { $0[.userActiveMilliseconds] } == [nil, .int(60_000), nil, nil, nil])
    }
}

/// The metrics of what was produced, in both vocabularies: values as the events give them, by the attributes
/// dashboards group by.
struct ProductionMetricsTests {
    static let start: UInt64 = 1_795_000_000_000_000_000

    static func event(
        _ name: TelemetryEvent.Name,
        lasting seconds: UInt64 = 1,
        _ attributes: [TelemetryAttribute]
    ) -> TelemetryEvent {
        TelemetryEvent(
            name: name,
            startTimeUnixNano: start,
            endTimeUnixNano: start + seconds * 1_000_000_000,
            attributes: attributes + [
                TelemetryAttribute(key: .conversationID, value: .string("t1")),
                TelemetryAttribute(key: .requestModel, value: .string("gpt-5.5")),
                TelemetryAttribute(key: .sessionSource, value: .string("exec")),
            ]
        )
    }

    static let events = [
        event(
            .toolCall,
            [
                TelemetryAttribute(key: .toolName, value: .string("apply_patch")),
                TelemetryAttribute(key: .linesAdded, value: .int(12)),
                TelemetryAttribute(key: .linesRemoved, value: .int(4)),
                TelemetryAttribute(key: .fileLanguage, value: .string("swift")),
                TelemetryAttribute(key: .editDecision, value: .string("accept")),
            ]
        ),
        event(.toolCall, [TelemetryAttribute(key: .commits, value: .int(1))]),
        event(
            .toolCall,
            [
                TelemetryAttribute(key: .pullRequests, value: .int(1)),
                TelemetryAttribute(key: .mergeRequests, value: .int(1)),
            ]
        ),
        event(
            .turn,
            lasting: 30,
            [
                TelemetryAttribute(key: .linesAdded, value: .int(12)),
                TelemetryAttribute(key: .linesRemoved, value: .int(4)),
                TelemetryAttribute(key: .userActiveMilliseconds, value: .int(45_000)),
            ]
        ),
        // A sub-agent's turn: its time is inside its parent's.
        event(.turn, lasting: 20, [TelemetryAttribute(key: .rootThreadID, value: .string("t0"))]),
    ]

    static func metrics(_ names: MetricNames) -> [String: OTLPMetric] {
        var mapping = OpenTelemetryMapping(temporality: .cumulative, metricNames: names)
        for event in events { _ = mapping.map(event) }
        return Dictionary(uniqueKeysWithValues: mapping.metrics.collect().map { ($0.name, $0) })
    }

    /// The sum of a metric's points whose attributes hold `attributes`.
    static func sum(_ metric: OTLPMetric?, _ attributes: [String: String] = [:]) -> Double {
        func holds(_ pointAttributes: [OTLPAttribute]) -> Bool {
            attributes.allSatisfy { key, value in pointAttributes.contains(OTLPAttribute(key, .string(value))) }
        }
        switch metric?.data {
        case .sum(let points, _): return points.filter { holds($0.attributes) }.map(\.value).reduce(0, +)
        case .histogram(let points): return points.filter { holds($0.attributes) }.map(\.sum).reduce(0, +)
        default: return -1
        }
    }

    @Test func ourVocabularyCountsWhatWasProducedInClaudeCodesStyle() {
        let metrics = Self.metrics(.genai)
        let lines = metrics["codex.lines_of_code.count"]
        #expect(Self.sum(lines, ["type": "added", "language": "swift", "tool": "apply_patch"]) == 12)
        #expect(Self.sum(lines, ["type": "removed"]) == 4)
        #expect(Self.sum(metrics["codex.code_edit_tool.decision"], ["decision": "accept", "language": "swift"]) == 1)
        #expect(Self.sum(metrics["codex.commit.count"]) == 1)
        #expect(Self.sum(metrics["codex.pull_request.count"], ["platform": "github"]) == 1)
        #expect(Self.sum(metrics["codex.pull_request.count"], ["platform": "gitlab"]) == 1)
        // The agent's own turns, in seconds; not the sub-agent's inside them.
        #expect(Self.sum(metrics["codex.active_time.total"], ["type": "agent"]) == 30)
        #expect(Self.sum(metrics["codex.active_time.total"], ["type": "user"]) == 45)
        #expect(Self.sum(metrics["codex.session.count"], ["codex.session.source": "exec"]) == 1)
        #expect(metrics["codex.active_time.total"]?.unit == "s")
    }

    @Test func codexsNamesCountWhatWasProducedAsCodexWouldNameIt() {
        let metrics = Self.metrics(.codex)
        let lines = metrics["codex.turn.lines_changed"]
        #expect(Self.sum(lines, ["change_type": "added", "model": "gpt-5.5"]) == 12)
        #expect(Self.sum(lines, ["change_type": "removed"]) == 4)
        #expect(Self.sum(metrics["codex.edit.decision"], ["decision": "accept", "language": "swift"]) == 1)
        #expect(Self.sum(metrics["codex.commit"], ["session_source": "exec"]) == 1)
        #expect(Self.sum(metrics["codex.pull_request"], ["platform": "gitlab"]) == 1)
        #expect(Self.sum(metrics["codex.turn.user_active_duration_ms"]) == 45_000)
        #expect(metrics["codex.turn.user_active_duration_ms"]?.unit == "ms")
        #expect(metrics["codex.lines_of_code.count"] == nil, "one vocabulary at a time")
    }

    /// Both vocabularies at once count each commit and pull request once in each: no metric of one has the other's
    /// name.
    @Test func bothVocabulariesCountEachCommitOnceInEach() {
        let metrics = Self.metrics(.both)
        #expect(Self.sum(metrics["codex.commit.count"]) == 1)
        #expect(Self.sum(metrics["codex.commit"]) == 1)
        #expect(Self.sum(metrics["codex.pull_request.count"]) == 2)
        #expect(Self.sum(metrics["codex.pull_request"]) == 2)
    }
}
