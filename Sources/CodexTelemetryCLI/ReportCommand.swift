import CodexReplay
import CodexReport
import CodexTelemetry
import DescriptorIO
import FoundationEssentials
import OTLP

#if canImport(Glibc)
import Glibc
#endif

/// `codex-telemetry report [PATH…]`: what Codex did and cost on this machine, for a person.
struct ReportCommand {
    static let usage = """
        USAGE: codex-telemetry report [PATH…] [--by D[,D]] [--since DATE] [--until DATE] [--timezone ZONE]
                                      [--format table|json|csv|html] [--output FILE] [--prices FILE]

        Adds up what Codex did and cost: turns, model and tool calls, tokens and cost, by period, model, session,
        source or project. With no PATH, reads every session of this machine: $CODEX_HOME/sessions and
        $CODEX_HOME/archived_sessions (CODEX_HOME defaults to ~/.codex); a session found in both counts once.
        A PATH is read as `replay` reads it. Nothing is sent anywhere.

        OPTIONS:
          --by D[,D]             What rows are: day (default), week (ISO), month, model, session (a session with
                                 its sub-agents), source (cli, vscode, exec, …) or project; two at once, as
                                 day,model. project names the git repository, or else the folder, each session
                                 worked in: the one option that names where work happened.
          --since DATE           Only what starts at or after DATE: 2026-11-21 (midnight UTC) or
                                 2026-11-21T08:00:00+01:00.
          --until DATE           Only what starts before DATE.
          --timezone ZONE        The zone days, weeks and months are told in: an IANA name (Europe/Paris) or
                                 UTC. Default: this machine's.
          --format F             table (default): aligned columns and a Total row, fitted to a terminal's
                                 width. json: groups and total (Documentation/Report.md). csv: the same rows, one header
                                 line. html: one self-contained page with charts.
          --output FILE          Write the report to FILE instead of standard output.
          --prices FILE          USD prices per million tokens laid over the bundled table, as for replay.
                                 Environment: CODEX_TELEMETRY_PRICES.

        EXIT STATUS: 0 when every file was read, 1 when one could not be, 74 when the report could not be
        written, 64 for a usage error.
        """

    enum Format: String {
        case table, json, csv, html
    }

    var paths: [String]
    var dimensions: [UsageReport.Dimension]
    var window: TimeWindow
    var calendar: ReportCalendar
    var format: Format
    var output: String?
    var prices: PriceTable
    /// The Codex home read by default, when it has no session folder.
    var emptyCodexHome: String?

    init(
        parsing arguments: inout ArgumentList,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        let parsed = try arguments.parse(
            options: ["--by", "--since", "--until", "--timezone", "--format", "--output", "--prices"],
            usage: Self.usage
        )
        let dimensions = try UsageReport.Dimension.list(parsed["--by"] ?? "day", option: "--by", usage: Self.usage)
        guard let format = Format(rawValue: parsed["--format"] ?? "table") else {
            throw UsageError("--format must be table, json, csv or html", usage: Self.usage)
        }
        self.dimensions = dimensions
        self.format = format
        output = parsed["--output"]
        window = try TimeWindow(since: parsed["--since"], until: parsed["--until"], usage: Self.usage)
        calendar = try LocalTimeZone.calendar(named: parsed["--timezone"], environment: environment, usage: Self.usage)
        prices = try PriceTable.from(parsed, environment: environment, usage: Self.usage)
        if parsed.positionals.isEmpty {
            let home = LocalPaths.codexHome(environment: environment)
            paths = [home + "/sessions", home + "/archived_sessions"].filter {
                fileStatus(atPath: $0)?.kind == .directory
            }
            if paths.isEmpty { emptyCodexHome = home }
        } else {
            paths = parsed.positionals
        }
    }

    func run() async throws -> Int32 {
        let found = SessionFiles(paths)
        var unreadable = found.unreadable
        let (files, duplicates) = Self.sessions(found.files.filter { window.mayHold(fileModifiedAt: $0.modified) })
        let projects = dimensions.contains(.project) ? Self.projects(of: files) : [:]
        var report = UsageReport(by: dimensions, calendar: calendar) { projects[$0] }
        var replay = SessionReplay(prices: prices)
        ReplayPipeline.run(files, into: &replay) { output in
            switch output {
            case .event(let event):
                if window.isEverything || window.contains(event) { report.add(event) }
            case .read:
                break
            case .endOfFile(let failure):
                if let failure { unreadable.append("\(failure)") }
            }
        }
        let text: String
        switch format {
        case .table: text = report.table(width: output == nil ? terminalWidth(STDOUT_FILENO) : nil) + "\n"
        case .json: text = String(decoding: report.json(), as: UTF8.self)
        case .csv: text = report.csv()
        case .html: text = report.html()
        }
        let written: Bool
        if let output {
            written = replaceFile(atPath: output, with: Array(text.utf8), permissions: 0o644)
        } else {
            let stdout = BufferedOutput(fileDescriptor: STDOUT_FILENO)
            stdout.write { $0 += text.utf8 }
            stdout.flush()
            written = stdout.failure == nil
        }
        for problem in unreadable { printError("codex-telemetry: \(problem)") }
        if let emptyCodexHome {
            printError("no sessions or archived_sessions folder in \(emptyCodexHome): nothing to report")
        }
        printError(
            replay.counts.text(files: files.count)
                + (duplicates > 0 ? "; \(duplicates) cop\(duplicates == 1 ? "y" : "ies") of a session read once" : "")
                + ReplayCommand.entriesText(skipped: found.skippedEntries, unreadable: unreadable.count)
        )
        guard written else {
            printError("codex-telemetry: cannot write the report to \(output ?? "standard output")")
            return ExitStatus.ioError
        }
        return unreadable.isEmpty ? ExitStatus.success : ExitStatus.failure
    }

    /// One file per session: a session found twice (archived and not, copied back, moved during the walk, copied
    /// under another name) is read from its largest file, which holds the most of it. A rollout's session is told by
    /// its name, which Codex keeps when it archives it, or else by its first line; files that name none (captures,
    /// recordings) are all read.
    private static func sessions(_ files: [SessionFiles.File]) -> (files: [SessionFiles.File], duplicates: Int) {
        var chosen: [String: Int] = [:]
        var keep = Array(repeating: true, count: files.count)
        for (index, file) in files.enumerated() {
            guard let id = SessionHeader.sessionID(inFileName: file.path) ?? SessionHeader(path: file.path).sessionID
            else { continue }
            guard let earlier = chosen[id] else {
                chosen[id] = index
                continue
            }
            let larger = files[index].size > files[earlier].size ? index : earlier
            keep[larger == index ? earlier : index] = false
            chosen[id] = larger
        }
        let kept = files.indices.filter { keep[$0] }.map { files[$0] }
        return (kept, files.count - kept.count)
    }

    /// The project of each rollout's session, from its first line: for `project` rows, and nothing else.
    static func projects(of files: [SessionFiles.File]) -> [String: String] {
        var projects: [String: String] = [:]
        for file in files {
            let header = SessionHeader(path: file.path)
            if let id = header.sessionID, projects[id] == nil, let name = header.projectName { projects[id] = name }
        }
        return projects
    }
}

extension UsageReport.Dimension {
    /// One or two dimensions, as `day,model`.
    static func list(_ text: String, option: String, usage: String) throws(UsageError) -> [Self] {
        let names = text.split(separator: ",").map { String($0.trimmed()) }
        let dimensions = names.compactMap(Self.init(rawValue:))
        guard dimensions.count == names.count, (1...2).contains(dimensions.count), Set(dimensions).count == names.count
        else {
            throw UsageError(
                "\(option) takes one or two of day, week, month, model, session, source and project, as day,model",
                usage: usage
            )
        }
        return dimensions
    }
}

/// The width of the terminal `descriptor` is, to fit a table to; `nil` for a pipe or a file, where the whole table
/// is written.
func terminalWidth(_ descriptor: Int32) -> Int? {
    guard isatty(descriptor) == 1 else { return nil }
    var size = winsize()
    guard ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
    return Int(size.ws_col)
}

/// The zone a report is told in, from the C library's time zone database.
enum LocalTimeZone {
    /// `name`, an IANA zone or `UTC`; or, when `nil`, this machine's own (`TZ`, else `/etc/localtime`).
    static func calendar(named name: String?, environment: [String: String], usage: String) throws -> ReportCalendar {
        if let name {
            if ["UTC", "Z", "Etc/UTC"].contains(name) { return .utc }
            let allowed = name.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A)
                    || "_+-/".utf8.contains(byte)
            }
            guard allowed, !name.hasPrefix("/"), !name.split(separator: "/").contains(".."),
                fileStatus(atPath: "/usr/share/zoneinfo/" + name)?.kind == .regular
            else {
                throw UsageError(
                    "--timezone: no time zone named '\(name)' (use an IANA name, as Europe/Paris, or UTC)",
                    usage: usage
                )
            }
            setenv("TZ", name, 1)
            tzset()
            return ReportCalendar(zoneName: name, offset: offset)
        }
        tzset()
        var zone = environment["TZ"].flatMap { $0.isEmpty ? nil : String($0.drop { $0 == ":" }) }
        if zone == nil {
            var target = [CChar](repeating: 0, count: 512)
            let length = readlink("/etc/localtime", &target, target.count - 1)
            if length > 0 {
                let path = String(decoding: target[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                let parts = path.split(separator: "/").map(String.init)
                zone = parts.firstIndex(of: "zoneinfo").map { parts[($0 + 1)...].joined(separator: "/") }
            }
        }
        return ReportCalendar(zoneName: zone ?? "local", offset: offset)
    }

    @Sendable private static func offset(_ unixSeconds: Int64) -> Int {
        var time = time_t(unixSeconds)
        var local = tm()
        guard localtime_r(&time, &local) != nil else { return 0 }
        return local.tm_gmtoff
    }
}
