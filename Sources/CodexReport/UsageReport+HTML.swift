import OTLP

extension UsageReport {
    /// The report as one self-contained page: inline CSS and SVG, no script, nothing loaded (its content security
    /// policy forbids it), light or dark as the reader's system is. Every string from the session files (a model,
    /// a source, an id) is escaped.
    package func html() -> String {
        let title =
            "Codex usage" + (period.map { ", \(calendar.day($0.lowerBound)) to \(calendar.day($0.upperBound))" } ?? "")
        var page = """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="color-scheme" content="light dark">
            <title>\(title.escaped)</title>
            <style>\(Self.style)</style>
            </head>
            <body>
            <header><h1>Codex usage</h1><p class="muted">\(subtitle.escaped)</p></header>

            """
        page += cards
        page += section("Cost per day, by model", costPerDay)
        page += "<div class=\"pair\">"
        page += section("Tokens by type", tokensByType)
        page += section("Turns by status", turnsByStatus)
        page += "</div>"
        page += section("Tool calls by kind and outcome", toolCalls)
        page += section("What it produced", producedPerDay)
        page += section("The sessions that cost most", costliestSessionsTable)
        page += section("By " + dimensions.map(\.rawValue).joined(separator: " and "), rowsTable)
        page += "<footer class=\"muted\">"
        if total.unpricedModelCalls > 0 {
            page +=
                "<p>* The cost leaves out \(total.unpricedModelCalls.grouped) model calls of models without a price: "
            page += total.unpricedModels.sorted().joined(separator: ", ").escaped + ".</p>"
        }
        page += "<p>Made by codex-telemetry from this machine's session files: counts, tokens, costs, models and ids "
        page += "only, no prompt, code or output.</p></footer>\n</body>\n</html>\n"
        return page
    }

    /// The period, the zone and how many sessions.
    private var subtitle: String {
        let span =
            period.map { "\(calendar.minute($0.lowerBound)) to \(calendar.minute($0.upperBound))" } ?? "No session"
        return
            "\(span) · time zone \(calendar.zoneName) · \(sessions.count.grouped) session\(sessions.count == 1 ? "" : "s")"
    }

    private func section(_ title: String, _ body: String) -> String {
        "<section><h2>\(title.escaped)</h2>\n\(body)\n</section>\n"
    }

    // MARK: - Totals

    private var cards: String {
        let cost = "$" + total.costUSD.dollars + (total.unpricedModelCalls > 0 ? "*" : "")
        let items: [(String, String, String)] = [
            ("Cost", "costUsd", cost), ("Turns", "turns", total.turns.grouped),
            ("Model calls", "modelCalls", total.modelCalls.grouped),
            ("Tool calls", "toolCalls", total.toolCalls.grouped),
            ("Input tokens", "inputTokens", total.inputTokens.grouped),
            ("Output tokens", "outputTokens", total.outputTokens.grouped),
            ("Cache hit", "cacheHitRatio", (total.cacheHitRatio * 100).decimal(places: 1) + "%"),
            ("Lines added", "linesAdded", total.linesAdded.grouped),
            ("Lines removed", "linesRemoved", total.linesRemoved.grouped),
            ("Commits", "commits", total.commits.grouped),
            ("Pull requests", "pullRequests", total.pullRequests.grouped),
        ]
        let cards = items.map { title, field, value in
            "<div class=\"card\"><div class=\"muted\">\(title)</div><div class=\"big\" data-field=\"\(field)\">\(value.escaped)</div></div>"
        }
        return "<section class=\"cards\">" + cards.joined() + "</section>\n"
    }

    // MARK: - Charts

    /// Bars of cost per day, each stacked by model, with a legend.
    private var costPerDay: String {
        let days = costByDayAndModel.keys.sorted()
        let models = Array(Set(costByDayAndModel.values.flatMap(\.keys))).sorted()
        guard !days.isEmpty else { return "<p class=\"muted\">No priced model call.</p>" }
        let (width, height, left, bottom, top) = (960.0, 260.0, 64.0, 28.0, 12.0)
        let step = Self.niceStep(above: (days.map { costByDayAndModel[$0]!.values.reduce(0, +) }.max() ?? 0) / 4)
        let highest = step * 4
        let scale = highest > 0 ? (height - bottom - top) / highest : 0
        let slot = (width - left) / Double(days.count)
        var svg =
            "<svg class=\"chart\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"Cost per day\">"
        for step in 0...4 {
            let value = highest * Double(step) / 4
            let y = height - bottom - value * scale
            svg += "<line class=\"grid\" x1=\"\(left)\" x2=\"\(width)\" y1=\"\(y.svg)\" y2=\"\(y.svg)\"/>"
            svg +=
                "<text class=\"axis\" x=\"\(left - 6)\" y=\"\((y + 4).svg)\" text-anchor=\"end\">$\(value.dollars)</text>"
        }
        let labelEvery = max(1, days.count / 10)
        for (index, day) in days.enumerated() {
            var y = height - bottom
            let x = left + Double(index) * slot + slot * 0.15
            for (modelIndex, model) in models.enumerated() {
                guard let cost = costByDayAndModel[day]?[model], cost > 0 else { continue }
                let barHeight = max(cost * scale, 1)
                y -= barHeight
                svg += "<rect class=\"c\(modelIndex % 8)\" x=\"\(x.svg)\" y=\"\(y.svg)\" width=\"\((slot * 0.7).svg)\" "
                svg += "height=\"\(barHeight.svg)\"><title>\(day) \(model.escaped): $\(cost.dollars)</title></rect>"
            }
            if index % labelEvery == 0 || index == days.count - 1 {
                svg += "<text class=\"axis\" x=\"\((x + slot * 0.35).svg)\" y=\"\(height - 8)\" text-anchor=\"middle\">"
                svg += "\(day.suffix(5))</text>"
            }
        }
        svg += "</svg>"
        return svg + legend(models.enumerated().map { ($1, $0 % 8) })
    }

    /// Bars of lines added and removed per day, side by side, with the day's commits and pull requests above
    /// them; and the edits decided, by a person or by no one.
    private var producedPerDay: String {
        guard !producedByDay.isEmpty else { return "<p class=\"muted\">No patch applied, commit or pull request.</p>" }
        // The days of the cost chart too, so that the two line up: a day that produced nothing is an empty slot.
        let days = Set(producedByDay.keys).union(costByDayAndModel.keys).sorted()
        let (width, height, left, bottom, top) = (960.0, 260.0, 64.0, 28.0, 28.0)
        let most = producedByDay.values.map { max($0.linesAdded, $0.linesRemoved) }.max() ?? 0
        let step = max(1, Self.niceStep(above: Double(most) / 4).rounded(.up))
        let highest = step * 4
        let scale = (height - bottom - top) / highest
        let slot = (width - left) / Double(days.count)
        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" "
        svg += "aria-label=\"Lines added and removed per day, with commits and pull requests\">"
        for step in 0...4 {
            let value = highest * Double(step) / 4
            let y = height - bottom - value * scale
            svg += "<line class=\"grid\" x1=\"\(left)\" x2=\"\(width)\" y1=\"\(y.svg)\" y2=\"\(y.svg)\"/>"
            svg += "<text class=\"axis\" x=\"\(left - 6)\" y=\"\((y + 4).svg)\" text-anchor=\"end\">"
            svg += "\(Int64(value).grouped)</text>"
        }
        let labelEvery = max(1, days.count / 10)
        for (index, day) in days.enumerated() {
            let produced = producedByDay[day] ?? Totals()
            let x = left + Double(index) * slot + slot * 0.15
            let barWidth = slot * 0.35
            for (offset, name, lines, colour) in [
                (0.0, "added", produced.linesAdded, 3), (barWidth, "removed", produced.linesRemoved, 5),
            ] where lines > 0 {
                let barHeight = max(Double(lines) * scale, 1)
                svg +=
                    "<rect class=\"c\(colour)\" x=\"\((x + offset).svg)\" y=\"\((height - bottom - barHeight).svg)\" "
                svg += "width=\"\(barWidth.svg)\" height=\"\(barHeight.svg)\"><title>\(day) lines \(name): "
                svg += "\(lines.grouped)</title></rect>"
            }
            let made = [
                produced.commits > 0 ? "\(produced.commits.grouped) commit\(produced.commits == 1 ? "" : "s")" : nil,
                produced.pullRequests > 0
                    ? "\(produced.pullRequests.grouped) PR\(produced.pullRequests == 1 ? "" : "s")" : nil,
            ].compactMap { $0 }
            if !made.isEmpty {
                svg += "<text class=\"axis\" x=\"\((x + barWidth).svg)\" y=\"\(top - 10)\" text-anchor=\"middle\">"
                svg += "\(made.joined(separator: ", "))</text>"
            }
            if index % labelEvery == 0 || index == days.count - 1 {
                svg += "<text class=\"axis\" x=\"\((x + barWidth).svg)\" y=\"\(height - 8)\" text-anchor=\"middle\">"
                svg += "\(day.suffix(5))</text>"
            }
        }
        svg += "</svg>"
        let decided =
            "<p>Edits: <b data-field=\"editsAccepted\">\(total.editsAccepted.grouped)</b> accepted and "
            + "<b data-field=\"editsRejected\">\(total.editsRejected.grouped)</b> declined by a person; active time: "
            + "the agent's <b>\(total.agentActiveMilliseconds.duration)</b>, the user's "
            + "<b>\(total.userActiveMilliseconds.duration)</b>.</p>"
        return svg + legend([("lines added", 3), ("lines removed", 5)]) + decided
    }

    /// The least of 1, 2 or 5 times a power of ten that is at least `value`: steps an axis reads well in.
    private static func niceStep(above value: Double) -> Double {
        guard value > 0, value.isFinite else { return 0.01 }
        var power = 1e-4
        while power * 10 <= value { power *= 10 }
        return [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= value } ?? value
    }

    private func legend(_ entries: [(name: String, colour: Int)]) -> String {
        "<p class=\"legend\">"
            + entries.map { "<span><i class=\"c\($0.colour)\"></i>\($0.name.escaped)</span>" }.joined() + "</p>"
    }

    private var tokensByType: String {
        let bars: [(String, [(String, Double)])] = [
            ("Input, not cached", [("input", Double(max(0, total.inputTokens - total.cachedInputTokens)))]),
            ("Input, from the cache", [("cached", Double(total.cachedInputTokens))]),
            ("Written to the cache", [("cache write", Double(total.cacheWriteInputTokens))]),
            ("Output, not reasoning", [("output", Double(max(0, total.outputTokens - total.reasoningOutputTokens)))]),
            ("Reasoning", [("reasoning", Double(total.reasoningOutputTokens))]),
        ]
        let ratio = (total.cacheHitRatio * 100).decimal(places: 1)
        return horizontalBars(
            bars,
            colours: ["input": 0, "cached": 1, "cache write": 2, "output": 3, "reasoning": 4],
            label: "Tokens by type",
            width: 480
        )
            + "<p>Cache hit ratio: <b data-field=\"cacheHitRatio\">\(ratio)%</b> of input tokens read from the cache.</p>"
    }

    private var turnsByStatus: String {
        let statuses = total.turnsByStatus.keys.sorted {
            (Self.statusOrder[$0] ?? 9, $0) < (Self.statusOrder[$1] ?? 9, $1)
        }
        let colours = Dictionary(uniqueKeysWithValues: statuses.map { ($0, Self.statusColour($0)) })
        return horizontalBars(
            statuses.map { ($0, [($0, Double(total.turnsByStatus[$0]!))]) },
            colours: colours,
            label: "Turns by status",
            width: 480
        )
    }

    private var toolCalls: String {
        let kinds = toolCallsByKindAndStatus.keys.sorted {
            (toolCallsByKindAndStatus[$0]!.values.reduce(0, +), $1) > (
                toolCallsByKindAndStatus[$1]!.values.reduce(0, +), $0
            )
        }
        let statuses = Array(Set(toolCallsByKindAndStatus.values.flatMap(\.keys))).sorted {
            (Self.statusOrder[$0] ?? 9, $0) < (Self.statusOrder[$1] ?? 9, $1)
        }
        let colours = Dictionary(uniqueKeysWithValues: statuses.map { ($0, Self.statusColour($0)) })
        let bars = kinds.map { kind in
            (
                kind,
                statuses.compactMap { status in
                    toolCallsByKindAndStatus[kind]![status].map { (status, Double($0)) }
                }
            )
        }
        guard !bars.isEmpty else { return "<p class=\"muted\">No tool call.</p>" }
        return horizontalBars(bars, colours: colours, label: "Tool calls by kind and outcome")
            + legend(statuses.map { ($0, colours[$0] ?? 7) })
    }

    private static let statusOrder = ["completed": 0, "failed": 1, "interrupted": 2, "declined": 3, "inProgress": 4]

    private static func statusColour(_ status: String) -> Int {
        switch status {
        case "completed": 3
        case "failed": 5
        case "interrupted", "declined": 2
        default: 6
        }
    }

    /// One bar per row, made of its segments, its total written after it; bars share one scale.
    private func horizontalBars(
        _ rows: [(label: String, segments: [(name: String, value: Double)])],
        colours: [String: Int],
        label: String,
        width: Double = 960
    ) -> String {
        let (rowHeight, labelWidth, valueWidth) = (30.0, width < 600 ? 160.0 : 200.0, 90.0)
        let highest = rows.map { $0.segments.map(\.value).reduce(0, +) }.max() ?? 0
        let scale = highest > 0 ? (width - labelWidth - valueWidth) / highest : 0
        let height = rowHeight * Double(rows.count) + 4
        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" "
        svg += "aria-label=\"\(label.escaped)\">"
        for (index, row) in rows.enumerated() {
            let y = Double(index) * rowHeight + 4
            svg += "<text class=\"label\" x=\"0\" y=\"\((y + 16).svg)\">\(row.label.escaped)</text>"
            var x = labelWidth
            for segment in row.segments where segment.value > 0 {
                let length = max(segment.value * scale, 1)
                svg +=
                    "<rect class=\"c\(colours[segment.name] ?? 7)\" x=\"\(x.svg)\" y=\"\(y.svg)\" width=\"\(length.svg)\" "
                svg +=
                    "height=\"\(rowHeight - 10)\"><title>\(segment.name.escaped): \(Int64(segment.value).grouped)</title></rect>"
                x += length
            }
            let sum = Int64(row.segments.map(\.value).reduce(0, +))
            svg += "<text class=\"value\" x=\"\((x + 8).svg)\" y=\"\((y + 16).svg)\">\(sum.grouped)</text>"
        }
        return svg + "</svg>"
    }

    // MARK: - Tables

    private var costliestSessionsTable: String {
        let top = costliestSessions(10)
        guard !top.isEmpty else { return "<p class=\"muted\">No session.</p>" }
        var table = "<table><thead><tr><th>Session</th><th>Started</th><th>Source</th><th class=\"n\">Turns</th>"
        table += "<th class=\"n\">Model calls</th><th class=\"n\">Tokens</th><th class=\"n\">Cost</th>"
        table += "<th>Sub-agents' share</th></tr></thead><tbody>"
        for (id, session) in top {
            let totals = session.totals
            let share = totals.costUSD > 0 ? totals.subAgentCostUSD / totals.costUSD : 0
            table += "<tr><td class=\"id\">\(id.escaped)</td><td>\((sessionStart(id) ?? "").escaped)</td>"
            table += "<td>\((session.source ?? "").escaped)</td><td class=\"n\">\(totals.turns.grouped)</td>"
            table += "<td class=\"n\">\(totals.modelCalls.grouped)</td>"
            table +=
                "<td class=\"n\">\(totals.inputTokens.addingReportingOverflow(totals.outputTokens).partialValue.grouped)</td>"
            table += "<td class=\"n\">$\(totals.costUSD.dollars)</td><td>"
            if totals.subAgentTurns > 0 {
                table +=
                    "<svg class=\"share\" viewBox=\"0 0 100 10\"><rect class=\"track\" width=\"100\" height=\"10\"/>"
                table += "<rect class=\"c1\" width=\"\((share * 100).svg)\" height=\"10\"/></svg> "
                let turns = totals.subAgentTurns == 1 ? "1 turn" : "\(totals.subAgentTurns.grouped) turns"
                table += "\((share * 100).decimal(places: 0))% (\(turns))"
            } else {
                table += "<span class=\"muted\">none</span>"
            }
            table += "</td></tr>"
        }
        return table + "</tbody></table>"
    }

    /// The rows, as the table format has them, with their total.
    private var rowsTable: String {
        let keyTitles = dimensions.flatMap { $0 == .session ? ["Session", "Started"] : [$0.title] }
        let fields = Self.tableFields
        var table = "<table class=\"rows\"><thead><tr>" + keyTitles.map { "<th>\($0)</th>" }.joined()
        table += fields.map { "<th class=\"n\">\($0.title ?? "")</th>" }.joined() + "</tr></thead><tbody>"
        func cells(_ totals: Totals, field: Bool) -> String {
            fields.map { column in
                let attribute = field && column.name != nil ? " data-field=\"\(column.name ?? "")\"" : ""
                switch column.value(totals) {
                case .count(let count): return "<td class=\"n\"\(attribute)>\(count.grouped)</td>"
                case .dollars(let dollars): return "<td class=\"n\"\(attribute)>$\(dollars.dollars)</td>"
                case .share(let share):
                    return "<td class=\"n\"\(attribute)>\(share.map { ($0 * 100).decimal(places: 0) + "%" } ?? "")</td>"
                case .seconds(let milliseconds):
                    return "<td class=\"n\"\(attribute)>\((Double(milliseconds) / 1000).decimal(places: 0))</td>"
                case .lines(let added, let removed):
                    return "<td class=\"n\"\(attribute)>+\(added.grouped) -\(removed.grouped)</td>"
                }
            }.joined()
        }
        for row in rows {
            let keys = zip(dimensions, row.key).flatMap { dimension, value in
                dimension == .session ? [value, sessionStart(value) ?? ""] : [value]
            }
            table += "<tr>" + keys.map { "<td>\($0.escaped)</td>" }.joined() + cells(row.totals, field: false) + "</tr>"
        }
        table += "</tbody><tfoot><tr><th colspan=\"\(keyTitles.count)\">Total</th>" + cells(total, field: true)
        return table + "</tr></tfoot></table>"
    }

    private static let style = """
        :root { --ink: #1d2330; --muted: #5d6677; --paper: #ffffff; --panel: #f4f6f9; --line: #d9dee7;
          --c0: #3566d6; --c1: #19a39a; --c2: #e0a526; --c3: #2f9e5b; --c4: #8a5cd0; --c5: #d6453d; --c6: #7a8699;
          --c7: #c05fa0; }
        @media (prefers-color-scheme: dark) { :root { --ink: #e6e9ef; --muted: #9aa3b2; --paper: #141821;
          --panel: #1d2330; --line: #2e3646; --c0: #6b95ff; --c1: #3cc7bd; --c2: #f0bd4f; --c3: #4fc47f;
          --c4: #ad87f0; --c5: #ff6b62; --c6: #9aa3b2; --c7: #e38ac3; } }
        body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
          background: var(--paper); margin: 0 auto; max-width: 1200px; padding: 24px; }
        h1 { margin: 0 0 4px; font-size: 26px; } h2 { font-size: 17px; margin: 0 0 12px; }
        section { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 16px;
          margin: 16px 0; overflow-x: auto; }
        .muted { color: var(--muted); } .pair { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
        .pair section { margin: 0; }
        .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: 12px;
          background: none; border: 0; padding: 0; }
        .card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 12px; }
        .big { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
        svg.chart { width: 100%; height: auto; display: block; }
        svg text { fill: var(--ink); font-size: 13px; } svg .axis { fill: var(--muted); font-size: 12px; }
        svg .grid { stroke: var(--line); } svg .track { fill: var(--line); }
        .c0 { fill: var(--c0); background: var(--c0); } .c1 { fill: var(--c1); background: var(--c1); }
        .c2 { fill: var(--c2); background: var(--c2); } .c3 { fill: var(--c3); background: var(--c3); }
        .c4 { fill: var(--c4); background: var(--c4); } .c5 { fill: var(--c5); background: var(--c5); }
        .c6 { fill: var(--c6); background: var(--c6); } .c7 { fill: var(--c7); background: var(--c7); }
        .legend span { margin-right: 16px; white-space: nowrap; }
        .legend i { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px; }
        table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
        table { font-size: 13px; }
        th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; }
        .n { text-align: right; } tfoot th, tfoot td { font-weight: 600; border-bottom: 0; }
        td.id { font-family: ui-monospace, monospace; font-size: 13px; }
        svg.share { width: 80px; height: 10px; vertical-align: middle; }
        @media (max-width: 700px) { .pair { grid-template-columns: 1fr; } }
        """
}

extension String {
    /// Safe in HTML text and attribute values.
    var escaped: String {
        var result = ""
        for character in self {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }
}

extension Double {
    /// A coordinate with one decimal.
    fileprivate var svg: String { decimal(places: 1) }
}

extension Int64 {
    /// Milliseconds as a person reads a duration: `2 h 05 min`, `12 min`, `40 s`.
    fileprivate var duration: String {
        let seconds = self / 1000
        if seconds >= 3600 {
            let minutes = seconds % 3600 / 60
            return "\(seconds / 3600) h \(minutes < 10 ? "0" : "")\(minutes) min"
        }
        if seconds >= 60 { return "\(seconds / 60) min" }
        return "\(seconds) s"
    }
}
