import CodexAppServer

/// The `codex-telemetry` command: parses the subcommand and maps outcomes to exit statuses.
enum CodexTelemetryCommand {
    static let usage = """
        USAGE: codex-telemetry <subcommand> [options]

        SUBCOMMANDS:
          exec PROMPT       Run Codex headless on a prompt, with telemetry.
          proxy -- CODEX…   Stand between an app-server client and Codex, passing everything through.
          replay PATH…      Turn recorded app-server sessions into telemetry events.
          report [PATH…]    What Codex did and cost on this machine: tables, JSON, CSV or an HTML page.
          watch [DIR]       Export every Codex session on this machine as its rollout file grows.
          hook              Export what the current session's rollout gained (run by a Codex hook);
                            `hook install` and `hook uninstall` edit Codex's configuration.

        Run `codex-telemetry <subcommand> --help` for its options.
        """

    static func main(_ arguments: [String]) async -> Int32 {
        var arguments = ArgumentList(arguments)
        do {
            switch arguments.popSubcommand() {
            case "exec":
                return try await ExecCommand(parsing: &arguments).run()
            case "proxy":
                return try await ProxyCommand(parsing: &arguments).run()
            case "replay":
                return try await ReplayCommand(parsing: &arguments).run()
            case "report":
                return try await ReportCommand(parsing: &arguments).run()
            case "hook":
                return try await HookCommand(parsing: &arguments).run()
            case "watch":
                return try await WatchCommand(parsing: &arguments).run()
            case "--version":
                print(AppServerClient.version)
                return ExitStatus.success
            case "--help", "-h", "help":
                print(usage)
                return ExitStatus.success
            case let other?:
                throw UsageError("unknown subcommand '\(other)'", usage: usage)
            case nil:
                throw UsageError("missing subcommand", usage: usage)
            }
        } catch let help as HelpRequest {
            print(help.text)
            return ExitStatus.success
        } catch let error as UsageError {
            printError("error: \(error.message)\n\n\(error.usage)")
            return ExitStatus.usage
        } catch {
            printError("error: \(error)")
            return ExitStatus.failure
        }
    }
}

/// Exit statuses, following sysexits(3) for usage errors.
enum ExitStatus {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let usage: Int32 = 64
    /// Output or telemetry was lost (sysexits' EX_IOERR): what was lost is said on stderr.
    static let ioError: Int32 = 74
}
