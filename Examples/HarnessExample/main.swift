// A harness that runs Codex on a prompt and records what each turn cost, without keeping any of its content.
//
//   swift run HarnessExample [-c KEY=VALUE]… PROMPT
//
// It uses the `codex` on PATH (or CODEX_BIN), exports over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, joins the
// caller's trace when TRACEPARENT is set, and prints one line per turn.
import CodexAppServer
import CodexHarness
import CodexTelemetry
import Foundation
import OTLP
import OTLPExport

/// A sink of your own: here it only counts, but it could write rows to your database.
final class CountingSink: TelemetrySink {
    private let counts = Counts()

    func record(_ event: TelemetryEvent) {
        counts.add(event.name)
    }

    var summary: String { counts.summary }
}

var arguments = Array(CommandLine.arguments.dropFirst())
var overrides: [String] = []
while arguments.count >= 2, arguments[0] == "-c" {
    overrides.append(arguments[1])
    arguments.removeFirst(2)
}
guard let prompt = arguments.first else {
    print("usage: HarnessExample [-c KEY=VALUE]… PROMPT")
    exit(64)
}

let environment = ProcessInfo.processInfo.environment
let sink = CountingSink()
var configuration = HarnessConfiguration(
    appServer: AppServerConfiguration(configOverrides: overrides).applying(environment: environment),
    sinks: [sink]
)
let otlp = try OTLPExporterConfiguration(serviceName: "my-eval-harness").applying(environment: environment)
if otlp.hasEndpoint {
    configuration.export = ExportSettings(
        configuration: otlp,
        spoolDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("my-eval-harness-spool"),
        parent: environment["TRACEPARENT"].flatMap(TraceContext.init(traceparent:))
    )
}

let outcome = try await CodexHarness.withSession(configuration) { session in
    let thread = try await session.startThread(ThreadOptions(sandbox: "read-only"))
    return try await session.runTurn(threadID: thread.id, prompt: prompt, timeout: .seconds(300))
}
switch outcome.result {
case .success(let turn):
    let cost = turn.costUSD.map { String(format: "$%.6f", $0) } ?? "unpriced"
    print(
        "turn \(turn.turnID): \(turn.status.rawValue), \(turn.modelCalls) model calls, \(turn.toolCalls) tool calls, "
            + "\(turn.usage.input) input and \(turn.usage.output) output tokens, \(cost)"
    )
case .failure(let error):
    print("Codex failed: \(error)")
}
print("events: \(sink.summary)")
