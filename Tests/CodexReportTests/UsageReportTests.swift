import CodexReport
import CodexTelemetry
import Foundation
import JSON
import Testing

/// The report's sums, periods and formats, over events made here: what a person reading it relies on.
struct UsageReportTests {
    /// 2026-12-05T10:00:00Z.
    static let morning: UInt64 = 1_796_464_800_000_000_000

    static func call(
        _ model: String,
        at time: UInt64 = morning,
        thread: String = "thread-a",
        root: String? = nil,
        cost: Double? = 0.5,
        input: Int64 = 1000,
        cached: Int64 = 400
    ) -> TelemetryEvent {
        var attributes = [
            TelemetryAttribute(key: .requestModel, value: .string(model)),
            TelemetryAttribute(key: .conversationID, value: .string(thread)),
            TelemetryAttribute(key: .inputTokens, value: .int(input)),
            TelemetryAttribute(key: .cacheReadInputTokens, value: .int(cached)),
            TelemetryAttribute(key: .outputTokens, value: .int(100)),
            TelemetryAttribute(key: .reasoningOutputTokens, value: .int(30)),
            TelemetryAttribute(key: .sessionSource, value: .string("cli")),
        ]
        if let cost { attributes.append(TelemetryAttribute(key: .costUSD, value: .double(cost))) }
        if let root { attributes.append(TelemetryAttribute(key: .rootThreadID, value: .string(root))) }
        return TelemetryEvent(name: .llmCall, startTimeUnixNano: time, endTimeUnixNano: time, attributes: attributes)
    }

    static func turn(_ status: String, at time: UInt64 = morning, thread: String = "thread-a") -> TelemetryEvent {
        TelemetryEvent(
            name: .turn,
            startTimeUnixNano: time,
            endTimeUnixNano: time,
            attributes: [
                TelemetryAttribute(key: .turnStatus, value: .string(status)),
                TelemetryAttribute(key: .conversationID, value: .string(thread)),
                TelemetryAttribute(key: .requestModel, value: .string("gpt-5.5")),
            ]
        )
    }

    static func report(_ dimensions: [UsageReport.Dimension], _ events: [TelemetryEvent]) -> UsageReport {
        var report = UsageReport(by: dimensions, calendar: .utc)
        for event in events { report.add(event) }
        return report
    }

    @Test(arguments: [
        // A Thursday at the end of a year, the Friday after it (the same ISO week), a Monday that starts the next
        // year's first week, and a Sunday in the first week of 2027.
        ("2026-12-31T12:00:00Z", "2026-W53"), ("2027-01-01T12:00:00Z", "2026-W53"),
        ("2024-12-30T12:00:00Z", "2025-W01"),
        ("2027-01-10T12:00:00Z", "2027-W01"), ("2026-12-05T10:00:00Z", "2026-W49"),
    ])
    func weeksAreISOWeeks(time: String, week: String) throws {
        let seconds = UInt64(try #require(ISO8601DateFormatter().date(from: time)).timeIntervalSince1970)
        let report = Self.report([.week], [Self.call("gpt-5.5", at: seconds * 1_000_000_000)])
        #expect(report.rows.map(\.key) == [[week]])
    }

    /// Days are calendar days, leap days and century years included.
    @Test(arguments: [
        (UInt64(0), "1970-01-01"), (1_709_164_800, "2024-02-29"), (1_798_761_599, "2026-12-31"),
        (1_798_761_600, "2027-01-01"), (4_107_542_400, "2100-03-01"), (4_107_456_000, "2100-02-28"),
    ])
    func aDayIsTheDateTheEventStarted(seconds: UInt64, day: String) {
        let report = Self.report([.day], [Self.call("gpt-5.5", at: seconds * 1_000_000_000)])
        #expect(report.rows.map(\.key) == [[day]])
    }

    /// Memory stays bounded however many sessions a backfill holds: past the limit, rows and sessions are added up
    /// as `other`, and the total still counts everything.
    @Test func rowsPastTheLimitAreAddedUpAsOther() {
        let extra = 10
        let events = (0..<(UsageReport.maximumGroups + extra)).map { Self.call("gpt-5.5", thread: "t\($0)") }
        let report = Self.report([.session], events)
        #expect(report.groups.count == UsageReport.maximumGroups + 1)
        #expect(report.groups[[UsageReport.other]]?.modelCalls == extra)
        #expect(report.sessions.count == UsageReport.maximumSessions + 1)
        #expect(report.total.modelCalls == UsageReport.maximumGroups + extra)
    }

    @Test func periodsAreToldInTheReportsZone() {
        // 23:30 UTC is the next day two hours east, and the next month on the last day of one.
        let lateOnNovember30: UInt64 = 1_796_081_400_000_000_000
        var report = UsageReport(by: [.day, .month], calendar: ReportCalendar(zoneName: "UTC+2") { _ in 7200 })
        report.add(Self.call("gpt-5.5", at: lateOnNovember30))
        #expect(report.rows.map(\.key) == [["2026-12-01", "2026-12"]])
        #expect(Self.report([.day], [Self.call("gpt-5.5", at: lateOnNovember30)]).rows.map(\.key) == [["2026-11-30"]])
    }

    /// Zones a half or three quarters of an hour off UTC: a call just before local midnight and one just after are
    /// two days apart, though they fall in the same hour of UTC.
    @Test(arguments: [(19_800, "UTC+05:30"), (20_700, "UTC+05:45"), (-9_000, "UTC-02:30")])
    func daysAreToldAtLocalMidnightInAZoneOffByPartOfAnHour(offset: Int, zone: String) {
        // 2026-12-05T00:00 local, as a Unix time.
        let midnight = UInt64(1_796_428_800 - offset) * 1_000_000_000
        let minute: UInt64 = 60_000_000_000
        var report = UsageReport(by: [.day], calendar: ReportCalendar(zoneName: zone) { _ in offset })
        for time in [midnight - 10 * minute, midnight - minute, midnight + minute, midnight + 10 * minute] {
            report.add(Self.call("gpt-5.5", at: time))
        }
        #expect(report.rows.map(\.key) == [["2026-12-04"], ["2026-12-05"]])
        #expect(report.rows.map(\.totals.modelCalls) == [2, 2])
    }

    /// The page's "sessions that cost most" are those, the costliest first, whatever order they came in.
    @Test func theSessionsThatCostMostAreTheCostliestFirst() throws {
        let costs = [0.3, 4.0, 0.01, 2.5, 0.7, 9.0, 1.2, 0.05, 3.3, 0.9, 6.1, 0.2]
        let events = costs.enumerated().map { Self.call("gpt-5.5", thread: "session-\($0.offset)", cost: $0.element) }
        let report = Self.report([.session], events)
        let costliest = costs.enumerated().sorted { $0.element > $1.element }.prefix(10).map { "session-\($0.offset)" }
        #expect(report.costliestSessions(10).map(\.id) == costliest)
        let html = report.html()
        let section = try #require(html.range(of: "The sessions that cost most"))
        let listed = costs.indices.map { "session-\($0)" }.compactMap { id in
            html[section.upperBound...].range(of: ">\(id)<").map { (id, $0.lowerBound) }
        }
        #expect(listed.sorted { $0.1 < $1.1 }.prefix(10).map(\.0) == costliest)
    }

    /// What was produced, in every format: lines, commits, pull and merge requests and decisions from the tool
    /// calls, the agent's time from its own turns (not a sub-agent's, inside them), the user's from the turns' gaps.
    @Test func whatWasProducedIsInEveryFormat() throws {
        func tool(_ attributes: [TelemetryAttribute]) -> TelemetryEvent {
            TelemetryEvent(
                name: .toolCall,
                startTimeUnixNano: Self.morning,
                endTimeUnixNano: Self.morning,
                attributes: attributes + [TelemetryAttribute(key: .conversationID, value: .string("thread-a"))]
            )
        }
        var turn = Self.turn("completed")
        turn = TelemetryEvent(
            name: .turn,
            startTimeUnixNano: Self.morning,
            endTimeUnixNano: Self.morning + 90_000_000_000,
            attributes: turn.attributes + [TelemetryAttribute(key: .userActiveMilliseconds, value: .int(30_000))]
        )
        let subAgentTurn = TelemetryEvent(
            name: .turn,
            startTimeUnixNano: Self.morning,
            endTimeUnixNano: Self.morning + 60_000_000_000,
            attributes: [
                TelemetryAttribute(key: .conversationID, value: .string("child")),
                TelemetryAttribute(key: .rootThreadID, value: .string("thread-a")),
            ]
        )
        let report = Self.report(
            [.day],
            [
                tool([
                    TelemetryAttribute(key: .linesAdded, value: .int(120)),
                    TelemetryAttribute(key: .linesRemoved, value: .int(45)),
                    TelemetryAttribute(key: .editDecision, value: .string("acceptForSession")),
                ]),
                tool([TelemetryAttribute(key: .editDecision, value: .string("decline"))]),
                tool([TelemetryAttribute(key: .editDecision, value: .string("auto"))]),
                tool([
                    TelemetryAttribute(key: .commits, value: .int(1)),
                    TelemetryAttribute(key: .pullRequests, value: .int(1)),
                ]),
                tool([TelemetryAttribute(key: .mergeRequests, value: .int(1))]),
                turn, subAgentTurn,
            ]
        )
        let total = try #require(try JSONValue(parsing: report.json())["total"])
        #expect(total["linesAdded"] == 120 && total["linesRemoved"] == 45)
        #expect(total["commits"] == 1 && total["pullRequests"] == 2)
        #expect(total["editsAccepted"] == 1 && total["editsRejected"] == 1)
        #expect(total["agentActiveSeconds"]?.double == 90 && total["userActiveSeconds"]?.double == 30)
        let csv = report.csv().split(separator: "\r\n")
        let header = csv[0].split(separator: ",").map(String.init)
        let row = csv[1].split(separator: ",").map(String.init)
        for (name, value) in [("linesAdded", "120"), ("pullRequests", "2"), ("agentActiveSeconds", "90.000")] {
            #expect(header.firstIndex(of: name).map { row[$0] } == value, "\(name)")
        }
        let table = report.table()
        #expect(table.contains("Lines +/-") && table.contains("+120 -45") && table.contains("PRs"))
        // On a narrow terminal, what was produced gives way before the cost and the turns.
        let narrow = report.table(width: 80)
        #expect(!narrow.contains("Commits") && narrow.contains("Cost") && narrow.contains("Turns"))
        let html = report.html()
        #expect(
            html.contains("What it produced") && html.contains("lines added: 120") && html.contains("1 commit, 2 PRs")
        )
    }

    /// The page's produced chart and active time as a person reads them: hours with their minutes padded, whole
    /// minutes, seconds; a day's commits without a count of no pull requests.
    @Test(arguments: [
        (7_530_000 as Int64, 779_000 as Int64, "2 h 05 min", "12 min"),
        (40_000, 3_600_000, "40 s", "1 h 00 min"),
    ])
    func activeTimeAndCommitsReadAsAPersonSaysThem(agent: Int64, user: Int64, agentText: String, userText: String) {
        let turn = TelemetryEvent(
            name: .turn,
            startTimeUnixNano: Self.morning,
            endTimeUnixNano: Self.morning + UInt64(agent) * 1_000_000,
            attributes: Self.turn("completed").attributes + [
                TelemetryAttribute(key: .userActiveMilliseconds, value: .int(user))
            ]
        )
        let commit = TelemetryEvent(
            name: .toolCall,
            startTimeUnixNano: Self.morning,
            endTimeUnixNano: Self.morning,
            attributes: [
                TelemetryAttribute(key: .conversationID, value: .string("thread-a")),
                TelemetryAttribute(key: .commits, value: .int(1)),
            ]
        )
        let html = Self.report([.day], [commit, turn]).html()
        #expect(html.contains("the agent's <b>\(agentText)</b>, the user's <b>\(userText)</b>"))
        #expect(html.contains(">1 commit</text>"))
    }

    @Test func totalsAreTheSumsOfTheRowsAndSubAgentsCountInTheirSession() throws {
        let report = Self.report(
            [.session, .model],
            [
                Self.call("gpt-5.5", thread: "root"),
                Self.call("gpt-5.5-mini", thread: "child", root: "root", cost: 0.25),
                Self.call("gpt-5.5", thread: "other"), Self.turn("completed", thread: "root"),
                Self.turn("failed", thread: "other"),
            ]
        )
        #expect(report.sessions.keys.sorted() == ["other", "root"])
        #expect(report.sessions["root"]?.totals.subAgentCostUSD == 0.25)
        #expect(report.sessions["root"]?.totals.costUSD == 0.75)
        let json = try JSONValue(parsing: report.json())
        let groups = try #require(json["groups"].flatMap { if case .array(let items) = $0 { items } else { nil } })
        for field in ["modelCalls", "inputTokens", "cachedInputTokens", "turns", "failedTurns"] {
            #expect(groups.compactMap { $0[field]?.int }.reduce(0, +) == json["total"]?[field]?.int, "\(field)")
        }
        #expect(json["total"]?["costUsd"]?.double == 1.25)
        #expect(json["total"]?["cacheHitRatio"]?.double == 0.4)
    }

    /// A model without a price is named and its calls counted; its cost is never shown as nothing.
    @Test func aModelWithoutAPriceIsNamedNeverFree() throws {
        let report = Self.report([.model], [Self.call("gpt-5.5"), Self.call("house-model", cost: nil)])
        let table = report.table()
        #expect(table.contains("$0.50*"))
        #expect(table.contains("1 model call of models without a price: house-model"))
        let json = try JSONValue(parsing: report.json())
        #expect(json["total"]?["unpricedModelCalls"]?.int == 1)
        #expect(json["total"]?["unpricedModels"] == .array([.string("house-model")]))
    }

    /// Every line of the table has its columns at the same places: the numbers end where their titles end.
    @Test(arguments: [nil, 80, 200] as [Int?])
    func theTableIsAlignedAndFitsTheWidth(width: Int?) throws {
        let events = (0..<5).flatMap { day in
            [
                Self.call("gpt-5.5", at: Self.morning + UInt64(day) * 86_400_000_000_000, input: 12_345_678),
                Self.turn(day == 2 ? "failed" : "completed", at: Self.morning + UInt64(day) * 86_400_000_000_000),
            ]
        }
        let table = Self.report([.day, .model], events).table(width: width)
        let lines = table.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let header = try #require(lines.firstIndex { $0.hasPrefix("Day") })
        let body = lines[header...].prefix { !$0.isEmpty }.filter { !$0.hasPrefix("─") }
        #expect(body.count == 7)  // titles, five days, the total
        if let width { #expect(body.allSatisfy { $0.count <= width }) }
        // Where each right-aligned column ends (titles are apart by two spaces or more), in the titles' line, every
        // row has a digit or a dollar figure.
        let titles = Array(lines[header])
        let ends = titles.indices.filter { index in
            titles[index] != " "
                && (index + 1 == titles.count || titles[(index + 1)...].prefix(2).allSatisfy { $0 == " " })
        }.dropFirst(2)
        #expect(!ends.isEmpty)
        for line in body.dropFirst() {
            let characters = Array(line)
            for end in ends { #expect(end < characters.count && characters[end] != " ", "\(line)") }
        }
        #expect(body.last?.hasPrefix("Total") == true)
        #expect(lines.prefix { !$0.isEmpty }.joined(separator: " ").contains("(time zone UTC)"))
        if width == 80 {
            #expect(!lines[header].contains("Cache write"))
        } else {
            #expect(lines[header].contains("Cache write"))
        }
    }

    @Test func csvQuotesWhatItMustAndNoCellIsAFormula() {
        let report = Self.report([.model], [Self.call("=HYPERLINK(\"x\",\"y\")"), Self.call("a,b")])
        let lines = report.csv().split(separator: "\r\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("model,turns,failedTurns"))
        #expect(lines.contains { $0.hasPrefix("\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\",") })
        #expect(lines.contains { $0.hasPrefix("\"a,b\",") })
    }

    /// A model name is read from a file: on the page it is text, and the page loads nothing and runs nothing.
    @Test func theHTMLEscapesWhatItIsGivenAndIsSelfContained() {
        let hostile = "<img src=x onerror=alert(1)>"
        let html = Self.report([.day, .model], [Self.call(hostile), Self.turn("completed")]).html()
        #expect(!html.contains(hostile))
        #expect(html.contains("&lt;img src=x onerror=alert(1)&gt;"))
        #expect(
            !html.contains("<script") && !html.contains("http:") && !html.contains("https:") && !html.contains("url(")
        )
        #expect(html.contains("default-src 'none'"))
    }
}
