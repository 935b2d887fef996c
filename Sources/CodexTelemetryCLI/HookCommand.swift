import CodexAppServer
import CodexHarness
import CodexReplay
import CodexTelemetry
import DescriptorIO
import FoundationEssentials
import JSON
import OTLP
import OTLPExport
import SaturatingArithmetic

#if canImport(Glibc)
import Glibc
#endif

/// `codex-telemetry hook`: run by Codex at the end of each turn and session, it exports what the session's rollout
/// gained since the cursor; `hook install` and `hook uninstall` add it to Codex's hooks and take it out.
struct HookCommand {
    static let usage = """
        USAGE: codex-telemetry hook [--state FILE] [--prices FILE] [export options]
               codex-telemetry hook install [--codex PATH] [--otlp-endpoint URL] [--otlp-protocol P] [--state FILE]
               codex-telemetry hook uninstall

        For people who run Codex without a daemon: Codex runs `codex-telemetry hook` when a turn stops and when a
        session ends, with the session's rollout file named on its standard input, and the hook exports what that
        file gained since the cursor (the one `watch` and `replay --state` keep), then exits. At a session's end, a
        turn still running is exported as incomplete. Without an OTLP endpoint it reads nothing. The hook never
        holds Codex up: it takes the first JSON value on its input without waiting for the input to end, and takes 6
        seconds at most in all (2.5 at a session's end, where Codex allows 3) for the input, the cursor and the
        collector; what it could not do in time is left to its next run. It prints nothing on stdout and always
        exits 0, whatever its command line: a problem is said on stderr and never stops Codex.

        install adds the hook, for the Stop and SessionEnd events, to $CODEX_HOME/hooks.json (~/.codex), keeping
        every other hook and the order of what is there, and has Codex trust it (`hooks/list`, then Codex's own
        configuration writer, which changes nothing else in config.toml, whose mode is kept); each file is first
        copied, once, to NAME.codex-telemetry-backup, for uninstall. Installing twice changes nothing. The endpoint,
        protocol and cursor given are written into the hook's command; headers (API keys) never are: the hook reads
        OTEL_EXPORTER_OTLP_HEADERS from Codex's environment. Codex runs hooks from 0.133, at Stop; 0.163 also at
        SessionEnd. Installing for a Codex that cannot run it leaves hooks.json as it was. uninstall gives
        hooks.json back byte for byte when nothing else changed it since install, and otherwise takes only the hook
        out of it; it removes the copies, and leaves Codex's trust of the hook in config.toml, which trusts nothing
        once the hook is gone.

        OPTIONS:
          --state FILE     The cursor. Environment: CODEX_TELEMETRY_STATE.
                           Default: $XDG_STATE_HOME/codex-telemetry/cursor.json.
          --codex PATH     The Codex that trusts the hook (install). Default: CODEX_BIN, else codex on PATH.

        \(ExportOptions.help)
        """

    private enum Action {
        case run(ParsedArguments)
        /// The hook was run with a command line it cannot use: it says so, and exits 0 all the same.
        case runMistaken(String)
        case install(ParsedArguments)
        case uninstall
    }

    private let action: Action
    private let environment: [String: String]

    init(
        parsing arguments: inout ArgumentList,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        self.environment = environment
        let options = ExportOptions.names.union(["--state", "--prices"])
        switch arguments.popSubcommand(ifOneOf: ["install", "uninstall"]) {
        case "install":
            let parsed = try arguments.parse(
                options: ["--codex", "--otlp-endpoint", "--otlp-protocol", "--state"],
                usage: Self.usage
            )
            action = .install(parsed)
        case "uninstall":
            _ = try arguments.parse(options: [], usage: Self.usage)
            action = .uninstall
        default:
            do {
                action = .run(try arguments.parse(options: options, flags: ExportOptions.flags, usage: Self.usage))
            } catch let mistake as UsageError {
                action = .runMistaken(mistake.message)
            }
        }
    }

    func run() async throws -> Int32 {
        switch action {
        case .run(let parsed): return await export(parsed)
        case .runMistaken(let message):
            printError("codex-telemetry hook: \(message); nothing was read (see codex-telemetry hook --help)")
            return ExitStatus.success
        case .install(let parsed): return try await install(parsed)
        case .uninstall: return uninstall()
        }
    }

    // MARK: - The hook

    /// How long the hook may take in all, from its start: its input, the cursor's lock, the reading, the flush.
    /// Codex stops a hook at the `timeout` its handler gives (`timeoutSeconds`), and will not wait more than 3 s at
    /// a session's end, so the hook's own bound there is well inside that.
    static func timeLimit(event: String) -> Duration {
        event == "SessionEnd" ? .milliseconds(2_500) : .seconds(6)
    }
    /// How long it waits for its input: inside either bound.
    static let inputTimeLimit = Duration.seconds(1)
    /// The part of the time left for the flush: reading stops before it.
    private static func flushShare(event: String) -> Duration { timeLimit(event: event) / 5 }

    /// What Codex says on the hook's stdin that the hook reads: the session's rollout file and the event.
    private struct HookInput {
        var transcriptPath: String
        var event: String
    }

    private func export(_ parsed: ParsedArguments) async -> Int32 {
        let started = ContinuousClock.now
        let stop = StopSignal()
        do {
            let input = try readInput()
            let deadline = started + Self.timeLimit(event: input.event)
            let sessions = absolutePath(LocalPaths.codexHome(environment: environment) + "/sessions")
            guard let path = sessionFile(input.transcriptPath, under: sessions) else {
                printError("codex-telemetry hook: the transcript is not a rollout file under Codex's sessions; ignored")
                return ExitStatus.success
            }
            let prices = try PriceTable.from(parsed, environment: environment, usage: Self.usage)
            var options = try ExportOptions(parsed, environment: environment, usage: Self.usage)
            // The cursor moves on as lines are read: read for nothing, they would never be exported.
            guard options.exportsAnything else {
                printError("codex-telemetry hook: no OTLP endpoint is configured; nothing was read")
                return ExitStatus.success
            }
            let lockWait = min(Self.timeLimit(event: input.event) / 3, max(deadline - .now, .zero))
            let cursor = try CursorReader.openCursor(
                CursorFile.path(parsed["--state"], environment: environment),
                spoolDirectory: options.spoolDirectory,
                lockWait: lockWait
            )
            let readUntil = deadline - Self.flushShare(event: input.event)
            options.flushTimeout = min(options.flushTimeout, max(deadline - .now, .zero))
            try await options.withExport(atCheckpoints: true) { [options] export in
                let reader = CursorReader(
                    cursor: cursor,
                    roots: [CursorReader.Root(path: sessions, folder: SessionRoot(sessions))],
                    prices: prices,
                    export: export,
                    spoolDirectory: options.spoolDirectory,
                    lockWait: lockWait,
                    isStopping: { stop.stopped || ContinuousClock.now >= readUntil }
                ) {
                    export?.record($0)
                }
                try reader.transaction {
                    try reader.read(path)
                    // The session is over: what still runs in it never ends.
                    if input.event == "SessionEnd" { try reader.closeOpenTurns(path) }
                }
                if ContinuousClock.now >= readUntil {
                    printError("codex-telemetry hook: out of time; the rest of the session is left to the next run")
                }
            }
        } catch let usage as UsageError {
            printError("codex-telemetry hook: \(usage.message)")
        } catch {
            printError("codex-telemetry hook: \(error)")
        }
        return ExitStatus.success
    }

    /// The first JSON value on stdin: read as it comes, up to 1 MiB, and taken as soon as it is whole, so a Codex
    /// that leaves the hook's input open is not waited on.
    private func readInput() throws -> HookInput {
        let deadline = ContinuousClock.now + Self.inputTimeLimit
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let end: Int?
            do {
                end = try firstValueEnd(bytes)
            } catch {
                throw HookError("the hook's input is not JSON")
            }
            if let end {
                guard let input = try? JSONValue(parsing: bytes[..<end]), let path = input["transcript_path"]?.string,
                    let event = input["hook_event_name"]?.string
                else { throw HookError("the hook's input names no transcript_path and hook_event_name") }
                return HookInput(transcriptPath: path, event: event)
            }
            let left = deadline - .now
            guard left > .zero, bytes.count < 1 << 20 else { throw HookError("the hook's input did not come whole") }
            var ready = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, Int32(clamping: left.wholeMilliseconds)) > 0 else { continue }
            let count = chunk.withUnsafeMutableBytes { readSome(STDIN_FILENO, into: $0.baseAddress, count: $0.count) }
            guard count > 0 else { throw HookError("the hook's input ended before a whole JSON object") }
            bytes += chunk[..<count]
        }
    }

    /// The rollout file `transcript` names, resolved, if it is one: a regular `rollout-*.jsonl` under Codex's
    /// sessions folder. The path comes from outside: it is opened from that folder down, following no link.
    private func sessionFile(_ transcript: String, under sessions: String) -> String? {
        let resolved = absolutePath(transcript)
        let name = resolved.split(separator: "/").last.map(String.init) ?? ""
        guard resolved.hasPrefix(sessions + "/"), name.hasPrefix("rollout-"), name.hasSuffix(".jsonl") else {
            return nil
        }
        return resolved
    }

    // MARK: - Install and uninstall

    /// The events the hook runs on, as `hooks.json` names them, and how long Codex may let it run at each: the
    /// hook's own bound (`timeLimit`) and a margin. Codex clamps a `SessionEnd` hook's timeout to 3 s, and says so
    /// on every turn when given more.
    private static let events: KeyValuePairs<String, Int64> = ["Stop": 10, "SessionEnd": 3]

    private func install(_ parsed: ParsedArguments) async throws -> Int32 {
        guard parsed.positionals.isEmpty else { throw UsageError("hook install takes no PATH", usage: Self.usage) }
        var command = [Self.executablePath, "hook"]
        for option in ["--otlp-endpoint", "--otlp-protocol", "--state"] {
            if let value = parsed[option] { command += [option, value] }
        }
        let line = command.map(Self.shellQuoted).joined(separator: " ")
        let file = try HooksFile(LocalPaths.codexHome(environment: environment) + "/hooks.json")
        var hooks = Self.withoutOurs(file.hooks)
        var all = hooks["hooks"]?.object ?? JSONObject()
        for (event, timeout) in Self.events {
            let handler: JSONValue = ["type": "command", "command": .string(line), "timeout": .int(timeout)]
            all[event] = .array((all[event]?.array ?? []) + [["hooks": [handler]]])
        }
        hooks["hooks"] = .object(all)
        let changed = hooks != file.hooks
        // The user's file, kept once: what uninstall gives back.
        let backedUp = changed ? try file.backUp() : false
        if changed {
            try file.write(hooks)
            if file.bytes == nil {
                printError("codex-telemetry: made \(file.path), with the hook")
            } else if backedUp {
                printError("codex-telemetry: added the hook to \(file.path) (yours as it was: \(file.backupPath))")
            } else {
                printError(
                    "codex-telemetry: added the hook to \(file.path) (yours as it was before: \(file.backupPath))"
                )
            }
        } else {
            printError("codex-telemetry: the hook was already in \(file.path)")
        }
        let events: Set<String>
        do {
            events = try await trustHook(command: line, codex: parsed["--codex"])
        } catch {
            // A Codex that cannot run the hook gets its hooks.json back as it was.
            if changed {
                try file.restore()
                if backedUp { unlink(file.backupPath) }
                printError("codex-telemetry: \(file.path) is as it was")
            }
            throw error
        }
        if !events.contains("sessionEnd") {
            printError(
                "codex-telemetry: this Codex runs the hook when a turn stops, not when a session ends: a session's "
                    + "last turn goes out with watch or replay --state on the same cursor (or its next hook run)"
            )
        }
        return ExitStatus.success
    }

    private func uninstall() -> Int32 {
        do {
            let codexHome = LocalPaths.codexHome(environment: environment)
            let file = try HooksFile(codexHome + "/hooks.json")
            let hooks = Self.withoutOurs(file.hooks)
            guard hooks != file.hooks else {
                printError("codex-telemetry: the hook was not in \(file.path)")
                return ExitStatus.success
            }
            // Nothing but the hook changed since install: the user's file comes back byte for byte (or goes, if
            // install made it).
            let original = try HooksFile(file.backupPath)
            if hooks == original.hooks {
                guard (original.bytes == nil ? unlink(file.path) : rename(original.path, file.path)) == 0 else {
                    throw HookError("cannot put back \(file.path): \(String(cString: strerror(errno)))")
                }
                printError("codex-telemetry: took the hook out of \(file.path): it is as it was before install")
            } else {
                try file.write(hooks)
                unlink(file.backupPath)
                printError("codex-telemetry: took the hook out of \(file.path), keeping everything else in it")
            }
            // The copies install made were for uninstall, which is done with them.
            unlink(codexHome + "/config.toml" + Self.backup)
            printError(
                "codex-telemetry: Codex's trust of the hook stays in \(codexHome)/config.toml ([hooks.state]): "
                    + "Codex trusts a hook by the hash of its command, so with the hook gone it trusts nothing, "
                    + "and Codex's own settings are left as they are"
            )
            return ExitStatus.success
        } catch {
            printError("codex-telemetry: \(error)")
            return ExitStatus.failure
        }
    }

    /// Has Codex trust the handlers that run `command` (a hook runs only once trusted), and returns the events Codex
    /// runs them on: `stop`, and `sessionEnd` in the releases that have it.
    private func trustHook(command: String, codex: String?) async throws -> Set<String> {
        let codexHome = LocalPaths.codexHome(environment: environment)
        var configuration = AppServerConfiguration().applying(environment: environment)
        if let codex { configuration.executable = codex }
        configuration.workingDirectory = codexHome
        let configFile = codexHome + "/config.toml"
        let (events, newlyTrusted) = try await AppServerClient.withClient(configuration) { client in
            let ours: [ConfiguredHook]
            do {
                ours = try await client.configuredHooks(workingDirectory: codexHome).filter { $0.command == command }
            } catch is AppServerError {
                throw HookError("this Codex cannot list hooks: hooks need Codex 0.133 or later")
            }
            let untrusted = ours.filter { $0.trustStatus != "trusted" }
            if !untrusted.isEmpty {
                // The user's config.toml, kept once, and its mode, which Codex's writer does not keep (0600).
                var status = stat()
                let existed = stat(configFile, &status) == 0
                if existed, fileStatus(atPath: configFile + Self.backup) == nil,
                    let bytes = try? readFile(configFile, atMost: 16 << 20, what: "config.toml")
                {
                    try Self.write(bytes, to: configFile + Self.backup, permissions: UInt32(status.st_mode) & 0o7777)
                }
                try await client.trust(untrusted)
                if existed { chmod(configFile, status.st_mode & 0o7777) }
            }
            return (Set(ours.map(\.eventName)), untrusted.count)
        }
        guard !events.isEmpty else { throw HookError("this Codex lists none of the hook's handlers") }
        printError(
            newlyTrusted == 0
                ? "codex-telemetry: Codex already trusted the hook"
                : "codex-telemetry: Codex trusts the hook (\(configFile); the previous file: \(configFile)\(Self.backup))"
        )
        return events
    }

    private static let backup = ".codex-telemetry-backup"

    /// `hooks` without any handler that runs a `codex-telemetry hook`, nor the groups and events that leaves empty.
    private static func withoutOurs(_ hooks: JSONObject) -> JSONObject {
        guard var all = hooks["hooks"]?.object else { return hooks }
        for (event, _) in Self.events {
            guard let groups = all[event]?.array else { continue }
            let kept = groups.compactMap { group -> JSONValue? in
                guard var object = group.object, let handlers = object["hooks"]?.array else { return group }
                let others = handlers.filter { !Self.isOurs($0["command"]?.string) }
                if others.isEmpty { return nil }
                object["hooks"] = .array(others)
                return .object(object)
            }
            all[event] = kept.isEmpty ? nil : .array(kept)
        }
        var without = hooks
        without["hooks"] = .object(all)
        return without
    }

    private static func isOurs(_ command: String?) -> Bool {
        guard let command, let first = command.split(separator: " ").first else { return false }
        return first.trimmed { $0 == "'" }.hasSuffix("/codex-telemetry") && command.contains(" hook")
    }

    /// `hooks.json`, or another file of Codex's (its backup), as the user has it: its bytes and mode, kept to be
    /// given back as they were, and what it says.
    private struct HooksFile {
        var path: String
        /// `nil` when there is no such file.
        var bytes: [UInt8]?
        var permissions: UInt32
        var hooks: JSONObject

        var backupPath: String { path + HookCommand.backup }

        init(_ path: String) throws {
            self.path = path
            var status = stat()
            guard stat(path, &status) == 0 else {
                bytes = nil
                permissions = 0o600
                hooks = ["hooks": .object(JSONObject())]
                return
            }
            let bytes = try readFile(path, atMost: 1 << 20, what: "hooks.json")
            guard let hooks = (try? JSONValue(parsing: bytes))?.object else {
                throw HookError("\(path) is not a JSON object: fix it or move it away, then try again")
            }
            self.bytes = bytes
            self.hooks = hooks
            permissions = UInt32(status.st_mode) & 0o7777
        }

        /// Writes `hooks` in its place, laid out for a person (members in their order), with the file's mode.
        func write(_ hooks: JSONObject) throws {
            try HookCommand.write(JSONValue.object(hooks).indented() + [0x0A], to: path, permissions: permissions)
        }

        /// Copies the file, byte for byte and with its mode, to its backup, unless one was made already (that is the
        /// user's own). Returns whether it made one.
        func backUp() throws -> Bool {
            guard let bytes, fileStatus(atPath: backupPath) == nil else { return false }
            try HookCommand.write(bytes, to: backupPath, permissions: permissions)
            return true
        }

        /// Puts the file back as it was read (or removes it, if there was none).
        func restore() throws {
            guard let bytes else {
                unlink(path)
                return
            }
            try HookCommand.write(bytes, to: path, permissions: permissions)
        }
    }

    private static func write(_ bytes: [UInt8], to path: String, permissions: UInt32 = 0o600) throws {
        guard replaceFile(atPath: path, with: bytes, permissions: permissions) else {
            throw HookError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// This executable, by its absolute path: what the hook's command runs.
    private static var executablePath: String {
        absolutePath("/proc/self/exe")
    }

    private static func shellQuoted(_ word: String) -> String {
        word.allSatisfy { $0.isLetter || $0.isNumber || "/._-:=+@".contains($0) }
            ? word : "'" + word.replacing("'", with: "'\\''") + "'"
    }
}

/// The hook's input or Codex's configuration is not as expected.
struct HookError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Where the first JSON value in `bytes` ends; `nil` while it has not (the bytes end inside it).
///
/// - Throws: `JSONParseError` when the bytes are not JSON, however many more come.
private func firstValueEnd(_ bytes: [UInt8]) throws(JSONParseError) -> Int? {
    do {
        return try bytes.withUnsafeBufferPointer { buffer throws(JSONParseError) in
            var reader = JSONMemberReader(buffer)
            try reader.skipValue()
            return reader.offset
        }
    } catch  where error.offset >= bytes.count {
        return nil
    }
}
