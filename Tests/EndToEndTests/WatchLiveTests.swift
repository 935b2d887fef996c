import CodexAppServer
import Foundation
import JSON
import JSONRPC
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `watch` and the hook with the real Codex writing its rollouts, exporting to a real collector: every event
/// arrives once, with the facts a replay of the finished files gives.
@Suite(.serialized)
struct WatchLiveTests {
    /// What identifies an event and what it says, the same whether read from a replay's JSON or from a log record
    /// as rotel decoded it.
    static let facts = [
        "gen_ai.conversation.id", "codex.turn.id", "gen_ai.tool.call.id", "codex.turn.status", "codex.tool.status",
        "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "codex.duration_ms",
    ]

    static func key(_ event: JSONValue) -> String {
        let attributes = event["attributes"]
        let values = facts.map { name -> String in
            guard let value = attributes?[name] else { return "" }
            return value.string ?? value.int.map(String.init) ?? ""
        }
        return ([event["name"]?.string ?? "", event["endTimeUnixNano"]?.int.map(String.init) ?? ""] + values)
            .joined(separator: "|")
    }

    static func key(_ log: Rotel.Item) -> String {
        ([log.name, log.fields["Timestamp"] ?? ""] + facts.map { log.attributes[$0] ?? "" }).joined(separator: "|")
    }

    /// The events of a replay of the finished files under `folders`, as keys, sorted.
    static func replayedKeys(_ folders: URL...) async throws -> [String] {
        let replay = try await TestTools.runCLI(["replay"] + folders.map(\.path) + ["--format", "json"])
        #expect(replay.status == .exited(0))
        return try replay.stdout.split(separator: "\n").map { try key(JSONValue(parsing: String($0))) }.sorted()
    }

    /// Waits until the collector holds `count` log records (or a while), then a little more for any duplicate.
    static func logKeys(_ rotel: Rotel, count: Int) async throws -> [String] {
        let items = try await rotel.items { $0.filter { $0.kind == "log" }.count >= count }
        #expect(!items.contains { ($0.attributes.values + [$0.name]).joined().contains(TestTools.contentMarker) })
        return items.filter { $0.kind == "log" }.map(key).sorted()
    }

    @Test func watchKilledAtRandomExportsEveryEventOnceAsAReplayOfTheFinishedFiles() async throws {
        let codex = try TestTools.codex()
        let server = try await StandInModelServer.start()
        defer { Task { await server.stop() } }
        let session = try ScenarioSession()
        let folder = try TestTools.makeTemporaryDirectory("watch-live")
        let sessions = session.codexHome.appendingPathComponent("sessions")
        try FileManager.default.createDirectory(at: sessions, withIntermediateDirectories: true)
        let state = folder.appendingPathComponent("cursor.json")
        func arguments(port: Int) -> [String] {
            [
                "watch", sessions.path, "--state", state.path, "--spool-dir",
                folder.appendingPathComponent("spool").path, "--otlp-endpoint", "http://127.0.0.1:\(port)",
                "--idle", "1", "--format", "json",
            ]
        }
        // Started, killed with SIGKILL at a random moment, started again, for as long as Codex runs. These runs
        // export to a collector that is not up yet, so what they commit waits in the spool: a run killed with a
        // request in flight, accepted and not yet removed, would send it again (OTLP has no idempotency key, as the
        // watch page says), and that is not what this test is about.
        let port = freePort()
        let killer = Task {
            var random = SeededRandom(seed: 10)
            var kills = 0
            while !Task.isCancelled {
                let output = folder.appendingPathComponent("events-\(kills).jsonl").path
                guard let watch = try? TestTools.startCLI(arguments(port: port), stdout: output) else { break }
                try? await Task.sleep(for: .milliseconds(50 + random.next(below: 500)))
                kill(watch.process.pid, SIGKILL)
                _ = await watch.finish()
                kills += 1
            }
            return kills
        }
        try await session.run(codex: codex, server: server) { client in
            for scenario in ["plain", "command", "patch", "two-tools", "fail", "search"] {
                let thread = try await session.startThread(client)
                try await session.runTurn(client, thread: thread, scenario: scenario)
                if scenario == "plain" { try await session.runTurn(client, thread: thread, scenario: "command") }
            }
        }
        killer.cancel()
        let kills = await killer.value
        #expect(kills >= 3)

        // The last one, with the collector up, stopped as a service manager stops it once it has caught up: it sends
        // what the others left in the spool, and what it reads itself.
        let rotel = try await Rotel(port: port)
        defer { Task { await rotel.stop() } }
        let last = try TestTools.startCLI(
            arguments(port: port),
            stdout: folder.appendingPathComponent("events-last.jsonl").path
        )
        let files = SessionFilesOnDisk(sessions)
        try await TestTools.eventually { files.allRead(by: state) }
        try await last.send(SIGTERM)
        let outcome = await last.finish()
        #expect(outcome.status == .exited(0), "\(outcome.stderr)")

        let expected = try await Self.replayedKeys(sessions)
        #expect(expected.count > 20)
        let received = try await Self.logKeys(rotel, count: expected.count)
        #expect(received.count == expected.count, "every event once")
        #expect(received == expected)
        // What watch printed, over all its runs, is the replay's events (a run killed after printing an event and
        // before committing it prints it again in the next: stdout is not the export).
        let printed = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter {
            $0.hasPrefix("events-")
        }
        .flatMap { WatchCommandTests.lines(of: folder.appendingPathComponent($0)) }
        let printedKeys = Set(try printed.map { try Self.key(JSONValue(parsing: $0)) })
        #expect(
            printedKeys == Set(expected),
            "printed only: \(printedKeys.subtracting(expected)), not printed: \(Set(expected).subtracting(printedKeys))"
        )
        #expect(!printed.joined().contains(TestTools.contentMarker))
    }

    /// Codex writing its sessions while a machine moves them: a rollout renamed, then moved to another day's folder,
    /// while Codex goes on appending to it; another archived by Codex itself while watch is stopped, then
    /// unarchived, resumed and written again. watch follows `archived_sessions` by default, each turn reaches the
    /// collector while watch runs, and every event reaches it once: the replay of the finished files, key for key.
    @Test func sessionsMovedArchivedAndUnarchivedWhileWrittenAreExportedOnce() async throws {
        let codex = try TestTools.codex()
        let server = try await StandInModelServer.start()
        let rotel = try await Rotel()
        defer {
            Task {
                await server.stop()
                await rotel.stop()
            }
        }
        let session = try ScenarioSession()
        let sessions = session.codexHome.appendingPathComponent("sessions")
        let archived = session.codexHome.appendingPathComponent("archived_sessions")
        let state = try TestTools.makeTemporaryDirectory("moved-state")
        let cursor = state.appendingPathComponent("codex-telemetry/cursor.json")
        // watch's own defaults: the Codex home's sessions and archived sessions, the cursor and spool in the state.
        let environment = ["CODEX_HOME": session.codexHome.path, "XDG_STATE_HOME": state.path]
        let arguments = ["watch", "--otlp-endpoint", "http://127.0.0.1:\(rotel.port)"]
        var watch = try TestTools.startCLI(arguments, environment: environment)
        func rollout(of thread: String) -> URL? {
            FileManager.default.enumerator(at: session.codexHome, includingPropertiesForKeys: nil)?
                .compactMap { $0 as? URL }.first { $0.lastPathComponent.hasSuffix(thread + ".jsonl") }
        }
        func waitUntilAllRead() async throws {
            let files = SessionFilesOnDisk(sessions, archived)
            #expect(try await TestTools.eventually { files.allRead(by: cursor) })
        }
        func stop(_ watch: RunningCLI) async throws -> String {
            try await watch.send(SIGTERM)
            let outcome = await watch.finish()
            #expect(outcome.status == .exited(0), "\(outcome.stderr)")
            return outcome.stderr
        }

        var stderr = ""
        try await session.run(codex: codex, server: server) { client in
            let moved = try await session.startThread(client)
            try await session.runTurn(client, thread: moved, scenario: "command")
            let written = try #require(rollout(of: moved))
            let renamed = written.deletingLastPathComponent().appendingPathComponent(
                "renamed-" + written.lastPathComponent
            )
            #expect(rename(written.path, renamed.path) == 0)
            try await session.runTurn(client, thread: moved, scenario: "two-tools")
            let otherDay = sessions.appendingPathComponent("2026/01/01")
            try FileManager.default.createDirectory(at: otherDay, withIntermediateDirectories: true)
            #expect(rename(renamed.path, otherDay.appendingPathComponent(renamed.lastPathComponent).path) == 0)
            try await session.runTurn(client, thread: moved, scenario: "patch")

            let archivedThread = try await session.startThread(client)
            try await session.runTurn(client, thread: archivedThread, scenario: "plain")
            try await waitUntilAllRead()
            stderr += try await stop(watch)
            try await client.archiveThread(archivedThread)
            #expect(rollout(of: archivedThread)?.path.hasPrefix(archived.path) == true)
            watch = try TestTools.startCLI(arguments, environment: environment)
            try await waitUntilAllRead()
            try await client.unarchiveThread(archivedThread)
            _ = try await client.resumeThread(archivedThread)
            try await session.runTurn(client, thread: archivedThread, scenario: "search")
        }
        try await waitUntilAllRead()
        let expected = try await Self.replayedKeys(sessions, archived)
        #expect(expected.count > 15)
        // While watch still runs: each record left with its batch, not at the exit.
        let arrived = try await rotel.items {
            $0.filter { $0.kind == "log" }.count >= expected.count
        }
        #expect(arrived.filter { $0.kind == "log" }.count == expected.count, "at the collector while watch runs")
        stderr += try await stop(watch)
        #expect(stderr.contains("2 moved") || stderr.contains("1 moved"), "\(stderr)")
        #expect(try await Self.logKeys(rotel, count: expected.count) == expected)
    }

    /// With the pinned Codex, which runs the hook at `Stop` and `SessionEnd`, the hook alone exports every event;
    /// with 0.133, which runs it at `Stop` only, what a session's end leaves goes out with a `replay --state` on the
    /// same cursor, as the watch page says, and still once.
    @Test(arguments: [nil, TestTools.oldestLiveRelease])
    func theHookExportsEveryEventOnceFromCodexItself(release: String?) async throws {
        let codex = try release.map(TestTools.codex(release:)) ?? TestTools.codex()
        let rotel = try await Rotel()
        defer { Task { await rotel.stop() } }
        let server = try await StandInModelServer.start()
        defer { Task { await server.stop() } }
        let home = try TestTools.makeTemporaryDirectory("hook-home")
        let work = try TestTools.makeTemporaryDirectory("hook-work")
        let state = try TestTools.makeTemporaryDirectory("hook-state")
        let environment = ["CODEX_HOME": home.path, "XDG_STATE_HOME": state.path]
        try Data(server.codexConfigFile.utf8).write(to: home.appendingPathComponent("config.toml"))
        let hooksFile = home.appendingPathComponent("hooks.json")
        let unrelated =
            #"{"hooks":{"PreToolUse":[{"hooks":[{"command":"true mine","type":"command"}],"matcher":"Bash"}]}}"#
        try Data(unrelated.utf8).write(to: hooksFile)

        let install = ["hook", "install", "--codex", codex, "--otlp-endpoint", "http://127.0.0.1:\(rotel.port)"]
        let installed = try await TestTools.runCLI(install, environment: environment)
        #expect(installed.status == .exited(0), "\(installed.stderr)")
        #expect(installed.stderr.contains("Codex trusts the hook"))
        #expect(installed.stderr.contains("not when a session ends") == (release != nil))
        let hooks = try String(contentsOf: hooksFile, encoding: .utf8)
        #expect(hooks.contains("true mine") && hooks.contains("\"Stop\"") && hooks.contains("\"SessionEnd\""))
        #expect(
            try String(contentsOf: home.appendingPathComponent("hooks.json.codex-telemetry-backup"), encoding: .utf8)
                == unrelated
        )
        let again = try await TestTools.runCLI(install, environment: environment)
        #expect(again.stderr.contains("already in") && again.stderr.contains("already trusted"))
        #expect(try String(contentsOf: hooksFile, encoding: .utf8) == hooks)

        for scenario in ["command", "plain", "patch"] {
            var variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            variables["OTEL_EXPORTER_OTLP_ENDPOINT"] = nil
            let run = try ChildProcess(
                ChildProcess.Configuration(
                    executable: codex,
                    arguments: [
                        "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
                        "\(TestTools.contentMarker)_prompt scenario:\(scenario)",
                    ],
                    environment: variables,
                    workingDirectory: work.path
                )
            )
            run.closeStdin()  // `codex exec` reads a piped stdin to the end as more of the prompt
            for await _ in run.lines {}
            #expect(await run.waitForExit() == .exited(0), "\(run.stderrText)")
            // Each handler asks no more time than Codex gives at its event.
            #expect(!run.stderrText.contains("clamping"), "\(run.stderrText)")
        }
        let sessions = home.appendingPathComponent("sessions")
        let expected = try await Self.replayedKeys(sessions)
        #expect(expected.count >= 9)
        if release != nil {
            // The hook sent what it could: each session's last turn is left.
            let byHook = try await rotel.items { $0.contains { $0.kind == "log" } }
            #expect(byHook.contains { $0.kind == "log" })
            let rest = try await TestTools.runCLI(
                [
                    "replay", sessions.path, "--otlp-endpoint", "http://127.0.0.1:\(rotel.port)",
                    "--state", state.appendingPathComponent("codex-telemetry/cursor.json").path,
                ],
                environment: environment  // the hook's spool, not the user's
            )
            #expect(rest.status == .exited(0), "\(rest.stderr)")
        }
        let received = try await Self.logKeys(rotel, count: expected.count)
        #expect(received == expected)

        let removed = try await TestTools.runCLI(["hook", "uninstall"], environment: environment)
        #expect(removed.status == .exited(0))
        let after = try String(contentsOf: hooksFile, encoding: .utf8)
        #expect(after.contains("true mine") && !after.contains("codex-telemetry"))
    }

    /// `hook install` keeps the user's `hooks.json` as they wrote it (members in their order, its mode) and backs it
    /// up once; Codex's trust goes into `config.toml`, which keeps its mode; each handler asks of Codex no more time
    /// than Codex gives at its event. `uninstall` gives `hooks.json` back byte for byte when nothing else changed it,
    /// takes out only the hook when something did, removes the file when install had made it, says what it leaves
    /// (the trust), and leaves no copy of the user's files behind. Each says only what it did.
    @Test func hookUninstallGivesBackTheUsersHooksFile() async throws {
        let home = try TestTools.makeTemporaryDirectory("hooks-file")
        let hooksFile = home.appendingPathComponent("hooks.json")
        let configFile = home.appendingPathComponent("config.toml")
        let backups = ["hooks.json", "config.toml"].map { home.appendingPathComponent("\($0).codex-telemetry-backup") }
        let environment = ["CODEX_HOME": home.path]
        let original = """
            {
                "hooks": {
                    "UserPromptSubmit": [{"hooks": [{"type": "command", "command": "true mine"}]}],
                    "PreToolUse": [{"matcher": "Bash", "hooks": [{"command": "true other", "type": "command"}]}]
                }
            }

            """
        try Data(original.utf8).write(to: hooksFile)
        chmod(hooksFile.path, 0o644)
        try Data("# mine\n".utf8).write(to: configFile)
        chmod(configFile.path, 0o644)
        func mode(_ file: URL) -> mode_t {
            var status = stat()
            return stat(file.path, &status) == 0 ? status.st_mode & 0o7777 : 0
        }
        func run(_ arguments: [String]) async throws -> String {
            let outcome = try await TestTools.runCLI(["hook"] + arguments, environment: environment)
            #expect(outcome.status == .exited(0), "\(outcome.stderr)")
            return outcome.stderr
        }
        func noBackupIsLeft() -> Bool { backups.allSatisfy { !FileManager.default.fileExists(atPath: $0.path) } }
        let install = ["install", "--codex", try TestTools.codex()]

        let first = try await run(install)
        #expect(first.contains("added the hook to \(hooksFile.path) (yours as it was: \(backups[0].path))"))
        let installed = try String(contentsOf: hooksFile, encoding: .utf8)
        #expect(installed.contains("codex-telemetry") && mode(hooksFile) == 0o644)
        let order = ["UserPromptSubmit", "PreToolUse", "Stop", "SessionEnd"].map { installed.range(of: $0)?.lowerBound }
        #expect(order.compactMap { $0 } == order.compactMap { $0 }.sorted() && !order.contains(nil), "\(installed)")
        func timeout(_ event: String) throws -> JSONValue? {
            try JSONValue(parsing: installed)["hooks"]?[event]?.array?.last?["hooks"]?.array?.first?["timeout"]
        }
        #expect(try timeout("SessionEnd") == 3, "what Codex allows at a session's end")
        #expect(try timeout("Stop") == 10)
        #expect(try String(contentsOf: configFile, encoding: .utf8).contains("trusted_hash"))
        #expect(mode(configFile) == 0o644, "config.toml keeps its mode")
        // The previous config.toml, as install says, with its mode.
        #expect(first.contains("Codex trusts the hook (\(configFile.path); the previous file: \(backups[1].path))"))
        #expect(try String(contentsOf: backups[1], encoding: .utf8) == "# mine\n" && mode(backups[1]) == 0o644)
        let again = try await run(install)
        #expect(again.contains("Codex already trusted the hook"), "\(again)")
        #expect(try String(contentsOf: backups[0], encoding: .utf8) == original, "the backup is the user's file, once")
        #expect(try String(contentsOf: backups[1], encoding: .utf8) == "# mine\n")
        let uninstalled = try await run(["uninstall"])
        #expect(uninstalled.contains("trust of the hook stays in \(home.path)/config.toml"))
        #expect(try String(contentsOf: hooksFile, encoding: .utf8) == original, "byte for byte")
        #expect(mode(hooksFile) == 0o644 && mode(configFile) == 0o644 && noBackupIsLeft())

        // Changed since install: only the hook is taken out, the change kept.
        _ = try await run(install)
        let edited = try String(contentsOf: hooksFile, encoding: .utf8).replacing(
            "\"true mine\"",
            with: "\"true mine, edited\""
        )
        try Data(edited.utf8).write(to: hooksFile)
        _ = try await run(["uninstall"])
        let kept = try String(contentsOf: hooksFile, encoding: .utf8)
        #expect(kept.contains("true mine, edited") && kept.contains("true other") && !kept.contains("codex-telemetry"))
        #expect(noBackupIsLeft())

        // No file before install: install says it made one, and backs up nothing; none after uninstall.
        try FileManager.default.removeItem(at: hooksFile)
        let made = try await run(install)
        #expect(made.contains("made \(hooksFile.path), with the hook") && !made.contains("yours as it was"), "\(made)")
        #expect(!FileManager.default.fileExists(atPath: backups[0].path))
        _ = try await run(["uninstall"])
        #expect(!FileManager.default.fileExists(atPath: hooksFile.path) && noBackupIsLeft())
    }

    /// Installed for a release that runs hooks at `Stop` only, the hook is trusted and the user told what a session's
    /// end then needs; for one without hooks, `hooks.json` is left as it was, or not made at all.
    @Test func hookInstallFitsTheReleaseItIsFor() async throws {
        let unrelated = #"{"hooks":{"Stop":[{"hooks":[{"command":"true mine","type":"command"}]}]}}"#
        func install(for release: String, hooksFile existing: String?) async throws -> (CommandOutcome, URL) {
            let home = try TestTools.makeTemporaryDirectory("hook-release")
            let hooksFile = home.appendingPathComponent("hooks.json")
            if let existing { try Data(existing.utf8).write(to: hooksFile) }
            let outcome = try await TestTools.runCLI(
                ["hook", "install", "--codex", try TestTools.codex(release: release)],
                environment: ["CODEX_HOME": home.path]
            )
            return (outcome, hooksFile)
        }

        let (stopOnly, stopOnlyHooks) = try await install(for: TestTools.oldestLiveRelease, hooksFile: unrelated)
        #expect(stopOnly.status == .exited(0), "\(stopOnly.stderr)")
        #expect(stopOnly.stderr.contains("Codex trusts the hook"))
        #expect(stopOnly.stderr.contains("not when a session ends"))
        #expect(try String(contentsOf: stopOnlyHooks, encoding: .utf8).contains("codex-telemetry"))

        for existing in [unrelated, nil] {
            let (none, hooksFile) = try await install(for: TestTools.oldestSupportedRelease, hooksFile: existing)
            #expect(none.status == .exited(1))
            #expect(none.stderr.contains("hooks need Codex 0.133 or later"), "\(none.stderr)")
            #expect((try? String(contentsOf: hooksFile, encoding: .utf8)) == existing)
        }
    }
}

/// The session files under some folders, to tell when a cursor has read them all.
struct SessionFilesOnDisk {
    let roots: [URL]

    init(_ roots: URL...) { self.roots = roots }

    func allRead(by cursor: URL) -> Bool {
        let files = roots.flatMap { root in
            (FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? [])
                .filter { $0.pathExtension == "jsonl" }
        }
        let offsets = Self.offsets(in: cursor)
        return !files.isEmpty
            && files.allSatisfy { file in
                let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? -1
                return offsets[file.resolvingSymlinksInPath().path] == Int64(size)
            }
    }

    /// `allRead(by:)` for many files, off the tests' shared threads.
    func allReadBlocking(by cursor: URL) async throws -> Bool {
        try await TestTools.blocking { allRead(by: cursor) }
    }

    /// How far the cursor at `cursor` has read each file, by where the file is: the entry of the file now at that
    /// path (an entry may still name a path another file has taken since).
    static func offsets(in cursor: URL) -> [String: Int64] {
        guard let text = try? String(contentsOf: cursor, encoding: .utf8), let state = try? JSONValue(parsing: text)
        else { return [:] }
        let entries = (state["files"]?.array ?? []).compactMap { entry -> (String, Int64)? in
            var status = stat()
            guard let path = entry["path"]?.string, let offset = entry["offset"]?.int, stat(path, &status) == 0,
                entry["inode"]?.int == Int64(bitPattern: UInt64(status.st_ino))
            else { return nil }
            return (path, offset)
        }
        return Dictionary(entries) { first, _ in first }
    }
}
