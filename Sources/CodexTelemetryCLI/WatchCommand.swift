import CodexHarness
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

/// `codex-telemetry watch [DIR]`: every Codex session on the machine, exported as its rollout file grows.
struct WatchCommand {
    static let usage = """
        USAGE: codex-telemetry watch [DIR] [--idle SECONDS] [--poll SECONDS] [--state FILE] [--format none|json]
                                     [--prices FILE] [export options]

        Follows the rollout files Codex writes under DIR (default: $CODEX_HOME/sessions, else ~/.codex/sessions)
        and exports each turn, model call and tool call as its lines are written: files that grow, new files and
        new date folders, through inotify (or by looking every --poll seconds where it cannot be used). How far
        each file was read and exported is kept in a cursor, committed with the export: stopped, killed or
        restarted at any moment, watch exports every event once. Files present at the first start are read
        whole: the first start is also a backfill. As the cursor moves on with what is read, watch needs somewhere
        to export to: an OTLP endpoint, or --format json.

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

    var directory: String
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
            usage: Self.usage
        )
        guard parsed.positionals.count <= 1 else { throw UsageError("watch takes one DIR", usage: Self.usage) }
        guard let format = Format(rawValue: parsed["--format"] ?? "none") else {
            throw UsageError("--format must be none or json", usage: Self.usage)
        }
        self.format = format
        directory =
            parsed.positionals.first
            ?? environment["CODEX_HOME"].map { $0 + "/sessions" }
            ?? (environment["HOME"] ?? "") + "/.codex/sessions"
        idle = try parsed["--idle"].map { try Self.seconds($0, flag: "--idle") } ?? Self.defaultIdle
        pollInterval = try parsed["--poll"].map { try Self.seconds($0, flag: "--poll") }
        cursorPath =
            parsed["--state"] ?? environment["CODEX_TELEMETRY_STATE"]
            ?? CursorFile.defaultPath(environment: environment)
        prices = try PriceTable.from(parsed, environment: environment, usage: Self.usage)
        export = try ExportOptions(parsed, environment: environment, usage: Self.usage)
        // The cursor moves on as lines are read: read for nothing, they would never be exported.
        guard export.configuration.hasEndpoint || format == .json else {
            throw UsageError(
                "watch exports nowhere: set OTEL_EXPORTER_OTLP_ENDPOINT or pass --otlp-endpoint (or --format json)",
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
                let reader = CursorReader(
                    cursor: cursor,
                    prices: prices,
                    export: export,
                    spoolDirectory: spool,
                    beforeCommit: output.flush
                ) { event in
                    export?.record(event)
                    if format == .json { output.write { event.writeJSON(to: &$0) } }
                }
                let failure = watch(reader, output: output, stop: stop)
                let counts = reader.counts
                printError(
                    "codex-telemetry: watched \(reader.positions.count) files; \(counts.replaced) replaced and "
                        + "\(counts.truncated) truncated (read again from their start), \(counts.unreadable) "
                        + "unreadable, \(counts.closedTurns) turns closed as incomplete"
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
    private func watch(_ reader: CursorReader, output: BufferedOutput, stop: StopSignal) -> String? {
        while fileStatus(atPath: directory)?.kind != .directory {
            if stop.wait(descriptor: nil, upTo: pollInterval ?? .seconds(5)) { return nil }
        }
        // The cursor knows files by absolute path, whatever the directory it was started in.
        let directory = absolutePath(directory)
        let changes = pollInterval == nil ? DirectoryWatch(directory) : nil
        let interval = pollInterval ?? .seconds(2)
        // Sessions are judged over at a fraction of the idle time, so none waits much past it.
        let idleCheck = min(max(idle / 4, .milliseconds(100)), .seconds(30))
        var pending: Set<String> = []
        var rescan = true
        var lastIdleCheck = ContinuousClock.now
        var lastRescan = ContinuousClock.now
        while true {
            do {
                if rescan {
                    pending.formUnion(changedFiles(reader, under: directory))
                    rescan = false
                    lastRescan = .now
                }
                if !pending.isEmpty {
                    try reader.transaction {
                        for path in pending.sorted() { try reader.read(path) }
                        reader.forgetMissing(under: directory)
                    }
                    pending = []
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
            let wait = polling ? min(interval, idleCheck) : idleCheck
            if stop.wait(descriptor: changes?.pollDescriptor, upTo: wait) {
                do {
                    try reader.transaction {}
                } catch {
                    return "\(error)"
                }
                return nil
            }
            for change in changes?.changes() ?? [] {
                switch change {
                case .file(let path): pending.insert(path)
                case .rescan: rescan = true
                }
            }
            if polling && ContinuousClock.now - lastRescan >= interval { rescan = true }
        }
    }

    /// The session files under `directory` that are new or not where the cursor left them.
    private func changedFiles(_ reader: CursorReader, under directory: String) -> [String] {
        let positions = reader.positions
        return SessionFiles([directory]).files.filter { file in
            guard let position = positions[file.path] else { return true }
            return position.offset != file.size
        }.map(\.path)
    }
}

/// `path` made absolute, its links and `..` resolved; as it is if it cannot be.
func absolutePath(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return path }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// SIGINT and SIGTERM, as a flag and a descriptor that a `poll(2)` wakes on.
final class StopSignal: Sendable {
    private let wake: Int32
    private let stopped = Mutex(false)
    /// Kept for as long as this is, which is as long as the signals are handled; set once, as it is made.
    nonisolated(unsafe) private var signals: StopSignals?

    init() {
        var ends: [Int32] = [-1, -1]
        pipe(&ends)
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, O_NONBLOCK)
        }
        wake = ends[0]
        let ring = ends[1]
        signals = StopSignals { [weak self] _ in
            self?.stopped.withLock { $0 = true }
            var one: UInt8 = 1
            _ = Glibc.write(ring, &one, 1)
        }
    }

    /// Waits until `descriptor` is readable, `limit` has passed, or a stop signal came; returns whether one did.
    func wait(descriptor: Int32?, upTo limit: Duration) -> Bool {
        var descriptors = [pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        if let descriptor { descriptors.append(pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)) }
        _ = poll(&descriptors, nfds_t(descriptors.count), Int32(clamping: limit.wholeMilliseconds))
        return stopped.withLock { $0 }
    }
}

/// Runs blocking work on a thread of its own, so the exporter's tasks keep the cooperative pool.
func onThreadOfItsOwn<Result: Sendable>(_ body: @escaping @Sendable () -> Result) async -> Result {
    await withCheckedContinuation { continuation in
        detachThread { continuation.resume(returning: body()) }
    }
}
