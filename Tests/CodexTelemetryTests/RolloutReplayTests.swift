import CodexTelemetry
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
            for line in file {
                events += Array(line.utf8).withUnsafeBytes { replay.consume(line: $0) }
            }
            events += replay.finish(unterminatedLine: nil, oversizedLines: 0)
        }
        #expect(replay.counts.skipped == 0)
        return events
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
}
