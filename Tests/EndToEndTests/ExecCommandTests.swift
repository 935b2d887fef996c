import Foundation
import JSON
import JSONRPC
import TestSupport
import Testing

/// `codex-telemetry exec` with the real Codex and the stand-in model, exporting to rotel, for each way a turn ends.
@Suite(.serialized)
struct ExecCommandTests {
    struct Setup {
        var server: StandInModelServer
        var rotel: Rotel
        var work: URL
        var environment: [String: String]
        var spool: URL

        /// A recording for one run: `exec --record` writes each message as it comes.
        func recording() throws -> URL {
            try TestTools.makeTemporaryDirectory("recording").appendingPathComponent("session.jsonl")
        }

        /// Waits until the run recording into `recording` has received its turn's start, however long a loaded
        /// machine takes to start Codex: from then on, the turn is exec's to report.
        func waitForTheTurnToStart(recordedIn recording: URL) async throws {
            let started = try await TestTools.eventually(every: .milliseconds(50)) {
                ((try? String(contentsOf: recording, encoding: .utf8)) ?? "").contains(#""method":"turn/started""#)
            }
            if !started { Issue.record("the turn never started") }
        }

        func arguments(_ extra: [String]) -> [String] {
            [
                "exec", "--sandbox", "danger-full-access", "--cwd", work.path, "--otlp-endpoint",
                "http://127.0.0.1:\(rotel.port)",
                "--spool-dir", spool.path,
            ] + server.codexOverrides.flatMap { ["-c", $0] } + extra
        }

        func stop() async {
            await server.stop()
            await rotel.stop()
        }
    }

    func setUp() async throws -> Setup {
        let server = try await StandInModelServer.start()
        let rotel = try await Rotel()
        let home = try TestTools.makeTemporaryDirectory("codex-home")
        return Setup(
            server: server,
            rotel: rotel,
            work: try TestTools.makeTemporaryDirectory("work"),
            environment: ["CODEX_HOME": home.path, "CODEX_BIN": try TestTools.codex()],
            spool: try TestTools.makeTemporaryDirectory("spool")
        )
    }

    /// A wrapper that notes Codex's pid, so a test can signal Codex and only Codex.
    func codexWrapper() throws -> (wrapper: URL, pidFile: URL) {
        let folder = try TestTools.makeTemporaryDirectory("wrapper")
        let wrapper = folder.appendingPathComponent("codex")
        let pidFile = folder.appendingPathComponent("pid")
        let script = "#!/bin/sh\necho $$ > '\(pidFile.path)'\nexec '\(try TestTools.codex())' \"$@\"\n"
        try Data(script.utf8).write(to: wrapper)
        chmod(wrapper.path, 0o755)
        return (wrapper, pidFile)
    }

    func turns(_ rotel: Rotel) async throws -> [Rotel.Item] {
        try await rotel.items { $0.contains { $0.kind == "log" && $0.name == "codex.turn" } }
            .filter { $0.kind == "log" && $0.name == "codex.turn" }
    }

    @Test func aCompletedTurnPrintsTheAnswerExitsZeroAndIsExported() async throws {
        let setup = try await setUp()
        defer { Task { await setup.stop() } }
        let outcome = try await TestTools.runCLI(setup.arguments(["scenario:command"]), environment: setup.environment)
        #expect(outcome.status == .exited(0))
        // The answer is what exec is for; it goes to stdout and nowhere else.
        #expect(outcome.stdout == "\(TestTools.contentMarker)_final_answer")
        #expect(outcome.stderr.contains("codex-telemetry: completed · gpt-5.5 · 2 model calls"))
        #expect(outcome.stderr.contains("1 tool call"))
        #expect(outcome.stderr.contains(" output tokens · $0.0"))
        #expect(!outcome.stderr.contains(TestTools.contentMarker))
        let turns = try await turns(setup.rotel)
        #expect(turns.map { $0.attributes["codex.turn.status"] } == ["completed"])
        #expect(turns.first?.attributes["codex.turn.tool_calls"] == "1")
    }

    /// A model the price table does not know is named, and its cost is said to be unknown, never $0.
    @Test func aModelWithoutAPriceIsNeverFree() async throws {
        let setup = try await setUp()
        defer { Task { await setup.stop() } }
        let outcome = try await TestTools.runCLI(
            setup.arguments(["-c", #"model="house-model""#, "scenario:plain"]),
            environment: setup.environment
        )
        #expect(outcome.status == .exited(0), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("codex-telemetry: completed · house-model · 1 model call · "))
        #expect(outcome.stderr.contains(" output tokens · cost unknown · "))
    }

    /// The oldest supported release knows its options only in camelCase (`dangerFullAccess`) and ignores `-c` on
    /// app-server: with the model provider in its configuration file, `exec` still runs the turn to its end.
    @Test func theOldestSupportedReleaseRunsATurnToItsEnd() async throws {
        let codex = try TestTools.codex(release: TestTools.oldestSupportedRelease)
        let server = try await StandInModelServer.start()
        defer { Task { await server.stop() } }
        let home = try TestTools.makeTemporaryDirectory("codex-home")
        try Data(server.codexConfigFile.utf8).write(to: home.appendingPathComponent("config.toml"))
        let work = try TestTools.makeTemporaryDirectory("work")
        let outcome = try await TestTools.runCLI(
            [
                "exec", "--codex", codex, "--sandbox", "danger-full-access", "--approval", "never", "--cwd", work.path,
                "--json", "\(TestTools.contentMarker) scenario:command",
            ],
            environment: ["CODEX_HOME": home.path]
        )
        #expect(outcome.status == .exited(0), "\(outcome.stderr)")
        let result = try JSONValue(parsing: outcome.stdout)
        #expect(result["status"] == "completed")
        let turn = result["turns"]?.array?.first
        #expect(turn?["toolCalls"] == 1)
        #expect(turn?["modelCalls"] == 2)
    }

    @Test func aFailedTurnExitsOneWithItsErrorClass() async throws {
        let setup = try await setUp()
        defer { Task { await setup.stop() } }
        let outcome = try await TestTools.runCLI(
            setup.arguments(["--json", "scenario:fail"]),
            environment: setup.environment
        )
        #expect(outcome.status == .exited(1))
        let result = try JSONValue(parsing: outcome.stdout)
        #expect(result["status"] == "failed")
        let reported = try #require(result["turns"])
        #expect(reported.firstTurn["status"] == "failed")
        #expect(reported.firstTurn["errorType"] == "internalServerError")
        #expect(reported.firstTurn["modelCalls"] == .int(0))
        #expect(result["costUsd"] == .double(0))
        // No call, so nothing to price: nothing is said to be unknown.
        #expect(outcome.stderr.contains("codex-telemetry: failed · gpt-5.5 · 0 model calls · "), "\(outcome.stderr)")
        #expect(outcome.stderr.contains(" output tokens · $0.0000 · "))
        #expect(!outcome.stdout.contains(TestTools.contentMarker))
        #expect(try await turns(setup.rotel).first?.attributes["error.type"] == "internalServerError")
    }

    @Test func ctrlCInterruptsTheTurnReportsItAndExits130() async throws {
        let setup = try await setUp()
        defer { Task { await setup.stop() } }
        let recording = try setup.recording()
        let running = try TestTools.startCLI(
            setup.arguments(["--record", recording.path, "scenario:hang"]),
            environment: setup.environment
        )
        try await setup.waitForTheTurnToStart(recordedIn: recording)
        try await running.send(SIGINT)
        let outcome = await running.finish()
        #expect(outcome.status == .exited(130))
        #expect(outcome.stderr.contains("interrupting the turn"))
        #expect(outcome.stderr.contains("codex-telemetry: interrupted"))
        #expect(try await turns(setup.rotel).map { $0.attributes["codex.turn.status"] } == ["interrupted"])
    }

    @Test func ctrlCWhileCodexIsStartingStillInterruptsTheTurn() async throws {
        let setup = try await setUp()
        defer { Task { await setup.stop() } }
        let (wrapper, pidFile) = try codexWrapper()
        let running = try TestTools.startCLI(
            setup.arguments(["--codex", wrapper.path, "scenario:hang"]),
            environment: setup.environment
        )
        // The moment Codex is launched: exec is past its own start, and Codex is not yet ready.
        try await TestTools.eventually(every: .milliseconds(2)) { FileManager.default.fileExists(atPath: pidFile.path) }
        try await running.send(SIGINT)
        let outcome = await running.finish()
        #expect(outcome.status == .exited(130))
        // Interrupted, not failed: the stand-in holds a hung turn for a minute, then drops it, which fails it.
        #expect(try await turns(setup.rotel).map { $0.attributes["codex.turn.status"] } == ["interrupted"])
    }

    @Test func codexKilledMidTurnExitsThreeAndTheTurnIsReportedIncomplete() async throws {
        let setup = try await setUp()
        defer { Task { await setup.stop() } }
        let (wrapper, pidFile) = try codexWrapper()
        let recording = try setup.recording()
        let running = try TestTools.startCLI(
            setup.arguments(["--codex", wrapper.path, "--record", recording.path, "scenario:hang"]),
            environment: setup.environment
        )
        try await setup.waitForTheTurnToStart(recordedIn: recording)
        let pid = Int32(
            try String(contentsOf: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        )!
        kill(pid, SIGKILL)
        let outcome = await running.finish()
        #expect(outcome.status == .exited(3))
        #expect(outcome.stderr.contains("killed by signal 9, before the turn ended"))
        #expect(
            try await turns(setup.rotel).map { $0.attributes["codex.turn.status"] } == ["incomplete"],
            "\(outcome.stderr)"
        )
    }

    @Test func anApprovalIsDeclinedAndReportedNeverAHang() async throws {
        let setup = try await setUp()
        defer { Task { await setup.stop() } }
        let outcome = try await TestTools.runCLI(
            setup.arguments(["--approval", "untrusted", "scenario:approval"]),
            environment: setup.environment
        )
        #expect(outcome.status == .exited(0))
        #expect(outcome.stderr.contains("1 approval declined"))
        let tools = try await setup.rotel.items { $0.contains { $0.name == "codex.tool_call" } }.filter {
            $0.name == "codex.tool_call"
        }
        #expect(tools.map { $0.attributes["codex.tool.status"] } == ["declined"])
    }

    @Test func aTurnPastItsTimeoutIsInterruptedAndExits124() async throws {
        let setup = try await setUp()
        defer { Task { await setup.stop() } }
        let outcome = try await TestTools.runCLI(
            setup.arguments(["--timeout", "1", "scenario:hang"]),
            environment: setup.environment
        )
        #expect(outcome.status == .exited(124))
        #expect(
            try await turns(setup.rotel).map { $0.attributes["codex.turn.status"] } == ["interrupted"],
            "\(outcome.stderr)"
        )
    }

    @Test func aThreadCanBeResumedForAnotherTurn() async throws {
        let setup = try await setUp()
        defer { Task { await setup.stop() } }
        let first = try await TestTools.runCLI(
            setup.arguments(["--json", "scenario:plain"]),
            environment: setup.environment
        )
        let threadID = try #require(try JSONValue(parsing: first.stdout)["threadId"]?.string)
        let second = try await TestTools.runCLI(
            setup.arguments(["--json", "--thread", threadID, "scenario:command"]),
            environment: setup.environment
        )
        #expect(second.status == .exited(0))
        let result = try JSONValue(parsing: second.stdout)
        #expect(result["threadId"] == .string(threadID))
        #expect(result["status"] == "completed")
        // The resumed thread's history is a baseline: the second run counts only its own two model calls.
        #expect(result["turns"]?.firstTurn["modelCalls"] == .int(2))
        let inputTokens = result["usage"]?["inputTokens"]?.int ?? 0
        #expect(inputTokens > 2000 && inputTokens < 2100)
    }

    @Test func sigtermInterruptsLikeCtrlCAndASecondSignalStopsAtOnce() async throws {
        let setup = try await setUp()
        defer { Task { await setup.stop() } }
        let gracefulRecording = try setup.recording()
        let graceful = try TestTools.startCLI(
            setup.arguments(["--record", gracefulRecording.path, "scenario:hang"]),
            environment: setup.environment
        )
        try await setup.waitForTheTurnToStart(recordedIn: gracefulRecording)
        try await graceful.send(SIGTERM)
        #expect(await graceful.finish().status == .exited(130))

        // A Codex that cannot answer the interrupt (stopped), so only the second Ctrl-C can end the run.
        let (wrapper, pidFile) = try codexWrapper()
        let impatientRecording = try setup.recording()
        let impatient = try TestTools.startCLI(
            setup.arguments(["--codex", wrapper.path, "--record", impatientRecording.path, "scenario:hang"]),
            environment: setup.environment
        )
        try await setup.waitForTheTurnToStart(recordedIn: impatientRecording)
        let codex = Int32(
            try String(contentsOf: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        )!
        kill(codex, SIGSTOP)
        defer { kill(codex, SIGKILL) }
        try await impatient.send(SIGINT)
        // The second once the first has been heard: two at once could be heard as one.
        try await TestTools.eventually { impatient.stderrSoFar.contains("interrupting the turn") }
        kill(impatient.process.pid, SIGINT)
        let outcome = await impatient.finish()
        #expect(outcome.status == .exited(130))
        #expect(outcome.stderr.contains("stopping now"))
    }

    @Test func nothingExecSendsOrReportsCarriesContent() async throws {
        let server = try await StandInModelServer.start()
        let collector = try await StandInCollector(respond: "200")
        defer {
            Task {
                await server.stop()
                await collector.stop()
            }
        }
        let environment = [
            "CODEX_HOME": try TestTools.makeTemporaryDirectory("codex-home").path, "CODEX_BIN": try TestTools.codex(),
        ]
        let outcome = try await TestTools.runCLI(
            [
                "exec", "--json", "--sandbox", "danger-full-access", "--cwd",
                try TestTools.makeTemporaryDirectory("work").path,
                "--otlp-endpoint", "http://127.0.0.1:\(collector.port)", "--spool-dir",
                try TestTools.makeTemporaryDirectory("spool").path,
            ]
                + server.codexOverrides.flatMap { ["-c", $0] } + [
                    "\(TestTools.contentMarker)_prompt scenario:two-tools"
                ],
            environment: environment
        )
        #expect(outcome.status == .exited(0))
        #expect(collector.itemsByPath["/v1/logs"] == 5)
        let sent = String(decoding: try collector.receivedBytes(), as: UTF8.self)
        for output in [sent, outcome.stdout, outcome.stderr] {
            #expect(!output.contains(TestTools.contentMarker))
        }
    }

    @Test func codexThatCannotStartExitsThree() async throws {
        let outcome = try await TestTools.runCLI(["exec", "--codex", "/nonexistent/codex", "hello"])
        #expect(outcome.status == .exited(3))
        #expect(outcome.stderr.contains("could not start Codex"))
    }

    /// A recording holds the session's content: it is never written through a link planted at its path, nor into
    /// someone else's file that others may read. Both are refused before Codex starts, and left as they were.
    @Test(arguments: ["exec", "proxy"])
    func aRecordingIsNeverWrittenOverAnExistingFileOrThroughALink(subcommand: String) async throws {
        let folder = try TestTools.makeTemporaryDirectory("recording")
        let target = folder.appendingPathComponent("target")
        try Data("untouched".utf8).write(to: target)
        let link = folder.appendingPathComponent("link.jsonl")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: target.path)
        let shared = folder.appendingPathComponent("shared.jsonl")
        try Data("theirs".utf8).write(to: shared)
        chmod(shared.path, 0o666)
        if geteuid() == 0 { chown(shared.path, 65534, 65534) }
        for path in [link, shared] {
            let arguments =
                subcommand == "exec"
                ? ["exec", "--codex", "/nonexistent/codex", "--record", path.path, "hello"]
                : ["proxy", "--record", path.path, "--", "/nonexistent/codex"]
            let outcome = try await TestTools.runCLI(arguments)
            #expect(outcome.status == .exited(1))
            #expect(outcome.stderr.contains("the recording \(path.path) already exists"))
        }
        #expect(try String(contentsOf: target, encoding: .utf8) == "untouched")
        #expect(try String(contentsOf: shared, encoding: .utf8) == "theirs")
    }

    /// Numbers and files from the command line that cannot be used: a usage error, before Codex starts.
    @Test(arguments: [
        (["--timeout", "1e300", "hello"], "--timeout is a number of seconds"),
        (["--timeout", "nan", "hello"], "--timeout is a number of seconds"),
        (["--timeout", "0", "hello"], "--timeout is a number of seconds"),
        (["--prompt-file", "/dev/zero"], "the prompt file /dev/zero is larger than 16 MiB"),
        (["--prices", "/dev/zero", "hello"], "the price file /dev/zero is larger than 1 MiB"),
    ])
    func unusableArgumentsAreUsageErrors(arguments: [String], message: String) async throws {
        let outcome = try await TestTools.runCLI(["exec", "--codex", "/nonexistent/codex"] + arguments)
        #expect(outcome.status == .exited(64))
        #expect(outcome.stderr.contains(message))
    }
}

extension JSONValue {
    fileprivate var firstTurn: JSONValue {
        if case .array(let turns) = self, let first = turns.first { return first }
        return .null
    }
}
