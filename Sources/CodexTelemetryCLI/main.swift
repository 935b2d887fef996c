#if canImport(Glibc)
import Glibc
#endif

// A write to a closed pipe (`codex-telemetry replay … | head`) must end in an error we handle, not a signal.
signal(SIGPIPE, SIG_IGN)
exit(await CodexTelemetryCommand.main(Array(CommandLine.arguments.dropFirst())))
