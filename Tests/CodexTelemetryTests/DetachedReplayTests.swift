import CodexTelemetry
import Testing

/// Files replayed apart from one another (`SessionReplay.detached`) and merged back in order give exactly what one
/// replay of them all gives; a file that depends on the files before it is refused, to be replayed in order.
struct DetachedReplayTests {
    typealias Lines = [String]

    static func session(_ thread: String, source: String = "") -> String {
        #"{"timestamp":"2026-11-21T08:14:19.000Z","type":"session_meta","payload":{"id":"\#(thread)","model_provider":"openai","cwd":"/ZQXMARK"\#(source)}}"#
    }

    static func turn(_ id: String, input: Int) -> Lines {
        [
            #"{"timestamp":"2026-11-21T08:14:19.100Z","type":"event_msg","payload":{"type":"task_started","turn_id":"\#(id)"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.150Z","type":"turn_context","payload":{"turn_id":"\#(id)","model":"gpt-5.5"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.200Z","type":"response_item","payload":{"type":"function_call","name":"exec_command","arguments":"ZQXMARK","call_id":"c-\#(id)"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.300Z","type":"response_item","payload":{"type":"function_call_output","call_id":"c-\#(id)","output":"Process exited with code 0\nZQXMARK"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.500Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":\#(input),"output_tokens":5},"last_token_usage":{"input_tokens":\#(input),"output_tokens":5}}}}"#,
            #"{"timestamp":"2026-11-21T08:14:20.000Z","type":"event_msg","payload":{"type":"task_complete","turn_id":"\#(id)","last_agent_message":"ZQXMARK"}}"#,
        ]
    }

    /// Parent, fork, a session read twice, a sub-agent and a later file of that sub-agent's thread that does not say
    /// it was spawned, between sessions of their own.
    static let files: [(name: String, lines: Lines, dependsOnEarlierFiles: Bool)] = [
        ("parent", [session("t1")] + turn("u1", input: 100), false),
        ("own session", [session("t2")] + turn("u2", input: 50), false),
        // Copies its parent's turn: completed in the first file.
        ("fork", [session("t3")] + turn("u1", input: 100) + turn("u3", input: 130), true),
        ("parent again", [session("t1")] + turn("u1", input: 100), true),
        // Tells of its spawn: the tree of the files before places it.
        (
            "sub-agent",
            [session("c1", source: #","source":{"subagent":{"thread_spawn":{"parent_thread_id":"t1","depth":1}}}"#)]
                + turn("v1", input: 10), true
        ),
        // Its thread was spawned in an earlier file: its events take their lineage from there.
        ("sub-agent resumed", [session("c1")] + turn("v2", input: 20), true),
        ("last own session", [session("t4")] + turn("u4", input: 70), false),
    ]

    static func bytes(_ lines: Lines) -> [UInt8] { Array(lines.map { $0 + "\n" }.joined().utf8) }

    @Test func filesReplayedApartAndMergedGiveWhatOneReplayGives() {
        var inOrder = SessionReplay()
        var expected: [TelemetryEvent] = []
        for file in Self.files {
            expected += Self.bytes(file.lines).withUnsafeBytes { inOrder.replay(file: $0, modifiedAt: 0) }
        }

        var merged = SessionReplay()
        // Each file replayed before any is merged, as workers do.
        let apart = Self.files.map { file in
            var detached = merged.detached()
            let events = Self.bytes(file.lines).withUnsafeBytes { detached.replay(file: $0, modifiedAt: 0) }
            return (detached, events)
        }
        var events: [TelemetryEvent] = []
        for (file, (detached, detachedEvents)) in zip(Self.files, apart) {
            let taken = merged.merge(detached)
            #expect(taken == !file.dependsOnEarlierFiles, "\(file.name)")
            if taken {
                events += detachedEvents
            } else {
                events += Self.bytes(file.lines).withUnsafeBytes { merged.replay(file: $0, modifiedAt: 0) }
            }
        }

        #expect(events.map(\.jsonLine) == expected.map(\.jsonLine))
        #expect(merged.counts == inOrder.counts)
        #expect(merged.discards == inOrder.discards)
        // The dependent files changed what they gave: refusing them was not for nothing.
        #expect(expected.contains { $0[.parentThreadID] == .string("t1") && $0[.turnID] == .string("v2") })
        #expect(!expected.contains { $0[.turnID] == .string("u1") && $0[.conversationID] == .string("t3") })
        #expect(!events.map(\.jsonLine).joined().contains("ZQXMARK"))
    }

    /// What the merged files completed is remembered as if read in order: a later copy is still refused, and the
    /// state after them takes a later file exactly as a replay in order does.
    @Test func aMergedFileIsRememberedByTheFilesAfterIt() {
        var replay = SessionReplay()
        var detached = replay.detached()
        _ = Self.bytes([Self.session("t1")] + Self.turn("u1", input: 100)).withUnsafeBytes {
            detached.replay(file: $0, modifiedAt: 0)
        }
        let first = replay.merge(detached)
        #expect(first)
        var again = replay.detached()
        _ = Self.bytes([Self.session("t1")] + Self.turn("u1", input: 100)).withUnsafeBytes {
            again.replay(file: $0, modifiedAt: 0)
        }
        let copy = replay.merge(again)
        #expect(!copy)
        let repeated = Self.bytes([Self.session("t1")] + Self.turn("u1", input: 100)).withUnsafeBytes {
            replay.replay(file: $0, modifiedAt: 0)
        }
        #expect(repeated.isEmpty)
    }
}
