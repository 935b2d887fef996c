import Foundation
import JSONRPC
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What `watch` costs a machine: a daemon that runs all day must not spin when nothing is written, nor grow with the
/// number of sessions on disk or the length of one.
struct WatchResourceTests {
    /// A rollout record of session `session`, its text (content Codex writes) carrying the marker.
    static func rolloutTurn(session: Int, turn: Int, textLength: Int) -> String {
        let time = String(format: "2026-11-%02dT08:%02d:%02d", 1 + session % 28, turn / 60 % 60, turn % 60)
        let text = TestTools.contentMarker + String(repeating: "x", count: textLength)
        return [
            #"{"timestamp":"\#(time).000Z","type":"event_msg","payload":{"type":"task_started","turn_id":"u\#(session)-\#(turn)"}}"#,
            #"{"timestamp":"\#(time).100Z","type":"turn_context","payload":{"turn_id":"u\#(session)-\#(turn)","model":"gpt-5.5"}}"#,
            #"{"timestamp":"\#(time).200Z","type":"event_msg","payload":{"type":"user_message","message":"\#(text)"}}"#,
            #"{"timestamp":"\#(time).300Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":\#(100 * (turn + 1)),"cached_input_tokens":0,"output_tokens":5,"reasoning_output_tokens":0},"last_token_usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":5,"reasoning_output_tokens":0}}}}"#,
            #"{"timestamp":"\#(time).400Z","type":"event_msg","payload":{"type":"task_complete","turn_id":"u\#(session)-\#(turn)"}}"#,
        ].joined(separator: "\n") + "\n"
    }

    static func sessionStart(_ session: Int) -> String {
        #"{"timestamp":"2026-11-\#(String(format: "%02d", 1 + session % 28))T08:00:00.000Z","type":"session_meta","payload":{"id":"s\#(session)","source":"cli"}}"#
            + "\n"
    }

    /// `count` small sessions of one turn each, in 28 day folders: written off the tests' shared threads.
    static func writeSessions(_ count: Int, under sessions: URL) async throws {
        try await TestTools.blocking {
            for session in 0..<count {
                let day = sessions.appendingPathComponent(String(format: "2026/11/%02d", 1 + session % 28))
                try FileManager.default.createDirectory(at: day, withIntermediateDirectories: true)
                let text = Self.sessionStart(session) + Self.rolloutTurn(session: session, turn: 0, textLength: 200)
                try Data(text.utf8).write(to: day.appendingPathComponent("rollout-\(session).jsonl"))
            }
        }
    }

    /// The CPU time `pid` has used so far, in clock ticks (fields 14 and 15 of `/proc/PID/stat`).
    static func cpuTicks(_ pid: pid_t) -> Int {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        // After the command's name, which is in parentheses and may hold spaces.
        let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
        guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { return .max }
        return user + system
    }

    /// The most memory `pid` has had resident, in KiB.
    static func peakResidentKiB(_ pid: pid_t) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
        return line.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? .max
    }

    /// 3,000 session files in 28 day folders, then one file that grows by 64 MB: watch's peak memory stays far
    /// below either, and between writes it uses no CPU to speak of, even while it judges a quiet session over.
    @Test func watchIsBoundedInMemoryAndIdleAtRestWhateverItFollows() async throws {
        let folder = try TestTools.makeTemporaryDirectory("watch-resources")
        let sessions = folder.appendingPathComponent("sessions")
        let cursor = folder.appendingPathComponent("cursor.json")
        let files = 3_000
        try await Self.writeSessions(files, under: sessions)
        let output = folder.appendingPathComponent("events.jsonl")
        let watch = try TestTools.startCLI(
            ["watch", sessions.path, "--state", cursor.path, "--format", "json", "--idle", "1"],
            stdout: output.path
        )
        let onDisk = SessionFilesOnDisk(sessions)
        func waitUntilAllRead() async throws {
            // A debug build reads 3,000 files in a minute or so on an idle machine: a loaded one gets five.
            #expect(
                try await TestTools.eventually(within: .seconds(300), every: .milliseconds(200)) {
                    try await onDisk.allReadBlocking(by: cursor)
                }
            )
        }
        try await waitUntilAllRead()

        // One long session, written a megabyte at a time, its last turn left running.
        let long = sessions.appendingPathComponent("2026/11/22/rollout-long.jsonl")
        try Data(Self.sessionStart(files).utf8).write(to: long)
        let handle = try FileHandle(forWritingTo: long)
        var turns = 0
        for _ in 0..<64 {
            var chunk = ""
            while chunk.utf8.count < 1 << 20 {
                chunk += Self.rolloutTurn(session: files, turn: turns, textLength: 4_000)
                turns += 1
            }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(chunk.utf8))
            try await Task.sleep(for: .milliseconds(20))
        }
        let running = Self.rolloutTurn(session: files, turn: turns, textLength: 10).split(separator: "\n")
        try handle.write(contentsOf: Data((running.dropLast().joined(separator: "\n") + "\n").utf8))
        try handle.close()
        try await waitUntilAllRead()

        // At rest: the long session's running turn is closed after a second's quiet, then nothing happens.
        let closed = "\"codex.turn.status\":\"incomplete\""
        #expect(try await TestTools.eventually { WatchCommandTests.lines(of: output).contains { $0.contains(closed) } })
        let ticksBefore = Self.cpuTicks(watch.process.pid)
        try await Task.sleep(for: .seconds(3))
        let restingTicks = Self.cpuTicks(watch.process.pid) - ticksBefore
        let peak = Self.peakResidentKiB(watch.process.pid)
        try await watch.send(SIGTERM)
        let outcome = await watch.finish()
        #expect(outcome.status == .exited(0), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("watched \(files + 1) files"))
        #expect(outcome.stderr.contains("1 turns closed as incomplete"))

        // 3 s at rest, at 100 ticks a second: at most 1% of a core.
        #expect(restingTicks <= 3, "\(restingTicks) ticks of CPU in 3 s at rest")
        #expect(peak < 48 << 10, "peak resident \(peak) KiB")
        let events = WatchCommandTests.lines(of: output)
        #expect(events.count { $0.contains(#""name":"codex.turn""#) } == files + turns + 1)
        #expect(!events.joined().contains(TestTools.contentMarker))
    }

    /// A first backfill of 10,000 session files, exported (to a collector that is down: all of it goes to the
    /// spool): what waits for the cursor's commit is staged in the spool as it comes, never held in memory, so the
    /// peak grows only with each file's entry in the cursor. (It took 47 MB for 5,000 files, and 140 for 20,000.)
    @Test func aFirstBackfillOfManyFilesExportedIsBoundedInMemory() async throws {
        let folder = try TestTools.makeTemporaryDirectory("backfill")
        let sessions = folder.appendingPathComponent("sessions")
        let cursor = folder.appendingPathComponent("cursor.json")
        let files = 10_000
        try await Self.writeSessions(files, under: sessions)
        let watch = try TestTools.startCLI([
            "watch", sessions.path, "--state", cursor.path, "--spool-dir", folder.appendingPathComponent("spool").path,
            "--otlp-endpoint", "http://127.0.0.1:\(freePort())", "--flush-timeout", "0",
        ])
        let onDisk = SessionFilesOnDisk(sessions)
        #expect(
            try await TestTools.eventually(within: .seconds(600), every: .milliseconds(500)) {
                try await onDisk.allReadBlocking(by: cursor)
            }
        )
        let peak = Self.peakResidentKiB(watch.process.pid)
        try await watch.send(SIGTERM)
        let outcome = await watch.finish()
        #expect(outcome.status == .exited(0), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("\(2 * files) log records"), "every event kept: \(outcome.stderr)")
        #expect(peak < 40 << 10, "peak resident \(peak) KiB")
    }
}
