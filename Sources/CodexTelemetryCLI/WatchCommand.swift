import CodexHarness
import CodexReplay
import CodexTelemetry
import DescriptorIO
import Dispatch
import FoundationEssentials
import OTLPExport
import SaturatingArithmetic
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `codex-telemetry watch [DIR…]`: every Codex session on the machine, exported as its rollout file grows.
struct WatchCommand {
    static let usage = """
        USAGE: codex-telemetry watch [DIR…] [--idle SECONDS] [--poll SECONDS] [--state FILE] [--format none|json]
                                     [--prices FILE] [export options]

        Follows the rollout files Codex writes under each DIR (default: $CODEX_HOME/sessions and
        $CODEX_HOME/archived_sessions, CODEX_HOME being ~/.codex unless set) and exports each turn, model call and
        tool call as its lines are written: files that grow, new files and new date folders, through inotify (or
        by looking every --poll seconds where it cannot be used). How far each file was read and exported is kept
        in a cursor, committed with the export: stopped, killed or restarted at any moment, watch exports every
        event once. A file is known by what it is, not by its name: renamed, moved to another folder, archived or
        unarchived, it is read on from where it was; copied, its session is known by its id. Files present at the
        first start are read whole: the first start is also a backfill. As the cursor moves on with what is read,
        watch needs somewhere to export to: an OTLP endpoint, or --format json.

        A turn still running when its file goes quiet is left running until its session is over: the file has
        not been written for --idle seconds and no process holds it open (Codex holds a live session's rollout
        open). It is then exported as incomplete.

        OPTIONS:
          --idle S          How long a file with a running turn must be quiet before its session can be judged
                            over. Default: 600.
          --poll S          Look for changes every S seconds instead of waiting on inotify. Default: inotify,
                            falling back to every 2 seconds where it cannot be used.
          --state FILE      The cursor. Environment: CODEX_TELEMETRY_STATE.
                            Default: $XDG_STATE_HOME/codex-telemetry/cursor.json (~/.local/state/…).
          --format F        none (default), or json: each event on stdout, one JSON object per line.
          --prices FILE     USD prices per million tokens laid over the bundled table (see replay --help).

        \(ExportOptions.help)

        EXIT STATUS:
          0    stopped by SIGTERM or Ctrl-C, everything committed
          1    the cursor could not be read or written
          74   telemetry was lost (see stderr)
          64   usage error
        """

    enum Format: String {
        case none, json
    }

    /// How long a file with a running turn must be quiet before its session can be judged over, unless told.
    static let defaultIdle = Duration.seconds(600)

    var directories: [String]
    var idle: Duration
    var pollInterval: Duration?
    var cursorPath: String
    var format: Format
    var prices: PriceTable
    var export: ExportOptions

    init(
        parsing arguments: inout ArgumentList,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        let parsed = try arguments.parse(
            options: ExportOptions.names.union(["--idle", "--poll", "--state", "--format", "--prices"]),
            flags: ExportOptions.flags,
            usage: Self.usage
        )
        guard let format = Format(rawValue: parsed["--format"] ?? "none") else {
            throw UsageError("--format must be none or json", usage: Self.usage)
        }
        self.format = format
        let home = LocalPaths.codexHome(environment: environment)
        directories =
            parsed.positionals.isEmpty ? [home + "/sessions", home + "/archived_sessions"] : parsed.positionals
        idle = try parsed["--idle"].map { try Self.seconds($0, flag: "--idle") } ?? Self.defaultIdle
        pollInterval = try parsed["--poll"].map { try Self.seconds($0, flag: "--poll") }
        cursorPath = CursorFile.path(parsed["--state"], environment: environment)
        prices = try PriceTable.from(parsed, environment: environment, usage: Self.usage)
        export = try ExportOptions(parsed, environment: environment, usage: Self.usage, scrapeable: true)
        // The cursor moves on as lines are read: read for nothing, they would never be exported.
        guard export.exportsAnything || format == .json else {
            throw UsageError(
                "watch exports nowhere: set OTEL_EXPORTER_OTLP_ENDPOINT or pass --otlp-endpoint, or "
                    + "OTEL_METRICS_EXPORTER=prometheus (or --format json)",
                usage: Self.usage
            )
        }
    }

    private static func seconds(_ text: String, flag: String) throws -> Duration {
        guard
            let value = Double(text).flatMap({ Duration(seconds: $0, in: .milliseconds(10)...ExecCommand.longestWait) })
        else { throw UsageError("\(flag) must be a number of seconds, from 0.01 to a year", usage: usage) }
        return value
    }

    func run() async throws -> Int32 {
        let stop = StopSignal()
        let spool = export.configuration.hasEndpoint ? export.spoolDirectory : nil
        let cursor: CursorFile
        do {
            cursor = try CursorReader.openCursor(cursorPath, spoolDirectory: spool)
        } catch {
            printError("codex-telemetry: \(error)")
            return ExitStatus.failure
        }
        var failure: String?
        let lost = try await export.withExport(atCheckpoints: true) { export in
            failure = await onThreadOfItsOwn {
                let output = BufferedOutput(fileDescriptor: STDOUT_FILENO)
                var roots = FollowedFolders(directories)
                let reader = CursorReader(
                    cursor: cursor,
                    roots: roots.roots,
                    prices: prices,
                    export: export,
                    spoolDirectory: spool,
                    isStopping: { stop.stopped },
                    beforeCommit: output.flush
                ) { event in
                    export?.record(event)
                    if format == .json { output.write { event.writeJSON(to: &$0) } }
                }
                let failure = watch(reader, roots: &roots, output: output, stop: stop)
                printError(
                    "codex-telemetry: watched \(reader.knownFiles) files; " + reader.counts.text(roots.unreadable)
                )
                return failure
            }
        }
        if let failure {
            printError("codex-telemetry: \(failure)")
            return ExitStatus.failure
        }
        return lost ? ExitStatus.ioError : ExitStatus.success
    }

    /// The loop: read what changed, commit, wait. Returns why it stopped, if not because it was asked to.
    private func watch(
        _ reader: CursorReader,
        roots: inout FollowedFolders,
        output: BufferedOutput,
        stop: StopSignal
    ) -> String? {
        let changes = pollInterval == nil ? DirectoryWatch() : nil
        let interval = pollInterval ?? .seconds(2)
        // Sessions are judged over at a fraction of the idle time, so none waits much past it.
        let idleCheck = min(max(idle / 4, .milliseconds(100)), .seconds(30))
        var pending: Set<String> = []
        var scan: SessionFiles?
        var rescan = true
        var lastIdleCheck = ContinuousClock.now
        var lastLook = ContinuousClock.now
        while !stop.stopped {
            do {
                if rescan {
                    // Folders that appeared, came back or were replaced are watched anew, and all are looked at.
                    for folder in roots.refresh() { changes?.add(folder) }
                    reader.roots = roots.roots
                    let found = SessionFiles(roots.present)
                    roots.report(found.unreadable)
                    pending.formUnion(found.files.filter { !reader.hasRead($0) }.map(\.path))
                    scan = found
                    rescan = false
                }
                if !pending.isEmpty || scan != nil {
                    try reader.transaction {
                        for path in pending.sorted() where !stop.stopped { try reader.read(path) }
                        if let scan, !stop.stopped { reader.take(scan) }
                    }
                    pending = []
                    scan = nil
                    output.flush()
                }
                if ContinuousClock.now - lastIdleCheck >= idleCheck {
                    try reader.closeSessionsThatAreOver(quietFor: idle)
                    output.flush()
                    lastIdleCheck = .now
                }
            } catch {
                // A cursor that cannot be written now (a full disk) is tried again; the lines are read again.
                printError("codex-telemetry: \(error)")
                rescan = true
            }
            let polling = changes == nil || changes?.complete == false
            // The followed folders are looked at every interval, inotify or not: a folder held open that is deleted
            // raises no event of its own until it is let go, and its parent is not watched.
            if stop.wait(descriptor: changes?.pollDescriptor, upTo: min(interval, idleCheck)) { break }
            for change in changes?.changes() ?? [] {
                switch change {
                case .file(let path): pending.insert(path)
                case .rescan: rescan = true
                }
            }
            if ContinuousClock.now - lastLook >= interval {
                // A folder gone, back or replaced is looked at anew, and a tree inotify does not cover is looked at whole.
                if polling || roots.changed() { rescan = true }
                lastLook = .now
            }
        }
        // What was read before the stop is committed.
        do {
            try reader.transaction {}
        } catch {
            return "\(error)"
        }
        return nil
    }
}

/// The folders `watch` follows, as they stand: each may be missing, appear later, go, come back or be replaced by
/// another folder, and each is followed again when it does. Each is held open while it is there (`SessionRoot`); a
/// folder that was not a link when first seen and is one now is not followed through it.
struct FollowedFolders {
    private struct Folder {
        var named: String
        /// The folder as it was last opened: `nil` while it is missing.
        var root: SessionRoot?
        /// Whether it was a link when first seen, which the user's own setup may be.
        var namedLink: Bool?
    }

    private var folders: [Folder]
    /// Folders under them found unreadable, and folders swapped for links, each reported once.
    private(set) var unreadable: Set<String> = []

    init(_ named: [String]) {
        folders = named.map { Folder(named: $0) }
    }

    /// Each folder, by the path its files' paths begin with (made absolute while it is missing), open if it is there:
    /// what the cursor reader opens files from.
    var roots: [CursorReader.Root] {
        folders.map { CursorReader.Root(path: $0.root?.path ?? absolutePath($0.named), folder: $0.root) }
    }

    /// The folders that are there.
    var present: [String] { folders.compactMap { $0.root?.path } }

    /// Looks at each folder again, opening those that appeared or are another folder than before; returns them.
    mutating func refresh() -> [String] {
        var renewed: [String] = []
        for index in folders.indices {
            let named = folders[index].named
            var link = stat()
            let exists = lstat(named, &link) == 0
            let isLink = exists && link.st_mode & S_IFMT == S_IFLNK
            if folders[index].namedLink == nil, exists { folders[index].namedLink = isLink }
            let status = fileStatus(atPath: named)
            guard status?.kind == .directory, let identity = status?.identity else {
                folders[index].root = nil
                continue
            }
            guard identity != folders[index].root?.identity else { continue }
            if isLink, folders[index].namedLink == false {
                report(["\(named) was replaced by a symbolic link, which is not followed"])
                folders[index].root = nil
                continue
            }
            folders[index].root = SessionRoot(named, followingLink: folders[index].namedLink == true)
            if let root = folders[index].root { renewed.append(root.path) }
        }
        return renewed
    }

    /// Whether a folder appeared, went or was replaced since the last look.
    func changed() -> Bool {
        folders.contains { folder in
            let status = fileStatus(atPath: folder.named)
            return (status?.kind == .directory ? status?.identity : nil) != folder.root?.identity
        }
    }

    /// Says on stderr, once each, which folders could not be read: their sessions are not followed until they can.
    mutating func report(_ problems: [String]) {
        for problem in problems where unreadable.insert(problem).inserted {
            printError("codex-telemetry: \(problem); its sessions are not read until it can be")
        }
    }
}

extension CursorReader.Counts {
    /// What a summary line says of the files read, after their number.
    func text(_ unreadableFolders: Set<String>) -> String {
        var parts = [
            "\(moved) moved and \(recognised) recognised (read on from where they were)",
            "\(replaced) replaced, \(truncated) truncated and \(rewritten) rewritten (read as new from their start)",
            "\(unreadable) unreadable",
        ]
        if !unreadableFolders.isEmpty { parts.append("\(unreadableFolders.count) folders unreadable") }
        if oversizedLines + malformedLines > 0 {
            parts.append("\(oversizedLines) lines over the line limit and \(malformedLines) unreadable skipped")
        }
        if unknownKindLines > 0 {
            parts.append(
                "\(unknownKindLines) lines of kinds codex-telemetry does not know, passed over (see CONTRIBUTING.md)"
            )
        }
        if messagesDatedByFile > 0 { parts.append(SessionReplay.Counts.datedByFileText(messagesDatedByFile)) }
        parts.append("\(closedTurns) turns closed as incomplete")
        return parts.joined(separator: ", ")
    }
}
