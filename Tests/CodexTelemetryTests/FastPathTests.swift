import CodexTelemetry
import Foundation
import TestSupport
import Testing

/// The fast path (lines passed over by their first bytes) against the full one (every line parsed): the same
/// events, and the same messages followed, on every fixture, on rollouts, and on both damaged at random.
struct FastPathTests {
    static func replay(_ files: [[UInt8]], readingEveryLine: Bool) -> (events: [TelemetryEvent], followed: Int) {
        var replay = SessionReplay()
        replay.readsEveryLine = readingEveryLine
        var events: [TelemetryEvent] = []
        for file in files {
            events += file.withUnsafeBytes { replay.replay(file: $0, modifiedAt: 1_795_000_000_000_000_000) }
        }
        return (events, replay.counts.followed)
    }

    static func expectAlike(_ files: [[UInt8]], _ context: String) {
        let fast = replay(files, readingEveryLine: false)
        let full = replay(files, readingEveryLine: true)
        #expect(fast.events == full.events, "\(context)")
        #expect(fast.followed == full.followed, "\(context)")
    }

    /// Every recorded session: the captures, and the rollout files the real Codex wrote.
    static func fixtures() throws -> [(name: String, bytes: [UInt8])] {
        let protocolFolder = TestTools.packageRoot.appendingPathComponent("protocol")
        let folders = ["sessions"] + Self.rolloutFolders.map { "rollouts/" + $0 }
        return try folders.flatMap { folder in
            let path = protocolFolder.appendingPathComponent(folder)
            return try FileManager.default.contentsOfDirectory(atPath: path.path).sorted().map { name in
                (folder + "/" + name, Array(try Data(contentsOf: path.appendingPathComponent(name))))
            }
        }
    }

    /// Every folder of rollouts the real Codex wrote (`protocol/rollouts/`).
    static let rolloutFolders =
        ((try? FileManager.default.contentsOfDirectory(
            atPath: TestTools.packageRoot.appendingPathComponent("protocol/rollouts").path
        )) ?? []).sorted()

    /// Rollouts as the translator's tests write them: marked turns with items, calls and outputs, and a file of
    /// unmarked ones, with the conversation records the fast path passes over between them.
    static let rollouts: [[UInt8]] = {
        let conversation = [
            #"{"timestamp":"2026-11-21T08:14:19.300Z","type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"ZQXMARK"}]}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.310Z","type":"response_item","payload":{"type":"reasoning","summary":[{"type":"summary_text","text":"ZQXMARK"}]}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.320Z","type":"event_msg","payload":{"type":"agent_message","message":"ZQXMARK"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.330Z","type":"response_item","payload":{"type":"function_call","name":"exec_command","arguments":"ZQXMARK","call_id":"c9"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.340Z","type":"response_item","payload":{"type":"function_call_output","call_id":"c9","output":"Process exited with code 4\nZQXMARK"}}"#,
        ]
        let marked = RolloutReplayTests.turn.prefix(3) + conversation + RolloutReplayTests.turn.dropFirst(3)
        let unmarked =
            [
                #"{"timestamp":"2026-11-21T08:14:19.100Z","type":"event_msg","payload":{"type":"user_message","message":"ZQXMARK"}}"#
            ] + conversation
        return [RolloutReplayTests.lines("t1", Array(marked)), RolloutReplayTests.lines("t2", unmarked + unmarked)].map
        {
            Array($0.joined(separator: "\n").utf8) + [0x0A]
        }
    }()

    @Test func everyFixtureAndRolloutGivesTheSameEventsBothWays() throws {
        let fixtures = try Self.fixtures()
        for (name, bytes) in fixtures { Self.expectAlike([bytes], name) }
        Self.expectAlike(Self.rollouts, "rollouts")
        // The fast path does pass lines over.
        var replay = SessionReplay()
        _ = Self.rollouts[0].withUnsafeBytes { replay.replay(file: $0) }
        #expect(replay.counts.passedOver >= 3)
    }

    /// Generated sessions: followed and unfollowed lines in random order, some written the way a fast path could
    /// misread (escapes in the method, members in another order, spaces), some rollout records with their payload
    /// type first or not: both ways give the same events.
    @Test func generatedSessionsGiveTheSameEventsBothWays() async {
        var random = SeededRandom(seed: 31)
        let thread = "01a1fd2b-8f93-7031-a39d-9a260bc6174e"
        for round in 0..<200 {
            var lines: [String] = []
            var total = 0
            for turn in 0..<(1 + random.next(below: 3)) {
                let turnID = "turn-\(turn)"
                let time = 1_795_248_852_000 + turn * 1000
                lines.append(
                    #"{"method":"turn/started","params":{"threadId":"\#(thread)","turn":{"id":"\#(turnID)","status":"inProgress"}},"emittedAtMs":\#(time)}"#
                )
                for _ in 0..<random.next(below: 12) {
                    let variants = [
                        #"{"method":"item/agentMessage/delta","params":{"threadId":"\#(thread)","turnId":"\#(turnID)","delta":"ZQXMARK \"q\" \\"}}"#,
                        #"{"params":{"threadId":"\#(thread)","turnId":"\#(turnID)","delta":"ZQXMARK"},"method":"item/agentMessage/delta"}"#,
                        #"{"method":"item\/agentMessage\/delta","params":{"delta":"ZQXMARK"}}"#,
                        #" {"method":"item/commandExecution/outputDelta","params":{"delta":"ZQXMARK"}}"#,
                        #"{"method":"item/completed","params":{"threadId":"\#(thread)","turnId":"\#(turnID)","item":{"type":"commandExecution","id":"c\#(random.next(below: 5))","status":"completed","exitCode":\#(random.next(below: 3)),"aggregatedOutput":"ZQXMARK"}},"emittedAtMs":\#(time + 10)}"#,
                        #"{"method":"item\/completed","params":{"threadId":"\#(thread)","turnId":"\#(turnID)","item":{"type":"fileChange","id":"p\#(random.next(below: 5))","status":"failed"}},"emittedAtMs":\#(time + 20)}"#,
                        #"{"timestamp":"2026-11-21T08:14:19.300Z","type":"response_item","payload":{"type":"message","content":"ZQXMARK"}}"#,
                        #"{"timestamp":"2026-11-21T08:14:19.300Z","type":"response_item","payload":{"content":"ZQXMARK","type":"message"}}"#,
                    ]
                    lines.append(variants[random.next(below: variants.count)])
                    if random.next(below: 3) == 0 {
                        total += 1000
                        lines.append(
                            #"{"method":"thread/tokenUsage/updated","params":{"threadId":"\#(thread)","turnId":"\#(turnID)","tokenUsage":{"total":{"totalTokens":\#(total),"inputTokens":\#(total),"cachedInputTokens":0,"outputTokens":\#(total / 10),"reasoningOutputTokens":0},"last":{"totalTokens":1000,"inputTokens":1000,"cachedInputTokens":0,"outputTokens":100,"reasoningOutputTokens":0}}},"emittedAtMs":\#(time + 30)}"#
                        )
                    }
                }
                lines.append(
                    #"{"method":"turn/completed","params":{"threadId":"\#(thread)","turn":{"id":"\#(turnID)","status":"completed"}},"emittedAtMs":\#(time + 900)}"#
                )
            }
            let capture = Array((lines.joined(separator: "\n") + "\n").utf8)
            Self.expectAlike([capture], "round \(round)")
            let fast = Self.replay([capture], readingEveryLine: false).events
            #expect(!fast.map(\.jsonLine).joined().contains("ZQXMARK"))
            await Task.yield()
        }
    }

    /// Every fixture laid out as any JSON writer may (a space after each colon and comma, and before the first
    /// member: a redaction script re-serialising a file writes so) gives the very events of the compact original,
    /// and no line is skipped: only the fast path needs the compact form.
    @Test func linesLaidOutWithOtherWhitespaceAreReadAlike() throws {
        for (name, bytes) in try Self.fixtures() {
            let spaced = bytes.split(separator: 0x0A).map { Self.withWhitespace(Array($0)) + [0x0A] }.joined()
            var replay = SessionReplay()
            let events = Array(spaced).withUnsafeBytes {
                replay.replay(file: $0, modifiedAt: 1_795_000_000_000_000_000)
            }
            #expect(events == Self.replay([bytes], readingEveryLine: false).events, "\(name)")
            #expect(replay.counts.skipped == 0, "\(name)")
            #expect(Self.replay([Array(spaced)], readingEveryLine: true).events == events, "\(name)")
        }
    }

    /// A line of JSON with a space before its first member and after every colon and comma outside strings.
    static func withWhitespace(_ line: [UInt8]) -> [UInt8] {
        var spaced: [UInt8] = []
        var inString = false
        var escaped = false
        for byte in line {
            spaced.append(byte)
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if [UInt8(ascii: ":"), UInt8(ascii: ","), UInt8(ascii: "{")].contains(byte) {
                spaced.append(UInt8(ascii: " "))
            }
        }
        return spaced
    }

    /// Lines damaged at random (cut short, a byte changed): whatever the damage, both ways give the same events.
    @Test func damagedLinesGiveTheSameEventsBothWays() async throws {
        var random = SeededRandom(seed: 23)
        let files = try Self.fixtures().map(\.bytes) + Self.rollouts
        for round in 0..<300 {
            var lines = files[random.next(below: files.count)].split(separator: 0x0A).map(Array.init)
            for _ in 0..<4 {
                let position = random.next(below: lines.count)
                var line = lines[position]
                if random.next(below: 2) == 0 {
                    line = Array(line.prefix(random.next(below: line.count)))
                } else if !line.isEmpty {
                    let replacements = Array(#"{}[]",:\u0"#.utf8) + [0x01, 0xFF, UInt8(ascii: "e"), UInt8(ascii: "7")]
                    line[random.next(below: line.count)] = replacements[random.next(below: replacements.count)]
                }
                lines[position] = line
            }
            Self.expectAlike([Array(lines.joined(separator: [0x0A])) + [0x0A]], "round \(round)")
            await Task.yield()
        }
    }

    /// The disagreements the differential fuzzer (`scripts/fuzz`) found, each settled: a damaged record of a kind
    /// not read still dates an unmarked turn's end both ways; a time with a byte that is not ASCII is read neither
    /// way; a name given twice is read as its first both ways (the payload's type, the method, a usage).
    @Test(arguments: [
        #"{"timestamp":"2026-11-21T08:14:19.900Z","type":"response_item","payload":{"type":"message","content":[ZQXMARK"#,
        #"{"timestamp":"2026¤11-21T08:14:19.900Z","type":"response_item","payload":{"type":"message"}}"#,
        #"{"timestamp":"2026-11-21T08:14:19.900Z","type":"response_item","payload":{"type":"message","type":"function_call","name":"exec_command","call_id":"x"}}"#,
        #"{"timestamp":"2026-11-21T08:14:19.900Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":9,"output_tokens":1},"total_token_usage":{"input_tokens":90,"output_tokens":10},"last_token_usage":{"input_tokens":9,"output_tokens":1}}}}"#,
        #"{"method":"item/agentMessage/delta","method":"turn/completed","params":{"threadId":"t2","turn":{"id":"0","status":"failed"}}}"#,
    ])
    func whatTheFuzzerFoundIsReadAlike(line: String) {
        // `¤` stands for a byte that is not UTF-8.
        let bytes = Array(line.replacingOccurrences(of: "¤", with: "\u{1}").utf8).map { $0 == 1 ? 0xFF : $0 }
        // In a file of unmarked turns, where a record's time can end a turn.
        let unmarked = Array(Self.rollouts[1].split(separator: 0x0A).prefix(4).joined(separator: [0x0A]))
        Self.expectAlike([unmarked + [0x0A] + bytes + [0x0A]], line)
        Self.expectAlike([Self.rollouts[0] + bytes + [0x0A]], line)
    }
}
