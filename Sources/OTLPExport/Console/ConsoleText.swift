import CivilTime
public import OTLP

/// Log records, spans and metrics as a person reads them on a terminal, one line each (a histogram, one line per
/// series): the console exporter's text. Only what the records hold: names, times, ids, attributes, values.
public enum ConsoleText {
    /// `log 2026-11-21T08:22:01.123Z codex.tool_call trace=… span=… key=value …`
    public static func line(_ log: OTLPLogRecord) -> String {
        var line = "log \(time(log.timeUnixNano)) \(log.eventName)"
        if let trace = log.traceID { line += " trace=\(trace.hex)" }
        if let span = log.spanID { line += " span=\(span.hex)" }
        return line + attributes(log.attributes)
    }

    /// `span 2026-11-21T08:22:01.123Z 250ms execute_tool shell error trace=… span=… parent=… key=value …`
    public static func line(_ span: OTLPSpan) -> String {
        let length = span.endTimeUnixNano >= span.startTimeUnixNano ? span.endTimeUnixNano - span.startTimeUnixNano : 0
        var line = "span \(time(span.startTimeUnixNano)) \(length / 1_000_000)ms \(span.name)"
        if span.status == .error { line += " error" }
        line += " trace=\(span.traceID.hex) span=\(span.spanID.hex)"
        if let parent = span.parentSpanID { line += " parent=\(parent.hex)" }
        return line + attributes(span.attributes)
    }

    /// `metric codex.cost.usd sum USD 0.0558 key=value …`, one line per series; a histogram's gives its count, sum,
    /// least and greatest.
    public static func lines(_ metrics: [OTLPMetric]) -> [String] {
        metrics.flatMap { metric -> [String] in
            let head = "metric \(metric.name)"
            let unit = metric.unit.isEmpty ? "" : " \(metric.unit)"
            switch metric.data {
            case .sum(let points, _):
                return points.map { "\(head) sum\(unit) \(number($0.value))" + attributes($0.attributes) }
            case .gauge(let points):
                return points.map { "\(head) gauge\(unit) \(number($0.value))" + attributes($0.attributes) }
            case .histogram(let points):
                return points.map { point in
                    "\(head) histogram\(unit) count=\(point.count) sum=\(number(point.sum)) min=\(number(point.min)) "
                        + "max=\(number(point.max))" + attributes(point.attributes)
                }
            }
        }
    }

    private static func attributes(_ attributes: [OTLPAttribute]) -> String {
        attributes.map { attribute in
            switch attribute.value {
            case .string(let string): " \(attribute.key)=\(string)"
            case .bool(let bool): " \(attribute.key)=\(bool)"
            case .int(let int): " \(attribute.key)=\(int)"
            case .double(let double): " \(attribute.key)=\(number(double))"
            }
        }.joined()
    }

    private static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }

    /// UTC, to the millisecond.
    private static func time(_ unixNano: UInt64) -> String {
        let milliseconds = Int64(clamping: unixNano / 1_000_000)
        let (days, inDay) = (milliseconds / 86_400_000, milliseconds % 86_400_000)
        let date = CivilDate(daysSince1970: days)
        func padded(_ value: Int64, _ width: Int) -> String {
            String(repeating: "0", count: max(0, width - String(value).count)) + String(value)
        }
        return "\(padded(date.year, 4))-\(padded(date.month, 2))-\(padded(date.day, 2))T"
            + "\(padded(inDay / 3_600_000, 2)):\(padded(inDay / 60_000 % 60, 2)):\(padded(inDay / 1000 % 60, 2))."
            + "\(padded(inDay % 1000, 3))Z"
    }
}
