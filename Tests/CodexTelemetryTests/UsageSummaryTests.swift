import CodexTelemetry
import Testing

/// The summary's totals, by each grouping.
struct UsageSummaryTests {
    static func turn(
        thread: String,
        model: String = "gpt-5.5",
        source: String = "cli",
        at seconds: UInt64
    ) -> TelemetryEvent {
        TelemetryEvent(
            name: .turn,
            startTimeUnixNano: seconds * 1_000_000_000,
            endTimeUnixNano: seconds * 1_000_000_000,
            attributes: [
                TelemetryAttribute(key: .conversationID, value: .string(thread)),
                TelemetryAttribute(key: .requestModel, value: .string(model)),
                TelemetryAttribute(key: .sessionSource, value: .string(source)),
                TelemetryAttribute(key: .turnStatus, value: .string("completed")),
            ]
        )
    }

    /// Days are UTC calendar days, leap days and century years included.
    @Test(arguments: [
        (UInt64(0), "1970-01-01"), (1_709_164_800, "2024-02-29"), (1_798_761_599, "2026-12-31"),
        (1_798_761_600, "2027-01-01"), (4_107_542_400, "2100-03-01"), (4_107_456_000, "2100-02-28"),
    ])
    func aDayIsTheUTCDateTheEventStarted(seconds: UInt64, day: String) {
        var summary = UsageSummary(groupingBy: .day)
        summary.add(Self.turn(thread: "t", at: seconds))
        #expect(Array(summary.groups.keys) == [day])
    }

    @Test func eachGroupingKeysByItsDimension() {
        let events = [
            Self.turn(thread: "t1", model: "a", source: "cli", at: 1_795_000_000),
            Self.turn(thread: "t2", model: "b", source: "cli", at: 1_795_100_000),
            Self.turn(thread: "t2", model: "b", source: "vscode", at: 1_795_100_001),
        ]
        func groups(_ grouping: UsageSummary.Grouping) -> [String: Int] {
            var summary = UsageSummary(groupingBy: grouping)
            for event in events { summary.add(event) }
            return summary.groups.mapValues(\.turns)
        }
        #expect(groups(.model) == ["a": 1, "b": 2])
        #expect(groups(.thread) == ["t1": 1, "t2": 2])
        #expect(groups(.source) == ["cli": 2, "vscode": 1])
        #expect(groups(.day) == ["2026-11-18": 1, "2026-11-19": 2])
    }

    /// Memory stays bounded however many threads a backfill holds: past the limit, groups are added up as `other`.
    @Test func groupsPastTheLimitAreAddedUpAsOther() {
        var summary = UsageSummary(groupingBy: .thread)
        let extra = 10
        for thread in 0..<(UsageSummary.maximumGroups + extra) {
            summary.add(Self.turn(thread: "t\(thread)", at: 1_795_000_000))
        }
        #expect(summary.groups.count == UsageSummary.maximumGroups + 1)
        #expect(summary.groups["other"]?.turns == extra)
        #expect(summary.overall.turns == UsageSummary.maximumGroups + extra)
    }
}
