import CodexTelemetry
import Foundation
import JSONRPC
import OTLP
import TestSupport
import Testing

struct OpenTelemetryMappingTests {
    static func events() throws -> [TelemetryEvent] {
        let session = try Data(
            contentsOf: TestTools.packageRoot.appendingPathComponent("protocol/sessions/codex-0.163.0-scenarios.jsonl")
        )
        var replay = SessionReplay()
        return session.withUnsafeBytes { replay.replay(file: $0) }
    }

    @Test func replayingTwiceGivesTheSameTraceAndSpanIds() throws {
        let events = try Self.events()
        var first = OpenTelemetryMapping(temporality: .cumulative)
        var second = OpenTelemetryMapping(temporality: .cumulative)
        let once = events.compactMap { first.map($0).span }
        let twice = events.compactMap { second.map($0).span }
        #expect(once == twice)
        #expect(Set(once.map(\.spanID)).count == once.count)
    }

    @Test func everyCallHangsUnderItsTurnsRootSpan() throws {
        var mapping = OpenTelemetryMapping(temporality: .cumulative)
        let spans = try Self.events().compactMap { mapping.map($0).span }
        let roots = spans.filter { $0.parentSpanID == nil }
        #expect(roots.count == 9)
        #expect(roots.allSatisfy { $0.name == "invoke_agent codex" && $0.kind == .internal })
        let rootByTrace = Dictionary(uniqueKeysWithValues: roots.map { ($0.traceID, $0.spanID) })
        for span in spans where span.parentSpanID != nil {
            #expect(span.parentSpanID == rootByTrace[span.traceID])
        }
        #expect(Set(spans.filter { $0.kind == .client }.map(\.name)) == ["chat gpt-5.5"])
        #expect(
            Set(spans.filter { $0.parentSpanID != nil && $0.kind == .internal }.map(\.name)) == [
                "execute_tool shell", "execute_tool apply_patch", "execute_tool web_search",
            ]
        )
    }

    @Test func failedAndInterruptedTurnsAndFailedToolsAreErrors() throws {
        var mapping = OpenTelemetryMapping(temporality: .cumulative)
        let errors = try Self.events().compactMap { mapping.map($0).span }.filter { $0.status == .error }
        let types = errors.compactMap { span in span.attributes.first { $0.key == "error.type" }?.value }
        #expect(Set(types) == [.string("internalServerError"), .string("interrupted"), .string("failed")])
    }

    @Test func logRecordsCarryTheEventNameAndPointAtTheirSpan() throws {
        var mapping = OpenTelemetryMapping(temporality: .cumulative)
        for event in try Self.events() {
            let (log, span) = mapping.map(event)
            #expect(log.eventName == event.name.rawValue)
            #expect(log.attributes.contains(OTLPAttribute("event.name", .string(event.name.rawValue))))
            #expect(log.spanID == span?.spanID && log.traceID == span?.traceID)
        }
    }

    @Test func metricsAddUpToTheSession() throws {
        var mapping = OpenTelemetryMapping(temporality: .cumulative)
        for event in try Self.events() { _ = mapping.map(event) }
        let metrics = Dictionary(uniqueKeysWithValues: mapping.metrics.collect().map { ($0.name, $0) })
        guard case .histogram(let tokens)? = metrics["gen_ai.client.token.usage"]?.data,
            case .sum(let turns, true)? = metrics["codex.turns"]?.data
        else {
            Issue.record("missing metrics")
            return
        }
        let output = tokens.first { $0.attributes.contains(OTLPAttribute("gen_ai.token.type", .string("output"))) }
        #expect(output?.sum == 510)
        #expect(turns.map(\.value).reduce(0, +) == 9)
        #expect(metrics["gen_ai.client.operation.duration"]?.unit == "s")
        #expect(metrics["codex.cost.usd"] != nil)
    }

    /// What the dashboards ask: every token once by type (as Claude Code counts them), the cost by source (a
    /// sub-agent's share), and the length of each kind of operation.
    @Test func tokensByTypeCostBySourceAndEveryOperationsLength() throws {
        let events = try Self.events()
        var mapping = OpenTelemetryMapping(temporality: .cumulative)
        for event in events { _ = mapping.map(event) }
        let metrics = Dictionary(uniqueKeysWithValues: mapping.metrics.collect().map { ($0.name, $0) })
        func sums(_ name: String, by key: String) -> [String: Double] {
            guard case .sum(let points, _)? = metrics[name]?.data else { return [:] }
            return Dictionary(
                points.map { point in
                    let value = point.attributes.first { $0.key == key }.map { attribute -> String in
                        if case .string(let text) = attribute.value { return text }
                        return ""
                    }
                    return (value ?? "", point.value)
                },
                uniquingKeysWith: +
            )
        }
        // The bundled session's 11,070 input tokens are 3,300 from the cache and 7,770 not; 510 output.
        #expect(sums("codex.token.usage", by: "type") == ["input": 7_770, "cacheRead": 3_300, "output": 510])
        let cost = events.compactMap { event -> Double? in
            if case .double(let cost) = event[.costUSD], event.name == .llmCall { return cost }
            return nil
        }.reduce(0, +)
        let bySource = sums("codex.cost.usd", by: "codex.session.source")
        #expect(abs(bySource.values.reduce(0, +) - cost) < 1e-9 && !bySource.keys.contains(""))
        guard case .histogram(let durations)? = metrics["gen_ai.client.operation.duration"]?.data else {
            Issue.record("no durations")
            return
        }
        func count(_ operation: String) -> UInt64 {
            durations.filter { $0.attributes.contains(OTLPAttribute("gen_ai.operation.name", .string(operation))) }
                .map(\.count).reduce(0, +)
        }
        #expect([count("chat"), count("execute_tool"), count("invoke_agent")] == [11, 6, 9])
        // In seconds, as the conventions have it: the tool calls' and the turns' spans, summed.
        func seconds(_ operation: String) -> Double {
            durations.filter { $0.attributes.contains(OTLPAttribute("gen_ai.operation.name", .string(operation))) }
                .map(\.sum).reduce(0, +)
        }
        func spans(_ name: TelemetryEvent.Name) -> Double {
            events.filter { $0.name == name }.map { Double($0.endTimeUnixNano - $0.startTimeUnixNano) / 1e9 }
                .reduce(0, +)
        }
        #expect(spans(.toolCall) > 0 && abs(seconds("execute_tool") - spans(.toolCall)) < 1e-6)
        #expect(spans(.turn) > 0 && abs(seconds("invoke_agent") - spans(.turn)) < 1e-6)
    }
}
