import CodexAppServer
import CodexTelemetry
import JSONRPC
import OTLP
import TestSupport
import Testing

/// The state machine on literal inputs. Times are in milliseconds after `epoch` here, scaled at the boundary.
struct SessionTelemetryTests {
    /// 2026-11-18: payload times must be believable ones.
    static let epoch: UInt64 = 1_795_000_000_000

    /// A payload time (Unix milliseconds) `milliseconds` after the epoch.
    static func at(_ milliseconds: Int64) -> Int64 { Int64(epoch) + milliseconds }

    var telemetry = SessionTelemetry(
        prices: PriceTable(prices: ["m": ModelPrice(input: 2, cachedInput: 1, output: 10)])
    )
    var events: [TelemetryEvent] = []

    mutating func send(_ message: AppServerMessage, at milliseconds: UInt64) {
        events += telemetry.receive(message, at: (Self.epoch + milliseconds) * 1_000_000)
    }

    /// The thread's cumulative usage after a model call, and that call's own.
    mutating func sendUsage(
        _ total: TokenUsage,
        last: TokenUsage,
        thread: String = "t1",
        turn: String = "u1",
        at milliseconds: UInt64
    ) {
        send(.tokenUsageUpdated(threadID: thread, turnID: turn, total: total, last: last), at: milliseconds)
    }

    static func usage(_ input: Int64, _ cached: Int64, _ output: Int64, _ reasoning: Int64) -> TokenUsage {
        TokenUsage(input: input, cachedInput: cached, output: output, reasoningOutput: reasoning)
    }

    mutating func startTurn(_ turn: String = "u1", thread: String = "t1", model: String = "m", at time: UInt64 = 1000) {
        send(.threadOpened(ThreadInfo(id: thread, model: model, provider: "openai")), at: time)
        send(.turnStarted(threadID: thread, turn: TurnInfo(id: turn, status: "inProgress")), at: time)
    }

    /// A model call runs from the prompt (or the previous call's usage) to where the model's output ended, the last
    /// piece of it before the first tool it asked for, not to its usage, which comes after the tools ran. Output
    /// at the very start of a call is not that call's: with none after it, the call ends at its usage.
    @Test mutating func aModelCallEndsWhereItsOutputDid() {
        startTurn()
        func completed(_ id: String, _ type: String, at time: UInt64) {
            let item = ItemInfo(id: id, type: type)
            send(.itemCompleted(threadID: "t1", turnID: "u1", item: item, completedAtMilliseconds: nil), at: time)
        }
        completed("prompt", "userMessage", at: 1010)
        completed("thinking", "reasoning", at: 1100)
        completed("words", "agentMessage", at: 1150)
        let tool = ItemInfo(id: "c1", type: "commandExecution", status: "completed", exitCode: 0)
        send(.itemStarted(threadID: "t1", turnID: "u1", item: tool, startedAtMilliseconds: nil), at: 1200)
        completed("late", "agentMessage", at: 1250)
        send(.itemCompleted(threadID: "t1", turnID: "u1", item: tool, completedAtMilliseconds: nil), at: 1300)
        sendUsage(Self.usage(100, 0, 10, 0), last: Self.usage(100, 0, 10, 0), at: 1400)
        completed("edge", "reasoning", at: 1400)
        sendUsage(Self.usage(200, 0, 20, 0), last: Self.usage(100, 0, 10, 0), at: 1650)
        let calls = events.filter { $0.name == .llmCall }
        let epoch = Self.epoch * 1_000_000
        #expect(calls.map { ($0.startTimeUnixNano - epoch) / 1_000_000 } == [1010, 1400])
        #expect(calls.map { ($0.endTimeUnixNano - epoch) / 1_000_000 } == [1150, 1650])
        #expect(calls.map { $0[.durationMilliseconds] } == [.int(140), .int(250)])
    }

    /// A compaction holds the context of the last call before it ends (its own, which reads the history) and
    /// what the server reports after it without a call.
    @Test mutating func aCompactionIsAnEventWithTheContextBeforeAndAfter() {
        startTurn()
        let compaction = ItemInfo(id: "k1", type: "contextCompaction")
        send(.itemStarted(threadID: "t1", turnID: "u1", item: compaction, startedAtMilliseconds: nil), at: 1100)
        let total = Self.usage(900, 0, 100, 0)
        let summary = AppServerMessage.tokenUsageUpdated(
            threadID: "t1",
            turnID: "u1",
            total: total,
            last: total,
            context: ContextUsage(tokens: 1000, window: 4000)
        )
        send(summary, at: 1500)
        let after = AppServerMessage.tokenUsageUpdated(
            threadID: "t1",
            turnID: "u1",
            total: total,
            last: .zero,
            context: ContextUsage(tokens: 120, window: 4000)
        )
        send(after, at: 1600)
        send(.itemCompleted(threadID: "t1", turnID: "u1", item: compaction, completedAtMilliseconds: nil), at: 1700)
        send(.turnCompleted(threadID: "t1", turn: TurnInfo(id: "u1", status: "completed")), at: 1800)
        #expect(events.map(\.name) == [.llmCall, .compaction, .turn])
        #expect(events[0][.contextUtilization] == .double(0.25))
        #expect(events[0][.contextWindow] == .int(4000))
        #expect(events[1][.tokensBefore] == .int(1000))
        #expect(events[1][.tokensAfter] == .int(120))
        #expect(events[1][.durationMilliseconds] == .int(600))
        // The repeated snapshot was not a call.
        #expect(events[2][.llmCallCount] == .int(1))
        expectSpansNestInTheirTurns(events)
    }

    /// An approval's wait is the time from the request to its answer, on the item it was for, whether the item
    /// was reported started or only completed; a request never answered leaves no wait.
    @Test mutating func anApprovalsWaitIsOnItsToolCall() {
        startTurn()
        let command = ItemInfo(id: "c1", type: "commandExecution", status: "inProgress")
        send(.itemStarted(threadID: "t1", turnID: "u1", item: command, startedAtMilliseconds: nil), at: 1100)
        func ask(_ item: String, _ request: Int64, at time: UInt64) {
            let message = AppServerMessage.approvalRequested(
                threadID: "t1",
                turnID: "u1",
                itemID: item,
                requestID: .int(request),
                requestedAtMilliseconds: nil
            )
            send(message, at: time)
        }
        ask("c1", 0, at: 1200)
        send(.serverRequestResolved(threadID: "t1", requestID: .int(0)), at: 1700)
        var declined = command
        declined.status = .declined
        send(.itemCompleted(threadID: "t1", turnID: "u1", item: declined, completedAtMilliseconds: nil), at: 1750)
        // An item reported only once completed (older releases), and one whose request is never answered.
        ask("c2", 1, at: 1800)
        send(.serverRequestResolved(threadID: "t1", requestID: .int(1)), at: 1900)
        ask("c3", 2, at: 1950)
        for id in ["c2", "c3"] {
            let item = ItemInfo(id: id, type: "fileChange", status: .declined)
            send(.itemCompleted(threadID: "t1", turnID: "u1", item: item, completedAtMilliseconds: nil), at: 2000)
        }
        let waits = events.filter { $0.name == .toolCall }.map { $0[.approvalWaitMilliseconds] }
        #expect(waits == [.int(500), .int(100), nil])
    }

    /// Requests never answered are bounded: past the limit they are counted, not kept.
    @Test mutating func unansweredApprovalsAreBounded() {
        startTurn()
        for request in 0..<300 {
            let message = AppServerMessage.approvalRequested(
                threadID: "t1",
                turnID: "u1",
                itemID: "c\(request)",
                requestID: .int(Int64(request)),
                requestedAtMilliseconds: nil
            )
            send(message, at: 1100)
        }
        #expect(telemetry.discards.outOfRange == 300 - 256)
        // They go with their turn (old releases never say a request was answered): the next turn's are kept.
        send(.turnCompleted(threadID: "t1", turn: TurnInfo(id: "u1", status: .completed)), at: 1200)
        startTurn("u2", at: 1300)
        let request = AppServerMessage.approvalRequested(
            threadID: "t1",
            turnID: "u2",
            itemID: "c",
            requestID: .int(0),
            requestedAtMilliseconds: nil
        )
        send(request, at: 1400)
        #expect(telemetry.discards.outOfRange == 300 - 256)
    }

    /// A hook's run is an event in its turn (whose span grows to hold it), or of its thread alone; in traces, a
    /// turn's hook is a span under the turn and a thread's is a log record only.
    @Test mutating func hookRunsAreEventsInTheirTurns() {
        startTurn()
        let stop = HookRun(
            eventName: "stop",
            handlerType: "command",
            source: "user",
            status: "completed",
            durationMilliseconds: 40
        )
        send(.hookCompleted(threadID: "t1", turnID: "u1", run: stop), at: 1990)
        send(.turnCompleted(threadID: "t1", turn: TurnInfo(id: "u1", status: .completed)), at: 1980)
        let start = HookRun(eventName: "sessionStart", status: "failed", durationMilliseconds: 5)
        send(.hookCompleted(threadID: "t1", turnID: nil, run: start), at: 2100)
        #expect(events.map(\.name) == [.hookRun, .turn, .hookRun])
        #expect(events[0][.hookEvent] == .string("stop"))
        #expect(events[0][.hookStatus] == .string("completed"))
        #expect(events[0][.hookSource] == .string("user"))
        #expect(events[0][.durationMilliseconds] == .int(40))
        #expect(events[0][.requestModel] == .string("m"))
        #expect(events[1].endTimeUnixNano == events[0].endTimeUnixNano)
        #expect(events[2][.turnID] == nil)
        #expect(events[2][.conversationID] == .string("t1"))
        expectSpansNestInTheirTurns(events)
        var mapping = OpenTelemetryMapping(temporality: .cumulative)
        let spans = events.map { mapping.map($0).span }
        #expect(spans[0]?.name == "hook stop")
        #expect(spans[0]?.parentSpanID == spans[1]?.spanID)
        #expect(spans[2] == nil)
    }

    /// Quotas are read per window; numbers outside what a quota can be are not believed.
    @Test mutating func eachQuotaWindowIsAReading() {
        let limits = RateLimits(
            limitID: "codex",
            planType: "pro",
            windows: [
                RateLimits.Window(name: "primary", usedPercent: 42, durationMinutes: 300, resetsAt: 1_795_010_000),
                RateLimits.Window(name: "secondary", usedPercent: -5, durationMinutes: 10_080, resetsAt: nil),
                RateLimits.Window(name: "secondary", usedPercent: 7, durationMinutes: -1, resetsAt: 99),
            ]
        )
        send(.rateLimitsUpdated(limits), at: 1000)
        #expect(events.map(\.name) == [.rateLimit, .rateLimit])
        #expect(events[0][.usedPercent] == .int(42))
        #expect(events[0][.windowMinutes] == .int(300))
        #expect(events[0][.resetsAt] == .int(1_795_010_000))
        #expect(events[0][.planType] == .string("pro"))
        #expect(events[1][.usedPercent] == .int(7))
        #expect(events[1][.windowMinutes] == nil)
        #expect(events[1][.resetsAt] == nil)
        var mapping = OpenTelemetryMapping(temporality: .cumulative)
        #expect(events.allSatisfy { mapping.map($0).span == nil })
        let gauges = mapping.metrics.collect().filter { metric in
            if case .gauge = metric.data { true } else { false }
        }
        #expect(
            Set(gauges.map(\.name)) == [
                "codex.rate_limit.used_percent", "codex.rate_limit.window_minutes", "codex.rate_limit.resets_at",
            ]
        )
    }

    /// Without the server's root turn (a rollout, an older release), a child of the root thread belongs to the
    /// turn that spawned it; a report that would make a thread its own ancestor is not believed.
    @Test mutating func lineageComesFromSpawnsAndNeverLoops() {
        startTurn("u1", thread: "root")
        let spawn = ItemInfo(
            id: "c1",
            type: "collabAgentToolCall",
            toolName: "spawnAgent",
            status: "completed",
            spawnedThreadIDs: ["child"]
        )
        send(.itemCompleted(threadID: "root", turnID: "u1", item: spawn, completedAtMilliseconds: nil), at: 1100)
        send(.threadOpened(ThreadInfo(id: "root", parentThreadID: "child")), at: 1150)
        send(.turnStarted(threadID: "child", turn: TurnInfo(id: "c-u1", status: "inProgress")), at: 1200)
        send(.turnCompleted(threadID: "child", turn: TurnInfo(id: "c-u1", status: "completed")), at: 1300)
        send(.turnCompleted(threadID: "root", turn: TurnInfo(id: "u1", status: "completed")), at: 1400)
        let child = events.first { $0.name == .turn && $0[.conversationID] == .string("child") }
        #expect(child?[.parentThreadID] == .string("root"))
        #expect(child?[.rootThreadID] == .string("root"))
        #expect(child?[.rootTurnID] == .string("u1"))
        #expect(child?[.parentToolCallID] == .string("c1"))
        #expect(child?[.agentDepth] == .int(1))
        let root = events.first { $0.name == .turn && $0[.conversationID] == .string("root") }
        #expect(root?[.parentThreadID] == nil)
        #expect(root?[.sessionSource] == nil)
    }

    @Test mutating func modelCallsAreTheChangeInTheCumulativeTotalAndRepeatsAreNotCalls() {
        startTurn()
        sendUsage(Self.usage(100, 40, 10, 2), last: Self.usage(100, 40, 10, 2), at: 2000)
        sendUsage(Self.usage(100, 40, 10, 2), last: Self.usage(100, 40, 10, 2), at: 2100)
        // `last` disagrees on purpose: the change in the total wins.
        sendUsage(Self.usage(250, 90, 30, 7), last: Self.usage(1, 1, 1, 1), at: 3000)
        send(
            .turnCompleted(threadID: "t1", turn: TurnInfo(id: "u1", status: "completed", durationMilliseconds: 2500)),
            at: 3500
        )

        let calls = events.filter { $0.name == .llmCall }
        #expect(calls.map { $0[.inputTokens] } == [.int(100), .int(150)])
        #expect(calls.map { $0[.cacheReadInputTokens] } == [.int(40), .int(50)])
        #expect(calls.map { $0[.outputTokens] } == [.int(10), .int(20)])
        #expect(calls.map { $0[.reasoningOutputTokens] } == [.int(2), .int(5)])
        #expect(calls.map(\.startTimeUnixNano) == [1000, 2000].map { (Self.epoch + $0) * 1_000_000 })
        // (100-40)*2 + 40*1 + 10*10 = 260 per million; (150-50)*2 + 50 + 200 = 450 per million.
        #expect(calls.map { $0[.costUSD] } == [.double(260e-6), .double(450e-6)])
        let turn = events.last!
        #expect(turn.name == .turn)
        #expect(turn[.inputTokens] == .int(250))
        #expect(turn[.llmCallCount] == .int(2))
        guard case .double(let cost) = turn[.costUSD] else {
            Issue.record("no turn cost")
            return
        }
        #expect(abs(cost - 710e-6) < 1e-15)
        #expect(turn[.durationMilliseconds] == .int(2500))
        #expect(turn[.turnStatus] == .string("completed"))
        #expect(turn[.errorType] == nil)
    }

    @Test mutating func aResumeReplayingAnOldSnapshotSetsTheBaselineOnly() {
        send(.threadOpened(ThreadInfo(id: "t1", model: "m")), at: 1000)
        // Replayed by thread/resume, with a turn id of another time: history, not a call.
        sendUsage(Self.usage(5000, 0, 500, 0), last: Self.usage(50, 0, 5, 0), turn: "old", at: 1000)
        startTurn("u2")
        sendUsage(Self.usage(5100, 0, 520, 0), last: Self.usage(100, 0, 20, 0), turn: "u2", at: 2000)
        let calls = events.filter { $0.name == .llmCall }
        #expect(calls.count == 1)
        #expect(calls.first?[.inputTokens] == .int(100))
        #expect(calls.first?[.outputTokens] == .int(20))
    }

    @Test mutating func aForkStartsFromItsParentsTotal() {
        startTurn()
        sendUsage(Self.usage(100, 0, 10, 0), last: Self.usage(100, 0, 10, 0), at: 2000)
        send(.threadOpened(ThreadInfo(id: "t2", model: "m", forkedFromID: "t1")), at: 3000)
        send(.turnStarted(threadID: "t2", turn: TurnInfo(id: "f1", status: "inProgress")), at: 3000)
        sendUsage(Self.usage(130, 0, 15, 0), last: Self.usage(30, 0, 5, 0), thread: "t2", turn: "f1", at: 4000)
        #expect(events.filter { $0.name == .llmCall }.map { $0[.inputTokens] } == [.int(100), .int(30)])
    }

    @Test mutating func aThreadFirstSeenMidHistoryUsesThePerCallFigure() {
        startTurn()
        sendUsage(Self.usage(9000, 0, 900, 0), last: Self.usage(300, 0, 30, 0), at: 2000)
        #expect(events.first?[.inputTokens] == .int(300))
    }

    @Test mutating func aFailedTurnCarriesErrorClassNotMessage() {
        startTurn()
        send(.error(threadID: "t1", turnID: "u1", errorClass: "serverOverloaded", willRetry: true), at: 1500)
        send(.error(threadID: "t1", turnID: "u1", errorClass: "responseStreamDisconnected", willRetry: false), at: 1600)
        send(.turnCompleted(threadID: "t1", turn: TurnInfo(id: "u1", status: "failed")), at: 1700)
        #expect(events.last?[.errorType] == .string("responseStreamDisconnected"))
        #expect(events.last?[.costUSD] == nil)
    }

    @Test mutating func aFailedTurnWithoutAClassStillHasAnErrorType() {
        startTurn()
        send(.turnCompleted(threadID: "t1", turn: TurnInfo(id: "u1", status: "failed")), at: 1700)
        #expect(events.last?[.errorType] == .string("other"))
    }

    @Test mutating func toolsStillOpenWhenTheWaitForThemEndsAreClosedWithTheirTurn() {
        startTurn()
        let tool = ItemInfo(id: "c1", type: "commandExecution", status: "inProgress")
        send(.itemStarted(threadID: "t1", turnID: "u1", item: tool, startedAtMilliseconds: Self.at(1200)), at: 1201)
        send(
            .itemStarted(
                threadID: "t1",
                turnID: "u1",
                item: ItemInfo(id: "r1", type: "reasoning"),
                startedAtMilliseconds: Self.at(1200)
            ),
            at: 1201
        )
        send(.turnCompleted(threadID: "t1", turn: TurnInfo(id: "u1", status: "interrupted")), at: 2000)
        // The turn waits for its command, which some releases complete after the turn.
        #expect(events.isEmpty)
        #expect(telemetry.isAwaitingTools(threadID: "t1", turnID: "u1"))
        send(.threadSettingsUpdated(threadID: "t1", model: "m"), at: 7000)
        #expect(events.isEmpty)
        // Past the grace, in the session's own time: closed as the turn ended, not when the wait gave up.
        send(.threadSettingsUpdated(threadID: "t1", model: "m"), at: 7001)
        #expect(events.map(\.name) == [.toolCall, .turn])
        #expect(events[0][.toolStatus] == .string("interrupted"))
        #expect(events[0][.durationMilliseconds] == .int(800))
        #expect(events[1][.toolCallCount] == .int(1))
        #expect(events[1][.turnStatus] == .string("interrupted"))
        #expect(events[1].endTimeUnixNano == (Self.epoch + 2000) * 1_000_000)
    }

    /// Codex 0.133 to 0.142 send a command's `item/completed` after its `turn/completed`, even after the next
    /// `turn/started`: the real completion is what counts.
    @Test mutating func aToolCompletedAfterItsTurnEndedIsCountedWithItsRealOutcome() {
        startTurn()
        let running = ItemInfo(id: "c1", type: "commandExecution", status: "inProgress")
        send(.itemStarted(threadID: "t1", turnID: "u1", item: running, startedAtMilliseconds: Self.at(1100)), at: 1100)
        sendUsage(Self.usage(10, 0, 1, 0), last: Self.usage(10, 0, 1, 0), at: 1500)
        send(
            .turnCompleted(threadID: "t1", turn: TurnInfo(id: "u1", status: "completed", durationMilliseconds: 900)),
            at: 1900
        )
        send(.turnStarted(threadID: "t1", turn: TurnInfo(id: "u2", status: "inProgress")), at: 1950)
        #expect(events.map(\.name) == [.llmCall])
        // A repeated snapshot for the ended turn is no call.
        sendUsage(Self.usage(10, 0, 1, 0), last: Self.usage(10, 0, 1, 0), at: 1960)
        let completed = ItemInfo(
            id: "c1",
            type: "commandExecution",
            status: "failed",
            exitCode: 3,
            durationMilliseconds: 950
        )
        send(
            .itemCompleted(threadID: "t1", turnID: "u1", item: completed, completedAtMilliseconds: Self.at(2050)),
            at: 2060
        )
        #expect(events.map(\.name) == [.llmCall, .toolCall, .turn])
        let tool = events[1]
        #expect(tool[.toolStatus] == .string("failed"))
        #expect(tool[.processExitCode] == .int(3))
        #expect(tool[.durationMilliseconds] == .int(950))
        let turn = events[2]
        #expect(turn[.toolCallCount] == .int(1))
        #expect(turn[.llmCallCount] == .int(1))
        #expect(turn[.turnStatus] == .string("completed"))
        // The turn's span holds the late tool, and every duration is its span.
        expectSpansNestInTheirTurns(events)
        #expect(telemetry.isAwaitingTools(threadID: "t1", turnID: "u1") == false)
        // The next turn was not disturbed.
        send(.turnCompleted(threadID: "t1", turn: TurnInfo(id: "u2", status: "completed")), at: 2100)
        #expect(events.last?[.turnID] == .string("u2"))
    }

    @Test mutating func aLiveReaderCanStopWaitingForLateTools() {
        startTurn()
        let running = ItemInfo(id: "c1", type: "commandExecution", status: "inProgress")
        send(.itemStarted(threadID: "t1", turnID: "u1", item: running, startedAtMilliseconds: Self.at(1100)), at: 1100)
        send(.turnCompleted(threadID: "t1", turn: TurnInfo(id: "u1", status: "completed")), at: 1900)
        #expect(events.isEmpty)
        events += telemetry.stopAwaitingTools(threadID: "t1", turnID: "u1")
        #expect(events.map(\.name) == [.toolCall, .turn])
        #expect(events[0][.toolStatus] == .string("incomplete"))
        #expect(events[1][.turnStatus] == .string("completed"))
        #expect(telemetry.finish().isEmpty)
    }

    /// Codex 0.125 dates turns to the whole second: the calls inside still fall within the turn's span.
    @Test mutating func aTurnDatedToTheSecondStillContainsItsCalls() {
        send(.threadOpened(ThreadInfo(id: "t1", model: "m")), at: 0)
        send(.turnStarted(threadID: "t1", turn: TurnInfo(id: "u1", status: "inProgress")), at: 1000)
        let tool = ItemInfo(
            id: "c1",
            type: "commandExecution",
            status: "completed",
            exitCode: 0,
            durationMilliseconds: 300
        )
        send(.itemCompleted(threadID: "t1", turnID: "u1", item: tool, completedAtMilliseconds: Self.at(2400)), at: 2400)
        sendUsage(Self.usage(10, 0, 1, 0), last: Self.usage(10, 0, 1, 0), at: 2600)
        // Completed "at" 2000 (floored from 2.7 s), lasting 1700 ms by the server's count.
        send(
            .turnCompleted(threadID: "t1", turn: TurnInfo(id: "u1", status: "completed", durationMilliseconds: 1700)),
            at: 2000
        )
        #expect(events.map(\.name) == [.toolCall, .llmCall, .turn])
        expectSpansNestInTheirTurns(events)
    }

    /// Codex 0.98 and older number turns "0", "1", … in every thread: two threads' turn "0" are two turns.
    @Test mutating func turnIdsRepeatedAcrossThreadsAreDistinctTurns() {
        startTurn("0", thread: "a")
        startTurn("0", thread: "b")
        send(.turnCompleted(threadID: "a", turn: TurnInfo(id: "0", status: "completed")), at: 1500)
        send(.turnCompleted(threadID: "b", turn: TurnInfo(id: "0", status: "failed")), at: 1600)
        #expect(events.map { $0[.conversationID] } == [.string("a"), .string("b")])
        #expect(events.map { $0[.turnStatus] } == [.string("completed"), .string("failed")])
        var mapping = OpenTelemetryMapping(temporality: .cumulative)
        #expect(Set(events.compactMap { mapping.map($0).span?.spanID }).count == 2)
        #expect(Set(events.compactMap { mapping.map($0).span?.traceID }).count == 2)
    }

    @Test mutating func everyTurnEndsExactlyOnce() {
        startTurn()
        send(.turnCompleted(threadID: "t1", turn: TurnInfo(id: "u1", status: "completed")), at: 2000)
        send(.turnCompleted(threadID: "t1", turn: TurnInfo(id: "u1", status: "completed")), at: 2001)
        send(
            .itemCompleted(
                threadID: "t1",
                turnID: "u1",
                item: ItemInfo(id: "late", type: "fileChange"),
                completedAtMilliseconds: Self.at(2002)
            ),
            at: 2002
        )
        startTurn("u2")
        events += telemetry.finish()
        events += telemetry.finish()
        let turns = events.filter { $0.name == .turn }
        #expect(turns.map { $0[.turnID] } == [.string("u1"), .string("u2")])
        #expect(turns.last?[.turnStatus] == .string("incomplete"))
        #expect(!events.contains { $0[.toolCallID] == .string("late") })
    }

    @Test mutating func theModelFollowsSettingsAndReroutes() {
        startTurn()
        send(.modelRerouted(threadID: "t1", turnID: "u1", model: "m-small"), at: 1100)
        sendUsage(Self.usage(10, 0, 1, 0), last: Self.usage(10, 0, 1, 0), at: 1200)
        send(.turnCompleted(threadID: "t1", turn: TurnInfo(id: "u1", status: "completed")), at: 1300)
        send(.threadSettingsUpdated(threadID: "t1", model: "m-large"), at: 1400)
        startTurn("u2", model: "m-large")
        send(.turnCompleted(threadID: "t1", turn: TurnInfo(id: "u2", status: "completed")), at: 1500)
        #expect(events.map { $0[.requestModel] } == [.string("m-small"), .string("m-small"), .string("m-large")])
        // An unpriced model has no cost, never a made-up one.
        #expect(events[0][.costUSD] == nil)
    }

    @Test mutating func toolNamesAreNamesNeverArguments() {
        startTurn()
        let items = [
            ItemInfo(id: "a", type: "mcpToolCall", toolName: "search_docs", toolServer: "docs", status: "completed"),
            ItemInfo(id: "b", type: "dynamicToolCall", toolName: "lookup", status: "failed"),
            ItemInfo(id: "c", type: "fileChange", status: "declined"),
            ItemInfo(id: "d", type: "webSearch"),
            ItemInfo(id: "e", type: "mcpToolCall", toolName: "rm -rf ZQXMARK", status: "completed"),
        ]
        for item in items {
            send(
                .itemCompleted(threadID: "t1", turnID: "u1", item: item, completedAtMilliseconds: Self.at(1500)),
                at: 1500
            )
        }
        #expect(
            events.map { $0[.toolName] }
                == ["search_docs", "lookup", "apply_patch", "web_search", "invalid"].map { .string($0) }
        )
        #expect(
            events.map { $0[.toolStatus] }
                == ["completed", "failed", "declined", "completed", "completed"].map { .string($0) }
        )
    }

    @Test mutating func runningTurnsAreBoundedAndTheOldestIsClosedFirstEachExactlyOnce() {
        for turn in 0..<1100 {
            send(.turnStarted(threadID: "t\(turn)", turn: TurnInfo(id: "u", status: "inProgress")), at: UInt64(turn))
        }
        #expect(events.count == 76)
        #expect(events.first?[.conversationID] == .string("t0"))
        #expect(events.allSatisfy { $0.name == .turn && $0[.turnStatus] == .string("incomplete") })
        #expect(telemetry.discards.turnsClosedEarly == 76)
        // A late end of a turn closed early is not a second end.
        send(.turnCompleted(threadID: "t0", turn: TurnInfo(id: "u", status: "completed")), at: 2000)
        events += telemetry.finish()
        #expect(events.count == 1100)
        #expect(Set(events.map { $0[.conversationID] }).count == 1100)
    }

    @Test mutating func toolItemsAreBoundedAcrossRunningTurns() {
        startTurn("u1")
        startTurn("u2", at: 1001)
        for (turn, count) in [("u1", 40_000), ("u2", 30_000)] {
            for item in 0..<count {
                let tool = ItemInfo(id: "c\(item)", type: "commandExecution", status: "inProgress")
                send(.itemStarted(threadID: "t1", turnID: turn, item: tool, startedAtMilliseconds: nil), at: 1002)
            }
        }
        // u1 (opened first) was closed to make room, with its 40,000 open tools; u2 runs on.
        let closed = events.filter { $0.name == .turn }
        #expect(closed.map { $0[.turnID] } == [.string("u1")])
        #expect(closed.first?[.toolCallCount] == .int(40_000))
        #expect(telemetry.discards.turnsClosedEarly == 1)
        events = telemetry.finish()
        #expect(events.last?[.toolCallCount] == .int(30_000))
    }
}
