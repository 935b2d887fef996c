import CodexAppServer
import CodexReport
import CodexTelemetry
import Foundation
import JSON
import JSONRPC
import OTLP
import Synchronization
import TestSupport
import Testing

/// The real `codex app-server` against the stand-in model server, through every scenario the telemetry must
/// describe: the pinned 0.169.0 (or `CODEX_BIN`), the release before it (0.163.0) and the oldest release run live. One session, one thread per
/// scenario; the capture it makes is replayed and must give the same events. `RECORD_FIXTURES=1` also writes the
/// capture to `protocol/sessions/`, and Codex's rollout files of the session to `protocol/rollouts/`.
@Suite(.serialized)
struct LiveCodexTests {
    struct Run {
        var events: [TelemetryEvent]
        var capture: [UInt8]
        var threads: [String: String]
        var codexHome: URL
    }

    static let scenarios = ["plain", "command", "patch", "two-tools", "fail", "hang", "approval", "search"]
    /// 0.98 is the oldest release seen to answer `thread/fork`; 0.65 does not.
    static let firstReleaseThatForks = CodexVersion(0, 98)

    /// Drives each scenario in its own thread (and a second plain turn on the first thread, and a plain turn in a
    /// fork of the command thread where the release can fork), then feeds what was received to the telemetry
    /// exactly as a live consumer would.
    /// Runs every scenario; with `recording` (and `RECORD_FIXTURES=1`), keeps the session as the release's fixture.
    static func runScenarios(codex: String, recording: Bool = false) async throws -> Run {
        let server = try await StandInModelServer.start()
        defer { Task { await server.stop() } }
        let session = try ScenarioSession()
        let (threads, userAgent) = try await session.run(codex: codex, server: server) { client in
            var threads: [String: String] = [:]
            for scenario in scenarios {
                let thread = try await session.startThread(
                    client,
                    approvalPolicy: scenario == "approval" ? "untrusted" : "never"
                )
                threads[scenario] = thread
                if scenario == "hang" {
                    let turn = try await client.startTurn(
                        threadID: thread,
                        text: "\(TestTools.contentMarker) scenario:hang"
                    )
                    try await Task.sleep(for: .seconds(1))
                    try await client.interruptTurn(threadID: thread, turnID: turn)
                    _ = try await client.waitForTurnEnd(threadID: thread, turnID: turn)
                } else {
                    try await session.runTurn(client, thread: thread, scenario: scenario)
                }
            }
            try await session.runTurn(client, thread: threads["plain"]!, scenario: "plain")
            if let version = CodexVersion(userAgent: client.userAgent), version >= Self.firstReleaseThatForks {
                let fork = try await client.forkThread(threads["command"]!)
                threads["fork"] = fork.id
                try await session.runTurn(client, thread: fork.id, scenario: "plain")
            }
            return (threads, client.userAgent)
        }
        let events = session.liveEvents()
        if recording { try session.recordFixtures("scenarios", rollouts: "", userAgent: userAgent) }
        return Run(events: events, capture: session.capture, threads: threads, codexHome: session.codexHome)
    }

    @Test(arguments: [nil, TestTools.previousRelease, TestTools.oldestLiveRelease])
    func everyScenarioProducesTheRightEventsAndReplayAgrees(release: String?) async throws {
        // Only the release `CODEX_BIN` names (or the pinned one) is recorded: the others have their fixtures.
        let run = try await Self.runScenarios(
            codex: try release.map(TestTools.codex(release:)) ?? TestTools.codex(),
            recording: release == nil
        )
        let events = run.events
        func turns(_ scenario: String) -> [TelemetryEvent] {
            events.filter { $0.name == .turn && $0[.conversationID] == .string(run.threads[scenario]!) }
        }
        func calls(_ name: TelemetryEvent.Name, _ scenario: String) -> [TelemetryEvent] {
            events.filter { $0.name == name && $0[.conversationID] == .string(run.threads[scenario]!) }
        }

        // Every turn ends exactly once, with the status Codex gave it: each scenario's, a second plain one, the
        // fork's.
        #expect(events.filter { $0.name == .turn }.count == Self.scenarios.count + 2)
        let statuses = Dictionary(uniqueKeysWithValues: Self.scenarios.map { ($0, turns($0).first?[.turnStatus]) })
        #expect(statuses["fail"] == .string("failed"))
        #expect(statuses["hang"] == .string("interrupted"))
        for scenario in ["plain", "command", "patch", "two-tools", "approval", "search"] {
            #expect(statuses[scenario] == .string("completed"), "\(scenario)")
        }

        // A failed model request: the error class, no message, no model call.
        let failed = try #require(turns("fail").first)
        #expect(failed[.errorType] == .string("internalServerError"))
        #expect(failed[.llmCallCount] == .int(0))
        #expect(calls(.llmCall, "fail").isEmpty)
        #expect(calls(.llmCall, "hang").isEmpty)

        // Tools: kind, name, status, exit code.
        let command = try #require(calls(.toolCall, "command").first)
        #expect(command[.toolKind] == .string("commandExecution"))
        #expect(command[.toolName] == .string("shell"))
        #expect(command[.toolStatus] == .string("completed"))
        #expect(command[.processExitCode] == .int(0))
        let patch = try #require(calls(.toolCall, "patch").first)
        #expect(patch[.toolKind] == .string("fileChange"))
        #expect(patch[.toolStatus] == .string("completed"))
        let pair = calls(.toolCall, "two-tools").sorted { "\($0[.toolCallID]!)" < "\($1[.toolCallID]!)" }
        #expect(pair.map { $0[.toolStatus] } == [.string("failed"), .string("completed")])
        #expect(pair.map { $0[.processExitCode] } == [.int(3), .int(0)])
        #expect(turns("two-tools").first?[.toolCallCount] == .int(2))
        #expect(calls(.toolCall, "approval").map { $0[.toolStatus] } == [.string("declined")])
        #expect(calls(.toolCall, "search").map { $0[.toolKind] } == [.string("webSearch")])

        // Model calls: one per response, with that response's tokens (the stand-in gives input 1000+n, 300
        // cached, output 40+n, 10 reasoning), never the thread's running total.
        let llmCalls = events.filter { $0.name == .llmCall }
        // plain twice, command, patch, two-tools and approval two each, search one, the fork one.
        #expect(llmCalls.count == 12)
        // The fork starts from its parent's total: its turn is its own call, not the history it inherited.
        let forkTurn = try #require(turns("fork").first)
        #expect(forkTurn[.llmCallCount] == .int(1))
        #expect(forkTurn[.inputTokens] == calls(.llmCall, "fork").first?[.inputTokens])
        #expect((forkTurn[.inputTokens]?.integerValue ?? .max) < 1100)
        var responseNumbers: Set<Int64> = []
        for call in llmCalls {
            guard case .int(let input) = call[.inputTokens], case .int(let output) = call[.outputTokens] else {
                Issue.record("model call without tokens")
                continue
            }
            #expect(call[.cacheReadInputTokens] == .int(300))
            #expect(call[.reasoningOutputTokens] == .int(10))
            #expect(input - 1000 == output - 40)
            responseNumbers.insert(input - 1000)
            #expect(call[.requestModel] == .string("gpt-5.5"))
            #expect(call[.providerName] == .string("mock"))
            if case .double(let cost) = call[.costUSD] {
                let uncached = Double(input - 300) * 5.0
                let expected: Double = (uncached + 300 * 0.5 + Double(output) * 30.0) / 1e6
                #expect(abs(cost - expected) < 1e-12)
            } else {
                Issue.record("gpt-5.5 has a price, so every call has a cost")
            }
        }
        #expect(responseNumbers.count == llmCalls.count)
        // A turn's totals are the sums of its calls.
        for turn in events where turn.name == .turn {
            // Releases up to 0.98 number turns "0", "1", … in every thread: a turn is its thread and its id.
            let own = llmCalls.filter { $0[.turnID] == turn[.turnID] && $0[.conversationID] == turn[.conversationID] }
            let input = own.compactMap { if case .int(let n) = $0[.inputTokens] { n } else { nil } }.reduce(0, +)
            #expect(turn[.inputTokens] == .int(input))
            #expect(turn[.llmCallCount] == .int(Int64(own.count)))
        }

        // The capture replays to exactly the same events. (Before 0.147, messages carry few times of their own:
        // the live run dated the rest on arrival, so the replay agrees on everything but times and the durations
        // measured with them.)
        var replay = SessionReplay()
        let replayed = run.capture.withUnsafeBytes { replay.replay(file: $0) }
        if String(decoding: run.capture, as: UTF8.self).contains("\"emittedAtMs\"") {
            #expect(replayed == events)
        } else {
            #expect(replayed.map(\.timeless) == events.map(\.timeless))
        }
        #expect(replay.counts.skipped == 0)
        // Every turn's span holds its calls, and every duration is its span.
        expectSpansNestInTheirTurns(events)

        // Codex's own rollout files of the same run give the same turns, model calls, tokens and tool calls.
        // (Before 0.147 a rollout does not record that a turn failed, only that it ended.)
        let rollouts = try await TestTools.runCLI([
            "replay", run.codexHome.appendingPathComponent("sessions").path, "--format", "json",
        ])
        #expect(rollouts.status == .exited(0))
        let fromRollouts = try rollouts.stdout.split(separator: "\n").map { try JSONValue(parsing: String($0)) }
        func turnFacts(_ events: [JSONValue]) -> [String: [String]] {
            var facts: [String: [String]] = [:]
            for event in events where event["name"] == "codex.turn" {
                let attributes = event["attributes"]!
                facts[attributes["gen_ai.conversation.id"]!.string! + "/" + attributes["codex.turn.id"]!.string!] = [
                    "codex.turn.status", "error.type", "codex.turn.llm_calls", "gen_ai.usage.input_tokens",
                    "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.output_tokens",
                    "gen_ai.usage.reasoning.output_tokens", "gen_ai.request.model", "codex.cost.usd",
                ].map { "\($0)=\(attributes[$0].map { String(decoding: $0.serialized(), as: UTF8.self) } ?? "-")" }
            }
            return facts
        }
        let live = try events.map { try JSONValue(parsing: $0.jsonLine) }
        let failedTurn = run.threads["fail"].flatMap { thread in
            live.first { $0["name"] == "codex.turn" && $0["attributes"]?["gen_ai.conversation.id"]?.string == thread }
        }?["attributes"].map { $0["gen_ai.conversation.id"]!.string! + "/" + $0["codex.turn.id"]!.string! }
        let recordsFailures = release == nil
        #expect(
            turnFacts(fromRollouts).filter { recordsFailures || $0.key != failedTurn }
                == turnFacts(live).filter { recordsFailures || $0.key != failedTurn }
        )
        func toolFacts(_ events: [JSONValue]) -> [String] {
            events.filter { $0["name"] == "codex.tool_call" }.map { event in
                let attributes = event["attributes"]!
                // Before 0.147 a rollout's web search has no id.
                let id = attributes["codex.tool.kind"] == "webSearch" ? "-" : attributes["gen_ai.tool.call.id"]?.string
                return ["codex.tool.kind", "codex.tool.status", "process.exit.code"].reduce(id ?? "-") {
                    "\($0) \(attributes[$1].map { String(decoding: $0.serialized(), as: UTF8.self) } ?? "-")"
                }
            }.sorted()
        }
        #expect(toolFacts(fromRollouts) == toolFacts(live))
        #expect(!rollouts.stdout.contains(TestTools.contentMarker))

        // The fork's rollout replayed without its parent's: its own turn only, with only the usage it added. (This
        // release's fork copies its parent's history into its file, or starts from the parent's total.)
        let forkID = run.threads["fork"]!
        let forkFile = try #require(
            FileManager.default.enumerator(atPath: run.codexHome.appendingPathComponent("sessions").path)?
                .compactMap { $0 as? String }.first { $0.hasSuffix("\(forkID).jsonl") }
        )
        let forkAlone = try await TestTools.runCLI([
            "replay", run.codexHome.appendingPathComponent("sessions/\(forkFile)").path, "--format", "json",
        ])
        let fromFork = try forkAlone.stdout.split(separator: "\n").map { try JSONValue(parsing: String($0)) }
        #expect(turnFacts(fromFork) == turnFacts(live).filter { $0.key.hasPrefix(forkID + "/") })

        // The capture and the rollouts of the same session, replayed together: every turn once, as the capture
        // (read first) has it.
        let captureFile = try TestTools.makeTemporaryDirectory("capture").appendingPathComponent("capture.jsonl")
        try Data(run.capture).write(to: captureFile)
        let both = try await TestTools.runCLI([
            "replay", captureFile.path, run.codexHome.appendingPathComponent("sessions").path, "--format", "json",
        ])
        #expect(both.status == .exited(0))
        let fromBoth = try both.stdout.split(separator: "\n").map { try JSONValue(parsing: String($0)) }
        #expect(turnFacts(fromBoth) == turnFacts(live))
        #expect(
            fromBoth.filter { $0["name"] == "codex.turn" }.count == live.filter { $0["name"] == "codex.turn" }.count
        )
        #expect(fromBoth.filter { $0["name"] == "codex.llm_call" }.count == llmCalls.count)

        // No content reaches the events, though the capture is full of it.
        #expect(String(decoding: run.capture, as: UTF8.self).contains(TestTools.contentMarker))
        for event in events { #expect(!event.jsonLine.contains(TestTools.contentMarker)) }
    }

    /// A sub-agent spawned by a turn, and a compaction on request, with the pinned Codex: the child's turns carry
    /// their lineage and sit under the spawn call in the parent's trace, the run's summary includes them, and the
    /// compaction is an event in its turn. The rollouts say the same. `RECORD_FIXTURES=1` writes the capture to
    /// `protocol/sessions/codex-VERSION-agents.jsonl`.
    @Test func subAgentsNestUnderTheirSpawnAndCompactionsAreEvents() async throws {
        let server = try await StandInModelServer.start()
        defer { Task { await server.stop() } }
        let session = try ScenarioSession(hooks: true)
        let (parent, compacted, userAgent) = try await session.run(codex: try TestTools.codex(), server: server) {
            client in
            let parent = try await session.startThread(client)
            try await session.runTurn(client, thread: parent, scenario: "spawn")
            let compacted = try await session.startThread(client)
            try await session.runTurn(client, thread: compacted, scenario: "command")
            try await client.compactThread(compacted)
            // The compaction is a turn of its own, and the sub-agent runs on after its parent's turn: wait for
            // both, then one more turn on the compacted thread.
            try await Self.waitUntil(session) { ended in
                ended.filter { $0 == compacted }.count == 2 && ended.contains { $0 != parent && $0 != compacted }
            }
            try await session.runTurn(client, thread: compacted, scenario: "plain")
            return (parent, compacted, client.userAgent)
        }
        let events = session.liveEvents()
        if ProcessInfo.processInfo.environment["RECORD_FIXTURES"] == "1" {
            let version = CodexVersion(userAgent: userAgent)?.description ?? "unknown"
            try Data(session.capture).write(
                to: TestTools.packageRoot.appendingPathComponent("protocol/sessions/codex-\(version)-agents.jsonl")
            )
        }

        // The parent's turn spawned one agent, with a collaboration call; the agent ran a command of its own.
        let spawn = try #require(
            events.first { $0.name == .toolCall && $0[.toolKind] == .string("collabAgentToolCall") }
        )
        #expect(spawn[.toolName] == .string("spawnAgent"))
        #expect(spawn[.conversationID] == .string(parent))
        let childTurn = try #require(
            events.first { $0.name == .turn && $0[.parentThreadID] == .string(parent) }
        )
        let child = try #require(childTurn[.conversationID]?.textValue)
        #expect(childTurn[.rootThreadID] == .string(parent))
        #expect(childTurn[.parentTurnID] == spawn[.turnID])
        #expect(childTurn[.parentToolCallID] == spawn[.toolCallID])
        #expect(childTurn[.rootTurnID] == spawn[.turnID])
        #expect(childTurn[.agentDepth] == .int(1))
        #expect(childTurn[.sessionSource] == .string("subAgent"))
        #expect(childTurn[.agentKind] == .string("threadSpawn"))
        let childEvents = events.filter { $0[.conversationID] == .string(child) }
        #expect(childEvents.map(\.name).contains(.toolCall))
        #expect(childEvents.allSatisfy { $0[.rootThreadID] == .string(parent) })

        // In traces, the child's turn is in its parent's trace, under the spawn call.
        var mapping = OpenTelemetryMapping(temporality: .cumulative)
        let spans = events.compactMap { event in mapping.map(event).span.map { (event, $0) } }
        let spawnSpan = try #require(spans.first { $0.0 == spawn }?.1)
        let childSpan = try #require(spans.first { $0.0 == childTurn }?.1)
        #expect(childSpan.traceID == spawnSpan.traceID)
        #expect(childSpan.parentSpanID == spawnSpan.spanID)

        // The report adds the child's turns and cost to its parent's session.
        var report = UsageReport(by: [.session], calendar: .utc)
        for event in events { report.add(event) }
        let parentSession = try #require(report.sessions[parent]).totals
        #expect(parentSession.subAgentTurns == childEvents.count { $0.name == .turn })
        #expect(parentSession.turns == 1 + parentSession.subAgentTurns)
        // The child's turn ran to its end, its two model calls priced (on a machine too slow for the wait above,
        // it was closed as incomplete, with no call, when the session ended).
        #expect(childTurn[.turnStatus] == .string("completed"))
        #expect(childEvents.count { $0.name == .llmCall && $0[.costUSD] != nil } == 2)
        #expect(parentSession.subAgentCostUSD > 0 && parentSession.subAgentCostUSD < parentSession.costUSD)
        #expect(report.sessions[child] == nil)

        // Hooks: a run before each command, and one at the end of each turn of the root threads (a sub-agent's
        // ends with `subagentStop`, not configured here, and a compaction's with none); in their turns, named by
        // event only.
        let hookRuns = events.filter { $0.name == .hookRun }
        let commands = events.filter { $0.name == .toolCall && $0[.toolKind] == .string("commandExecution") }
        #expect(hookRuns.filter { $0[.hookEvent] == .string("preToolUse") }.count == commands.count)
        let compactionTurns = events.filter { $0.name == .compaction }.map { $0[.turnID] }
        let rootTurns = events.filter {
            $0.name == .turn && $0[.parentThreadID] == nil && !compactionTurns.contains($0[.turnID])
        }
        #expect(
            hookRuns.filter { $0[.hookEvent] == .string("stop") }.map { $0[.turnID] } == rootTurns.map { $0[.turnID] }
        )
        for run in hookRuns {
            #expect(run[.hookStatus] == .string("completed"))
            #expect(run[.hookHandlerType] == .string("command"))
            #expect(run[.hookSource] == .string("user"))
            #expect(run[.turnID] != nil)
        }

        // The compaction: an event in its turn, with the context before and after.
        let compaction = try #require(events.first { $0.name == .compaction })
        #expect(compaction[.conversationID] == .string(compacted))
        #expect(compaction[.tokensBefore]?.integerValue ?? 0 > 0)
        #expect(compaction[.tokensAfter]?.integerValue ?? 0 > 0)
        expectSpansNestInTheirTurns(events)

        // Replayed, the capture gives the same events; Codex's rollouts give the same lineage and compaction.
        var replay = SessionReplay()
        #expect(session.capture.withUnsafeBytes { replay.replay(file: $0) } == events)
        let rollouts = try await TestTools.runCLI([
            "replay", session.codexHome.appendingPathComponent("sessions").path, "--format", "json",
        ])
        let fromRollouts = try rollouts.stdout.split(separator: "\n").map { try JSONValue(parsing: String($0)) }
        let rolloutChild = try #require(
            fromRollouts.first {
                $0["name"] == "codex.turn" && $0["attributes"]?["gen_ai.conversation.id"]?.string == child
            }
        )
        for key in [
            "codex.parent.thread.id", "codex.root.thread.id", "codex.parent.turn.id",
            "codex.parent.tool_call.id", "codex.root.turn.id", "codex.agent.depth", "codex.session.source",
        ] {
            #expect(rolloutChild["attributes"]?[key] != nil, "\(key)")
        }
        #expect(fromRollouts.filter { $0["name"] == "codex.compaction" }.count == 1)
        #expect(!rollouts.stdout.contains(TestTools.contentMarker))
        for event in events { #expect(!event.jsonLine.contains(TestTools.contentMarker)) }

        // Read file by file through a cursor, as `watch` and the hook read them, in one run and in one run per
        // file: the same events, lineage included, the parent's spawn carried from file to file by the cursor.
        let sessions = session.codexHome.appendingPathComponent("sessions")
        let files = try #require(FileManager.default.enumerator(at: sessions, includingPropertiesForKeys: nil))
            .compactMap { ($0 as? URL)?.path }.filter { $0.hasSuffix(".jsonl") }.sorted()
        let folder = try TestTools.makeTemporaryDirectory("agents-cursor")
        let wholeRun = try await TestTools.runCLI([
            "replay", sessions.path, "--format", "json", "--state", folder.appendingPathComponent("one.json").path,
        ])
        var fileByFile: [Substring] = []
        for file in files {
            let run = try await TestTools.runCLI([
                "replay", file, "--format", "json", "--state", folder.appendingPathComponent("each.json").path,
            ])
            fileByFile += run.stdout.split(separator: "\n")
        }
        let expected = rollouts.stdout.split(separator: "\n").sorted()
        #expect(wholeRun.stdout.split(separator: "\n").sorted() == expected)
        #expect(fileByFile.sorted() == expected)
    }

    /// Multi-agent v2 (`features.multi_agent_v2`) reports a spawn as a `subAgentActivity` item, not a tool call: the
    /// child's turns are in its parent's trace, under the turn that spawned it.
    @Test func multiAgentV2ChildrenNestUnderTheTurnThatSpawnedThem() async throws {
        let server = try await StandInModelServer.start()
        defer { Task { await server.stop() } }
        let session = try ScenarioSession()
        let (parent, userAgent) = try await session.run(
            codex: try TestTools.codex(),
            server: server,
            overrides: ["features.multi_agent_v2=true"]
        ) { client in
            let parent = try await session.startThread(client)
            try await session.runTurn(client, thread: parent, scenario: "spawn")
            try await Self.waitUntil(session) { ended in ended.contains { $0 != parent } }
            return (parent, client.userAgent)
        }
        let events = session.liveEvents()
        if ProcessInfo.processInfo.environment["RECORD_FIXTURES"] == "1" {
            let version = CodexVersion(userAgent: userAgent)?.description ?? "unknown"
            try Data(session.capture).write(
                to: TestTools.packageRoot.appendingPathComponent("protocol/sessions/codex-\(version)-agents-v2.jsonl")
            )
        }

        let parentTurn = try #require(events.first { $0.name == .turn && $0[.conversationID] == .string(parent) })
        let childTurn = try #require(events.first { $0.name == .turn && $0[.parentThreadID] == .string(parent) })
        #expect(childTurn[.parentTurnID] == parentTurn[.turnID])
        #expect(childTurn[.parentToolCallID] == nil)
        #expect(childTurn[.rootThreadID] == .string(parent))
        #expect(childTurn[.agentDepth] == .int(1))
        #expect(!events.contains { $0.name == .toolCall && $0[.conversationID] == .string(parent) })
        var mapping = OpenTelemetryMapping(temporality: .cumulative)
        let parentSpan = try #require(mapping.map(parentTurn).span)
        let childSpan = try #require(mapping.map(childTurn).span)
        #expect(childSpan.traceID == parentSpan.traceID)
        #expect(childSpan.parentSpanID == parentSpan.spanID)
        var replay = SessionReplay()
        #expect(session.capture.withUnsafeBytes { replay.replay(file: $0) } == events)
        // The task's name (lowercase only, so the marker in lowercase) is content too.
        for event in events { #expect(!event.jsonLine.lowercased().contains(TestTools.contentMarker.lowercased())) }
    }

    /// Waits (for `TestTools.patience`) until the threads of the turns ended so far satisfy `done`.
    static func waitUntil(_ session: ScenarioSession, _ done: ([String]) -> Bool) async throws {
        let ended = try await TestTools.eventually {
            done(
                session.messages.compactMap { received -> String? in
                    guard case .notification(let notification) = received.message,
                        notification.method == AppServerMethod.turnCompleted
                    else { return nil }
                    return notification.params?["threadId"]?.string
                }
            )
        }
        if !ended { Issue.record("the turns awaited never ended") }
    }

    @Test func declinedApprovalIsAnsweredAndNeverHangs() async throws {
        let codex = try TestTools.codex()
        let server = try await StandInModelServer.start()
        defer { Task { await server.stop() } }
        let session = try ScenarioSession()
        let asked = Counter()
        let policy = ServerRequestPolicy { request in
            asked.increment()
            // A user who takes a moment to decide.
            try? await Task.sleep(for: .milliseconds(300))
            return await ServerRequestPolicy.declineApprovals.answer(request)
        }
        let turn = try await session.run(codex: codex, server: server, policy: policy) { client in
            let thread = try await session.startThread(client, approvalPolicy: "untrusted")
            return try await session.runTurn(client, thread: thread, scenario: "approval")
        }
        #expect(turn.status == "completed")
        #expect(asked.value == 1)
        let requests = session.messages.compactMap { if case .request(let r) = $0.message { r } else { nil } }
        #expect(requests.map(\.method) == ["item/commandExecution/requestApproval"])
        #expect(requests.first?.id == .int(0))

        // The declined command carries how long the answer took, live and replayed.
        let declined = try #require(session.liveEvents().first { $0.name == .toolCall })
        #expect(declined[.toolStatus] == .string("declined"))
        #expect(declined[.approvalWaitMilliseconds]?.integerValue ?? 0 >= 300)
        var replay = SessionReplay()
        let replayed = session.capture.withUnsafeBytes { replay.replay(file: $0) }
        #expect(
            replayed.first { $0.name == .toolCall }?[.approvalWaitMilliseconds] == declined[.approvalWaitMilliseconds]
        )
    }

    @Test func deltaNotificationsAreNotReceivedAtAll() async throws {
        let codex = try TestTools.codex()
        let server = try await StandInModelServer.start()
        defer { Task { await server.stop() } }
        let session = try ScenarioSession()
        try await session.run(codex: codex, server: server) { client in
            let thread = try await session.startThread(client)
            try await session.runTurn(client, thread: thread, scenario: "command")
        }
        let methods = session.messages.compactMap {
            if case .notification(let n) = $0.message { n.method } else { nil }
        }
        #expect(methods.contains("item/completed"))
        #expect(Set(methods).isDisjoint(with: AppServerMethod.contentStreamingNotifications))
    }
}

/// A thread-safe count for handlers called from other tasks.
final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

extension TelemetryAttribute.Value {
    fileprivate var integerValue: Int64? {
        if case .int(let number) = self { return number }
        return nil
    }

    fileprivate var textValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }
}

extension TelemetryEvent {
    /// The event without its times: what a replay of a capture with no times must still agree on.
    fileprivate var timeless: TelemetryEvent {
        TelemetryEvent(
            name: name,
            startTimeUnixNano: 0,
            endTimeUnixNano: 0,
            attributes: attributes.filter { $0.key != .durationMilliseconds && $0.key != .approvalWaitMilliseconds }
        )
    }
}
