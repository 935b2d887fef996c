import CodexAppServer
import CodexReport
import CodexTelemetry
import Foundation
import JSON
import JSONRPC
import Synchronization
import TestSupport
import Testing

/// What the real Codex produced, counted live, from the capture and from the rollouts it wrote, alike: patches that
/// add, update, move and delete files, one accepted by a person and one declined; a commit that succeeds and one that
/// fails; a pull request and a merge request, through stand-in `gh` and `glab` on the `PATH` of Codex's login shell.
/// Nothing of their content (file names, lines, commit messages, titles: all marked) reaches any output.
struct ProductionLiveTests {
    /// The files the `patches` scenario updates, moves and deletes, in a git repository.
    static let productionFiles = [
        "ZQXMARK_edit.py": "a = 'ZQXMARK'\nb = 2\nc = 3\n",
        "ZQXMARK_move.txt": "one ZQXMARK\ntwo\n",
        "ZQXMARK_delete.md": "# ZQXMARK gone\ntext\n",
    ]

    /// What the scenarios produce, as a report totals it.
    struct Produced: Equatable, CustomStringConvertible {
        var linesAdded: Int64, linesRemoved: Int64, commits: Int64, pullRequests: Int64
        var editsAccepted: Int64, editsRejected: Int64

        init(_ totals: UsageReport.Totals) {
            (linesAdded, linesRemoved, commits) = (totals.linesAdded, totals.linesRemoved, totals.commits)
            (pullRequests, editsAccepted, editsRejected) =
                (totals.pullRequests, totals.editsAccepted, totals.editsRejected)
        }

        init(json: JSONValue?) {
            func count(_ name: String) -> Int64 { json?[name]?.int ?? -1 }
            (linesAdded, linesRemoved, commits) = (count("linesAdded"), count("linesRemoved"), count("commits"))
            (pullRequests, editsAccepted, editsRejected) =
                (count("pullRequests"), count("editsAccepted"), count("editsRejected"))
        }

        init(_ events: [TelemetryEvent]) {
            var report = UsageReport(by: [.model], calendar: .utc)
            for event in events { report.add(event) }
            self.init(report.total)
        }

        /// Summed from events as `replay --format json` prints them.
        init(jsonLines: String) throws {
            let tools = try jsonLines.split(separator: "\n").map { try JSONValue(parsing: String($0)) }
                .filter { $0["name"] == "codex.tool_call" }.compactMap { $0["attributes"] }
            func sum(_ key: String) -> Int64 { tools.compactMap { $0[key]?.int }.reduce(0, +) }
            func decided(_ decisions: Set<String>) -> Int64 {
                Int64(tools.count { decisions.contains($0["codex.edit.decision"]?.string ?? "") })
            }
            (linesAdded, linesRemoved, commits) =
                (sum("codex.lines.added"), sum("codex.lines.removed"), sum("codex.commits"))
            pullRequests = sum("codex.pull_requests") + sum("codex.merge_requests")
            (editsAccepted, editsRejected) = (decided(["accept", "acceptForSession"]), decided(["decline"]))
        }

        var description: String {
            "+\(linesAdded) -\(linesRemoved), \(commits) commits, \(pullRequests) PRs, "
                + "\(editsAccepted) accepted, \(editsRejected) declined"
        }
    }

    /// 5 lines added and 4 removed by the patches, 1 added by the accepted patch; a commit; a pull request and a
    /// merge request; one edit accepted by a person and one declined (the others applied with no one asked).
    static let expected = Produced(json: [
        "linesAdded": 6, "linesRemoved": 4, "commits": 1, "pullRequests": 2, "editsAccepted": 1, "editsRejected": 1,
    ])

    @Test func whatCodexProducedIsCountedAliveFromItsCaptureAndFromItsRollouts() async throws {
        let codex = try TestTools.codex()
        let server = try await StandInModelServer.start()
        defer { Task { await server.stop() } }
        let session = try ScenarioSession()
        let work = session.workDirectory
        for (name, content) in Self.productionFiles {
            try Data(content.utf8).write(to: work.appendingPathComponent(name))
        }
        for command in [
            "git init -q", "git config user.email codex@example.invalid", "git config user.name ZQXMARK",
            "git add -A", "git commit -q -m ZQXMARK_initial",
        ] {
            let (status, _) = try await TestTools.output(of: "sh", ["-c", "cd '\(work.path)' && \(command)"])
            try #require(status == .exited(0), "\(command)")
        }
        // Stand-ins for `gh` and `glab`, first on the PATH of the login shell Codex runs commands in.
        let home = try TestTools.makeTemporaryDirectory("home")
        let bin = home.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        for tool in ["gh", "glab"] {
            let script = bin.appendingPathComponent(tool)
            try Data("#!/bin/sh\necho https://example.invalid/ZQXMARK/1\n".utf8).write(to: script)
            chmod(script.path, 0o755)
        }
        for profile in [".bash_profile", ".profile"] {
            try Data("export PATH=\"\(bin.path):$PATH\"\n".utf8).write(to: home.appendingPathComponent(profile))
        }
        // A person accepts the first patch Codex asks about, and declines the next.
        let asked = Mutex(0)
        let policy = ServerRequestPolicy { request in
            guard request.method.hasSuffix("requestApproval") else {
                return .failure(JSONRPCError(code: -32601, message: "not answered here"))
            }
            let first = asked.withLock { count in
                defer { count += 1 }
                return count == 0
            }
            return .success(["decision": .string(first ? "accept" : "decline")])
        }
        let (statuses, userAgent) = try await session.run(
            codex: codex,
            server: server,
            policy: policy,
            environment: ["HOME": home.path]
        ) { client in
            var statuses: [String: String] = [:]
            let unasked = try await session.startThread(client)
            for scenario in ["patches", "commit", "commit-fail", "pr", "mr"] {
                statuses[scenario] = try await session.runTurn(client, thread: unasked, scenario: scenario).status
                    .rawValue
            }
            let asking = try await session.startThread(client, approvalPolicy: "untrusted")
            for scenario in ["patch", "patch"] {
                _ = try await session.runTurn(client, thread: asking, scenario: scenario)
            }
            return (statuses, client.userAgent)
        }
        #expect(statuses.values.allSatisfy { $0 == "completed" }, "\(statuses)")
        try session.recordFixtures("production", rollouts: "-production", userAgent: userAgent)

        // Live, as a harness counts it.
        let live = session.liveEvents()
        #expect(Produced(live) == Self.expected)
        let patches = try #require(live.first { $0[.toolCallID] == .string("call_patches_1") })
        #expect(patches[.filesChanged] == .int(4) && patches[.fileLanguage] == .string("mixed"))
        #expect(patches[.editDecision] == .string("auto"))
        let commands = live.filter { $0[.toolKind] == .string("commandExecution") }
        #expect(commands.map { $0[.processExitCode] } == [0, 1, 0, 0].map { .int($0) }, "the stand-ins ran")

        // The capture, replayed.
        var replay = SessionReplay()
        let captured = session.capture.withUnsafeBytes { replay.replay(file: $0) }
        #expect(Produced(captured) == Self.expected)

        // The rollouts Codex wrote: replayed, and reported as a person reads them.
        let sessions = session.codexHome.appendingPathComponent("sessions")
        let fromRollouts = try await TestTools.runCLI(["replay", sessions.path, "--format", "json"])
        #expect(try Produced(jsonLines: fromRollouts.stdout) == Self.expected)
        var outputs = [fromRollouts.stdout, captured.map(\.jsonLine).joined(), live.map(\.jsonLine).joined()]
        for format in ["json", "csv", "table"] {
            let report = try await TestTools.runCLI(
                ["report", "--format", format, "--timezone", "UTC"],
                environment: ["CODEX_HOME": session.codexHome.path]
            )
            #expect(report.status == .exited(0), "\(report.stderr)")
            if format == "json" {
                #expect(Produced(json: try JSONValue(parsing: report.stdout)["total"]) == Self.expected)
            }
            outputs.append(report.stdout + report.stderr)
        }
        for output in outputs { #expect(!output.contains(TestTools.contentMarker)) }
    }
}
