import JSON
import OTLP

extension UsageReport {
    /// One figure of a row, as every format names it.
    struct Field: Sendable {
        /// The JSON member and CSV column; `nil` for a figure only the table shows.
        var name: String? = nil
        /// The table's column title; `nil` for a figure only JSON and CSV give.
        var title: String? = nil
        /// Higher is kept longer when a table must fit a narrow terminal.
        var priority = 0
        var value: @Sendable (Totals) -> Number
    }

    enum Number: Sendable {
        case count(Int64)
        case dollars(Double)
        /// A share from 0 to 1; `nil` when there is nothing to share.
        case share(Double?)
        /// Seconds, from milliseconds.
        case seconds(milliseconds: Int64)
        /// Lines added and removed, as the table shows them together: `+120 -45`.
        case lines(added: Int64, removed: Int64)
    }

    static let fields: [Field] = [
        Field(name: "turns", title: "Turns", priority: 9) { .count(Int64($0.turns)) },
        Field(name: "failedTurns", title: "Failed", priority: 4) { .count(Int64($0.failedTurns)) },
        Field(name: "interruptedTurns", title: "Interrupted", priority: 3) { .count(Int64($0.interruptedTurns)) },
        Field(name: "modelCalls", title: "Model calls", priority: 8) { .count(Int64($0.modelCalls)) },
        Field(name: "toolCalls", title: "Tool calls", priority: 6) { .count(Int64($0.toolCalls)) },
        Field(name: "inputTokens", title: "Input", priority: 7) { .count($0.inputTokens) },
        Field(name: "cachedInputTokens", title: "Cached", priority: 5) { .count($0.cachedInputTokens) },
        Field(name: "cacheWriteInputTokens", title: "Cache write", priority: 1) { .count($0.cacheWriteInputTokens) },
        Field(name: "outputTokens", title: "Output", priority: 7) { .count($0.outputTokens) },
        Field(name: "reasoningOutputTokens", title: "Reasoning", priority: 2) { .count($0.reasoningOutputTokens) },
        Field(name: "costUsd", title: "Cost", priority: 10) { .dollars($0.costUSD) },
        Field(title: "Lines +/-", priority: 2) { .lines(added: $0.linesAdded, removed: $0.linesRemoved) },
        Field(name: "linesAdded") { .count($0.linesAdded) },
        Field(name: "linesRemoved") { .count($0.linesRemoved) },
        Field(name: "commits", title: "Commits", priority: 1) { .count($0.commits) },
        Field(name: "pullRequests", title: "PRs", priority: 1) { .count($0.pullRequests) },
        Field(name: "editsAccepted") { .count($0.editsAccepted) },
        Field(name: "editsRejected") { .count($0.editsRejected) },
        Field(name: "agentActiveSeconds") { .seconds(milliseconds: $0.agentActiveMilliseconds) },
        Field(name: "userActiveSeconds") { .seconds(milliseconds: $0.userActiveMilliseconds) },
        // Said in the table's notes instead.
        Field(name: "unpricedModelCalls") { .count(Int64($0.unpricedModelCalls)) },
        Field(name: "subAgentTurns") { .count(Int64($0.subAgentTurns)) },
        Field(name: "subAgentCostUsd") { .dollars($0.subAgentCostUSD) },
    ]

    /// The fields a table shows, and those JSON and CSV give.
    static let tableFields = fields.filter { $0.title != nil }
    static let dataFields = fields.filter { $0.name != nil }

    /// For sessions, the share of their cost their sub-agents ran up.
    private static let subAgentShare = Field(name: "subAgentShare", title: "Sub-agents", priority: 6) { totals in
        .share(totals.subAgentTurns > 0 && totals.costUSD > 0 ? totals.subAgentCostUSD / totals.costUSD : nil)
    }

    /// A session's first event, in the report's zone, and where it came from: what names a session beside its id.
    func sessionStart(_ id: String) -> String? {
        sessions[id].flatMap { $0.start == .max ? nil : calendar.minute($0.start) }
    }

    // MARK: - Table

    /// The report as a table for a person: a header, aligned columns with thousands separators, a `Total` row, and
    /// notes. Given a terminal `width`, it drops the least useful columns until the table fits.
    package func table(width: Int? = nil) -> String {
        var columns = Self.tableFields + (dimensions.contains(.session) ? [Self.subAgentShare] : [])
        let keyTitles = dimensions.flatMap { $0 == .session ? ["Session", "Started"] : [$0.title] }
        let keys = rows.map { row in
            zip(dimensions, row.key).flatMap { dimension, value in
                dimension == .session ? [value, sessionStart(value) ?? ""] : [value]
            }
        }
        func cells(_ totals: Totals) -> [String] {
            columns.map { column in
                switch column.value(totals) {
                case .count(let count): return count.grouped
                case .dollars(let dollars): return "$" + dollars.dollars + (totals.unpricedModelCalls > 0 ? "*" : "")
                case .share(let share): return share.map { ($0 * 100).decimal(places: 0) + "%" } ?? "-"
                case .seconds(let milliseconds): return (Double(milliseconds) / 1000).decimal(places: 0)
                case .lines(let added, let removed): return "+\(added.grouped) -\(removed.grouped)"
                }
            }
        }
        func render() -> [String] {
            let body = rows.map { cells($0.totals) }
            let totalKey = ["Total"] + Array(repeating: "", count: max(0, keyTitles.count - 1))
            let lines =
                [keyTitles + columns.map { $0.title ?? "" }] + zip(keys, body).map { $0 + $1 } + [
                    totalKey + cells(total)
                ]
            let widths = (0..<lines[0].count).map { index in lines.map { $0[index].count }.max() ?? 0 }
            let format = { (line: [String]) -> String in
                line.enumerated().map { index, cell in
                    let pad = String(repeating: " ", count: widths[index] - cell.count)
                    return index < keyTitles.count ? cell + pad : pad + cell
                }.joined(separator: "  ").trimmingTrailingSpaces
            }
            let rule = String(repeating: "─", count: widths.reduce(0, +) + 2 * (widths.count - 1))
            return [format(lines[0]), rule] + lines.dropFirst().dropLast().map(format) + [rule, format(lines.last!)]
        }
        var table = render()
        while let width, (table.map(\.count).max() ?? 0) > width, columns.count > 1,
            let least = columns.indices.min(by: { columns[$0].priority < columns[$1].priority })
        {
            columns.remove(at: least)
            table = render()
        }
        let wrap = { (text: String) in width.map { text.wrapped(to: $0) } ?? text }
        return ([wrap(header), ""] + table + notes.map(wrap)).joined(separator: "\n")
    }

    /// What the report covers: its rows, its period and its zone.
    var header: String {
        let by = dimensions.map(\.rawValue).joined(separator: " and ")
        let span = period.map { "\(calendar.minute($0.lowerBound)) to \(calendar.minute($0.upperBound))" } ?? "nothing"
        return "Codex usage by \(by), \(span) (time zone \(calendar.zoneName))"
    }

    private var notes: [String] {
        var notes: [String] = []
        if total.unpricedModelCalls > 0 {
            notes.append(
                "* The cost leaves out \(total.unpricedModelCalls.grouped) model call"
                    + "\(total.unpricedModelCalls == 1 ? "" : "s") of models without a price: "
                    + total.unpricedModels.sorted().joined(separator: ", ") + ". Give their prices with --prices FILE."
            )
        }
        if total.subAgentTurns > 0 {
            notes.append(
                "Sub-agents ran \(total.subAgentTurns.grouped) of the turns, for $\(total.subAgentCostUSD.dollars) of "
                    + "the cost; each is counted in the session that spawned it."
            )
        }
        if total.turns == 0 && total.modelCalls == 0 { notes.append("No turns found.") }
        return notes.isEmpty ? [] : [""] + notes
    }

    // MARK: - JSON and CSV

    /// The report as one JSON document: `by`, `timeZone`, `period`, `sessions`, `groups` (each with its `key` and
    /// its figures) and `total`.
    package func json() -> [UInt8] {
        var document = JSONObject()
        document["by"] = .array(dimensions.map { .string($0.rawValue) })
        document["timeZone"] = .string(calendar.zoneName)
        document["period"] =
            period.map {
                .object([
                    "from": .string(calendar.minute($0.lowerBound)), "to": .string(calendar.minute($0.upperBound)),
                ])
            } ?? .null
        document["sessions"] = .int(Int64(sessions.count))
        document["groups"] = .array(
            rows.map { row in
                var key = JSONObject()
                for (dimension, value) in zip(dimensions, row.key) { key[dimension.rawValue] = .string(value) }
                var group: JSONObject = ["key": .object(key)]
                if let session = dimensions.contains(.session) ? row.key[dimensions.firstIndex(of: .session)!] : nil {
                    group["sessionStart"] = sessionStart(session).map(JSONValue.string) ?? .null
                    group["sessionSource"] = sessions[session]?.source.map(JSONValue.string) ?? .null
                }
                return .object(Self.figures(row.totals, into: group))
            }
        )
        document["total"] = .object(Self.figures(total, into: JSONObject()))
        return JSONValue.object(document).indented() + [UInt8(ascii: "\n")]
    }

    private static func figures(_ totals: Totals, into object: JSONObject) -> JSONObject {
        var object = object
        for field in dataFields {
            let name = field.name ?? ""
            switch field.value(totals) {
            case .count(let count): object[name] = .int(count)
            case .dollars(let dollars): object[name] = .double(dollars.rounded6)
            case .share(let share): object[name] = share.map { .double($0.rounded6) } ?? .null
            case .seconds(let milliseconds): object[name] = .double(Double(milliseconds) / 1000)
            case .lines(let added, let removed):
                object[name] = .object(["added": .int(added), "removed": .int(removed)])
            }
        }
        object["unpricedModels"] = .array(totals.unpricedModels.sorted().map(JSONValue.string))
        object["cacheHitRatio"] = .double(totals.cacheHitRatio.rounded6)
        return object
    }

    /// The rows as CSV (RFC 4180): one header line, then the same rows as the JSON's `groups`; no total row, so
    /// that a spreadsheet's sums are right.
    package func csv() -> String {
        let keyNames = dimensions.flatMap { $0 == .session ? ["session", "sessionStart"] : [$0.rawValue] }
        var lines = [(keyNames + Self.dataFields.map { $0.name ?? "" } + ["unpricedModels"]).joined(separator: ",")]
        for row in rows {
            let key = zip(dimensions, row.key).flatMap { dimension, value in
                dimension == .session ? [value, sessionStart(value) ?? ""] : [value]
            }
            let figures = Self.dataFields.map { field -> String in
                switch field.value(row.totals) {
                case .count(let count): return String(count)
                case .dollars(let dollars): return dollars.decimal(places: 6)
                case .share(let share): return share.map { $0.decimal(places: 6) } ?? ""
                case .seconds(let milliseconds): return (Double(milliseconds) / 1000).decimal(places: 3)
                case .lines(let added, let removed): return "\(added) \(-removed)"
                }
            }
            let cells = key + figures + [row.totals.unpricedModels.sorted().joined(separator: ";")]
            lines.append(cells.map(Self.csvCell).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// A cell quoted when it must be, and kept from being read as a formula by a spreadsheet (a model name comes
    /// from a file, and `=…` in it would run there).
    private static func csvCell(_ text: String) -> String {
        var text = text
        if let first = text.first, "=+-@\t\r".contains(first), Double(text) == nil { text = "'" + text }
        guard text.contains(where: { ",\"\r\n".contains($0) }) else { return text }
        return "\"" + text.replacingAll("\"", with: "\"\"") + "\""
    }
}

extension Double {
    /// Dollars with two decimals and thousands separators: `1,234.57`; under a cent but more than nothing, `0.00`
    /// would read as free, so four decimals.
    var dollars: String {
        if self > 0, self < 0.01 { return decimal(places: 4) }
        let text = decimal(places: 2)
        guard let point = text.firstIndex(of: ".") else { return text }
        return (Int64(text[..<point]).map(\.grouped) ?? String(text[..<point])) + text[point...]
    }

    var rounded6: Double { (self * 1_000_000).rounded() / 1_000_000 }
}

extension BinaryInteger {
    /// With thousands separators: `1,234,567`.
    var grouped: String {
        let digits = String(self.magnitude)
        var result = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { result.append(",") }
            result.append(digit)
        }
        return (self < 0 ? "-" : "") + result
    }
}

extension String {
    /// Broken into lines of at most `width` characters, at spaces (a word longer than that stands alone).
    func wrapped(to width: Int) -> String {
        var lines: [String] = []
        var line = ""
        for word in split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        return (lines + [line]).joined(separator: "\n")
    }

    var trimmingTrailingSpaces: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }

    func replacingAll(_ target: Character, with replacement: String) -> String {
        reduce(into: "") { $0 += $1 == target ? replacement : String($1) }
    }
}
