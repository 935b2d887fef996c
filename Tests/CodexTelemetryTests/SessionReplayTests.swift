import CodexTelemetry
import Foundation
import JSONRPC
import TestSupport
import Testing

struct SessionReplayTests {
    static func replay(
        _ bytes: [UInt8],
        maximumLineLength: Int = 64 << 20
    ) -> (events: [TelemetryEvent], counts: SessionReplay.Counts) {
        var replay = SessionReplay(maximumLineLength: maximumLineLength)
        let events = bytes.withUnsafeBytes { replay.replay(file: $0, modifiedAt: fileTime) }
        return (events, replay.counts)
    }

    /// The modification time the fixtures are replayed with: what dates the messages of releases that give none.
    static let fileTime: UInt64 = 1_795_000_000_000_000_000

    static let sessions = try! FileManager.default
        .contentsOfDirectory(atPath: TestTools.packageRoot.appendingPathComponent("protocol/sessions").path)
        .filter { $0.hasSuffix(".jsonl") }.sorted()

    static func session(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: TestTools.packageRoot.appendingPathComponent("protocol/sessions/\(name)")))
    }

    /// Each recorded session (one per Codex release line, 0.65 to 0.163) against its reviewed snapshot
    /// (`Snapshots/`); `RECORD_SNAPSHOTS=1` rewrites them. Whatever the release, no event is dated before 2000,
    /// every call lies within its turn's span, and every duration is its span's length.
    @Test(arguments: sessions)
    func recordedSessionsReplayToTheirSnapshot(name: String) throws {
        let (events, counts) = Self.replay(try Self.session(name))
        #expect(counts.skipped == 0)
        #expect(events.contains { $0.name == .turn })
        for event in events {
            #expect(event.startTimeUnixNano >= 946_684_800_000_000_000, "\(event.name) dated before 2000")
        }
        expectSpansNestInTheirTurns(events)
        let text = events.map(\.jsonLine).joined(separator: "\n") + "\n"
        #expect(!text.contains(TestTools.contentMarker))
        let snapshot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Snapshots/\(name.replacingOccurrences(of: ".jsonl", with: ".events.jsonl"))")
        if ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] == "1" {
            try Data(text.utf8).write(to: snapshot)
        }
        #expect(text == (try String(contentsOf: snapshot, encoding: .utf8)))
    }

    @Test func badLinesAreCountedAndTheRestStillCounts() throws {
        let session = try Self.session("codex-0.163.0-scenarios.jsonl")
        let clean = Self.replay(session)
        var damaged = Array(
            "not json at all\n{\"neither\":\"a message\"}\n\(String(repeating: "x", count: 300))\n".utf8
        )
        damaged += session
        damaged += Array(#"{"method":"turn/started","params":{"threadId":"#.utf8)
        let result = Self.replay(damaged, maximumLineLength: 200)
        // Lines over 200 bytes are skipped too, so compare with a clean run under the same limit.
        let sameLimit = Self.replay(session, maximumLineLength: 200)
        #expect(result.events == sameLimit.events)
        #expect(result.counts.malformed == 2)
        #expect(result.counts.truncated == 1)
        #expect(result.counts.oversized == sameLimit.counts.oversized + 1)
        #expect(clean.events.count > 0)
    }

    @Test func aCaptureCutOffMidTurnClosesItAsIncomplete() throws {
        let session = try Self.session("codex-0.163.0-scenarios.jsonl")
        let lines = session.split(separator: 0x0A, omittingEmptySubsequences: false)
        let cut = lines.firstIndex { String(decoding: $0, as: UTF8.self).contains(#""method":"turn/completed""#) }!
        let (events, _) = Self.replay(Array(lines[..<cut].joined(separator: [0x0A])))
        #expect(events.last?.name == .turn)
        #expect(events.last?[.turnStatus] == .string("incomplete"))
    }

    /// The same session as a capture, then as a recording of it: each turn is reported once, by the first file.
    @Test func aTurnSeenThroughACaptureAndARecordingIsCountedOnce() throws {
        let session = try Self.session("codex-0.163.0-scenarios.jsonl")
        let alone = Self.replay(session).events
        var recording = SessionRecording.header
        for line in session.split(separator: 0x0A) {
            recording += SessionRecording.entry(line, from: .server, at: 1_795_249_372_000_000_000)
        }
        var replay = SessionReplay()
        var events: [TelemetryEvent] = []
        for file in [session, recording] {
            events += file.withUnsafeBytes { replay.replay(file: $0) }
        }
        #expect(events == alone)
        #expect(replay.counts.followed == 2 * Self.replay(session).counts.followed)
    }
}
