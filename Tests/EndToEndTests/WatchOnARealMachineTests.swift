import Foundation
import JSON
import JSONRPC
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `watch`, `replay --state` and the hook as months on a real machine treat them: files rewritten in place, copied
/// over, folders deleted, recreated, replaced, swapped for links or made unreadable, lines of tens of megabytes,
/// cursors planted by others. Run on the rollout files the real Codex 0.163 wrote (`protocol/rollouts`), written
/// as Codex writes them; what is exported is held to a replay of the finished files, every event once.
@Suite(.serialized)
struct WatchOnARealMachineTests {
    /// The rollout files of the scenario suite, as the real Codex wrote them, in the order it wrote them: plain (two
    /// turns), command, patch, two tools, a failed request, an interrupted turn, a declined approval, a web search,
    /// a fork.
    static let rollouts: [URL] = {
        let folder = TestTools.packageRoot.appendingPathComponent("protocol/rollouts/codex-0.163.0")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".jsonl") }.sorted().map { folder.appendingPathComponent($0) }
    }()

    /// A rollout's lines, each with its newline.
    static func lines(_ rollout: URL) -> [[UInt8]] {
        ((try? Data(contentsOf: rollout)).map { [UInt8]($0) } ?? []).split(separator: 0x0A).map { Array($0) + [0x0A] }
    }

    /// Where a rollout's last turn ends: the lines before it leave that turn running.
    static func lastTurnEnd(_ lines: [[UInt8]]) -> Int {
        lines.lastIndex { String(decoding: $0, as: UTF8.self).contains(#""type":"task_complete""#) } ?? lines.count
    }

    /// The thread a rollout is the session of: its name ends with it.
    static func thread(of rollout: URL) -> String {
        String(rollout.deletingPathExtension().lastPathComponent.suffix(36))
    }

    static func write(_ lines: some Sequence<[UInt8]>, to file: URL, appending: Bool = true) throws {
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        if !appending || !FileManager.default.fileExists(atPath: file.path) { try Data().write(to: file) }
        let handle = try FileHandle(forWritingTo: file)
        try handle.seekToEnd()
        // Line by line: each a copy of its bytes, where a joined sequence would be copied a byte at a time.
        for line in lines { try handle.write(contentsOf: Data(line)) }
        try handle.close()
    }

    /// Writes `bytes` over `file`'s own bytes, in the same inode, as `cp` does.
    static func overwrite(_ file: URL, with bytes: [UInt8]) throws {
        let handle = try FileHandle(forWritingTo: file)
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(bytes))
        try handle.close()
    }

    /// The number a summary line gives before `word` (`3 rewritten`); -1 if it gives none.
    static func count(_ word: String, in text: String) -> Int {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard let index = words.firstIndex(where: { $0.hasPrefix(word) }), index > 0 else { return -1 }
        return Int(words[index - 1]) ?? -1
    }

    /// A watch of `sessions` printing its events to a file, started and ready: it hears SIGTERM.
    struct Watch {
        let running: RunningCLI
        let output: URL

        init(_ sessions: URL, state: URL, _ more: [String] = []) async throws {
            output = state.deletingLastPathComponent().appendingPathComponent("events-\(UUID()).jsonl")
            running = try TestTools.startCLI(
                ["watch", sessions.path, "--state", state.path, "--format", "json"] + more,
                stdout: output.path
            )
            try await TestTools.eventually { running.hears(SIGTERM) }
        }

        var events: [String] { WatchCommandTests.lines(of: output) }

        /// Stops it as a service manager does; returns its stderr.
        func stop() async throws -> String {
            try await running.send(SIGTERM)
            let outcome = await running.finish(within: TestTools.patience)
            #expect(outcome.status == .exited(0), "\(outcome.stderr)")
            return outcome.stderr
        }
    }

    // MARK: - Files rewritten in place

    /// A rollout truncated and a longer, different session written into the same inode, as `cp` over it does, while
    /// watch runs and while it is stopped: counted as rewritten, and read as the session it now holds, under that
    /// session's own id. A copy of a session already exported, written over a file or into a new one (seen half
    /// written), is recognised and not sent again. Every event once.
    @Test func aFileRewrittenInPlaceIsReadAsTheSessionItNowHolds() async throws {
        let folder = try TestTools.makeTemporaryDirectory("rewritten")
        let sessions = folder.appendingPathComponent("sessions/2026/12/05")
        let state = folder.appendingPathComponent("cursor.json")
        let (fork, plain, command, patch, twoTools) =
            (Self.rollouts[8], Self.rollouts[0], Self.rollouts[1], Self.rollouts[2], Self.rollouts[3])
        var replayed: [URL: [String]] = [:]
        for rollout in [plain, command, patch, twoTools] {
            replayed[rollout] = try await WatchCommandTests.replayed([rollout.path])
        }
        // The fork's session is caught mid-turn when it is written over: that turn ends there, incomplete, as it
        // does at the end of a file cut there.
        let forkLines = Self.lines(fork).prefix(Self.lastTurnEnd(Self.lines(fork)))
        let forkPart = folder.appendingPathComponent("fork-part.jsonl")
        try Self.write(forkLines, to: forkPart)
        replayed[fork] = try await WatchCommandTests.replayed([forkPart.path])
        #expect(replayed[fork]!.contains { $0.contains(#""codex.turn.status":"incomplete""#) })
        let first = sessions.appendingPathComponent("rollout-first.jsonl")
        let second = sessions.appendingPathComponent("rollout-second.jsonl")
        try Self.write(forkLines, to: first)
        try Self.write(Self.lines(patch), to: second)
        try Self.write(Self.lines(command), to: sessions.appendingPathComponent("rollout-third.jsonl"))
        let root = folder.appendingPathComponent("sessions")
        var watch = try await Watch(root, state: state)
        // All but the running turn's end.
        let initially = [fork, patch, command].map { replayed[$0]!.count }.reduce(0, +) - 1
        try await TestTools.eventually { watch.events.count >= initially }
        // While it runs: a longer session over the fork's.
        try Self.overwrite(first, with: Array(Self.lines(plain).joined()))
        try await TestTools.eventually { watch.events.count >= initially + 1 + replayed[plain]!.count }
        let firstRun = try await watch.stop()
        // Seen half written (shorter than it was), or whole (its bytes not the ones read): read as new either way.
        #expect(Self.count("truncated", in: firstRun) + Self.count("rewritten", in: firstRun) == 1, "\(firstRun)")
        #expect(firstRun.contains("1 turns closed as incomplete"), "\(firstRun)")
        var events = watch.events

        // While it is stopped: a longer session over the patch's; then, while it runs, a copy of one exported.
        try Self.overwrite(second, with: Array(Self.lines(twoTools).joined()))
        watch = try await Watch(root, state: state)
        try await TestTools.eventually { watch.events.count >= replayed[twoTools]!.count }
        try Self.overwrite(second, with: Array(Self.lines(plain).joined()))
        // And a copy of one exported, caught half written: it waits to be whole, and is recognised then.
        let copy = sessions.appendingPathComponent("rollout-copy.jsonl")
        let copied = Self.lines(command)
        try Self.write(copied.prefix(copied.count / 2), to: copy)
        try await Task.sleep(for: .seconds(1))
        try Self.write(copied.suffix(from: copied.count / 2), to: copy)
        try await Task.sleep(for: .seconds(1))
        let secondRun = try await watch.stop()
        #expect(Self.count("rewritten", in: secondRun) >= 1, "the one written while it was stopped: \(secondRun)")
        #expect(Self.count("truncated", in: secondRun) + Self.count("rewritten", in: secondRun) == 2, "\(secondRun)")
        #expect(Self.count("recognised", in: secondRun) == 2, "\(secondRun)")
        events += watch.events

        let expected = replayed.values.flatMap { $0 }
        #expect(events.count == expected.count, "every event once")
        #expect(events.sorted() == expected.sorted())
        #expect(!events.joined().contains(TestTools.contentMarker))
    }

    // MARK: - Folders that come and go

    /// The sessions folder deleted and created again, a day's folder deleted and created again, and the sessions
    /// folder replaced by another moved into its place: each is followed again, by inotify and by looking, and what
    /// is written there is exported, once.
    @Test(arguments: [nil, "0.2"])
    func foldersThatGoAndComeBackAreFollowedAgain(poll: String?) async throws {
        let folder = try TestTools.makeTemporaryDirectory("folders")
        let root = folder.appendingPathComponent("sessions")
        let state = folder.appendingPathComponent("cursor.json")
        var expected: [String] = []
        func written(_ rollout: URL, to path: String) async throws {
            try Self.write(Self.lines(rollout), to: root.appendingPathComponent(path))
            expected += try await WatchCommandTests.replayed([rollout.path])
        }
        try await written(Self.rollouts[0], to: "2026/12/05/rollout-a.jsonl")
        let watch = try await Watch(root, state: state, poll.map { ["--poll", $0] } ?? [])
        try await TestTools.eventually { watch.events.count >= expected.count }

        // Deleted as `rm -r` does, what it holds first, then itself: seen in between, it is still there.
        try FileManager.default.removeItem(at: root.appendingPathComponent("2026"))
        try await Task.sleep(for: .milliseconds(300))
        #expect(rmdir(root.path) == 0)
        try await Task.sleep(for: .milliseconds(300))
        try await written(Self.rollouts[1], to: "2026/12/06/rollout-b.jsonl")
        try await TestTools.eventually { watch.events.count >= expected.count }
        #expect(watch.events.count == expected.count, "the folder created again is followed")

        try FileManager.default.removeItem(at: root.appendingPathComponent("2026/12/06"))
        try await Task.sleep(for: .milliseconds(300))
        try await written(Self.rollouts[2], to: "2026/12/06/rollout-c.jsonl")
        try await TestTools.eventually { watch.events.count >= expected.count }
        #expect(watch.events.count == expected.count, "the day's folder created again is followed")

        let other = folder.appendingPathComponent("other")
        try Self.write(Self.lines(Self.rollouts[3]), to: other.appendingPathComponent("2026/12/07/rollout-d.jsonl"))
        expected += try await WatchCommandTests.replayed([Self.rollouts[3].path])
        #expect(rename(root.path, folder.appendingPathComponent("old").path) == 0)
        #expect(rename(other.path, root.path) == 0)
        try await TestTools.eventually { watch.events.count >= expected.count }
        try Self.write(Self.lines(Self.rollouts[4]), to: root.appendingPathComponent("2026/12/07/rollout-e.jsonl"))
        expected += try await WatchCommandTests.replayed([Self.rollouts[4].path])
        try await TestTools.eventually { watch.events.count >= expected.count }

        _ = try await watch.stop()
        #expect(watch.events.sorted() == expected.sorted(), "every session once")
    }

    /// A copy of a session caught while its first line is still being written is left for later, not read as a new
    /// session: once whole, it is known as the session it copies, and nothing of it is exported again.
    @Test func aCopyWhoseFirstLineIsNotWholeYetIsLeftForLater() async throws {
        let folder = try TestTools.makeTemporaryDirectory("partial-copy")
        let sessions = folder.appendingPathComponent("sessions")
        let state = folder.appendingPathComponent("cursor.json").path
        let rollout = try #require(Self.rollouts.first)
        let lines = Self.lines(rollout)
        func replay() async throws -> [String] {
            let outcome = try await TestTools.runCLI(["replay", sessions.path, "--state", state, "--format", "json"])
            #expect(outcome.status == .exited(0), "\(outcome.stderr)")
            return outcome.stdout.split(separator: "\n").map(String.init)
        }
        try Self.write(lines, to: sessions.appendingPathComponent("one/\(rollout.lastPathComponent)"))
        #expect(!(try await replay()).isEmpty)
        let copy = sessions.appendingPathComponent("two/\(rollout.lastPathComponent)")
        try Self.write([Array(lines[0].prefix(lines[0].count / 2))], to: copy)
        #expect(try await replay().isEmpty, "half a first line is nothing yet")
        try Self.write([Array(lines[0].dropFirst(lines[0].count / 2))] + lines.dropFirst(), to: copy)
        #expect(try await replay().isEmpty, "the whole copy is the session already sent")
    }

    /// One session in files read to different lengths, over restarts: a copy caught half written, read first; the
    /// whole file, read on from where the copy was left; then one more copy, which holds nothing new. Every event
    /// goes out once, however the cursor met the files.
    @Test func aSessionReadInFilesOfDifferentLengthsIsExportedOnceOverRestarts() async throws {
        let folder = try TestTools.makeTemporaryDirectory("copies")
        let state = folder.appendingPathComponent("cursor.json").path
        let rollout = Self.rollouts[3]
        let lines = Self.lines(rollout)
        let name = rollout.lastPathComponent
        func replay(_ file: URL) async throws -> [String] {
            let outcome = try await TestTools.runCLI(["replay", file.path, "--state", state, "--format", "json"])
            #expect(outcome.status == .exited(0), "\(outcome.stderr)")
            return outcome.stdout.split(separator: "\n").map(String.init)
        }
        let half = folder.appendingPathComponent("copy/\(name)")
        try Self.write(lines.prefix(lines.count / 2), to: half)
        let whole = folder.appendingPathComponent("sessions/\(name)")
        try Self.write(lines, to: whole)
        let another = folder.appendingPathComponent("another/\(name)")
        try Self.write(lines, to: another)
        let exported = try await replay(half) + (try await replay(whole)) + (try await replay(another))
        let expected = try await WatchCommandTests.replayed([rollout.path])
        #expect(expected.count > 3)
        #expect(exported.sorted() == expected.sorted(), "every event once")
    }

    /// A day's folder swapped for a link to a folder elsewhere while a turn runs in it: neither the walk, nor a
    /// file's growth, nor the judgement that the session is over ever reads through the link.
    @Test func aFolderSwappedForALinkIsNeverReadThrough() async throws {
        let folder = try TestTools.makeTemporaryDirectory("swapped")
        let root = folder.appendingPathComponent("sessions")
        let day = root.appendingPathComponent("2026/12/05")
        let name = "rollout-running.jsonl"
        let running = Self.lines(Self.rollouts[1])
        try Self.write(running.prefix(Self.lastTurnEnd(running)), to: day.appendingPathComponent(name))
        // Elsewhere, a whole session under the same name.
        let elsewhere = folder.appendingPathComponent("elsewhere")
        try Self.write(Self.lines(Self.rollouts[2]), to: elsewhere.appendingPathComponent(name))
        let watch = try await Watch(root, state: folder.appendingPathComponent("cursor.json"), ["--idle", "0.5"])
        try await TestTools.eventually { !watch.events.isEmpty }
        #expect(rename(day.path, folder.appendingPathComponent("moved-away").path) == 0)
        #expect(symlink(elsewhere.path, day.path) == 0)
        // Quiet well past the idle time, and the link's target grows.
        try await Task.sleep(for: .seconds(2))
        try Self.write(Self.lines(Self.rollouts[3]), to: elsewhere.appendingPathComponent(name))
        try await Task.sleep(for: .seconds(2))
        // The followed folder itself swapped for a link to a folder of sessions elsewhere: not followed.
        try Self.write(Self.lines(Self.rollouts[4]), to: elsewhere.appendingPathComponent("2026/12/06/" + name))
        #expect(rename(root.path, folder.appendingPathComponent("sessions-away").path) == 0)
        #expect(symlink(elsewhere.path, root.path) == 0)
        try await Task.sleep(for: .seconds(3))
        let stderr = try await watch.stop()
        let read = watch.events.joined()
        for rollout in Self.rollouts[2...4] {
            #expect(!read.contains(Self.thread(of: rollout)), "a file through a link was read")
        }
        #expect(read.contains(Self.thread(of: Self.rollouts[1])))
        #expect(stderr.contains("\(root.path) was replaced by a symbolic link, which is not followed"), "\(stderr)")
    }

    /// A day's folder that cannot be read is said on stderr, once, and counted; the others are read, and so is it
    /// once it can be. (Run as `nobody` when the tests run as root, for whom no permission bit is a barrier.)
    @Test func anUnreadableFolderIsSaidAndCountedAndReadOnceItCanBe() async throws {
        let folder = try TestTools.makeTemporaryDirectory("unreadable")
        let root = folder.appendingPathComponent("sessions")
        let state = folder.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        try Self.write(Self.lines(Self.rollouts[0]), to: root.appendingPathComponent("2026/12/05/rollout-a.jsonl"))
        let closed = root.appendingPathComponent("2026/12/06")
        try Self.write(Self.lines(Self.rollouts[1]), to: closed.appendingPathComponent("rollout-b.jsonl"))
        for path in [folder.path, root.path, state.path] { chmod(path, 0o755) }
        if geteuid() == 0 { chown(state.path, 65534, 65534) }
        chmod(closed.path, 0)
        let output = folder.appendingPathComponent("events.jsonl")
        let watch = try TestTools.startCLI(
            [
                "watch", root.path, "--state", state.appendingPathComponent("cursor.json").path, "--format", "json",
                "--poll", "0.2",
            ],
            stdout: output.path,
            unprivileged: true
        )
        let first = try await WatchCommandTests.replayed([Self.rollouts[0].path])
        try await TestTools.eventually { WatchCommandTests.lines(of: output).count >= first.count }
        try await Task.sleep(for: .seconds(1))
        #expect(WatchCommandTests.lines(of: output).count == first.count)
        chmod(closed.path, 0o755)
        let all = try await first + WatchCommandTests.replayed([Self.rollouts[1].path])
        try await TestTools.eventually { WatchCommandTests.lines(of: output).count >= all.count }
        try await watch.send(SIGTERM)
        let outcome = await watch.finish()
        #expect(outcome.status == .exited(0), "\(outcome.stderr)")
        #expect(WatchCommandTests.lines(of: output).sorted() == all.sorted())
        let said = outcome.stderr.split(separator: "\n").filter { $0.contains("cannot read the directory") }
        #expect(said.count == 1, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("1 folders unreadable"), "\(outcome.stderr)")
    }

    // MARK: - Cursors that are not the user's own

    /// A cursor another user could have planted or could write is refused, as the spool is, with a clear message:
    /// watch and `replay --state` exit 1 having read nothing, the hook says so and exits 0; the file is untouched.
    @Test func aCursorThatIsNotTheUsersOwnIsRefused() async throws {
        let folder = try TestTools.makeTemporaryDirectory("foreign-cursor")
        let home = folder.appendingPathComponent("codex")
        let file = home.appendingPathComponent("sessions/2026/12/05/" + Self.rollouts[0].lastPathComponent)
        try Self.write(Self.lines(Self.rollouts[0]), to: file)
        let state = folder.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        chmod(state.path, 0o700)
        let cursor = state.appendingPathComponent("cursor.json")
        let planted = #"{"codexTelemetryCursor":2,"files":[],"staged":[],"agents":[]}"#
        try Data(planted.utf8).write(to: cursor)
        // Writable by all; as root, also another user's (planted by `nobody`).
        var cases: [(problem: String, mode: mode_t, owner: uid_t?)] = [("is writable by others", 0o666, nil)]
        if geteuid() == 0 { cases.append(("belongs to another user", 0o600, 65534)) }
        for (problem, mode, owner) in cases {
            chmod(cursor.path, mode)
            if let owner { chown(cursor.path, owner, owner) }
            // Obeyed, watch would run on: it must end by itself, at once.
            let watch = try await TestTools.startCLI([
                "watch", home.appendingPathComponent("sessions").path, "--state", cursor.path, "--format", "json",
            ]).finish(within: .seconds(20))
            #expect(watch.status == .exited(1) && watch.stdout.isEmpty)
            #expect(watch.stderr.contains("the cursor \(cursor.path) \(problem)"), "\(watch.stderr)")
            let replay = try await TestTools.runCLI(["replay", file.path, "--state", cursor.path, "--format", "json"])
            #expect(replay.status == .exited(1) && replay.stdout.isEmpty)
            #expect(replay.stderr.contains(problem), "\(replay.stderr)")
            let hook = try TestTools.startCLI(
                ["hook", "--state", cursor.path, "--otlp-endpoint", "http://127.0.0.1:\(freePort())"],
                environment: ["CODEX_HOME": home.path]
            )
            hook.process.write(bytes: Array(#"{"transcript_path":"\#(file.path)","hook_event_name":"Stop"}"#.utf8))
            hook.process.closeStdin()
            let outcome = await hook.finish(within: .seconds(20))
            #expect(outcome.status == .exited(0))
            #expect(outcome.stderr.contains(problem), "\(outcome.stderr)")
            #expect(try String(contentsOf: cursor, encoding: .utf8) == planted)
        }
    }

    // MARK: - The hook

    /// The hook never holds Codex up: a command line it does not know, a cursor held by a stuck process, an input
    /// Codex leaves open, a collector that never answers: each is given up on within the hook's own bounds (the
    /// stuck process and the collector wait for ever: a hook without bounds would be killed by the test, and fail),
    /// exits 0 and says why. What it could not do is done by its next run, to the same collector, once.
    @Test func theHookNeverHoldsCodexUp() async throws {
        let folder = try TestTools.makeTemporaryDirectory("hook-bounds")
        let home = folder.appendingPathComponent("codex")
        let session = Self.lines(Self.rollouts[3])
        let file = home.appendingPathComponent("sessions/2026/12/05/" + Self.rollouts[3].lastPathComponent)
        try Self.write(session.prefix(session.count / 2), to: file)
        let state = folder.appendingPathComponent("state")
        let cursor = state.appendingPathComponent("cursor.json")
        let port = freePort()
        let input = #"{"session_id":"s","transcript_path":"\#(file.path)","hook_event_name":"Stop"}"#
        func hook(_ extra: [String] = [], closingInput: Bool = true) async throws -> CommandOutcome {
            let running = try TestTools.startCLI(
                ["hook", "--state", cursor.path, "--otlp-endpoint", "http://127.0.0.1:\(port)"] + extra,
                environment: ["CODEX_HOME": home.path, "XDG_STATE_HOME": state.path]
            )
            running.process.write(bytes: Array(input.utf8))
            if closingInput { running.process.closeStdin() }
            let outcome = await running.finish(within: TestTools.patience)
            #expect(outcome.status == .exited(0), "\(outcome.stderr)")
            return outcome
        }

        let mistaken = try await hook(["--no-such-option"])
        #expect(mistaken.stderr.contains("unknown option '--no-such-option'"), "\(mistaken.stderr)")

        // A stuck process holds the cursor: the hook gives up within its bound, having read nothing.
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        let holder = try ChildProcess(
            ChildProcess.Configuration(
                executable: "python3",
                arguments: [
                    "-c",
                    "import fcntl, sys\nf = open(sys.argv[1], 'a')\nfcntl.flock(f, fcntl.LOCK_EX)\nprint('held', flush=True)\nsys.stdin.read()",
                    cursor.path + ".lock",
                ]
            )
        )
        for await _ in holder.lines { break }
        let blocked = try await hook()
        #expect(blocked.stderr.contains("held by another reader"), "\(blocked.stderr)")
        #expect(!FileManager.default.fileExists(atPath: cursor.path), "nothing read")
        holder.closeStdin()
        _ = await holder.waitForExit()

        // Held a moment (another hook, watch at a checkpoint): let go once the hook has opened the lock to wait for
        // it, well inside the hook's wait, and the hook reads.
        let brief = try ChildProcess(
            ChildProcess.Configuration(
                executable: "python3",
                arguments: [
                    "-c",
                    """
                    import fcntl, os, sys
                    lock = sys.argv[1]
                    f = open(lock, "a")
                    fcntl.flock(f, fcntl.LOCK_EX)
                    print("held", flush=True)
                    def waiting():
                        for pid in filter(str.isdigit, os.listdir("/proc")):
                            if int(pid) == os.getpid(): continue
                            try:
                                fds = os.listdir(f"/proc/{pid}/fd")
                            except OSError:
                                continue
                            for fd in fds:
                                try:
                                    if os.readlink(f"/proc/{pid}/fd/{fd}") == lock: return True
                                except OSError:
                                    pass
                        return False
                    while not waiting(): pass
                    """,
                    cursor.path + ".lock",
                ]
            )
        )
        for await _ in brief.lines { break }
        let waited = try await hook()
        #expect(!waited.stderr.contains("held by another reader"), "\(waited.stderr)")
        let read = try String(contentsOf: cursor, encoding: .utf8)
        #expect(read.contains(file.lastPathComponent), "the session read, its place in the cursor: \(waited.stderr)")
        _ = await brief.waitForExit()

        // A collector that never answers, and an input never closed: the hook reads, keeps, and goes.
        let silent = try await StandInCollector(respond: "hang", port: port)
        _ = try await hook(closingInput: false)
        await silent.stop()

        // The rest of the session comes, and the collector is up: the next run sends it all, once.
        try Self.write(session.suffix(from: session.count / 2), to: file)
        let rotel = try await Rotel(port: port)
        defer { Task { await rotel.stop() } }
        _ = try await hook()
        let expected = try await WatchCommandTests.replayed([file.path])
        let logs = try await rotel.items { $0.filter { $0.kind == "log" }.count >= expected.count }
        #expect(logs.filter { $0.kind == "log" }.count == expected.count, "every event once")
    }

    /// Codex's hook input can be large (a Stop input carries the turn's last message) and comes as the pipe gives
    /// it: in one piece past a read's size, or in pieces with pauses between. Either way the hook reads it whole and
    /// exports the session, once.
    @Test(arguments: [false, true])
    func aLargeHookInputIsReadWholeAndTheSessionExported(inPieces: Bool) async throws {
        let folder = try TestTools.makeTemporaryDirectory("hook-input")
        let home = folder.appendingPathComponent("codex")
        let file = home.appendingPathComponent("sessions/2026/12/05/" + Self.rollouts[1].lastPathComponent)
        try Self.write(Self.lines(Self.rollouts[1]), to: file)
        let collector = try await StandInCollector(respond: "200")
        defer { Task { await collector.stop() } }
        // The last message is content: marked, and never exported.
        let message = TestTools.contentMarker + String(repeating: " the last message", count: inPieces ? 180 : 20_000)
        let input = JSONValue.object([
            "session_id": .string(Self.thread(of: Self.rollouts[1])), "transcript_path": .string(file.path),
            "hook_event_name": "Stop", "last_assistant_message": .string(message),
        ]).serialized()
        #expect(input.count > (inPieces ? 3_000 : 300_000))
        let inputFile = folder.appendingPathComponent("input.json")
        try Data(input).write(to: inputFile)
        // The feeder starts the hook on a pipe, as Codex does, so the hook's wait for its input is not a wait for
        // Python to start. Without pieces, one write; in pieces, a first part of 2 KiB, and the rest once the hook
        // has read it (the pipe holds nothing: FIONREAD on its end), then the input left open a while, as Codex may
        // leave it. A hook that stops reading is not waited for past a minute.
        let feeder = """
            import array, fcntl, subprocess, sys, termios, time
            data = open(sys.argv[1], "rb").read()
            hook = subprocess.Popen(sys.argv[3:], stdin=subprocess.PIPE)
            for part in ([data[:2048], data[2048:]] if sys.argv[2] == "pieces" else [data]):
                hook.stdin.write(part)
                hook.stdin.flush()
                waiting, deadline = array.array("i", [1]), time.monotonic() + 60
                while waiting[0] > 0 and time.monotonic() < deadline:
                    time.sleep(0.01)
                    fcntl.ioctl(hook.stdin.fileno(), termios.FIONREAD, waiting)
            time.sleep(0.5)
            hook.stdin.close()
            sys.exit(hook.wait())
            """
        let state = folder.appendingPathComponent("state")
        let hook = try ChildProcess(
            ChildProcess.Configuration(
                executable: "python3",
                arguments: [
                    "-c", feeder, inputFile.path, inPieces ? "pieces" : "whole",
                    try TestTools.cli(), "hook", "--otlp-endpoint", "http://127.0.0.1:\(collector.port)",
                ],
                environment: ProcessInfo.processInfo.environment.merging([
                    "CODEX_HOME": home.path, "XDG_STATE_HOME": state.path,
                ]) { $1 }
            )
        )
        for await _ in hook.lines {}
        #expect(await hook.waitForExit() == .exited(0), "\(hook.stderrText)")
        #expect(!hook.stderrText.contains("did not come whole"), "\(hook.stderrText)")
        let expected = try await WatchCommandTests.replayed([file.path])
        #expect(expected.count > 3)
        #expect(collector.itemsByPath["/v1/logs"] == expected.count, "\(hook.stderrText)")
        #expect(!(try collector.receivedBytes()).contains(Array(TestTools.contentMarker.utf8)))
    }

    // MARK: - Long lines

    /// A rollout with a tool's output of 40 MB on one line, under the line limit: watch, `replay --state` and the
    /// hook each read it in time linear in its length (they end, where they spun), and export what a replay does,
    /// the events after it included.
    @Test func aLineOfTensOfMegabytesIsReadInEveryMode() async throws {
        let folder = try TestTools.makeTemporaryDirectory("long-line")
        let home = folder.appendingPathComponent("codex")
        let file = home.appendingPathComponent("sessions/2026/12/05/" + Self.rollouts[1].lastPathComponent)
        try await TestTools.blocking {
            try Self.write(Self.withOutput(of: 40 << 20, in: Self.lines(Self.rollouts[1])), to: file)
        }
        let expected = try await WatchCommandTests.replayed([file.path])
        #expect(expected.count > 3)

        let watch = try await Watch(
            home.appendingPathComponent("sessions"),
            state: folder.appendingPathComponent("w.json")
        )
        try await TestTools.eventually { watch.events.count >= expected.count }
        _ = try await watch.stop()
        #expect(watch.events.sorted() == expected)

        let replay = try await TestTools.startCLI([
            "replay", file.path, "--state", folder.appendingPathComponent("r.json").path, "--format", "json",
        ]).finish(within: .seconds(60))
        #expect(replay.status == .exited(0))
        #expect(replay.stdout.split(separator: "\n").map(String.init).sorted() == expected)

        let rotel = try await Rotel()
        defer { Task { await rotel.stop() } }
        let hook = try TestTools.startCLI(
            [
                "hook", "--state", folder.appendingPathComponent("h.json").path, "--otlp-endpoint",
                "http://127.0.0.1:\(rotel.port)",
            ],
            environment: ["CODEX_HOME": home.path]
        )
        hook.process.write(bytes: Array(#"{"transcript_path":"\#(file.path)","hook_event_name":"Stop"}"#.utf8))
        hook.process.closeStdin()
        #expect(await hook.finish(within: .seconds(60)).status == .exited(0))
        let logs = try await rotel.items { $0.filter { $0.kind == "log" }.count >= expected.count }
        #expect(logs.filter { $0.kind == "log" }.count == expected.count)
    }

    /// A line over the 64 MiB limit, written slowly while watch follows the file: skipped and counted, and the
    /// session's events before and after it go out, as a replay of the finished file gives them.
    @Test func aLineOverTheLimitWrittenSlowlyIsSkippedAndTheRestGoesOut() async throws {
        let folder = try TestTools.makeTemporaryDirectory("over-limit")
        let root = folder.appendingPathComponent("sessions")
        let file = root.appendingPathComponent("2026/12/05/" + Self.rollouts[3].lastPathComponent)
        let lines = try await TestTools.blocking { Self.withOutput(of: 65 << 20, in: Self.lines(Self.rollouts[3])) }
        let long = try #require(lines.firstIndex { $0.count > 64 << 20 })
        try Self.write(lines[..<long], to: file)
        let watch = try await Watch(root, state: folder.appendingPathComponent("cursor.json"))
        for piece in stride(from: 0, to: lines[long].count, by: 8 << 20) {
            try Self.write([Array(lines[long][piece..<min(piece + (8 << 20), lines[long].count)])], to: file)
            try await Task.sleep(for: .milliseconds(100))
        }
        try Self.write(lines[(long + 1)...], to: file)
        let expected = try await WatchCommandTests.replayed([file.path])
        try await TestTools.eventually { watch.events.count >= expected.count }
        let stderr = try await watch.stop()
        #expect(watch.events.sorted() == expected)
        #expect(stderr.contains("1 lines over the line limit"), "\(stderr)")
    }

    /// The rollout's lines with its first tool output grown by `size` bytes of content (marked) at its start.
    static func withOutput(of size: Int, in lines: [[UInt8]]) -> [[UInt8]] {
        var lines = lines
        let marker = Array(#""output":""#.utf8)
        guard
            let index = lines.firstIndex(where: { $0.firstRange(of: Array("function_call_output".utf8)) != nil }),
            let at = lines[index].firstRange(of: marker)
        else { return lines }
        var grown = Array(lines[index][..<at.upperBound])
        grown += Array((TestTools.contentMarker + "_output ").utf8)
        grown += [UInt8](repeating: UInt8(ascii: "x"), count: size)
        grown += lines[index][at.upperBound...]
        lines[index] = grown
        return lines
    }

    // MARK: - Stopping

    /// SIGTERM in the middle of a long first backfill: watch and `replay --state` end where they are (what they read
    /// after the signal is the end of one read), with what they read committed; started again, they go on from there, every event exported once.
    @Test(arguments: ["watch", "replay"])
    func aStopInTheMiddleOfABackfillCommitsWhatWasRead(command: String) async throws {
        let folder = try TestTools.makeTemporaryDirectory("stop-\(command)")
        let root = folder.appendingPathComponent("sessions")
        try await TestTools.blocking { try Self.writeDistinctSessions(600, under: root) }
        let state = folder.appendingPathComponent("cursor.json")
        let arguments =
            command == "watch"
            ? ["watch", root.path, "--state", state.path, "--format", "json"]
            : ["replay", root.path, "--state", state.path, "--format", "json"]
        let firstOutput = folder.appendingPathComponent("first.jsonl")
        let first = try TestTools.startCLI(arguments, stdout: firstOutput.path)
        try await TestTools.eventually { WatchCommandTests.lines(of: firstOutput).count > 200 }
        let asked = WatchCommandTests.lines(of: firstOutput).count
        try await first.send(SIGTERM)
        let stopped = await first.finish(within: TestTools.patience)
        #expect(stopped.status == .exited(0), "\(stopped.stderr)")
        let expected = try await WatchCommandTests.replayed([root.path])
        let before = WatchCommandTests.lines(of: firstOutput)
        // Where it was: what it read after the signal is the end of one read, not the rest of the backfill.
        #expect(before.count - asked < (expected.count - asked) / 4, "stopped where it was")

        let secondOutput = folder.appendingPathComponent("second.jsonl")
        let second = try TestTools.startCLI(arguments, stdout: secondOutput.path)
        try await TestTools.eventually {
            before.count + WatchCommandTests.lines(of: secondOutput).count >= expected.count
        }
        if command == "watch" { try await second.send(SIGTERM) }
        #expect(await second.finish(within: .seconds(60)).status == .exited(0))
        #expect((before + WatchCommandTests.lines(of: secondOutput)).sorted() == expected)
    }

    /// `count` sessions under `root`, one file each in day folders, copies of the real rollouts with ids of their
    /// own (each UUID made distinct), so that no two files hold the same session or turn.
    static func writeDistinctSessions(_ count: Int, under root: URL) throws {
        // Every UUID of that run begins so: each copy has another beginning, written over it in place.
        let stamp = Array("01a24448-".utf8)
        let templates = rollouts.map { rollout -> (bytes: [UInt8], stamps: [Int]) in
            let bytes = (try? Data(contentsOf: rollout)).map { [UInt8]($0) } ?? []
            let stamps = bytes.indices.dropLast(stamp.count).filter {
                bytes[$0..<$0 + stamp.count].elementsEqual(stamp)
            }
            return (bytes, stamps)
        }
        for index in 0..<count {
            let prefix = Array(String(format: "%08x-", 0x1000_0000 + index).utf8)
            var (bytes, stamps) = templates[index % templates.count]
            for at in stamps { bytes.replaceSubrange(at..<at + prefix.count, with: prefix) }
            let day = root.appendingPathComponent(String(format: "2026/11/%02d", 1 + index % 28))
            try FileManager.default.createDirectory(at: day, withIntermediateDirectories: true)
            try Data(bytes).write(to: day.appendingPathComponent("rollout-\(index).jsonl"))
        }
    }
}
