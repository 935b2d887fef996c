import CodexAppServer
import CodexTelemetry
import Foundation
import TestSupport
import Testing

/// Numbers chosen by someone else, in every numeric field of real sessions: nothing traps, and nothing negative
/// or absurd comes out.
struct HostileInputTests {
    /// Below zero, the ends of 64 bits, beyond 64 bits, a fraction, and a time in the wrong unit.
    static let extremes = ["-1", "-9223372036854775808", "9223372036854775807", "1e300", "0.5", "99999999999999"]

    /// `line` with every number outside a string replaced by `replacement`.
    static func replacingNumbers(in line: String, with replacement: String) -> String {
        var output = ""
        var inString = false
        var escaped = false
        var index = line.startIndex
        while index < line.endIndex {
            let character = line[index]
            if inString {
                output.append(character)
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    inString = false
                }
                index = line.index(after: index)
            } else if character == "-" || character.isNumber {
                var end = line.index(after: index)
                while end < line.endIndex, "0123456789.eE+-".contains(line[end]) { end = line.index(after: end) }
                output += replacement
                index = end
            } else {
                if character == "\"" { inString = true }
                output.append(character)
                index = line.index(after: index)
            }
        }
        return output
    }

    static func replay(_ lines: [String]) -> (events: [TelemetryEvent], replay: SessionReplay) {
        var replay = SessionReplay()
        let events = Array(lines.map { $0 + "\n" }.joined().utf8).withUnsafeBytes { replay.replay(file: $0) }
        return (events, replay)
    }

    /// What no event may ever say, whatever it was fed.
    static func expectBelievable(_ events: [TelemetryEvent], _ context: String) {
        let year2100: UInt64 = 4_102_444_800_000_000_000
        for event in events {
            #expect(event.endTimeUnixNano <= year2100, "\(context)")
            for attribute in event.attributes {
                switch (attribute.key, attribute.value) {
                case (.processExitCode, .int(let code)):
                    #expect(Int32(exactly: code) != nil, "\(context)")
                case (_, .int(let number)):
                    #expect(number >= 0, "\(attribute.key.rawValue) in \(context)")
                    if event.name == .llmCall { #expect(number <= 1_000_000_000, "\(context)") }
                case (.costUSD, .double(let cost)):
                    #expect(cost.isFinite && cost >= 0 && cost < 1_000_000, "\(context)")
                default:
                    break
                }
            }
        }
    }

    static func captureLines() throws -> [String] {
        let url = TestTools.packageRoot.appendingPathComponent("protocol/sessions/codex-0.163.0-scenarios.jsonl")
        return try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// Whether the telemetry reads the line at all (content deltas it passes over unparsed).
    static func isFollowed(_ line: String) -> Bool {
        Array(line.utf8).withUnsafeBytes { AppServerMessage.mayBeFollowed($0) }
    }

    // The loops below replay hundreds of sessions: they yield between replays, so that on a two-core machine they
    // do not hold the cooperative pool from the tests that wait on processes and timers.

    @Test(arguments: extremes)
    func everyNumberOfACaptureMadeExtremeOneLineAtATime(extreme: String) async throws {
        let lines = try Self.captureLines()
        for (position, line) in lines.enumerated() where line.contains(where: \.isNumber) && Self.isFollowed(line) {
            var mutated = lines
            mutated[position] = Self.replacingNumbers(in: line, with: extreme)
            let (events, _) = Self.replay(mutated)
            Self.expectBelievable(events, "line \(position + 1) with \(extreme)")
            await Task.yield()
        }
    }

    @Test(arguments: extremes)
    func everyNumberOfARolloutAndARecordingMadeExtreme(extreme: String) async throws {
        let rollout = RolloutReplayTests.lines("t1", RolloutReplayTests.turn)
        for position in rollout.indices {
            var mutated = rollout
            mutated[position] = Self.replacingNumbers(in: rollout[position], with: extreme)
            Self.expectBelievable(Self.replay(mutated).events, "rollout record \(position + 1) with \(extreme)")
        }
        let lines = try Self.captureLines()
        let recording =
            [#"{"codexTelemetryRecording":1}"#]
            + lines.map { #"{"at":1795249372927000000,"from":"server","message":\#($0)}"# }
        for position in recording.indices.dropFirst() where Self.isFollowed(lines[position - 1]) {
            var mutated = recording
            mutated[position] = Self.replacingNumbers(in: recording[position], with: extreme)
            Self.expectBelievable(Self.replay(mutated).events, "recording line \(position + 1) with \(extreme)")
            await Task.yield()
        }
    }

    @Test func aTimeFarInTheFutureIsCountedAndTheTurnKeepsABelievableTime() {
        let (events, replay) = Self.replay([
            #"{"method":"turn/started","params":{"threadId":"t","turn":{"id":"u"}},"emittedAtMs":99999999999999}"#,
            #"{"method":"turn/completed","params":{"threadId":"t","turn":{"id":"u","status":"completed"}},"emittedAtMs":1795249372927}"#,
        ])
        #expect(events.count == 1)
        #expect(events[0].endTimeUnixNano == 1_795_249_372_927_000_000)
        #expect(replay.discards.outOfRange == 1)
    }

    @Test func negativeAndAbsurdTokenCountsAreNotCalls() {
        func usage(_ total: String, _ last: String) -> String {
            #"{"method":"thread/tokenUsage/updated","params":{"threadId":"t","turnId":"u","tokenUsage":{"total":{"inputTokens":\#(total),"outputTokens":1},"last":{"inputTokens":\#(last),"outputTokens":1}}},"emittedAtMs":1795249372000}"#
        }
        let (events, replay) = Self.replay([
            #"{"method":"turn/started","params":{"threadId":"t","turn":{"id":"u"}},"emittedAtMs":1795249371000}"#,
            usage("-100", "-100"),
            usage("5000000000000", "5000000000000"),
            usage("100", "100"),
            usage("2000000100", "2000000000"),
        ])
        #expect(events.filter { $0.name == .llmCall }.map { $0[.inputTokens] } == [.int(100)])
        #expect(replay.discards.outOfRange == 3)
    }
}
