import Foundation
import JSON
import JSONRPC
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `watch` and `replay --state` on session files written as a test goes: what a cursor must make of growth,
/// restarts, replaced and truncated files and sessions that end mid-turn. (With the real Codex: `WatchLiveTests`.)
struct WatchCommandTests {
    /// The bundled capture, line by line, each with its newline: a session file to write piece by piece.
    static let captureLines = lines(ofCapture: "codex-0.163.0-scenarios.jsonl")
    /// Another session, for a second file.
    static let otherCaptureLines = lines(ofCapture: "codex-0.147.0-scenarios.jsonl")

    static func lines(ofCapture name: String) -> [[UInt8]] {
        let file = TestTools.packageRoot.appendingPathComponent("protocol/sessions/" + name)
        let bytes = (try? Data(contentsOf: file)).map { [UInt8]($0) } ?? []
        return bytes.split(separator: 0x0A).map { Array($0) + [0x0A] }
    }

    /// Where the third turn has started and not ended: a session caught mid-turn.
    static let midTurn: Int = {
        let started = captureLines.indices.filter { line in
            String(decoding: captureLines[line].prefix(40), as: UTF8.self).contains("\"turn/started\"")
        }
        return started[2] + 1
    }()

    static func append(_ lines: ArraySlice<[UInt8]>, to file: URL) throws {
        if !FileManager.default.fileExists(atPath: file.path) {
            try FileManager.default.createDirectory(
                at: file.deletingLastPathComponent(),
                withIntermediateDirectories: true
            )
            try Data().write(to: file)
        }
        let handle = try FileHandle(forWritingTo: file)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(lines.joined()))
        try handle.close()
    }

    /// What `replay --format json` gives for `paths`, one event per line, sorted.
    static func replayed(_ paths: [String]) async throws -> [String] {
        let outcome = try await TestTools.runCLI(["replay"] + paths + ["--format", "json"])
        #expect(outcome.status == .exited(0))
        return outcome.stdout.split(separator: "\n").map(String.init).sorted()
    }

    static func lines(of file: URL) -> [String] {
        ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test func replayWithAStateSendsOnlyWhatIsNewAndReadsAReplacedOrTruncatedFileAgain() async throws {
        let folder = try TestTools.makeTemporaryDirectory("state-replay")
        let file = folder.appendingPathComponent("sessions/capture.jsonl")
        let state = folder.appendingPathComponent("state/cursor.json").path
        func replay() async throws -> (lines: [String], stderr: String) {
            let outcome = try await TestTools.runCLI(["replay", file.path, "--state", state, "--format", "json"])
            #expect(outcome.status == .exited(0))
            return (outcome.stdout.split(separator: "\n").map(String.init), outcome.stderr)
        }
        try Self.append(Self.captureLines[..<Self.midTurn], to: file)
        let first = try await replay()
        #expect(!first.lines.isEmpty)
        #expect(try await replay().lines.isEmpty, "nothing new, nothing sent")
        try Self.append(Self.captureLines[Self.midTurn...], to: file)
        let second = try await replay()
        // In two pieces, the events of one replay of the whole: the turn caught running was left for the second.
        #expect((first.lines + second.lines).sorted() == (try await Self.replayed([file.path])))
        #expect(!(first.lines + second.lines).joined().contains(TestTools.contentMarker))

        // Cut short, the file is read from its start; replaced (another inode), too.
        try Data(Self.captureLines[..<Self.midTurn].joined()).write(to: file)
        let truncated = try await replay()
        #expect(truncated.stderr.contains("1 truncated"))
        #expect(truncated.lines == first.lines)
        let aside = folder.appendingPathComponent("sessions/aside")
        try Self.append(Self.captureLines[...], to: aside)
        #expect(rename(aside.path, file.path) == 0)
        let replaced = try await replay()
        #expect(replaced.stderr.contains("1 replaced"))
        #expect(replaced.lines.sorted() == (try await Self.replayed([file.path])))

        #expect(
            SessionFilesOnDisk.offsets(in: URL(fileURLWithPath: state))[file.resolvingSymlinksInPath().path]
                == Int64(Self.captureLines.joined().count)
        )
        var status = stat()
        #expect(stat(state, &status) == 0 && status.st_mode & 0o777 == 0o600)
    }

    /// The cursor moves on with what is read: with nowhere to export, watch refuses to start and the hook reads
    /// nothing, so a misconfigured daemon or hook does not consume sessions that are never sent.
    @Test func withNowhereToExportWatchAndTheHookLeaveTheCursorAlone() async throws {
        let folder = try TestTools.makeTemporaryDirectory("nowhere")
        let codexHome = folder.appendingPathComponent("codex")
        let file = codexHome.appendingPathComponent("sessions/2026/11/22/rollout-a.jsonl")
        try Self.append(Self.captureLines[...], to: file)
        let state = folder.appendingPathComponent("cursor.json")
        let watch = try await TestTools.runCLI([
            "watch", codexHome.appendingPathComponent("sessions").path, "--state", state.path,
        ])
        #expect(watch.status == .exited(64))
        #expect(watch.stderr.contains("watch exports nowhere"))

        let hook = try TestTools.startCLI(["hook", "--state", state.path], environment: ["CODEX_HOME": codexHome.path])
        hook.process.write(bytes: Array(#"{"transcript_path":"\#(file.path)","hook_event_name":"Stop"}"#.utf8))
        hook.process.closeStdin()
        let outcome = await hook.finish()
        #expect(outcome.status == .exited(0))
        #expect(outcome.stderr.contains("no OTLP endpoint is configured; nothing was read"))
        #expect(!FileManager.default.fileExists(atPath: state.path))
    }

    /// A cursor an earlier release wrote (version 1: files by path, no sessions or checks) is read on: only what
    /// the file gained since goes out, and the cursor is written anew in the present version.
    @Test func aCursorOfTheFirstVersionIsReadOn() async throws {
        let folder = try TestTools.makeTemporaryDirectory("first-version")
        let file = folder.appendingPathComponent("capture.jsonl")
        try Self.append(Self.captureLines[..<Self.midTurn], to: file)
        let first = try await TestTools.runCLI(["replay", file.path, "--format", "json"])
        var status = stat()
        #expect(stat(file.path, &status) == 0)
        let path = file.resolvingSymlinksInPath().path
        let offset = Self.captureLines[..<Self.midTurn].joined().count
        let old = """
            {"agents":[],"codexTelemetryCursor":1,"files":{"\(path)":{"closings":[],"device":\(status.st_dev),\
            "inode":\(status.st_ino),"offset":\(offset),"openTurns":true}},"staged":[]}
            """
        let state = folder.appendingPathComponent("cursor.json")
        try Data(old.utf8).write(to: state)
        chmod(state.path, 0o600)
        try Self.append(Self.captureLines[Self.midTurn...], to: file)
        let rest = try await TestTools.runCLI(["replay", file.path, "--state", state.path, "--format", "json"])
        #expect(rest.status == .exited(0), "\(rest.stderr)")
        // The turn running at the cursor ends in the rest, as the whole file's replay has it: nothing twice.
        let whole = try await Self.replayed([file.path])
        let firstLines = first.stdout.split(separator: "\n").map(String.init).filter {
            !$0.contains(#""codex.turn.status":"incomplete""#)
        }
        #expect((firstLines + rest.stdout.split(separator: "\n").map(String.init)).sorted() == whole)
        #expect(try String(contentsOf: state, encoding: .utf8).hasPrefix(#"{"codexTelemetryCursor":2,"#))
    }

    @Test func aCursorThatIsNotOneOfOursIsRefusedNotOverwritten() async throws {
        let folder = try TestTools.makeTemporaryDirectory("bad-cursor")
        let state = folder.appendingPathComponent("cursor.json")
        try Data("{\"files\": 3}".utf8).write(to: state)
        let outcome = try await TestTools.runCLI([
            "replay", TestTools.packageRoot.appendingPathComponent("protocol/sessions").path, "--state", state.path,
        ])
        #expect(outcome.status == .exited(1))
        #expect(outcome.stderr.contains("is not one codex-telemetry wrote"))
        #expect(try String(contentsOf: state, encoding: .utf8) == "{\"files\": 3}")
    }

    /// Files that grow, a new file in a new day's folder: picked up by inotify, and by looking every 0.2 s.
    @Test(arguments: [nil, "0.2"])
    func watchFollowsGrowingFilesAndNewFolders(poll: String?) async throws {
        let folder = try TestTools.makeTemporaryDirectory("watch")
        let sessions = folder.appendingPathComponent("sessions")
        let first = sessions.appendingPathComponent("2026/11/21/a.jsonl")
        let second = sessions.appendingPathComponent("2026/11/22/b.jsonl")
        try Self.append(Self.captureLines[..<10], to: first)
        let output = folder.appendingPathComponent("events.jsonl")
        let watch = try TestTools.startCLI(
            ["watch", sessions.path, "--state", folder.appendingPathComponent("cursor.json").path, "--format", "json"]
                + (poll.map { ["--poll", $0] } ?? []),
            stdout: output.path
        )
        // Written a few lines at a time, as Codex does, into the first file and then into a new folder.
        var written = 10
        while written < max(Self.captureLines.count, Self.otherCaptureLines.count) {
            let next = written + 7
            try Self.append(
                Self.captureLines[min(written, Self.captureLines.count)..<min(next, Self.captureLines.count)],
                to: first
            )
            try Self.append(
                Self.otherCaptureLines[
                    min(written, Self.otherCaptureLines.count)..<min(next, Self.otherCaptureLines.count)
                ],
                to: second
            )
            written = next
            try await Task.sleep(for: .milliseconds(20))
        }
        let expected = try await Self.replayed([sessions.path])
        try await TestTools.eventually { Self.lines(of: output).count >= expected.count }
        try await watch.send(SIGTERM)
        let outcome = await watch.finish()
        #expect(outcome.status == .exited(0), "\(outcome.stderr)")
        let watched = Self.lines(of: output).sorted()
        #expect(watched.count == expected.count)
        #expect(watched == expected)
        #expect(!outcome.stderr.contains(TestTools.contentMarker))
    }

    /// With a cursor, nothing becomes sendable before the cursor that covers it is saved, however many events a
    /// replay reads: here the save fails (its temporary file's name is taken by a folder), and the spool holds
    /// staged requests only, which no run will send, since the lines are read again.
    @Test func aReplayWithAStatePublishesNothingItHasNotCommitted() async throws {
        let folder = try TestTools.makeTemporaryDirectory("uncommitted")
        let file = folder.appendingPathComponent("rollout.jsonl")
        let turns = (0..<400).map { WatchResourceTests.rolloutTurn(session: 1, turn: $0, textLength: 10) }
        try Data((WatchResourceTests.sessionStart(1) + turns.joined()).utf8).write(to: file)
        let state = folder.appendingPathComponent("cursor.json")
        try FileManager.default.createDirectory(atPath: state.path + ".new", withIntermediateDirectories: false)
        let spool = folder.appendingPathComponent("spool")
        let outcome = try await TestTools.runCLI([
            "replay", file.path, "--state", state.path, "--spool-dir", spool.path,
            "--otlp-endpoint", "http://127.0.0.1:\(freePort())", "--flush-timeout", "1",
        ])
        #expect(outcome.status == .exited(1))
        #expect(outcome.stderr.contains("cannot write the cursor"))
        let requests = try FileManager.default.contentsOfDirectory(atPath: spool.path)
        #expect(requests.contains { $0.hasPrefix(".staged-") })
        #expect(requests.allSatisfy { $0.hasPrefix(".") }, "\(requests)")
    }

    /// A process killed between saving the cursor and publishing the requests it names left them staged: the next
    /// start sends them, once. Staged requests no cursor names are a process killed before its save: an hour on,
    /// they are removed (their lines are read again), and not before, as their owner may still be saving.
    @Test func aCommitCutShortIsFinishedByTheNextStart() async throws {
        let folder = try TestTools.makeTemporaryDirectory("cut-short")
        let file = folder.appendingPathComponent("capture.jsonl")
        let spool = folder.appendingPathComponent("spool")
        let state = folder.appendingPathComponent("cursor.json")
        try Self.append(Self.captureLines[...], to: file)
        // Nothing listens yet: what was read stays in the spool, as published requests.
        let port = freePort()
        let unsent = try await TestTools.runCLI([
            "replay", file.path, "--state", state.path, "--spool-dir", spool.path,
            "--otlp-endpoint", "http://127.0.0.1:\(port)", "--flush-timeout", "1",
        ])
        let requests = try FileManager.default.contentsOfDirectory(atPath: spool.path).filter { !$0.hasPrefix(".") }
        #expect(unsent.status == .exited(0) && !requests.isEmpty)
        // As the process killed just after its save left them: staged, and named by the cursor.
        for name in requests {
            #expect(
                rename(spool.appendingPathComponent(name).path, spool.appendingPathComponent(".staged-" + name).path)
                    == 0
            )
        }
        var cursor = try JSONSerialization.jsonObject(with: Data(contentsOf: state)) as? [String: Any] ?? [:]
        cursor["staged"] = requests
        cursor["spool"] = spool.path
        try JSONSerialization.data(withJSONObject: cursor).write(to: state)
        // And two left by processes killed before theirs: one an hour ago, one now.
        let abandoned = spool.appendingPathComponent(".staged-abandoned")
        let recent = spool.appendingPathComponent(".staged-recent")
        try Data("x".utf8).write(to: abandoned)
        try Data("x".utf8).write(to: recent)
        var old = [timeval(tv_sec: time(nil) - 7200, tv_usec: 0), timeval(tv_sec: time(nil) - 7200, tv_usec: 0)]
        #expect(utimes(abandoned.path, &old) == 0)

        let rotel = try await Rotel(port: port)
        defer { Task { await rotel.stop() } }
        let next = try await TestTools.runCLI([
            "replay", file.path, "--state", state.path, "--spool-dir", spool.path, "--format", "json",
            "--otlp-endpoint", "http://127.0.0.1:\(port)",
        ])
        #expect(next.status == .exited(0) && next.stdout.isEmpty, "nothing new was read")
        let expected = try await Self.replayed([file.path])
        let items = try await rotel.items { $0.filter { $0.kind == "log" }.count >= expected.count }
        #expect(items.filter { $0.kind == "log" }.count == expected.count, "every event, once")
        let left = try FileManager.default.contentsOfDirectory(atPath: spool.path)
        #expect(left == [".staged-recent"])
        let after = try JSONValue(parsing: String(contentsOf: state, encoding: .utf8))
        #expect(after["staged"]?.array?.isEmpty == true)
    }

    /// A session caught mid-turn whose file nobody writes is not over while a process holds the file open, as
    /// Codex does; once nobody does, its turn is exported as incomplete, once, even when the file grows later (a
    /// session resumed).
    @Test func aQuietFileNoProcessHoldsHasItsRunningTurnClosedOnce() async throws {
        let folder = try TestTools.makeTemporaryDirectory("idle")
        let sessions = folder.appendingPathComponent("sessions")
        let file = sessions.appendingPathComponent("capture.jsonl")
        let state = folder.appendingPathComponent("cursor.json").path
        try Self.append(Self.captureLines[..<Self.midTurn], to: file)
        let holder = open(file.path, O_RDONLY)
        let output = folder.appendingPathComponent("events.jsonl")
        let watch = try TestTools.startCLI(
            ["watch", sessions.path, "--state", state, "--format", "json", "--idle", "0.3"],
            stdout: output.path
        )
        func incomplete() -> [String] {
            Self.lines(of: output).filter { $0.contains(#""codex.turn.status":"incomplete""#) }
        }
        // Quiet for five times the idle time, but held.
        try await Task.sleep(for: .milliseconds(1500))
        #expect(!Self.lines(of: output).isEmpty)
        #expect(incomplete().isEmpty)
        close(holder)
        try await TestTools.eventually { !incomplete().isEmpty }
        try await watch.send(SIGTERM)
        let outcome = await watch.finish()
        #expect(outcome.status == .exited(0))
        #expect(outcome.stderr.contains("1 turns closed as incomplete"))
        #expect(incomplete().count == 1)

        // The rest of the session comes: the closed turn is not exported again, the turns after it are.
        try Self.append(Self.captureLines[Self.midTurn...], to: file)
        let rest = try await TestTools.runCLI(["replay", file.path, "--state", state, "--format", "json"])
        let turns = (Self.lines(of: output) + rest.stdout.split(separator: "\n").map(String.init)).filter {
            $0.hasPrefix(#"{"name":"codex.turn""#)
        }
        #expect(turns.count == 9)
        let ids = turns.compactMap { try? JSONValue(parsing: $0)["attributes"]?["codex.turn.id"]?.string }
        #expect(Set(ids).count == 9)
    }
}
