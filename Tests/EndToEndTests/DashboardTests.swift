import Foundation
import JSON
import JSONRPC
import TestSupport
import Testing

/// The Grafana dashboards under `dashboards/`, with every query they make run as Grafana would send it: by a real
/// Prometheus scraping `watch`, and by VictoriaMetrics taking `replay`'s metrics over OTLP (Debian builds
/// Prometheus without its OTLP receiver; VictoriaMetrics names what it takes as Prometheus does).
@Suite(.serialized)
struct DashboardTests {
    /// One shipped dashboard: its name, and each panel's title with its queries.
    struct Dashboard {
        var name: String
        var panels: [(title: String, expressions: [String])]
        var variables: [String: String]
    }

    static func dashboards() throws -> [Dashboard] {
        let folder = TestTools.packageRoot.appendingPathComponent("dashboards")
        return try ["codex-telemetry", "codex-metric-names"].map { name in
            let json = try JSONValue(parsing: try Data(contentsOf: folder.appendingPathComponent("\(name).json")))
            let panels = (json["panels"]?.array ?? []).map { panel in
                (
                    panel["title"]?.string ?? "",
                    (panel["targets"]?.array ?? []).compactMap { $0["expr"]?.string }
                )
            }
            var variables: [String: String] = [:]
            for variable in json["templating"]?["list"]?.array ?? [] {
                if let name = variable["name"]?.string { variables[name] = variable["definition"]?.string ?? "" }
            }
            return Dashboard(name: name, panels: panels, variables: variables)
        }
    }

    /// A query as Grafana sends it for the last hour (a rate over 5 minutes): its intervals and variables filled
    /// in, a chosen value escaped as Grafana escapes it for a regular expression in a PromQL string (`.*` for all).
    static func filled(_ expression: String, job: String, user: String? = nil) -> String {
        let escapedUser = user.map {
            $0.replacingOccurrences(of: "+", with: #"\\+"#).replacingOccurrences(of: ".", with: #"\\."#)
        }
        return expression.replacingOccurrences(of: "$__rate_interval", with: "5m")
            .replacingOccurrences(of: "$__interval", with: "15s").replacingOccurrences(of: "$__range", with: "1h")
            .replacingOccurrences(of: "$job", with: job).replacingOccurrences(of: "$model", with: ".*")
            .replacingOccurrences(of: "$user", with: escapedUser ?? ".*")
    }

    /// The metric names a query reads (a name followed by its selector).
    static func metricNames(in expression: String) -> Set<String> {
        Set(expression.matches(of: /([a-zA-Z_:][a-zA-Z0-9_:]*)\{/).map { String($0.1) })
    }

    /// A Codex home with the bundled sessions (captures of each release without rollouts, and the rollouts of the
    /// live tests: a session read from both would count twice), one rollout given plan quotas as Codex writes them
    /// (the stand-in model reports none), and `auth.json` for attribution. With `now`, only the rollouts, each
    /// moved in time to end a minute before `now` (a push is stored at its points' times, and a dashboard looks at
    /// the last hours).
    static func codexHome(movedTo now: Date? = nil) throws -> URL {
        let home = try AttributionTests.codexHome()
        let sessions = home.appendingPathComponent("sessions/2026/12/07")
        try FileManager.default.createDirectory(at: sessions, withIntermediateDirectories: true)
        let bundled = TestTools.packageRoot.appendingPathComponent("protocol")
        func jsonl(_ folder: URL) throws -> [URL] {
            try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".jsonl") }
                .map { folder.appendingPathComponent($0) }
        }
        let rolloutFolders = try FileManager.default.contentsOfDirectory(
            atPath: bundled.appendingPathComponent("rollouts").path
        )
        var files = try rolloutFolders.flatMap { try jsonl(bundled.appendingPathComponent("rollouts/\($0)")) }
        if now == nil {
            files += try jsonl(bundled.appendingPathComponent("sessions")).filter { capture in
                !rolloutFolders.contains { capture.lastPathComponent.hasPrefix($0 + "-") }
            }
        }
        for file in files {
            var text = try String(contentsOf: file, encoding: .utf8)
            if file.path.contains("codex-0.169.0-production") {
                text = text.replacingOccurrences(
                    of: #""primary":null,"secondary":null"#,
                    with: #""primary":{"used_percent":42.0,"window_minutes":300,"resets_at":1796000000},"#
                        + #""secondary":{"used_percent":7.0,"window_minutes":10080,"resets_at":1796500000}"#
                )
            }
            if let now { text = try Self.moved(text, toEndAt: now.addingTimeInterval(-60)) }
            try Data(text.utf8).write(to: sessions.appendingPathComponent(file.lastPathComponent))
        }
        return home
    }

    /// A rollout's records moved in time, each by the same amount, so that the last is at `end`.
    static func moved(_ rollout: String, toEndAt end: Date) throws -> String {
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let stamps = rollout.matches(of: /"timestamp":"([^"]+)"/).compactMap { format.date(from: String($0.1)) }
        let shift = end.timeIntervalSince(try #require(stamps.max()))
        var moved = rollout.replacing(/"timestamp":"([^"]+)"/) { match in
            let date = format.date(from: String(match.1)).map { $0.addingTimeInterval(shift) }
            return #""timestamp":"\#(date.map(format.string(from:)) ?? String(match.1))""#
        }
        moved = moved.replacing(/"(started_at_ms|completed_at_ms)":(\d+)/) { match in
            #""\#(match.1)":\#((Int64(match.2) ?? 0) + Int64(shift * 1000))"#
        }
        return moved
    }

    /// What `replay` says the files cost: the sum of their model calls' cost.
    static func replayedCost(_ home: URL) async throws -> Double {
        let outcome = try await TestTools.runCLI([
            "replay", home.appendingPathComponent("sessions").path, "--format", "json",
        ])
        #expect(outcome.status == .exited(0))
        return outcome.stdout.split(separator: "\n").compactMap { line -> Double? in
            guard let event = try? JSONValue(parsing: Data(line.utf8)), event["name"]?.string == "codex.llm_call" else {
                return nil
            }
            return event["attributes"]?["codex.cost.usd"]?.double
        }.reduce(0, +)
    }

    /// Every query of every dashboard gives data, for all users and for the signed-in one; each names only metrics
    /// that the store has (but `target_info`, where the store keeps resource attributes on every series instead);
    /// the cost panel's total is what `replay` says the files cost.
    func checkEveryQuery(_ store: MetricsStore, job: String, cost: Double, withTargets: Bool) async throws {
        let costQuery = "sum(last_over_time(codex_cost_usd_USD_total[1h]))"
        try await TestTools.eventually {
            let total = (try? await store.query(costQuery))?.first.flatMap { Double($0.value) } ?? 0
            return abs(total - cost) < 1e-6
        }
        let stored = Set(try await store.labelValues("__name__", match: "{__name__=~\".+\"}"))
        // Every query of every panel, for all users and for the signed-in one, asked in one go.
        var asked: [(panel: String, user: String?, query: String)] = []
        for dashboard in try Self.dashboards() {
            for variable in ["job", "model", "user"] {
                #expect(dashboard.variables[variable] != nil, "\(dashboard.name) has no \(variable) variable")
            }
            for (title, expressions) in dashboard.panels {
                #expect(!expressions.isEmpty, "\(dashboard.name): \(title) makes no query")
                for expression in expressions {
                    let unknown = Self.metricNames(in: expression).subtracting(stored)
                        .subtracting(withTargets ? [] : ["target_info"])
                    #expect(unknown.isEmpty, "\(dashboard.name): \(title) reads \(unknown), which nothing sent")
                    for user in [nil, AttributionTests.email] {
                        asked.append(
                            ("\(dashboard.name): \(title)", user, Self.filled(expression, job: job, user: user))
                        )
                    }
                }
            }
            let costPanel = try #require(dashboard.panels.first { $0.title == "Cost" }?.expressions.first)
            asked.append(("\(dashboard.name): the cost panel", nil, Self.filled(costPanel, job: job)))
        }
        // A rate needs two samples of its series: asked again until every query answers (or the wait is over).
        var answers: [[MetricsStore.Series]] = []
        try await TestTools.eventually(every: .seconds(1)) {
            answers = try await store.query(asked.map(\.query))
            return answers.allSatisfy { !$0.isEmpty }
        }
        for (question, answer) in zip(asked, answers) {
            #expect(!answer.isEmpty, "\(question.panel), for \(question.user ?? "all"): no data from \(question.query)")
            if question.panel.hasSuffix("the cost panel") {
                let total = answer.first.flatMap { Double($0.value) } ?? 0
                #expect(abs(total - cost) < 1e-6, "\(question.panel) says \(total), not \(cost)")
            }
        }
        // The user variable lists the signed-in account; the model variable, the model.
        let users = try await store.labelValues(
            "user_email",
            match: withTargets ? "target_info" : "codex_cost_usd_USD_total"
        )
        #expect(users == [AttributionTests.email])
        #expect(try await store.labelValues("gen_ai_request_model", match: "codex_cost_usd_USD_total") == ["gpt-5.5"])
    }

    /// `watch` serving both vocabularies for a scrape, Prometheus scraping it every second.
    @Test func everyQueryOfEveryDashboardReadsWatchsScrape() async throws {
        let home = try Self.codexHome()
        let cost = try await Self.replayedCost(home)
        #expect(cost > 0)
        let port = freePort()
        let watch = try TestTools.startCLI(
            ["watch", "--metric-names", "both", "--identify-user"],
            environment: [
                "CODEX_HOME": home.path, "XDG_STATE_HOME": try TestTools.makeTemporaryDirectory("state").path,
                "OTEL_METRICS_EXPORTER": "prometheus", "OTEL_LOGS_EXPORTER": "none", "OTEL_TRACES_EXPORTER": "none",
                "OTEL_EXPORTER_PROMETHEUS_PORT": "\(port)",
            ]
        )
        let prometheus = try await MetricsStore(
            .prometheus(
                configuration: """
                    global: {scrape_interval: 1s, evaluation_interval: 1s}
                    scrape_configs:
                      - job_name: codex-telemetry
                        static_configs: [{targets: ["127.0.0.1:\(port)"]}]
                    """
            )
        )
        defer { Task { await prometheus.stop() } }
        try await checkEveryQuery(prometheus, job: "codex-telemetry", cost: cost, withTargets: true)
        try await watch.send(SIGTERM)
        let outcome = await watch.finish(within: TestTools.patience)
        #expect(outcome.status == .exited(0), "\(outcome.stderr)")
        #expect(!(outcome.stdout + outcome.stderr).contains(TestTools.contentMarker))
    }

    /// `replay` sending both vocabularies over OTLP to VictoriaMetrics (cumulative, as Prometheus-style stores
    /// take them), of rollouts moved to the last minutes (a push is stored at its points' times). The store keeps
    /// the resource's attributes on every series, with no `job` and no `target_info`: the dashboards' queries, for
    /// all services, read it as they read a scrape.
    @Test func everyQueryOfEveryDashboardReadsMetricsSentOverOTLP() async throws {
        let home = try Self.codexHome(movedTo: Date())
        let cost = try await Self.replayedCost(home)
        #expect(cost > 0)
        let store = try await MetricsStore(.victoriaMetrics)
        defer { Task { await store.stop() } }
        let outcome = try await TestTools.runCLI(
            [
                "replay", home.appendingPathComponent("sessions").path, "--metric-names", "both", "--identify-user",
                "--otlp-endpoint", "http://127.0.0.1:\(store.port)/opentelemetry", "--signals", "metrics",
                "--spool-dir", try TestTools.makeTemporaryDirectory("spool").path,
            ],
            environment: [
                "CODEX_HOME": home.path, "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "cumulative",
            ]
        )
        #expect(outcome.status == .exited(0), "\(outcome.stderr)")
        try await checkEveryQuery(store, job: ".*", cost: cost, withTargets: false)
    }
}
