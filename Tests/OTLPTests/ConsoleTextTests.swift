import OTLP
import OTLPExport
import Testing

/// The console exporter's lines: what a record holds, readable, one line each.
struct ConsoleTextTests {
    @Test func aLogRecordASpanAndAMetricEachMakeALine() {
        let trace = TraceID(bytes: Array(repeating: 0xAB, count: 16))
        let log = OTLPLogRecord(
            timeUnixNano: 1_795_249_374_118_000_000,
            observedTimeUnixNano: 1_795_249_374_118_000_000,
            eventName: "codex.tool_call",
            attributes: [
                OTLPAttribute("codex.tool.status", .string("failed")), OTLPAttribute("process.exit.code", .int(3)),
            ],
            traceID: trace,
            spanID: SpanID(bytes: Array(repeating: 1, count: 8))
        )
        #expect(
            ConsoleText.line(log)
                == "log 2026-11-21T08:22:54.118Z codex.tool_call trace=abababababababababababababababab "
                + "span=0101010101010101 codex.tool.status=failed process.exit.code=3"
        )
        let span = OTLPSpan(
            traceID: trace,
            spanID: SpanID(bytes: Array(repeating: 2, count: 8)),
            parentSpanID: SpanID(bytes: Array(repeating: 1, count: 8)),
            name: "execute_tool shell",
            kind: .internal,
            startTimeUnixNano: 1_795_249_374_000_000_000,
            endTimeUnixNano: 1_795_249_374_250_000_000,
            attributes: [],
            status: .error
        )
        #expect(
            ConsoleText.line(span)
                == "span 2026-11-21T08:22:54.000Z 250ms execute_tool shell error trace=abababababababababababababababab "
                + "span=0202020202020202 parent=0101010101010101"
        )
        let cost = OTLPMetric(
            name: "codex.cost.usd",
            description: "",
            unit: "USD",
            temporality: .cumulative,
            data: .sum(
                [
                    .init(
                        attributes: [OTLPAttribute("gen_ai.request.model", .string("gpt-5.5"))],
                        startTimeUnixNano: 1,
                        timeUnixNano: 2,
                        value: 0.0558
                    )
                ],
                isMonotonic: true
            )
        )
        #expect(ConsoleText.lines([cost]) == ["metric codex.cost.usd sum USD 0.0558 gen_ai.request.model=gpt-5.5"])
    }
}
