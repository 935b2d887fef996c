import CodexAppServer
import CodexHarness
import CodexTelemetry
import DescriptorIO
import FoundationEssentials
import JSON
import OTLP
import OTLPExport

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
        file gained since the cursor (the one `watch` and `replay --state` keep), then exits. At a session's end,
        a turn still running is exported as incomplete. Without an OTLP endpoint it reads nothing. The hook prints
        nothing on stdout and always exits 0: a problem is said on stderr and never stops Codex.

        install adds the hook, for the Stop and SessionEnd events, to $CODEX_HOME/hooks.json (~/.codex), keeping
        every other hook, and has Codex trust it (`hooks/list`, then Codex's own configuration writer, which changes
        nothing else in config.toml); each file is first copied to NAME.codex-telemetry-backup. Installing twice
        changes nothing. The endpoint, protocol and cursor given are written into the hook's command; headers
        (API keys) never are: the hook reads OTEL_EXPORTER_OTLP_HEADERS from Codex's environment. Codex runs hooks
        from 0.133, at Stop; 0.163 also at SessionEnd. Installing for a Codex that cannot run it leaves hooks.json
        as it was. uninstall takes the hook out of hooks.json.

        OPTIONS:
          --state FILE     The cursor. Default: $XDG_STATE_HOME/codex-telemetry/cursor.json.
          --codex PATH     The Codex that trusts the hook (install). Default: CODEX_BIN, else codex on PATH.

        \(ExportOptions.help)
        """

    private enum Action {
        case run(ParsedArguments)
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
            action = .run(try arguments.parse(options: options, usage: Self.usage))
        }
    }

    func run() async throws -> Int32 {
        switch action {
        case .run(let parsed): return await export(parsed)
        case .install(let parsed): return try await install(parsed)
        case .uninstall: return uninstall()
        }
    }

    // MARK: - The hook

    /// What Codex says on the hook's stdin that the hook reads: the session's rollout file and the event.
    private struct HookInput {
        var transcriptPath: String
        var event: String
    }

    private func export(_ parsed: ParsedArguments) async -> Int32 {
        do {
            let input = try readInput()
            guard let path = sessionFile(input.transcriptPath) else {
                printError("codex-telemetry hook: the transcript is not a rollout file under Codex's sessions; ignored")
                return ExitStatus.success
            }
            let prices = try PriceTable.from(parsed, environment: environment, usage: Self.usage)
            let options = try ExportOptions(parsed, environment: environment, usage: Self.usage)
            // The cursor moves on as lines are read: read for nothing, they would never be exported.
            guard options.configuration.hasEndpoint else {
                printError("codex-telemetry hook: no OTLP endpoint is configured; nothing was read")
                return ExitStatus.success
            }
            let cursor = try CursorReader.openCursor(
                parsed["--state"] ?? CursorFile.defaultPath(environment: environment),
                spoolDirectory: options.spoolDirectory
            )
            try await options.withExport(atCheckpoints: true) { export in
                let reader = CursorReader(
                    cursor: cursor,
                    prices: prices,
                    export: export,
                    spoolDirectory: options.spoolDirectory
                ) {
                    export?.record($0)
                }
                try reader.transaction {
                    try reader.read(path)
                    // The session is over: what still runs in it never ends.
                    if input.event == "SessionEnd" { try reader.closeOpenTurns(path) }
                }
            }
        } catch let usage as UsageError {
            printError("codex-telemetry hook: \(usage.message)")
        } catch {
            printError("codex-telemetry hook: \(error)")
        }
        return ExitStatus.success
    }

    private func readInput() throws -> HookInput {
        let bytes = try readAll(STDIN_FILENO, atMost: 1 << 20, what: "the hook's input")
        guard let input = try? JSONValue(parsing: bytes), let path = input["transcript_path"]?.string,
            let event = input["hook_event_name"]?.string
        else { throw HookError("the hook's input names no transcript_path and hook_event_name") }
        return HookInput(transcriptPath: path, event: event)
    }

    /// The rollout file `transcript` names, resolved, if it is one: a regular `rollout-*.jsonl` under Codex's
    /// sessions folder. The path comes from outside, and is not followed anywhere else.
    private func sessionFile(_ transcript: String) -> String? {
        let sessions = absolutePath(codexHome + "/sessions") + "/"
        let resolved = absolutePath(transcript)
        let name = resolved.split(separator: "/").last.map(String.init) ?? ""
        guard resolved.hasPrefix(sessions), name.hasPrefix("rollout-"), name.hasSuffix(".jsonl"),
            fileStatus(atPath: resolved)?.kind == .regular
        else { return nil }
        return resolved
    }

    private var codexHome: String {
        environment["CODEX_HOME"] ?? (environment["HOME"] ?? "") + "/.codex"
    }

    // MARK: - Install and uninstall

    /// The events the hook runs on, as `hooks.json` names them.
    private static let events = ["Stop", "SessionEnd"]
    /// How long Codex lets the hook run: time to read the file and flush to the collector.
    private static let timeoutSeconds: Int64 = 30

    private func install(_ parsed: ParsedArguments) async throws -> Int32 {
        guard parsed.positionals.isEmpty else { throw UsageError("hook install takes no PATH", usage: Self.usage) }
        var command = [Self.executablePath, "hook"]
        for option in ["--otlp-endpoint", "--otlp-protocol", "--state"] {
            if let value = parsed[option] { command += [option, value] }
        }
        let line = command.map(Self.shellQuoted).joined(separator: " ")
        let hooksFile = codexHome + "/hooks.json"
        var hooks = try readHooks(hooksFile)
        let before = hooks
        removeOurs(from: &hooks)
        var all = hooks["hooks"]?.object ?? JSONObject()
        for event in Self.events {
            let handler: JSONValue = [
                "type": "command", "command": .string(line), "timeout": .int(Self.timeoutSeconds),
            ]
            all[event] = .array((all[event]?.array ?? []) + [["hooks": [handler]]])
        }
        hooks["hooks"] = .object(all)
        let existed = fileStatus(atPath: hooksFile) != nil
        let changed = hooks != before
        if changed {
            try writeHooks(hooks, to: hooksFile)
            printError(
                "codex-telemetry: added the hook to \(hooksFile) (the previous file: \(hooksFile)\(Self.backup))"
            )
        } else {
            printError("codex-telemetry: the hook was already in \(hooksFile)")
        }
        let events: Set<String>
        do {
            events = try await trustHook(command: line, codex: parsed["--codex"])
        } catch {
            // A Codex that cannot run the hook gets its hooks.json back as it was.
            if changed {
                if existed { rename(hooksFile + Self.backup, hooksFile) } else { unlink(hooksFile) }
                printError("codex-telemetry: \(hooksFile) is as it was")
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
        let hooksFile = codexHome + "/hooks.json"
        do {
            var hooks = try readHooks(hooksFile)
            let before = hooks
            removeOurs(from: &hooks)
            guard hooks != before else {
                printError("codex-telemetry: the hook was not in \(hooksFile)")
                return ExitStatus.success
            }
            try writeHooks(hooks, to: hooksFile)
            printError(
                "codex-telemetry: took the hook out of \(hooksFile) (the previous file: \(hooksFile)\(Self.backup))"
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
                if let bytes = try? readFile(configFile, atMost: 16 << 20, what: "config.toml") {
                    try write(bytes, to: configFile + Self.backup)
                }
                try await client.trust(untrusted)
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

    /// Removes every handler that runs a `codex-telemetry hook`, and the groups and events left empty.
    private func removeOurs(from hooks: inout JSONObject) {
        guard var all = hooks["hooks"]?.object else { return }
        for event in Self.events {
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
        hooks["hooks"] = .object(all)
    }

    private static func isOurs(_ command: String?) -> Bool {
        guard let command, let first = command.split(separator: " ").first else { return false }
        return first.trimmed { $0 == "'" }.hasSuffix("/codex-telemetry") && command.contains(" hook")
    }

    private func readHooks(_ path: String) throws -> JSONObject {
        guard fileStatus(atPath: path) != nil else { return ["hooks": .object(JSONObject())] }
        let bytes = try readFile(path, atMost: 1 << 20, what: "hooks.json")
        guard let hooks = (try? JSONValue(parsing: bytes))?.object else {
            throw HookError("\(path) is not a JSON object: fix it or move it away, then install again")
        }
        return hooks
    }

    /// Writes the hooks, after a copy of the previous file: aside, then renamed over it.
    private func writeHooks(_ hooks: JSONObject, to path: String) throws {
        if let previous = try? readFile(path, atMost: 1 << 20, what: "hooks.json") {
            try write(previous, to: path + Self.backup)
        }
        try write(JSONValue.object(hooks).serialized() + [0x0A], to: path)
    }

    private func write(_ bytes: [UInt8], to path: String) throws {
        guard replaceFile(atPath: path, with: bytes) else {
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
