/// OTLP metrics in Prometheus' text exposition format (version 0.0.4), named as the OpenTelemetry specification's
/// Prometheus compatibility section says, and as Prometheus itself names the metrics it receives over OTLP: the
/// same queries then read a scrape and a push alike.
///
/// A name's characters other than letters, digits and `:` become `_` (runs of them one); the unit follows, as
/// Prometheus words it (`s` is `seconds`, `By` `bytes`; a unit in braces, `{token}`, is dropped), unless the name
/// has that word already; a monotonic sum ends in `_total`, a gauge of unit `1` in `_ratio`. The resource is the
/// `target_info` series, and every series carries the scope (`otel_scope_name`, `otel_scope_version`).
public enum PrometheusExposition {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The text of `metrics`, cumulative, for a scrape.
    public static func text(_ metrics: [OTLPMetric], resource: OTLPResource, scope: OTLPScope) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4096 + metrics.count * 512)
        out += "# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info".utf8
        writeLabels(resource.attributes, to: &out)
        out += " 1\n".utf8
        let scopeLabels = [
            OTLPAttribute("otel_scope_name", .string(scope.name)),
            OTLPAttribute("otel_scope_version", .string(scope.version)),
        ]
        // Two metrics of one name (one vocabulary's and another's) make one family, of the first one's type, its
        // series together.
        var families: [(name: String, type: String, metrics: [OTLPMetric])] = []
        var familyIndex: [String: Int] = [:]
        for metric in metrics {
            let name = name(of: metric)
            if let index = familyIndex[name] {
                if families[index].type == type(of: metric) { families[index].metrics.append(metric) }
            } else {
                familyIndex[name] = families.count
                families.append((name, type(of: metric), [metric]))
            }
        }
        for family in families {
            if !family.metrics[0].description.isEmpty {
                out += "# HELP \(family.name) ".utf8
                out += escaped(family.metrics[0].description, quotes: false).utf8
                out.append(0x0A)
            }
            out += "# TYPE \(family.name) \(family.type)\n".utf8
            for metric in family.metrics { write(metric.data, named: family.name, scope: scopeLabels, to: &out) }
        }
        return out
    }

    /// The Prometheus name of `metric`.
    public static func name(of metric: OTLPMetric) -> String {
        var words = metric.name.split { !isNameCharacter($0) }.map(String.init)
        let unit = unitWords(metric.unit)
        if let main = unit.main, !words.contains(main) { words.append(main) }
        if let per = unit.per, !words.contains(per) { words.append(per) }
        switch metric.data {
        case .sum(_, isMonotonic: true):
            words = words.filter { $0 != "total" } + ["total"]
        case .gauge where metric.unit == "1":
            words = words.filter { $0 != "ratio" } + ["ratio"]
        default:
            break
        }
        let name = words.joined(separator: "_")
        return name.first.map { $0.isASCII && $0.isNumber } == true ? "_" + name : name
    }

    // MARK: - Names

    private static func isNameCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || character == ":")
    }

    /// Prometheus' words for OpenTelemetry's units (UCUM).
    private static let unitNames: [String: String] = [
        "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds", "us": "microseconds",
        "ns": "nanoseconds", "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes",
        "TiBy": "tibibytes", "KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes",
        "m": "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams", "Cel": "celsius",
        "Hz": "hertz", "1": "", "%": "percent",
    ]
    private static let perUnitNames: [String: String] = [
        "s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year",
    ]

    /// The words a unit adds to a name: its main unit, and `per_…` for what follows a `/`.
    private static func unitWords(_ unit: String) -> (main: String?, per: String?) {
        let parts = unit.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        func cleaned(_ word: String) -> String? {
            let cleaned = word.split { !isNameCharacter($0) }.joined(separator: "_")
            return cleaned.isEmpty ? nil : cleaned
        }
        func plain(_ part: Substring?) -> String? {
            let part = part?.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()
            guard let part, !part.isEmpty, !part.contains("{"), !part.contains("}") else { return nil }
            return String(part)
        }
        let main = plain(parts.first).flatMap { cleaned(unitNames[$0] ?? $0) }
        let per = plain(parts.count > 1 ? parts[1] : nil).flatMap { cleaned("per_" + (perUnitNames[$0] ?? $0)) }
        return (main, per)
    }

    private static func type(of metric: OTLPMetric) -> String {
        switch metric.data {
        case .sum(_, isMonotonic: true): "counter"
        case .sum, .gauge: "gauge"
        case .histogram: "histogram"
        }
    }

    /// A label's name: characters other than letters, digits and `_` become `_`; a name that starts with a digit,
    /// or with one `_`, is prefixed with `key`.
    static func labelName(_ key: String) -> String {
        let name = String(key.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
        if let first = name.first, first.isNumber { return "key_" + name }
        if name.hasPrefix("_"), !name.hasPrefix("__") { return "key" + name }
        return name
    }

    // MARK: - Series

    private static func write(
        _ data: OTLPMetric.Data,
        named name: String,
        scope: [OTLPAttribute],
        to out: inout [UInt8]
    ) {
        switch data {
        case .sum(let points, _), .gauge(let points):
            for point in points {
                out += name.utf8
                writeLabels(point.attributes + scope, to: &out)
                out += " \(number(point.value))\n".utf8
            }
        case .histogram(let points):
            for point in points {
                var cumulative: UInt64 = 0
                for (index, count) in point.bucketCounts.enumerated() {
                    cumulative &+= count
                    let bound = index < point.explicitBounds.count ? number(point.explicitBounds[index]) : "+Inf"
                    out += "\(name)_bucket".utf8
                    writeLabels(point.attributes + scope + [OTLPAttribute("le", .string(bound))], to: &out)
                    out += " \(cumulative)\n".utf8
                }
                out += "\(name)_sum".utf8
                writeLabels(point.attributes + scope, to: &out)
                out += " \(number(point.sum))\n\(name)_count".utf8
                writeLabels(point.attributes + scope, to: &out)
                out += " \(point.count)\n".utf8
            }
        }
    }

    /// `{name="value",…}`, the attributes' keys made label names; two keys that make one name have their values
    /// joined with `;`, in the order of the keys.
    private static func writeLabels(_ attributes: [OTLPAttribute], to out: inout [UInt8]) {
        guard !attributes.isEmpty else { return }
        var labels: [(name: String, value: String)] = []
        for attribute in attributes.sorted(by: { $0.key < $1.key }) {
            let name = labelName(attribute.key)
            let value = text(attribute.value)
            if let last = labels.last, last.name == name {
                labels[labels.count - 1].value += ";" + value
            } else if let index = labels.firstIndex(where: { $0.name == name }) {
                labels[index].value += ";" + value
            } else {
                labels.append((name, value))
            }
        }
        out.append(UInt8(ascii: "{"))
        for (index, label) in labels.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out += "\(label.name)=\"".utf8
            out += escaped(label.value, quotes: true).utf8
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
    }

    private static func text(_ value: OTLPValue) -> String {
        switch value {
        case .string(let string): string
        case .bool(let bool): bool ? "true" : "false"
        case .int(let int): String(int)
        case .double(let double): number(double)
        }
    }

    /// A sample value or bound as Prometheus reads it.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// A label value (`\`, `"` and newlines escaped) or a help text (`\` and newlines).
    private static func escaped(_ text: String, quotes: Bool) -> String {
        guard text.contains(where: { $0 == "\\" || $0 == "\n" || (quotes && $0 == "\"") }) else { return text }
        var escaped = ""
        for character in text {
            switch character {
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\"" where quotes: escaped += "\\\""
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
