import CodexAppServer
import CodexTelemetry
import Foundation
import JSON
import JSONRPC
import Synchronization
import TestSupport
import Testing

/// The real `codex app-server` against the stand-in model server, through every scenario the telemetry must
/// describe: the pinned 0.163.0 (or `CODEX_BIN`) and the oldest release run live. One session, one thread per
/// scenario; the capture it makes is replayed and must give the same events. `RECORD_FIXTURES=1` also writes the
/// capture to `protocol/sessions/`.
@Suite(.serialized)
struct LiveCodexTests {
    struct Run {
        var events: [TelemetryEvent]
        var capture: [UInt8]
        var threads: [String: String]
        var codexHome: URL
    }

    static let scenarios = ["plain", "command", "patch", "two-tools", "fail", "hang", "approval", "search"]

    /// Drives each scenario in its own thread (and a second plain turn on the first thread), then feeds what was
    /// received to the telemetry exactly as a live consumer would.
    static func runScenarios(codex: String) async throws -> Run {
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
            return (threads, client.userAgent)
        }
        var telemetry = SessionTelemetry()
        var events: [TelemetryEvent] = []
        for (message, receivedAt) in session.messages {
            events += telemetry.receive(message, receivedAt: UInt64(receivedAt.timeIntervalSince1970 * 1e9))
        }
        events += telemetry.finish()
        if ProcessInfo.processInfo.environment["RECORD_FIXTURES"] == "1" {
            // The user agent reads `codex-telemetry/VERSION (…)`.
            let version = userAgent.split(separator: "/").dropFirst().first?.split(separator: " ").first ?? "unknown"
            let fixture = TestTools.packageRoot.appendingPathComponent(
                "protocol/sessions/codex-\(version)-scenarios.jsonl"
            )
            try Data(session.capture).write(to: fixture)
        }
        return Run(events: events, capture: session.capture, threads: threads, codexHome: session.codexHome)
    }

    @Test(arguments: [nil, TestTools.oldestLiveRelease])
    func everyScenarioProducesTheRightEventsAndReplayAgrees(release: String?) async throws {
        let run = try await Self.runScenarios(codex: try release.map(TestTools.codex(release:)) ?? TestTools.codex())
        let events = run.events
        func turns(_ scenario: String) -> [TelemetryEvent] {
            events.filter { $0.name == .turn && $0[.conversationID] == .string(run.threads[scenario]!) }
        }
        func calls(_ name: TelemetryEvent.Name, _ scenario: String) -> [TelemetryEvent] {
            events.filter { $0.name == name && $0[.conversationID] == .string(run.threads[scenario]!) }
        }

        // Every turn ends exactly once, with the status Codex gave it.
        #expect(events.filter { $0.name == .turn }.count == Self.scenarios.count + 1)
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
        // plain twice, command, patch, two-tools and approval two each, search one.
        #expect(llmCalls.count == 11)
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
        // the live run dated the rest on arrival, so the replay agrees on everything but times.)
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

    @Test func declinedApprovalIsAnsweredAndNeverHangs() async throws {
        let codex = try TestTools.codex()
        let server = try await StandInModelServer.start()
        defer { Task { await server.stop() } }
        let session = try ScenarioSession()
        let asked = Counter()
        let policy = ServerRequestPolicy { request in
            asked.increment()
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

extension TelemetryEvent {
    /// The event without its times: what a replay of a capture with no times must still agree on.
    fileprivate var timeless: TelemetryEvent {
        TelemetryEvent(
            name: name,
            startTimeUnixNano: 0,
            endTimeUnixNano: 0,
            attributes: attributes.filter { $0.key != .durationMilliseconds }
        )
    }
}
