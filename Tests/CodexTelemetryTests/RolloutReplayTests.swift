import CodexTelemetry
import TestSupport
import Testing

struct RolloutReplayTests {
    static func lines(_ thread: String, _ records: [String]) -> [String] {
        [
            #"{"timestamp":"2026-11-21T08:14:19.000Z","type":"session_meta","payload":{"id":"\#(thread)","model_provider":"openai","cwd":"/ZQXMARK"}}"#
        ]
            + records
    }

    static let turn = [
        #"{"timestamp":"2026-11-21T08:14:19.100Z","type":"event_msg","payload":{"type":"task_started","turn_id":"u1"}}"#,
        #"{"timestamp":"2026-11-21T08:14:19.150Z","type":"turn_context","payload":{"turn_id":"u1","model":"gpt-5.5","cwd":"/ZQXMARK"}}"#,
        #"{"timestamp":"2026-11-21T08:14:19.200Z","type":"response_item","payload":{"type":"message","content":[{"text":"ZQXMARK"}]}}"#,
        #"{"timestamp":"2026-11-21T08:14:19.400Z","type":"event_msg","payload":{"type":"item_completed","turn_id":"u1","item":{"type":"CommandExecution","id":"c1","command":["ZQXMARK"],"status":"failed","exit_code":2,"duration":{"secs":0,"nanos":250000000}}}}"#,
        #"{"timestamp":"2026-11-21T08:14:19.500Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":100,"cached_input_tokens":10,"output_tokens":5,"reasoning_output_tokens":1},"last_token_usage":{"input_tokens":100,"cached_input_tokens":10,"output_tokens":5,"reasoning_output_tokens":1}}}}"#,
        #"{"timestamp":"2026-11-21T08:14:19.500Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":100,"cached_input_tokens":10,"output_tokens":5,"reasoning_output_tokens":1},"last_token_usage":{"input_tokens":100,"cached_input_tokens":10,"output_tokens":5,"reasoning_output_tokens":1}}}}"#,
        #"{"timestamp":"2026-11-21T08:14:20.000Z","type":"event_msg","payload":{"type":"task_complete","turn_id":"u1","last_agent_message":"ZQXMARK","error":{"message":"ZQXMARK","codex_error_info":"context_window_exceeded"},"duration_ms":900}}"#,
    ]

    static func replay(_ files: [[String]]) -> [TelemetryEvent] {
        var replay = SessionReplay()
        var events: [TelemetryEvent] = []
        for file in files {
            events += Array(file.map { $0 + "\n" }.joined().utf8).withUnsafeBytes { replay.replay(file: $0) }
        }
        #expect(replay.counts.skipped == 0)
        return events
    }

    /// What a rollout says the agent produced: a patch's lines from its item (0.163 and later) or from its text
    /// (older), decided by the turn's policy (under `untrusted` Codex asked a person; else no one was asked); a
    /// commit from a command's words or a shell function's arguments, when it exited 0.
    @Test(arguments: ["untrusted", "never"])
    func aRolloutsPatchesAndCommitsAreCountedAsTheLiveSessionsAre(policy: String) throws {
        func record(_ time: String, _ type: String, _ payload: String) -> String {
            #"{"timestamp":"2026-11-21T08:14:19.\#(time)Z","type":"\#(type)","payload":\#(payload)}"#
        }
        let patch =
            #"*** Begin Patch\n*** Add File: ZQXMARK/a.py\n+one\n+two\n*** Update File: ZQXMARK/b.py\n@@\n-x\n+y\n*** End Patch\n"#
        let small = #"*** Begin Patch\n*** Add File: ZQXMARK.py\n+ZQXMARK\n*** End Patch\n"#
        let diff = #"@@ -1 +1,3 @@\n-a\n+b\n+c\n+d\n"#
        let turn = [
            record("100", "event_msg", #"{"type":"task_started","turn_id":"u1"}"#),
            record("110", "turn_context", #"{"turn_id":"u1","model":"gpt-5.5","approval_policy":"\#(policy)"}"#),
            // An older rollout's patch: its text, and its output.
            record(
                "200",
                "response_item",
                #"{"type":"custom_tool_call","call_id":"p1","name":"apply_patch","input":"\#(patch)"}"#
            ),
            record(
                "210",
                "response_item",
                #"{"type":"custom_tool_call_output","call_id":"p1","output":"Exit code: 0\nOutput:\nZQXMARK"}"#
            ),
            // A newer one's: the item, then the output, which counts no more.
            record(
                "300",
                "response_item",
                #"{"type":"custom_tool_call","call_id":"p2","name":"apply_patch","input":"\#(small)"}"#
            ),
            record(
                "305",
                "event_msg",
                #"{"type":"item_completed","turn_id":"u1","item":{"type":"FileChange","id":"p2","changes":{"/ZQXMARK/c.py":{"type":"update","unified_diff":"\#(diff)"}},"status":"completed"}}"#
            ),
            record(
                "310",
                "response_item",
                #"{"type":"custom_tool_call_output","call_id":"p2","output":"Exit code: 0\nOutput:\nZQXMARK"}"#
            ),
            // A patch the user rejected.
            record(
                "400",
                "response_item",
                #"{"type":"custom_tool_call","call_id":"p3","name":"apply_patch","input":"\#(small)"}"#
            ),
            record(
                "410",
                "response_item",
                #"{"type":"custom_tool_call_output","call_id":"p3","output":"patch rejected by user"}"#
            ),
            // Commits: a function's arguments and its output; an item's words.
            record(
                "500",
                "response_item",
                #"{"type":"function_call","call_id":"c1","name":"exec_command","arguments":"{\"cmd\":\"git add -A && git commit -m 'ZQXMARK'\"}"}"#
            ),
            record(
                "510",
                "response_item",
                #"{"type":"function_call_output","call_id":"c1","output":"Process exited with code 0\nOutput:\nZQXMARK"}"#
            ),
            record(
                "600",
                "response_item",
                #"{"type":"function_call","call_id":"c2","name":"exec_command","arguments":"{\"cmd\":\"git commit -m ZQXMARK\"}"}"#
            ),
            record(
                "610",
                "response_item",
                #"{"type":"function_call_output","call_id":"c2","output":"Process exited with code 1\nOutput:\nZQXMARK"}"#
            ),
            record(
                "705",
                "event_msg",
                #"{"type":"item_completed","turn_id":"u1","item":{"type":"CommandExecution","id":"c3","command":["/bin/bash","-lc","gh pr create --title ZQXMARK"],"status":"completed","exit_code":0}}"#
            ),
            record("900", "event_msg", #"{"type":"task_complete","turn_id":"u1","duration_ms":800}"#),
        ]
        let events = Self.replay([Self.lines("t1", turn)])
        let calls = events.filter { $0.name == .toolCall }
        #expect(calls.map { $0[.toolCallID] } == ["p1", "p2", "p3", "c1", "c2", "c3"].map { .string($0) })
        #expect(calls.map { $0[.linesAdded] } == [.int(3), .int(3), nil, nil, nil, nil])
        #expect(calls.map { $0[.linesRemoved] } == [.int(1), .int(1), nil, nil, nil, nil])
        #expect(calls[0][.filesChanged] == .int(2) && calls[0][.fileLanguage] == .string("python"))
        let applied: TelemetryAttribute.Value = .string(policy == "untrusted" ? "accept" : "auto")
        #expect(calls.map { $0[.editDecision] } == [applied, applied, .string("decline"), nil, nil, nil])
        #expect(calls.map { $0[.commits] } == [nil, nil, nil, .int(1), nil, nil])
        #expect(calls.map { $0[.pullRequests] } == [nil, nil, nil, nil, nil, .int(1)])
        let total = try #require(events.last { $0.name == .turn })
        #expect(total[.linesAdded] == .int(6) && total[.linesRemoved] == .int(2) && total[.commits] == .int(1))
        #expect(!events.map(\.jsonLine).joined().contains("ZQXMARK"))
    }

    @Test func aRolloutGivesTurnsCallsAndToolsWithTheirTimes() {
        let events = Self.replay([Self.lines("t1", Self.turn)])
        #expect(events.map(\.name) == [.toolCall, .llmCall, .turn])
        #expect(events[0][.toolKind] == .string("commandExecution"))
        #expect(events[0][.processExitCode] == .int(2))
        #expect(events[0][.durationMilliseconds] == .int(250))
        #expect(events[1][.inputTokens] == .int(100))
        #expect(events[1][.requestModel] == .string("gpt-5.5"))
        #expect(events[2][.turnStatus] == .string("failed"))
        #expect(events[2][.errorType] == .string("contextWindowExceeded"))
        #expect(events[2][.llmCallCount] == .int(1))
        #expect(events[2].startTimeUnixNano == 1_795_248_859_100_000_000)
        #expect(events[2].endTimeUnixNano == 1_795_248_860_000_000_000)
        #expect(!events.map(\.jsonLine).joined().contains("ZQXMARK"))
    }

    /// Codex 0.98 and older mark no turns in their rollouts: a turn runs from one prompt to the last record before
    /// the next, numbered in its file; two such files (two sessions) keep their own turns.
    @Test func aRolloutThatMarksNoTurnsHasOneTurnPerPrompt() {
        func usage(_ input: Int) -> String {
            let counts =
                #"{"input_tokens":\#(input),"cached_input_tokens":0,"output_tokens":5,"reasoning_output_tokens":0}"#
            return #"{"total_token_usage":\#(counts),"last_token_usage":\#(counts)}"#
        }
        let unmarked = [
            #"{"timestamp":"2026-11-21T08:14:19.100Z","type":"event_msg","payload":{"type":"user_message","message":"ZQXMARK"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.150Z","type":"turn_context","payload":{"model":"gpt-5.5","cwd":"/ZQXMARK"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.200Z","type":"response_item","payload":{"type":"function_call","name":"exec_command","arguments":"ZQXMARK","call_id":"c1"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.300Z","type":"event_msg","payload":{"type":"token_count","info":\#(usage(100))}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.400Z","type":"response_item","payload":{"type":"function_call_output","call_id":"c1","output":"Process exited with code 0\nZQXMARK"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.900Z","type":"event_msg","payload":{"type":"token_count","info":\#(usage(250))}}"#,
            #"{"timestamp":"2026-11-21T08:20:00.000Z","type":"event_msg","payload":{"type":"user_message","message":"ZQXMARK"}}"#,
            #"{"timestamp":"2026-11-21T08:20:01.000Z","type":"event_msg","payload":{"type":"token_count","info":\#(usage(400))}}"#,
        ]
        let events = Self.replay([Self.lines("t1", unmarked), Self.lines("t2", unmarked)])
        let turns = events.filter { $0.name == .turn }
        #expect(
            turns.map { "\($0[.conversationID]!)/\($0[.turnID]!)" } == [
                #"string("t1")/string("0")"#, #"string("t1")/string("1")"#, #"string("t2")/string("0")"#,
                #"string("t2")/string("1")"#,
            ]
        )
        #expect(turns.allSatisfy { $0[.turnStatus] == .string("completed") })
        // The first turn ends with its last record, not when the next prompt came minutes later.
        #expect(turns[0].endTimeUnixNano == 1_795_248_859_900_000_000)
        #expect(turns[0][.llmCallCount] == .int(2))
        #expect(turns[0][.toolCallCount] == .int(1))
        #expect(turns[1][.inputTokens] == .int(150))
        expectSpansNestInTheirTurns(events)
        #expect(!events.map(\.jsonLine).joined().contains("ZQXMARK"))
    }

    @Test func aForkThatCopiesItsParentsTurnCountsOnlyItsOwn() {
        let forkTurn = [
            #"{"timestamp":"2026-11-21T09:00:00.000Z","type":"event_msg","payload":{"type":"task_started","turn_id":"u2"}}"#,
            #"{"timestamp":"2026-11-21T09:00:00.100Z","type":"turn_context","payload":{"turn_id":"u2","model":"gpt-5.5"}}"#,
            #"{"timestamp":"2026-11-21T09:00:01.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":130,"cached_input_tokens":10,"output_tokens":8,"reasoning_output_tokens":1},"last_token_usage":{"input_tokens":30,"cached_input_tokens":0,"output_tokens":3,"reasoning_output_tokens":0}}}}"#,
            #"{"timestamp":"2026-11-21T09:00:02.000Z","type":"event_msg","payload":{"type":"turn_aborted","turn_id":"u2","reason":"interrupted","duration_ms":2000}}"#,
        ]
        let events = Self.replay([Self.lines("t1", Self.turn), Self.lines("t2", Self.turn + forkTurn)])
        let turns = events.filter { $0.name == .turn }
        #expect(turns.map { $0[.turnID] } == [.string("u1"), .string("u2")])
        #expect(turns.last?[.turnStatus] == .string("interrupted"))
        #expect(events.filter { $0.name == .llmCall }.map { $0[.inputTokens] } == [.int(100), .int(30)])
    }

    /// A fork that copied its parent's history into its file, replayed without the parent: its session is its
    /// first header, and the copied turn (its id dates it before the fork) only sets the baseline.
    @Test func aCopyForkAloneCountsOnlyWhatItAdded() {
        let parent = "01a20243-cb95-7710-b62d-15839a4a818f"
        let fork = "01a20243-cd78-7673-9a57-e8344ff191f9"
        let copied = "01a20243-cbb7-72c2-b2a6-b6db94e6782b"
        let own = "01a20243-cd99-7693-95b3-e93b89fa709d"
        func usage(_ total: Int, _ last: Int) -> String {
            #"{"timestamp":"2026-11-21T09:00:01.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":\#(total),"output_tokens":1},"last_token_usage":{"input_tokens":\#(last),"output_tokens":1}}}}"#
        }
        let file = [
            #"{"timestamp":"2026-11-21T09:00:00.000Z","type":"session_meta","payload":{"id":"\#(fork)","forked_from_id":"\#(parent)","cwd":"/ZQXMARK"}}"#,
            #"{"timestamp":"2026-11-21T09:00:00.000Z","type":"session_meta","payload":{"id":"\#(parent)","cwd":"/ZQXMARK"}}"#,
            #"{"timestamp":"2026-11-21T09:00:00.000Z","type":"event_msg","payload":{"type":"task_started","turn_id":"\#(copied)"}}"#,
            usage(100, 100),
            #"{"timestamp":"2026-11-21T09:00:00.000Z","type":"event_msg","payload":{"type":"task_complete","turn_id":"\#(copied)"}}"#,
            #"{"timestamp":"2026-11-21T09:00:02.000Z","type":"event_msg","payload":{"type":"task_started","turn_id":"\#(own)"}}"#,
            usage(130, 30),
            #"{"timestamp":"2026-11-21T09:00:03.000Z","type":"event_msg","payload":{"type":"task_complete","turn_id":"\#(own)"}}"#,
        ]
        let turns = Self.replay([file]).filter { $0.name == .turn }
        #expect(turns.map { $0[.turnID] } == [.string(own)])
        #expect(turns.first?[.conversationID] == .string(fork))
        #expect(turns.first?[.inputTokens] == .int(30))
    }

    /// A rollout in the legacy history mode (Codex 0.125 to 0.142) has no `item_completed` records: its tool calls
    /// are the conversation's calls and outputs, each with what its output's status line says.
    @Test func toolCallsComeFromCallsAndOutputsWhenARolloutHasNoItems() {
        let calls = [
            #"{"timestamp":"2026-11-21T08:14:19.100Z","type":"event_msg","payload":{"type":"task_started","turn_id":"u1"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.200Z","type":"response_item","payload":{"type":"function_call","name":"exec_command","arguments":"{\"cmd\":\"ZQXMARK\"}","call_id":"ok"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.210Z","type":"response_item","payload":{"type":"function_call","name":"exec_command","arguments":"{\"cmd\":\"ZQXMARK\"}","call_id":"fail"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.220Z","type":"response_item","payload":{"type":"custom_tool_call","name":"apply_patch","input":"ZQXMARK","call_id":"patch"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.230Z","type":"response_item","payload":{"type":"function_call","name":"exec_command","arguments":"{\"cmd\":\"ZQXMARK\"}","call_id":"no"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.240Z","type":"response_item","payload":{"type":"function_call","name":"mcp__docs__search","arguments":"ZQXMARK","call_id":"mcp"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.250Z","type":"response_item","payload":{"type":"function_call","name":"update_plan","arguments":"ZQXMARK","call_id":"plan"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.400Z","type":"response_item","payload":{"type":"function_call_output","call_id":"ok","output":"Chunk ID: 1\nWall time: 0.1391 seconds\nProcess exited with code 0\nOutput:\nZQXMARK Process exited with code 9\n"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.500Z","type":"response_item","payload":{"type":"function_call_output","call_id":"fail","output":"Chunk ID: 2\nWall time: 0.3480 seconds\nProcess exited with code 3\nOutput:\nZQXMARK\n"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.510Z","type":"response_item","payload":{"type":"custom_tool_call_output","call_id":"patch","output":"{\"output\":\"ZQXMARK\",\"metadata\":{\"exit_code\":0,\"duration_seconds\":0.25}}"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.520Z","type":"response_item","payload":{"type":"function_call_output","call_id":"no","output":"exec_command failed for `ZQXMARK`: CreateProcess { message: \"Rejected(\\\"rejected by user\\\")\" }"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.530Z","type":"response_item","payload":{"type":"function_call_output","call_id":"mcp","output":"ZQXMARK"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.540Z","type":"response_item","payload":{"type":"function_call_output","call_id":"plan","output":"ZQXMARK"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.600Z","type":"response_item","payload":{"type":"web_search_call","status":"completed","action":{"query":"ZQXMARK"}}}"#,
            #"{"timestamp":"2026-11-21T08:14:20.000Z","type":"event_msg","payload":{"type":"task_complete","turn_id":"u1","last_agent_message":"ZQXMARK"}}"#,
        ]
        let events = Self.replay([Self.lines("t1", calls)])
        var tools: [String: TelemetryEvent] = [:]
        for event in events where event.name == .toolCall {
            if case .string(let id) = event[.toolCallID] { tools[id] = event }
        }
        #expect(tools.keys.sorted() == ["fail", "mcp", "no", "ok", "patch", "web_search_call-1"])
        #expect(tools["ok"]?[.toolStatus] == .string("completed"))
        #expect(tools["ok"]?[.processExitCode] == .int(0))
        #expect(tools["ok"]?[.durationMilliseconds] == .int(139))
        #expect(tools["fail"]?[.toolStatus] == .string("failed"))
        #expect(tools["fail"]?[.processExitCode] == .int(3))
        #expect(tools["patch"]?[.toolKind] == .string("fileChange"))
        #expect(tools["patch"]?[.durationMilliseconds] == .int(250))
        #expect(tools["no"]?[.toolStatus] == .string("declined"))
        #expect(tools["no"]?[.processExitCode] == nil)
        #expect(tools["mcp"]?[.toolKind] == .string("mcpToolCall"))
        #expect(tools["mcp"]?[.toolName] == .string("search"))
        #expect(tools["web_search_call-1"]?[.toolKind] == .string("webSearch"))
        #expect(events.last?[.toolCallCount] == .int(6))
        #expect(!events.map(\.jsonLine).joined().contains("ZQXMARK"))
    }

    /// Codex 0.163 writes a call, its `item_completed` and its output: one tool call, as the item has it.
    @Test func aCallWithAnItemAndAnOutputCountsOnce() {
        let calls = [
            #"{"timestamp":"2026-11-21T08:14:19.100Z","type":"event_msg","payload":{"type":"task_started","turn_id":"u1"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.200Z","type":"response_item","payload":{"type":"function_call","name":"exec_command","arguments":"ZQXMARK","call_id":"c1"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.400Z","type":"event_msg","payload":{"type":"item_completed","turn_id":"u1","item":{"type":"CommandExecution","id":"c1","command":["ZQXMARK"],"status":"failed","exit_code":2,"duration":{"secs":0,"nanos":250000000}}}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.410Z","type":"response_item","payload":{"type":"function_call_output","call_id":"c1","output":"Wall time: 0.3 seconds\nProcess exited with code 2\nOutput:\nZQXMARK"}}"#,
            #"{"timestamp":"2026-11-21T08:14:20.000Z","type":"event_msg","payload":{"type":"task_complete","turn_id":"u1"}}"#,
        ]
        let events = Self.replay([Self.lines("t1", calls)])
        let tools = events.filter { $0.name == .toolCall }
        #expect(tools.count == 1)
        #expect(tools.first?[.durationMilliseconds] == .int(250))
        #expect(tools.first?[.processExitCode] == .int(2))
        #expect(events.last?[.toolCallCount] == .int(1))
    }
    /// A command that outlives the wait for its output (a loaded machine, a long build) is answered `Process running
    /// with session ID N`; Codex 0.163 and later write its `item_completed` when it exits, after its turn if it runs
    /// that long, as the app-server reports it live. A rollout that records no items completes it with its output.
    @Test(arguments: [true, false])
    func aCommandStillRunningAtItsOutputEndsWithItsOwnCompletion(recordsItems: Bool) {
        let prompt =
            #"{"timestamp":"2026-12-08T01:13:17.800Z","type":"event_msg","payload":{"type":"item_completed","turn_id":"u1","item":{"type":"UserMessage","id":"m1","content":[{"text":"ZQXMARK"}]}}}"#
        let calls = [
            #"{"timestamp":"2026-12-08T01:13:17.700Z","type":"event_msg","payload":{"type":"task_started","turn_id":"u1"}}"#,
            #"{"timestamp":"2026-12-08T01:13:17.888Z","type":"response_item","payload":{"type":"function_call","name":"exec_command","arguments":"{\"cmd\": \"sleep 2; echo ZQXMARK\", \"yield_time_ms\": 250}","call_id":"call_slow_1"}}"#,
            #"{"timestamp":"2026-12-08T01:13:18.334Z","type":"response_item","payload":{"type":"function_call_output","call_id":"call_slow_1","output":"Chunk ID: 58be61\nWall time: 0.2516 seconds\nProcess running with session ID 82142\nOriginal token count: 0\nOutput:\n"}}"#,
            #"{"timestamp":"2026-12-08T01:13:18.361Z","type":"event_msg","payload":{"type":"task_complete","turn_id":"u1","last_agent_message":"ZQXMARK"}}"#,
            #"{"timestamp":"2026-12-08T01:13:20.110Z","type":"event_msg","payload":{"type":"item_completed","turn_id":"u1","item":{"type":"CommandExecution","id":"call_slow_1","command":["/bin/bash","-lc","sleep 2; echo ZQXMARK"],"status":"completed","aggregated_output":"ZQXMARK","exit_code":0,"duration":{"secs":2,"nanos":11000000}}}}"#,
        ]
        let file = recordsItems ? [calls[0], prompt] + calls[1...] : Array(calls.dropLast())
        let events = Self.replay([Self.lines("t1", file)])
        let tools = events.filter { $0.name == .toolCall }
        #expect(tools.count == 1)
        #expect(tools.first?[.toolStatus] == .string("completed"))
        #expect(tools.first?[.processExitCode] == (recordsItems ? .int(0) : nil))
        #expect(tools.first?[.durationMilliseconds] == .int(recordsItems ? 2011 : 251))
        #expect(events.last?[.turnStatus] == .string("completed"))
        #expect(events.last?[.toolCallCount] == .int(1))
        #expect(!events.map(\.jsonLine).joined().contains("ZQXMARK"))
    }
}
