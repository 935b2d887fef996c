import CodexTelemetry
import Foundation
import JSON
import JSONRPC
import TestSupport
import Testing

/// The built `codex-telemetry` binary, end to end, on the recorded sessions.
struct ReplayCommandTests {
    func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> CommandOutcome {
        try await TestTools.runCLI(arguments, environment: environment)
    }

    static let sessions = ["codex-0.163.0-scenarios.jsonl", "codex-0.147.0-scenarios.jsonl"].map {
        TestTools.packageRoot.appendingPathComponent("protocol/sessions/\($0)").path
    }

    @Test(arguments: sessions)
    func jsonOutputHasOneTurnPerTurnAndNoContent(session: String) async throws {
        let outcome = try await run(["replay", session, "--format", "json"])
        #expect(outcome.status == .exited(0))
        let events = try outcome.stdout.split(separator: "\n").map { try JSONValue(parsing: String($0)) }
        #expect(events.filter { $0["name"] == "codex.turn" }.count == 9)
        #expect(events.filter { $0["name"] == "codex.llm_call" }.count == 11)
        #expect(events.filter { $0["name"] == "codex.tool_call" }.count == 6)
        #expect(events.allSatisfy { $0["startTimeUnixNano"]?.int != nil && $0["attributes"]?.object != nil })
        #expect(!outcome.stdout.contains(TestTools.contentMarker))
        #expect(!outcome.stderr.contains(TestTools.contentMarker))
        #expect(
            String(decoding: try Data(contentsOf: URL(fileURLWithPath: session)), as: UTF8.self).contains(
                TestTools.contentMarker
            )
        )
    }

    /// Codex 0.118 and older put no time in their messages: a capture of theirs is dated by the file, and says so.
    @Test func aCaptureWithNoTimesIsDatedByItsFileNever1970() async throws {
        let capture = try TestTools.makeTemporaryDirectory("untimed").appendingPathComponent("capture.jsonl")
        try FileManager.default.copyItem(
            at: TestTools.packageRoot.appendingPathComponent("protocol/sessions/codex-0.98.0-scenarios.jsonl"),
            to: capture
        )
        let modified = Date(timeIntervalSince1970: 1_790_000_000)
        try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: capture.path)
        let outcome = try await run(["replay", capture.path, "--format", "json"])
        #expect(outcome.status == .exited(0))
        #expect(outcome.stderr.contains("carried no time: dated at the file's modification time"))
        let events = try outcome.stdout.split(separator: "\n").map { try JSONValue(parsing: String($0)) }
        #expect(events.filter { $0["name"] == "codex.turn" }.count == 9)
        // Everything ends at the file's time; a tool that reports its own duration starts that much before.
        let fileTime: Int64 = 1_790_000_000_000_000_000
        #expect(events.allSatisfy { $0["endTimeUnixNano"]?.int == fileTime })
        #expect(events.allSatisfy { ($0["startTimeUnixNano"]?.int).map { fileTime - $0 < 1_000_000_000 } == true })
    }

    /// Records of kinds a newer Codex adds, that the vocabulary does not know, are counted and said, never passed
    /// over silently: by `replay`, and by `replay --state` as `watch` and the hook read.
    @Test func recordsOfKindsNotKnownAreCountedAndSaid() async throws {
        let folder = try TestTools.makeTemporaryDirectory("unknown-kinds")
        let rollout = try String(
            contentsOf: TestTools.packageRoot.appendingPathComponent(
                "protocol/rollouts/codex-0.163.0/rollout-2026-12-05T03-38-34-01a24448-3e1b-7d33-9d23-afc11b5418f6.jsonl"
            ),
            encoding: .utf8
        )
        let unknown = [
            #"{"timestamp":"2026-12-05T03:38:35.100Z","type":"event_msg","payload":{"type":"a_kind_from_the_future","text":"ZQXMARK"}}"#,
            #"{"timestamp":"2026-12-05T03:38:35.200Z","type":"a_record_from_the_future","payload":{"text":"ZQXMARK"}}"#,
        ]
        let file = folder.appendingPathComponent("sessions/rollout.jsonl")
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data((rollout + unknown.joined(separator: "\n") + "\n").utf8).write(to: file)
        let replayed = try await run(["replay", file.path])
        #expect(replayed.status == .exited(0))
        #expect(
            replayed.stderr.contains("2 lines of kinds codex-telemetry does not know, passed over"),
            "\(replayed.stderr)"
        )
        let state = folder.appendingPathComponent("cursor.json").path
        let followed = try await run(["replay", file.deletingLastPathComponent().path, "--state", state])
        #expect(
            followed.stderr.contains("2 lines of kinds codex-telemetry does not know, passed over"),
            "\(followed.stderr)"
        )
        #expect(
            !(replayed.stdout + replayed.stderr + followed.stdout + followed.stderr).contains(TestTools.contentMarker)
        )
    }

    @Test func theSummaryGivesTurnsCallsTokensAndCostPerModel() async throws {
        let outcome = try await run(["replay", Self.sessions[0]])
        #expect(outcome.status == .exited(0))
        #expect(outcome.stdout.hasPrefix("Codex usage by model, "))
        // Turns, failed, interrupted, model calls, tool calls, input, cached, cache write, output, reasoning, cost,
        // lines added and removed, commits, pull requests.
        let row = [
            "gpt-5.5", "9", "1", "1", "11", "6", "11,070", "3,300", "0", "510", "110", "$0.06", "+1 -0", "0", "0",
        ]
        #expect(outcome.tableRow("gpt-5.5") == row)
        #expect(outcome.tableRow("Total") == ["Total"] + row.dropFirst())
        #expect(outcome.stderr.contains("0 skipped"))
        #expect(!(outcome.stdout + outcome.stderr).contains(TestTools.contentMarker))
    }

    /// `replay` reads through the pipeline, `replay --state` through the cursor's reader: on every bundled session
    /// (captures of every Codex release, the oldest with no time in their messages) and Codex 0.163's rollouts, in one
    /// folder, a first read through a new cursor gives the very events replay gives, in the same order.
    @Test func aFirstReadThroughACursorGivesWhatReplayGives() async throws {
        let folder = try TestTools.makeTemporaryDirectory("both-engines")
        let sessions = TestTools.packageRoot.appendingPathComponent("protocol/sessions")
        let rollouts = TestTools.packageRoot.appendingPathComponent("protocol/rollouts/codex-0.163.0")
        for source in [sessions, rollouts] {
            for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name.hasSuffix(".jsonl")
            {
                try FileManager.default.copyItem(
                    at: source.appendingPathComponent(name),
                    to: folder.appendingPathComponent(name)
                )
            }
        }
        let replayed = try await run(["replay", folder.path, "--format", "json"])
        let cursor = folder.appendingPathComponent("cursor.json").path
        let followed = try await run(["replay", folder.path, "--format", "json", "--state", cursor])
        #expect(replayed.stdout.split(separator: "\n").count > 600)
        #expect(Self.everyBundledSession.count >= 36)
        #expect(followed.stdout == replayed.stdout)
        #expect(!followed.stdout.contains(#""startTimeUnixNano":0,"#))
        #expect(followed.stderr.contains("messages carried no time: dated at the file's modification time"))
    }

    /// Every bundled session (a capture of each Codex release, the agents' and the production sessions) and every
    /// rollout the real Codex wrote (0.163, 0.167, 0.169), by its path in the package.
    static let everyBundledSession = (["protocol/sessions"] + rolloutFolders).flatMap { folder in
        let names = try? FileManager.default.contentsOfDirectory(
            atPath: TestTools.packageRoot.appendingPathComponent(folder).path
        )
        return (names ?? []).filter { $0.hasSuffix(".jsonl") }.sorted().map { folder + "/" + $0 }
    }

    static let rolloutFolders =
        ((try? FileManager.default.contentsOfDirectory(
            atPath: TestTools.packageRoot.appendingPathComponent("protocol/rollouts").path
        )) ?? []).sorted().map { "protocol/rollouts/" + $0 }

    /// A file read through a cursor as it is written, a process a read, cut anywhere (mid-line too): what the reads
    /// give, one after the other, is what one replay of the whole file gives, in order. The file's time is held
    /// still, as the oldest captures' messages are dated by it (and recent: a file ten minutes quiet, that no process
    /// holds open, has its running turns closed).
    @Test(arguments: everyBundledSession)
    func aFileReadInPiecesThroughACursorGivesWhatReplayGives(path: String) async throws {
        let source = try Data(contentsOf: TestTools.packageRoot.appendingPathComponent(path))
        let folder = try TestTools.makeTemporaryDirectory("pieces")
        let file = folder.appendingPathComponent("session.jsonl")
        let cursor = folder.appendingPathComponent("cursor.json").path
        let fileTime = [FileAttributeKey.modificationDate: Date()]
        // Cuts a sixth apart, each moved off the even spacing by a few bytes, so that most fall mid-line.
        let cuts = (1...5).map { source.count * $0 / 6 + $0 * 97 % 53 } + [source.count]
        var followed: [Substring] = []
        var written = 0
        try Data().write(to: file)
        for cut in cuts where cut > written {
            let handle = try FileHandle(forWritingTo: file)
            try handle.seekToEnd()
            try handle.write(contentsOf: source[written..<cut])
            try handle.close()
            try FileManager.default.setAttributes(fileTime, ofItemAtPath: file.path)
            written = cut
            let read = try await run(["replay", file.path, "--format", "json", "--state", cursor])
            followed += read.stdout.split(separator: "\n")
        }
        let replayed = try await run(["replay", file.path, "--format", "json"])
        #expect(!followed.isEmpty)
        #expect(followed == replayed.stdout.split(separator: "\n"))
    }

    /// Two days of rollouts, each in its own file: a turn a day.
    static func twoDaysOfRollouts() throws -> URL {
        let folder = try TestTools.makeTemporaryDirectory("days")
        for (day, thread) in [("20", "t1"), ("21", "t2")] {
            let time = "2026-11-\(day)T08:00"
            let lines = [
                #"{"timestamp":"\#(time):00.000Z","type":"session_meta","payload":{"id":"\#(thread)","source":"cli"}}"#,
                #"{"timestamp":"\#(time):01.000Z","type":"event_msg","payload":{"type":"task_started","turn_id":"u-\#(day)"}}"#,
                #"{"timestamp":"\#(time):01.100Z","type":"turn_context","payload":{"turn_id":"u-\#(day)","model":"gpt-5.5"}}"#,
                #"{"timestamp":"\#(time):02.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":5,"reasoning_output_tokens":0},"last_token_usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":5,"reasoning_output_tokens":0}}}}"#,
                #"{"timestamp":"\#(time):03.000Z","type":"event_msg","payload":{"type":"task_complete","turn_id":"u-\#(day)"}}"#,
            ]
            let file = folder.appendingPathComponent("rollout-\(day).jsonl")
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: file)
        }
        return folder
    }

    /// `--group-by` keys the summary by day, model, session or source, or two of them; `--since` and `--until` keep
    /// the events that start between them; a file last written before `--since` is not even read.
    @Test func theSummaryIsGroupedAndTheEventsSelectedByTime() async throws {
        let folder = try Self.twoDaysOfRollouts()
        let byDay = try await run(["replay", folder.path, "--group-by", "day"])
        #expect(byDay.tableRow("2026-11-20")?.prefix(3) == ["2026-11-20", "1", "0"])
        #expect(byDay.tableRow("2026-11-21")?.prefix(3) == ["2026-11-21", "1", "0"])
        let bySource = try await run(["replay", folder.path, "--group-by", "source"])
        #expect(bySource.tableRow("cli")?.prefix(2) == ["cli", "2"])
        let bySession = try await run(["replay", folder.path, "--group-by", "session"])
        #expect(bySession.tableRow("t1")?.prefix(3) == ["t1", "2026-11-20 08:00", "1"])
        #expect(bySession.tableRow("t2")?.prefix(3) == ["t2", "2026-11-21 08:00", "1"])
        let byDayAndModel = try await run(["replay", folder.path, "--group-by", "day,model"])
        #expect(byDayAndModel.tableRow("2026-11-21")?.prefix(3) == ["2026-11-21", "gpt-5.5", "1"])

        let since = try await run(["replay", folder.path, "--format", "json", "--since", "2026-11-21"])
        let kept = try since.stdout.split(separator: "\n").map { try JSONValue(parsing: String($0)) }
        #expect(kept.map { $0["attributes"]?["gen_ai.conversation.id"] } == ["t2", "t2"])
        let until = try await run(["replay", folder.path, "--group-by", "day", "--until", "2026-11-20T10:00:00+01:00"])
        #expect(until.tableRow("2026-11-20")?.prefix(2) == ["2026-11-20", "1"])
        #expect(until.tableRow("Total")?.prefix(2) == ["Total", "1"])
        #expect(!until.stdout.contains("2026-11-21"))

        // A file last written before --since holds nothing after it: it is passed over, and said so.
        let old = folder.appendingPathComponent("rollout-20.jsonl").path
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSince1970: 1_795_100_000)],
            ofItemAtPath: old
        )
        let skipped = try await run(["replay", folder.path, "--since", "2026-11-21T00:00:00Z"])
        #expect(skipped.stderr.contains("read 5 lines from 1 file"))
        #expect(skipped.stderr.contains("1 file last modified before --since not read"))

        for bad in [
            ["--since", "yesterday"], ["--since", "2026-13-01"], ["--until", "2026-11-21T08:00:00"],
            ["--since", "2026-11-22", "--until", "2026-11-21"], ["--group-by", "thread"],
            ["--group-by", "day,day"], ["--group-by", "day,model,source"],
        ] {
            let refused = try await run(["replay", folder.path] + bad)
            #expect(refused.status == .exited(64), "\(bad)")
        }
    }

    /// A long replay draws its progress on stderr when that is a terminal (here, one `script` gives it), and
    /// nothing of the kind when it is not.
    @Test func aLongReplayShowsItsProgressOnATerminalOnly() async throws {
        let session = try Data(contentsOf: URL(fileURLWithPath: Self.sessions[0]))
        let file = try TestTools.makeTemporaryDirectory("long").appendingPathComponent("long.jsonl")
        try Data(repeatElement(session, count: 400).joined()).write(to: file)
        let command = "'\(try TestTools.cli())' replay '\(file.path)'"
        let onTerminal = try await TestTools.output(of: "/usr/bin/script", ["-qec", command, "/dev/null"])
        #expect(onTerminal.status == .exited(0))
        #expect(onTerminal.stdout.contains("replay: 0/1 files, "))
        #expect(onTerminal.stdout.contains(" MB/s, "))
        let piped = try await run(["replay", file.path])
        #expect(!piped.stderr.contains("replay: 0/1 files"))
        #expect(!piped.stderr.contains("\u{1B}["))
    }

    /// A directory is replayed on both cores, small files each whole on a core of its own and large ones a chunk at
    /// a time: its events are exactly those of the library replaying the same files, one after the other, on one
    /// thread. Among them, files that depend on the ones before (a fork, a session read twice, a sub-agent, its
    /// thread resumed), one with more events than a worker holds (and a small one a worker takes with it, to give up
    /// too), and one large enough to be read in chunks.
    @Test func aDirectoryReplayedOnTwoThreadsGivesTheEventsOfOne() async throws {
        // The fixtures, dated to the second: old captures carry no times and are dated by their file.
        let sessions = TestTools.packageRoot.appendingPathComponent("protocol/sessions")
        let folder = try TestTools.makeTemporaryDirectory("sessions")
        for name in try FileManager.default.contentsOfDirectory(atPath: sessions.path) {
            try FileManager.default.copyItem(
                at: sessions.appendingPathComponent(name),
                to: folder.appendingPathComponent(name)
            )
        }
        func session(_ thread: String, source: String = "") -> String {
            #"{"timestamp":"2026-11-21T08:14:19.000Z","type":"session_meta","payload":{"id":"\#(thread)","model_provider":"openai","cwd":"/ZQXMARK"\#(source)}}"#
        }
        func turns(_ ids: [String], padding: Int = 0) -> [String] {
            ids.enumerated().flatMap { index, id in
                [
                    #"{"timestamp":"2026-11-21T08:14:19.100Z","type":"event_msg","payload":{"type":"task_started","turn_id":"\#(id)"}}"#,
                    #"{"timestamp":"2026-11-21T08:14:19.150Z","type":"turn_context","payload":{"turn_id":"\#(id)","model":"gpt-5.5"}}"#,
                    #"{"timestamp":"2026-11-21T08:14:19.160Z","type":"response_item","payload":{"type":"message","content":[{"text":"\#(String(repeating: "ZQXMARK ", count: padding))"}]}}"#,
                    #"{"timestamp":"2026-11-21T08:14:19.200Z","type":"response_item","payload":{"type":"function_call","name":"exec_command","arguments":"ZQXMARK","call_id":"c-\#(id)"}}"#,
                    #"{"timestamp":"2026-11-21T08:14:19.300Z","type":"response_item","payload":{"type":"function_call_output","call_id":"c-\#(id)","output":"Process exited with code \#(index % 3)\nZQXMARK"}}"#,
                    #"{"timestamp":"2026-11-21T08:14:19.500Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":\#(100 * index + 100),"output_tokens":5},"last_token_usage":{"input_tokens":100,"output_tokens":5}}}}"#,
                    #"{"timestamp":"2026-11-21T08:14:20.000Z","type":"event_msg","payload":{"type":"task_complete","turn_id":"\#(id)","last_agent_message":"ZQXMARK"}}"#,
                ]
            }
        }
        let spawned = #","source":{"subagent":{"thread_spawn":{"parent_thread_id":"t1","depth":1}}}"#
        let rollouts: [(String, [String])] = [
            ("z1-parent", [session("t1")] + turns(["u1"])),
            ("z2-own", [session("t2")] + turns(["u2"])),
            ("z3-fork", [session("t3")] + turns(["u1", "u3"])),
            ("z4-parent-again", [session("t1")] + turns(["u1"])),
            ("z5-sub-agent", [session("c1", source: spawned)] + turns(["v1"])),
            ("z6-sub-agent-resumed", [session("c1")] + turns(["v2"])),
            ("z7-many-events", [session("t7")] + turns((0..<360).map { "m\($0)" })),
            ("z7b-own", [session("t7b")] + turns(["u7b"])),
            ("z8-large", [session("t8")] + turns((0..<400).map { "l\($0)" }, padding: 400)),
            ("z9-own", [session("t9")] + turns(["u9"])),
        ]
        for (name, lines) in rollouts {
            try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: folder.appendingPathComponent(name + ".jsonl"))
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(try Data(contentsOf: folder.appendingPathComponent("z8-large.jsonl")).count > 1 << 20)
        // Together, as a worker takes small files: up to 512 KiB.
        #expect(
            try ["z7-many-events", "z7b-own"].map {
                try Data(contentsOf: folder.appendingPathComponent($0 + ".jsonl")).count
            }
            .reduce(0, +) <= 1 << 19
        )
        for name in names {
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSince1970: 1_795_000_000)],
                ofItemAtPath: folder.appendingPathComponent(name).path
            )
        }
        let outcome = try await run(["replay", folder.path, "--format", "json"])
        #expect(outcome.status == .exited(0))
        var replay = SessionReplay()
        var expected: [String] = []
        for name in names {
            let bytes = try Data(contentsOf: folder.appendingPathComponent(name))
            expected += bytes.withUnsafeBytes { replay.replay(file: $0, modifiedAt: 1_795_000_000_000_000_000) }
                .map(\.jsonLine)
        }
        #expect(outcome.stdout.split(separator: "\n").map(String.init) == expected)
        let counts = replay.counts
        #expect(
            outcome.stderr.contains(
                "read \(counts.lines) lines from \(names.count) files: \(counts.followed) followed, "
                    + "\(counts.passedOver) passed over, \(counts.skipped) skipped"
            )
        )
        #expect(!outcome.stdout.contains(TestTools.contentMarker))
    }

    @Test func aPriceFileChangesTheCost() async throws {
        let prices = FileManager.default.temporaryDirectory.appendingPathComponent("prices-\(UUID()).json")
        try Data(#"{"gpt-5.5": {"input": 0, "cachedInput": 0, "output": 0}}"#.utf8).write(to: prices)
        let viaFlag = try await run(["replay", Self.sessions[0], "--prices", prices.path])
        #expect(viaFlag.tableRow("gpt-5.5")?.first { $0.hasPrefix("$") } == "$0.00")
        let viaEnvironment = try await run(
            ["replay", Self.sessions[0]],
            environment: ["CODEX_TELEMETRY_PRICES": prices.path]
        )
        #expect(viaEnvironment.tableRow("gpt-5.5")?.first { $0.hasPrefix("$") } == "$0.00")
        let bundled = try await run(["replay", Self.sessions[0]])
        #expect(bundled.tableRow("gpt-5.5")?.first { $0.hasPrefix("$") } == "$0.06")
    }

    @Test func damagedInputIsSkippedAndCountedNotFatal() async throws {
        let damaged = FileManager.default.temporaryDirectory.appendingPathComponent("damaged-\(UUID()).jsonl")
        var bytes = Array("{oops\n".utf8) + Array(try Data(contentsOf: URL(fileURLWithPath: Self.sessions[0])))
        bytes += Array(#"{"method":"turn/completed","params":{"thr"#.utf8)
        try Data(bytes).write(to: damaged)
        let outcome = try await run(["replay", damaged.path])
        #expect(outcome.status == .exited(0))
        #expect(outcome.tableRow("gpt-5.5")?[1] == "9")
        #expect(outcome.stderr.contains("2 skipped (1 malformed, 1 truncated)"))
    }

    @Test func linesOverTheLimitAreSkippedWholeWhereverTheReadsCutThem() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("long-lines-\(UUID()).jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        // Longer than the limit by more than one read, so it is found too long before its end.
        let tooLong = [UInt8](repeating: UInt8(ascii: "x"), count: (64 << 20) + (300 << 10))
        let session = Array(try Data(contentsOf: URL(fileURLWithPath: Self.sessions[0])))
        // One in the middle (followed by a bad line), one at the very end without a newline.
        try Data(session + tooLong + Array("\n{oops\n".utf8) + session + tooLong).write(to: file)
        let outcome = try await run(["replay", file.path])
        let exactlyOverTheLimit = file.deletingLastPathComponent().appendingPathComponent("limit-\(UUID()).jsonl")
        defer { try? FileManager.default.removeItem(at: exactlyOverTheLimit) }
        try Data(tooLong[...(64 << 20)] + [0x0A] + session).write(to: exactlyOverTheLimit)
        let atTheLimit = try await run(["replay", exactlyOverTheLimit.path])
        #expect(atTheLimit.stderr.contains("1 skipped (1 over the line limit)"))
        #expect(outcome.status == .exited(0))
        #expect(outcome.tableRow("gpt-5.5")?[1] == "9", "a turn seen in an earlier file is not counted again")
        #expect(outcome.stderr.contains("3 skipped (1 malformed, 2 over the line limit)"))
        let alone = try await run(["replay", Self.sessions[0]])
        #expect(outcome.stdout == alone.stdout)
    }

    @Test(arguments: ["exec", "proxy", "replay"])
    func everySubcommandExplainsItselfAndItsExportOptions(subcommand: String) async throws {
        let outcome = try await run([subcommand, "--help"])
        #expect(outcome.status == .exited(0))
        #expect(outcome.stdout.hasPrefix("USAGE: codex-telemetry \(subcommand)"))
        #expect(outcome.stdout.contains("--otlp-endpoint URL"))
        #expect(!outcome.stdout.contains("\\("))
    }

    @Test func usageErrorsExit64AndMissingFilesFailClearly() async throws {
        let noPath = try await run(["replay"])
        #expect(noPath.status == .exited(64))
        #expect(noPath.stderr.contains("USAGE: codex-telemetry replay"))
        let badOption = try await run(["replay", "x", "--colour", "red"])
        #expect(badOption.status == .exited(64))
        let missing = try await run(["replay", "/nonexistent/session.jsonl"])
        #expect(missing.status == .exited(1))
        #expect(missing.stderr.contains("cannot open /nonexistent/session.jsonl"))
    }

    @Test func aTimeFarInTheFutureIsIgnoredAndCountedNotATrap() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("future-\(UUID()).jsonl")
        try Data(
            #"{"method":"turn/started","params":{"threadId":"t","turn":{"id":"u"}},"emittedAtMs":99999999999999}"#.utf8
        ).write(to: file)
        let outcome = try await run(["replay", file.path, "--format", "json"])
        #expect(outcome.status == .exited(0))
        #expect(outcome.stdout.contains(#""codex.turn.status":"incomplete""#))
        #expect(outcome.stderr.contains("1 value out of range ignored"))
    }

    /// Each numeric flag and variable out of range: a usage error naming it, never a trap.
    @Test(arguments: [
        (["--flush-timeout", "inf"], [:], "--flush-timeout"),
        (["--flush-timeout", "1e300"], [:], "--flush-timeout"),
        (["--flush-timeout", "-1"], [:], "--flush-timeout"),
        ([], ["CODEX_TELEMETRY_FLUSH_TIMEOUT": "nan"], "CODEX_TELEMETRY_FLUSH_TIMEOUT"),
        ([], ["OTEL_EXPORTER_OTLP_TIMEOUT": "9223372036854775807"], "OTEL_EXPORTER_OTLP_TIMEOUT"),
        ([], ["OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "-5"], "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT"),
        ([], ["OTEL_METRIC_EXPORT_INTERVAL": "99999999999999999999"], "OTEL_METRIC_EXPORT_INTERVAL"),
    ])
    func outOfRangeNumbersInFlagsAndVariablesAreUsageErrors(
        arguments: [String],
        environment: [String: String],
        named: String
    ) async throws {
        let outcome = try await run(["replay", Self.sessions[0]] + arguments, environment: environment)
        #expect(outcome.status == .exited(64))
        #expect(outcome.stderr.contains("error: \(named) must be"))
    }

    /// Sixty megabytes of tiny arrays in one line: what is not read is skipped without being built (the tool call
    /// still counts), and where a read field holds them, the line is refused, not built; memory stays near the
    /// line's own size (a full parse took about 900 MB).
    @Test func aLineOfMillionsOfTinyValuesIsReadInBoundedMemory() async throws {
        let folder = try TestTools.makeTemporaryDirectory("tiny-values")
        let tinyValues = String(repeating: "[],", count: 10_000_000) + "[]"
        let lines =
            #"{"method":"item/completed","params":{"threadId":"t","turnId":"u","item":{"id":"i","type":"commandExecution","status":"completed","aggregatedOutput":["#
            + tinyValues + #"]}},"emittedAtMs":1795249372000}"# + "\n"
            + #"{"method":"turn/completed","params":{"threadId":"t","turn":{"id":"u","status":"failed","error":{"codexErrorInfo":["#
            + tinyValues + #"]}}},"emittedAtMs":1795249373000}"# + "\n"
        let file = folder.appendingPathComponent("tiny.jsonl")
        try Data(lines.utf8).write(to: file)
        let run = try await TestTools.runCLIMeasuringResources(["replay", file.path])
        #expect(run.status == 0)
        #expect(run.stderr.contains("1 followed, 0 passed over, 1 skipped (1 malformed)"))
        #expect(run.peakKiB < 200_000, "peak resident memory \(run.peakKiB) KiB")
    }

    /// A walk meets a FIFO, a link, a file and a folder it may not read: it never hangs, passes over what is not
    /// a regular file, reports what it cannot read, replays the rest and says all of it.
    @Test func aWalkPassesOverPipesAndLinksAndReplaysAllItCanRead() async throws {
        let root = try TestTools.makeTemporaryDirectory("walk")
        let session = URL(fileURLWithPath: Self.sessions[0])
        for folder in ["a", "b", "c"] {
            try FileManager.default.createDirectory(
                at: root.appendingPathComponent(folder),
                withIntermediateDirectories: true
            )
        }
        try FileManager.default.copyItem(at: session, to: root.appendingPathComponent("a/session.jsonl"))
        #expect(mkfifo(root.appendingPathComponent("a/fifo.jsonl").path, 0o644) == 0)
        try FileManager.default.createSymbolicLink(
            atPath: root.appendingPathComponent("b/link.jsonl").path,
            withDestinationPath: session.path
        )
        try FileManager.default.copyItem(at: session, to: root.appendingPathComponent("b/locked.jsonl"))
        chmod(root.appendingPathComponent("b/locked.jsonl").path, 0)
        chmod(root.appendingPathComponent("c").path, 0)
        defer { chmod(root.appendingPathComponent("c").path, 0o755) }

        let outcome = try await TestTools.runCLI(["replay", root.path], unprivileged: true)
        #expect(outcome.status == .exited(1))
        #expect(outcome.tableRow("gpt-5.5")?[1] == "9")
        #expect(outcome.stderr.contains("cannot open \(root.path)/b/locked.jsonl: Permission denied"))
        #expect(outcome.stderr.contains("cannot read the directory \(root.path)/c: Permission denied"))
        #expect(outcome.stderr.contains("2 entries passed over (not regular files); 2 could not be read"))
    }

    @Test func aFileThatCannotBeOpenedDoesNotStopTheOthers() async throws {
        let outcome = try await run(["replay", "/nonexistent/session.jsonl", Self.sessions[0]])
        #expect(outcome.status == .exited(1))
        #expect(outcome.tableRow("gpt-5.5")?[1] == "9")
        #expect(outcome.stderr.contains("cannot open /nonexistent/session.jsonl: No such file or directory"))
        #expect(outcome.stderr.contains("read 139 lines from 2 files"))
    }

    @Test(arguments: ["summary", "json"])
    func aFullStandardOutputIsAnErrorAndTheCountsStillAppear(format: String) async throws {
        let outcome = try await TestTools.runCLI(["replay", Self.sessions[0], "--format", format], stdout: "/dev/full")
        #expect(outcome.status == .exited(74))
        #expect(outcome.stderr.contains("cannot write to standard output: No space left on device"))
        #expect(outcome.stderr.contains("read 139 lines from 1 file"))
    }
}
