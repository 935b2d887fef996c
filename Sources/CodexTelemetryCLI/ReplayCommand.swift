import CodexHarness
import CodexReplay
import CodexReport
import CodexTelemetry
import DescriptorIO
import FoundationEssentials
import JSONRPC
import SaturatingArithmetic

#if canImport(Glibc)
import Glibc
#endif

/// `codex-telemetry replay PATH…`: recorded sessions in, telemetry events out.
struct ReplayCommand {
    static let usage = """
        USAGE: codex-telemetry replay PATH… [--format summary|json] [--since DATE] [--until DATE]
                                            [--group-by D[,D]] [--prices FILE] [--state FILE] [export options]

        Reads recorded sessions and turns each into dimension-only telemetry events: turns, model calls, tool calls,
        compactions, hook runs and quota readings. A PATH is a raw capture of `codex app-server` stdout (one JSON-RPC message per line), a
        recording made with --record, or a Codex rollout file (~/.codex/sessions/**/rollout-*.jsonl); a directory
        is walked for every *.jsonl in it, in name order. With an OTLP endpoint, the events are also exported as
        log records, spans and metrics.

        OPTIONS:
          --format summary|json  summary (default): a table of turns, calls, tokens and cost per group,
                                 with a Total row. json: each event as one JSON object per line.
          --since DATE           Only events that start at or after DATE: 2026-11-21 (midnight UTC) or
                                 2026-11-21T08:00:00Z. Files last modified before it are not read.
          --until DATE           Only events that start before DATE.
          --group-by D[,D]       The summary's rows, as `report --by` takes them: model (default), day, week
                                 or month (UTC), session, source or project; two at once, as day,model.
          --prices FILE          A JSON file of USD prices per million tokens laid over the bundled table:
                                 {"model": {"input": 1.25, "cachedInput": 0.125, "output": 10}}.
                                 Environment: CODEX_TELEMETRY_PRICES.
          --state FILE           Read only what the files gained since the last replay with this cursor (the
                                 one `watch` and `hook` keep: $XDG_STATE_HOME/codex-telemetry/cursor.json), and
                                 record how far they were read, committed with the export: a daily backfill
                                 sends only what is new, once. A turn still running at the end of a file is left
                                 for the next run unless the file is ten minutes quiet and held open by no process.

        \(ExportOptions.help)

        Lines that cannot be read are skipped and counted on stderr; the rest of the file still counts. In a
        directory, entries that are not regular files (links, pipes, devices) are passed over and counted.

        EXIT STATUS:
          0    every file was read
          1    a file or directory could not be read (the others were)
          74   standard output could not be written, or telemetry was lost (see stderr)
          64   usage error
        """

    enum Format: String {
        case summary, json
    }

    var paths: [String]
    var format: Format
    var window: TimeWindow
    var grouping: [UsageReport.Dimension]
    var prices: PriceTable
    var export: ExportOptions
    var statePath: String?

    init(
        parsing arguments: inout ArgumentList,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        let parsed = try arguments.parse(
            options: ExportOptions.names.union(["--format", "--prices", "--since", "--until", "--group-by", "--state"]),
            flags: ExportOptions.flags,
            usage: Self.usage
        )
        guard !parsed.positionals.isEmpty else { throw UsageError("replay needs at least one PATH", usage: Self.usage) }
        guard let format = Format(rawValue: parsed["--format"] ?? "summary") else {
            throw UsageError("--format must be summary or json", usage: Self.usage)
        }
        let grouping = try UsageReport.Dimension.list(
            parsed["--group-by"] ?? "model",
            option: "--group-by",
            usage: Self.usage
        )
        paths = parsed.positionals
        statePath = parsed["--state"]
        self.format = format
        self.grouping = grouping
        window = try TimeWindow(since: parsed["--since"], until: parsed["--until"], usage: Self.usage)
        prices = try PriceTable.from(parsed, environment: environment, usage: Self.usage)
        export = try ExportOptions(parsed, environment: environment, usage: Self.usage)
    }

    func run() async throws -> Int32 {
        // A cursor knows files by absolute path, and opens those under a folder named from that folder down.
        let found = SessionFiles(statePath == nil ? paths : paths.map(absolutePath))
        var unreadable = found.unreadable
        let output = BufferedOutput(fileDescriptor: STDOUT_FILENO)
        var replay = SessionReplay(prices: prices)
        let files = found.files.filter { window.mayHold(fileModifiedAt: $0.modified) }
        let projects = grouping.contains(.project) ? ReportCommand.projects(of: files) : [:]
        var summary = UsageReport(by: grouping, calendar: .utc) { projects[$0] }
        var progress = ReplayProgress(files: files.count, bytes: files.map(\.size).saturatedSum())
        // With a cursor, records leave only as it is committed: a batch sent before its commit would be sent again
        // by a run that follows one killed in between.
        let lost = try await export.withExport(atCheckpoints: statePath != nil) { export in
            func emit(_ event: TelemetryEvent) {
                progress.count(event)
                guard window.isEverything || window.contains(event) else { return }
                export?.record(event)
                switch format {
                case .json: output.write { event.writeJSON(to: &$0) }
                case .summary: summary.add(event)
                }
            }
            if let statePath {
                unreadable += readFromCursor(statePath, files, of: found, export: export, output: output, emit: emit)
            } else {
                ReplayPipeline.run(files, into: &replay) { output in
                    switch output {
                    case .event(let event):
                        emit(event)
                    case .read(let bytes):
                        progress.read(bytes)
                    case .endOfFile(let failure):
                        progress.finishedFile()
                        if let failure { unreadable.append("\(failure)") }
                    }
                }
            }
            progress.clear()
            if format == .summary { output.write(line: summary.table(width: terminalWidth(STDOUT_FILENO))) }
            output.flush()
            for problem in unreadable { printError("codex-telemetry: \(problem)") }
            // Read through the cursor, the files were counted by its reader.
            guard statePath == nil else { return }
            let older = found.files.count - files.count
            printError(
                replay.counts.text(files: files.count) + replay.discards.text
                    + Self.entriesText(skipped: found.skippedEntries, unreadable: unreadable.count)
                    + (older > 0 ? "; \(older) file\(older == 1 ? "" : "s") last modified before --since not read" : "")
            )
        }
        if let failure = output.failure {
            printError("codex-telemetry: cannot write to standard output: \(failure)")
            return ExitStatus.ioError
        }
        if lost { return ExitStatus.ioError }
        return unreadable.isEmpty ? ExitStatus.success : ExitStatus.failure
    }

    /// Reads `files` (of those `found`) from the cursor at `path`, committing it with the export; returns what could
    /// not be read.
    private func readFromCursor(
        _ path: String,
        _ files: [SessionFiles.File],
        of found: SessionFiles,
        export: TelemetryExport?,
        output: BufferedOutput,
        emit: (TelemetryEvent) -> Void
    ) -> [String] {
        // The folders named, held open as they are walked: their files are opened from them down.
        let roots = paths.filter { fileStatus(atPath: $0)?.kind == .directory }.compactMap {
            SessionRoot($0).map { CursorReader.Root(path: $0.path, folder: $0) }
        }
        // Stopped, it commits what it read: the next run goes on from there.
        let stop = StopSignal()
        do {
            let spool = export == nil ? nil : self.export.spoolDirectory
            let cursor = try CursorReader.openCursor(path, spoolDirectory: spool)
            // Called only during the reads below.
            try withoutActuallyEscaping(emit) { emit throws in
                let reader = CursorReader(
                    cursor: cursor,
                    roots: roots,
                    prices: prices,
                    export: export,
                    spoolDirectory: spool,
                    isStopping: { stop.stopped },
                    beforeCommit: output.flush,
                    emit: emit
                )
                try reader.transaction {
                    for file in files where !stop.stopped { try reader.read(file.path) }
                    // What is no longer under the folders read whole is forgotten, as watch forgets it.
                    if !stop.stopped { reader.take(found) }
                }
                if !stop.stopped { try reader.closeSessionsThatAreOver(quietFor: WatchCommand.defaultIdle) }
                printError(
                    "read what \(files.count) file\(files.count == 1 ? "" : "s") gained since the cursor: "
                        + reader.counts.text([]) + (stop.stopped ? "; stopped, the rest left to the next run" : "")
                )
            }
            return []
        } catch {
            return ["\(error)"]
        }
    }

    static func entriesText(skipped: Int, unreadable: Int) -> String {
        var text = ""
        if skipped > 0 { text += "; \(skipped) entr\(skipped == 1 ? "y" : "ies") passed over (not regular files)" }
        if unreadable > 0 { text += "; \(unreadable) could not be read" }
        return text
    }
}

extension SessionTelemetry.Discards {
    /// What the session sent that was not believed or not kept, as a clause to append; "" when nothing was.
    var text: String {
        var parts: [String] = []
        if outOfRange > 0 { parts.append("\(outOfRange) value\(outOfRange == 1 ? "" : "s") out of range ignored") }
        if turnsClosedEarly > 0 {
            parts.append("\(turnsClosedEarly) turn\(turnsClosedEarly == 1 ? "" : "s") closed early (too many at once)")
        }
        return parts.map { "; " + $0 }.joined()
    }
}

extension SessionReplay.Counts {
    func text(files: Int) -> String {
        var text =
            "read \(lines) lines from \(files) file\(files == 1 ? "" : "s"): \(followed) followed, "
            + "\(passedOver) passed over, \(skipped) skipped"
        if skipped > 0 {
            let reasons = [(malformed, "malformed"), (oversized, "over the line limit"), (truncated, "truncated")]
            text += " (" + reasons.filter { $0.0 > 0 }.map { "\($0.0) \($0.1)" }.joined(separator: ", ") + ")"
        }
        if unknownKinds > 0 {
            text += "; \(unknownKinds) lines of kinds codex-telemetry does not know, passed over (see CONTRIBUTING.md)"
        }
        if datedByFile > 0 { text += "; " + Self.datedByFileText(datedByFile) }
        return text
    }

    /// What replay and the cursor's readers say of messages dated by their file.
    static func datedByFileText(_ count: Int) -> String {
        "\(count) message\(count == 1 ? "" : "s") carried no time: dated at the file's modification time"
    }
}
