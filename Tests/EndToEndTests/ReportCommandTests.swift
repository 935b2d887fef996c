import Foundation
import JSON
import JSONRPC
import TestSupport
import Testing

/// `codex-telemetry report`, as a person uses it: over a Codex home with archived sessions, in a terminal, and as
/// a page in a real browser. Its totals are held to `replay --format json`'s events, and no content reaches it.
@Suite(.serialized)
struct ReportCommandTests {
    static let sessions = [
        "codex-0.163.0-scenarios.jsonl", "codex-0.163.0-agents.jsonl", "codex-0.163.0-agents-v2.jsonl",
    ]
    .map { TestTools.packageRoot.appendingPathComponent("protocol/sessions/\($0)").path }
    static let rollouts = TestTools.packageRoot.appendingPathComponent("protocol/rollouts/codex-0.163.0")

    /// The figures of `replay --format json` for `paths`, added up from its events as the report's fields are.
    static func replayTotals(_ paths: [String]) async throws -> [String: Double] {
        let outcome = try await TestTools.runCLI(["replay", "--format", "json"] + paths)
        #expect(outcome.status == .exited(0))
        var totals: [String: Double] = [:]
        for line in outcome.stdout.split(separator: "\n") {
            let event = try JSONValue(parsing: String(line))
            let attributes = event["attributes"]
            switch event["name"]?.string {
            case "codex.turn":
                totals["turns", default: 0] += 1
                if let status = attributes?["codex.turn.status"]?.string, ["failed", "interrupted"].contains(status) {
                    totals["\(status)Turns", default: 0] += 1
                }
            case "codex.tool_call": totals["toolCalls", default: 0] += 1
            case "codex.llm_call":
                totals["modelCalls", default: 0] += 1
                let fields = [
                    ("inputTokens", "gen_ai.usage.input_tokens"),
                    ("cachedInputTokens", "gen_ai.usage.cache_read.input_tokens"),
                    ("cacheWriteInputTokens", "gen_ai.usage.cache_creation.input_tokens"),
                    ("outputTokens", "gen_ai.usage.output_tokens"),
                    ("reasoningOutputTokens", "gen_ai.usage.reasoning.output_tokens"), ("costUsd", "codex.cost.usd"),
                ]
                for (field, key) in fields { totals[field, default: 0] += attributes?[key]?.double ?? 0 }
            default: break
            }
        }
        return totals
    }

    static func report(_ arguments: [String], environment: [String: String] = [:]) async throws -> CommandOutcome {
        let outcome = try await TestTools.runCLI(["report"] + arguments, environment: environment)
        #expect(outcome.status == .exited(0), "\(outcome.stderr)")
        return outcome
    }

    static func expectTotals(_ json: String, equal expected: [String: Double]) throws {
        let total = try #require(try JSONValue(parsing: json)["total"])
        for (field, value) in expected {
            let reported = try #require(total[field]?.double, "\(field)")
            #expect(abs(reported - value) < 0.000_01, "\(field): \(reported), replay's events sum to \(value)")
        }
        #expect(expected["turns", default: 0] > 0 && expected["modelCalls", default: 0] > 0)
    }

    /// A Codex home as a machine has it after months: sessions by day, some archived, one archived and also still
    /// in `sessions` (copied back), and one archived as it was when it was half written.
    static func codexHome() throws -> (home: URL, unique: [String]) {
        let home = try TestTools.makeTemporaryDirectory("codex-home")
        let files = try FileManager.default.contentsOfDirectory(atPath: rollouts.path).filter { $0.hasSuffix(".jsonl") }
            .sorted()
        let day = home.appendingPathComponent("sessions/2026/12/05")
        let archived = home.appendingPathComponent("archived_sessions")
        try FileManager.default.createDirectory(at: day, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: archived, withIntermediateDirectories: true)
        for (index, name) in files.enumerated() {
            let source = rollouts.appendingPathComponent(name)
            let folder = index % 3 == 0 ? archived : day
            try FileManager.default.copyItem(at: source, to: folder.appendingPathComponent(name))
        }
        // Found in both: whole in sessions, and whole or half written in the archive; and once more under a name
        // of the user's.
        try FileManager.default.copyItem(
            at: rollouts.appendingPathComponent(files[1]),
            to: archived.appendingPathComponent(files[1])
        )
        try FileManager.default.copyItem(
            at: rollouts.appendingPathComponent(files[1]),
            to: day.appendingPathComponent("kept-for-later.jsonl")
        )
        let text = try String(contentsOf: rollouts.appendingPathComponent(files[2]), encoding: .utf8)
        let lines = text.split(separator: "\n")
        try (lines.prefix(lines.count / 2).joined(separator: "\n") + "\n").write(
            to: archived.appendingPathComponent(files[2]),
            atomically: true,
            encoding: .utf8
        )
        return (home, files.map { rollouts.appendingPathComponent($0).path })
    }

    @Test func theTotalsAreTheSumsOfReplaysEventsOnTheBundledSessions() async throws {
        let expected = try await Self.replayTotals(Self.sessions)
        let outcome = try await Self.report(Self.sessions + ["--format", "json", "--by", "day,model"])
        try Self.expectTotals(outcome.stdout, equal: expected)
    }

    /// With no path, the Codex home's sessions and archived sessions, each session once.
    @Test func withNoPathEverySessionOfTheCodexHomeCountsOnceArchivedOrNot() async throws {
        let (home, unique) = try Self.codexHome()
        let expected = try await Self.replayTotals(unique)
        let outcome = try await Self.report(
            ["--format", "json", "--by", "session"],
            environment: ["CODEX_HOME": home.path]
        )
        try Self.expectTotals(outcome.stdout, equal: expected)
        #expect(outcome.stderr.contains("3 copies of a session read once"))
        // Without the archive, less: the archive is read.
        try FileManager.default.removeItem(at: home.appendingPathComponent("archived_sessions"))
        let live = try await Self.report(["--format", "json"], environment: ["CODEX_HOME": home.path])
        let liveTurns = try JSONValue(parsing: live.stdout)["total"]?["turns"]?.int ?? 0
        #expect(liveTurns < Int64(expected["turns", default: 0]))
    }

    /// No format says anything of content: the bundled fixtures carry a marker in every prompt, output, path and
    /// folder, and none of it is in any report.
    @Test(arguments: ["table", "json", "csv", "html"])
    func noContentReachesAnyFormat(format: String) async throws {
        let (home, _) = try Self.codexHome()
        for by in ["day,model", "week,source", "month", "session"] {
            let outcome = try await Self.report(
                Self.sessions + [Self.rollouts.path, "--format", format, "--by", by],
                environment: ["CODEX_HOME": home.path]
            )
            #expect(outcome.stdout.count > 200)
            #expect(!(outcome.stdout + outcome.stderr).contains(TestTools.contentMarker), "--by \(by)")
        }
    }

    /// `--by project` is the one opt-in that names a place: the folder's name, or its git repository's, and never
    /// its path.
    @Test func byProjectNamesTheRepositoryOrTheFolderAndNothingElseDoes() async throws {
        let (home, _) = try Self.codexHome()
        let repository = try TestTools.makeTemporaryDirectory("repository")
        try FileManager.default.createDirectory(
            at: repository.appendingPathComponent(".git"),
            withIntermediateDirectories: true
        )
        let subfolder = repository.appendingPathComponent("Sources/App")
        try FileManager.default.createDirectory(at: subfolder, withIntermediateDirectories: true)
        // One session worked in a folder of a repository: its cwd is rewritten there.
        let day = home.appendingPathComponent("sessions/2026/12/05")
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: day.path).sorted().first)
        let text = try String(contentsOf: day.appendingPathComponent(name), encoding: .utf8)
        let folder = try #require(text.firstMatch(of: /"cwd":"([^"]+)"/)?.1)
        try text.replacingOccurrences(of: String(folder), with: subfolder.path).write(
            to: day.appendingPathComponent(name),
            atomically: true,
            encoding: .utf8
        )
        let outcome = try await Self.report(
            ["--by", "project", "--format", "csv"],
            environment: ["CODEX_HOME": home.path]
        )
        let projects = outcome.stdout.split(separator: "\r\n").dropFirst().map { $0.split(separator: ",")[0] }
        #expect(projects.contains(Substring(repository.lastPathComponent)))
        #expect(projects.contains(Substring(URL(fileURLWithPath: String(folder)).lastPathComponent)))
        #expect(!outcome.stdout.contains("/"))
        #expect(!outcome.stdout.contains("App"))
    }

    /// In a terminal of 80 and of 200 columns: aligned, within the width, the least useful columns dropped first.
    @Test(arguments: [80, 200])
    func inATerminalTheTableFitsItsWidthAligned(columns: Int) async throws {
        let command = ([try TestTools.cli(), "report"] + Self.sessions + [Self.rollouts.path, "--by", "day,model"])
            .map { "'\($0)'" }.joined(separator: " ")
        let (status, output) = try await TestTools.output(
            of: "/usr/bin/script",
            ["-qec", "stty cols \(columns) rows 60; \(command) 2>/dev/null", "/dev/null"]
        )
        #expect(status == .exited(0))
        let lines = output.replacingOccurrences(of: "\r", with: "").split(
            separator: "\n",
            omittingEmptySubsequences: false
        )
        .map(String.init)
        // Everything fits, the header and notes too.
        #expect(lines.allSatisfy { $0.count <= columns }, "\(output)")
        let header = try #require(lines.firstIndex { $0.hasPrefix("Day") })
        let table = lines[header...].prefix { !$0.isEmpty }
        #expect(table.last?.hasPrefix("Total") == true)
        // Every row's last figure ends where the titles' line ends: the columns are right-aligned as one.
        let width = lines[header].count
        #expect(table.filter { !$0.hasPrefix("─") }.allSatisfy { $0.count == width })
        #expect(lines[header].contains("Cost"))
        #expect(lines[header].contains("Cache write") == (columns == 200))
    }

    /// The page as a person sees it, in headless Chromium: nothing refused or failing in its console, every chart
    /// drawn, and its numbers those of the JSON report. `RECORD_SCREENSHOTS=1` keeps the screenshot for the report page.
    @Test func theHTMLReportInARealBrowser() async throws {
        let chromium = try TestTools.chromium()
        let work = try TestTools.makeTemporaryDirectory("html")
        let page = work.appendingPathComponent("report.html")
        let inputs = Self.sessions + [Self.rollouts.path, "--by", "day,model"]
        _ = try await Self.report(inputs + ["--format", "html", "--output", page.path])
        let json = try JSONValue(parsing: try await Self.report(inputs + ["--format", "json"]).stdout)
        let total = try #require(json["total"])

        let browse = { (arguments: [String]) async throws -> (dom: String, log: String) in
            let log = work.appendingPathComponent("chromium-\(UUID()).log")
            let command =
                ([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"]
                + arguments + [page.absoluteString]).map { "'\($0)'" }.joined(separator: " ")
            let (status, dom) = try await TestTools.output(of: "/bin/sh", ["-c", "\(command) 2>'\(log.path)'"])
            #expect(status == .exited(0))
            return (dom, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
        }
        let (dom, log) = try await browse(["--dump-dom"])
        #expect(!log.contains("CONSOLE"), "the console said: \(log)")
        #expect(dom.contains("<h1>Codex usage</h1>"))

        // Five charts (cost, tokens, turns, tool calls, what it produced), each with bars of some length.
        let charts = dom.components(separatedBy: "<svg class=\"chart\"").dropFirst()
        #expect(charts.count == 5)
        for chart in charts {
            let widths = chart.components(separatedBy: "</svg>")[0]
                .matches(of: /<rect class="c\d" x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="([\d.]+)"/)
                .map { (Double($0.1) ?? 0) * (Double($0.2) ?? 0) }
            #expect(!widths.isEmpty && widths.allSatisfy { $0 > 0 })
        }

        // The figures on the page, in the cards and the table's total row, are the JSON's.
        let shown = Dictionary(
            dom.matches(of: /data-field="(\w+)">([^<]+)</).map { (String($0.1), String($0.2)) },
            uniquingKeysWith: { first, _ in first }
        )
        for field in [
            "turns", "failedTurns", "modelCalls", "toolCalls", "inputTokens", "cachedInputTokens", "outputTokens",
        ] {
            let text = try #require(shown[field], "\(field) is not on the page")
            #expect(Int64(text.replacingOccurrences(of: ",", with: "")) == total[field]?.int, "\(field): \(text)")
        }
        let cost = try #require(total["costUsd"]?.double)
        #expect(shown["costUsd"] == "$" + String(format: cost < 0.01 ? "%.4f" : "%.2f", cost))
        #expect(shown["cacheHitRatio"] == String(format: "%.1f%%", (total["cacheHitRatio"]?.double ?? 0) * 100))

        // As it looks, light and dark.
        for (name, extra) in [("report", [String]()), ("report-dark", ["--blink-settings=preferredColorScheme=0"])] {
            let picture = work.appendingPathComponent("\(name).png")
            _ = try await browse(
                extra + ["--hide-scrollbars", "--window-size=1280,1900", "--screenshot=\(picture.path)"]
            )
            let png = try Data(contentsOf: picture)
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 50_000)
            if ProcessInfo.processInfo.environment["RECORD_SCREENSHOTS"] == "1" {
                let kept = TestTools.packageRoot.appendingPathComponent("Tests/EndToEndTests/Screenshots/\(name).png")
                try? FileManager.default.removeItem(at: kept)
                try FileManager.default.createDirectory(
                    at: kept.deletingLastPathComponent(),
                    withIntermediateDirectories: true
                )
                try png.write(to: kept)
            }
        }
    }
}
