import CodexHarness
import CodexReplay
import CodexTelemetry
import FoundationEssentials
import OTLP
import OTLPExport
import SaturatingArithmetic

/// The OTLP options of every subcommand that exports, and where the spool is.
struct ExportOptions {
    static let names: Set<String> = [
        "--otlp-endpoint", "--otlp-protocol", "--otlp-header", "--signals", "--spool-dir", "--flush-timeout",
        "--metric-names", "--resource-attribute", "--identify-user", "--logs-exporter", "--traces-exporter",
        "--metrics-exporter", "--prometheus-host", "--prometheus-port",
    ]
    /// The export options that take no value.
    static let flags: Set<String> = ["--identify-user"]

    static let help = """
        EXPORT (OpenTelemetry, OTLP/HTTP or OTLP/gRPC):
          --otlp-endpoint URL    Base URL of a collector; /v1/logs, /v1/traces, /v1/metrics are appended (for
                                 grpc, its scheme, host and port count: 4317 when it has none).
                                 Environment: OTEL_EXPORTER_OTLP_ENDPOINT, or per signal
                                 OTEL_EXPORTER_OTLP_{LOGS,TRACES,METRICS}_ENDPOINT (full URLs). Default: none,
                                 and nothing is sent.
          --otlp-protocol P      http/protobuf (default), http/json or grpc.
                                 Environment: OTEL_EXPORTER_OTLP_PROTOCOL, and per signal.
          --otlp-header K=V      A request header, for API keys; repeatable. Never printed or written to disk.
                                 Environment: OTEL_EXPORTER_OTLP_HEADERS (K=V,K=V), and per signal.
          --signals LIST         Which of logs,traces,metrics to send over OTLP. Default: all three.
          --logs-exporter LIST, --traces-exporter LIST
                                 Where logs and spans go: otlp (the default), console (standard error, a line
                                 each), none, or a list (otlp,console). Environment: OTEL_LOGS_EXPORTER,
                                 OTEL_TRACES_EXPORTER.
          --metrics-exporter LIST
                                 Where metrics go: otlp (the default), prometheus (served for a scrape, by watch
                                 and proxy), console, none, or a list (otlp,prometheus). Environment:
                                 OTEL_METRICS_EXPORTER.
          --prometheus-host H, --prometheus-port P
                                 Where the prometheus exporter serves /metrics. Environment:
                                 OTEL_EXPORTER_PROMETHEUS_HOST, OTEL_EXPORTER_PROMETHEUS_PORT. Default:
                                 localhost (loopback only) and 9464.
          --metric-names N       genai (default): the GenAI semantic conventions' metric names; codex: the ones
                                 Codex's own [otel] export sends (codex.turn.token_usage, codex.tool.call, …),
                                 which dashboards built for Codex read, delta by default as Codex sends them;
                                 both. Environment: CODEX_TELEMETRY_METRIC_NAMES.
          --resource-attribute K=V
                                 A resource attribute (team, cost centre, …); repeatable, and beats the same
                                 key in OTEL_RESOURCE_ATTRIBUTES.
          --identify-user        Add the ChatGPT account Codex is signed in with, as Codex's own export does:
                                 user.email and user.account_id, from $CODEX_HOME/auth.json (its ID token's
                                 e-mail claim and its account id; no token is kept or sent). Off by default.
                                 Environment: CODEX_TELEMETRY_IDENTIFY_USER=1.
          --spool-dir DIR        Where batches wait until the collector takes them; sent, oldest first, by this
                                 run or the next to the same collector. Environment: CODEX_TELEMETRY_SPOOL_DIR.
                                 Default: $XDG_STATE_HOME/codex-telemetry/spool (~/.local/state/…).
          --flush-timeout S      How long to keep trying to send before exiting; what is left stays in the
                                 spool. Environment: CODEX_TELEMETRY_FLUSH_TIMEOUT. Default: 10 seconds.
          Also read: OTEL_EXPORTER_OTLP_TIMEOUT (ms per request, default 10000), OTEL_SERVICE_NAME (default
          codex-telemetry), OTEL_RESOURCE_ATTRIBUTES (K=V,K=V), OTEL_METRIC_EXPORT_INTERVAL (ms between metric
          exports in a long run, default 60000), OTEL_BLRP_SCHEDULE_DELAY and OTEL_BSP_SCHEDULE_DELAY (ms a log
          record or a span waits for its batch to fill, default 1000), and
          OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE (cumulative by default, delta with --metric-names
          codex).
          OTEL_EXPORTER_OTLP_COMPRESSION (gzip or none, default none), and per signal.
          OTEL_EXPORTER_OTLP_CERTIFICATE (a PEM file of the certificates an https collector's must chain to,
          in place of the system's). https loads the system's libcurl (libcurl.so.4) when first used.
          Flags beat environment beat defaults.
        """

    var configuration: OTLPExporterConfiguration
    var spoolDirectory: URL
    var flushTimeout: Duration
    var metricNames: MetricNames
    /// The signals written to standard error.
    var console: Set<OTLPSignal> = []
    /// Where the metrics are served for a scrape.
    var scrape: ScrapeAddress?

    /// - Parameter scrapeable: whether the command lives long enough to be scraped (`watch`, `proxy`); a command
    ///   that does not says so, and serves nothing.
    /// - Throws: `UsageError` for a flag or variable whose value cannot be used.
    init(_ arguments: ParsedArguments, environment: [String: String], usage: String, scrapeable: Bool = false) throws {
        do {
            configuration = try OTLPExporterConfiguration(serviceName: "codex-telemetry").applying(
                environment: environment
            )
            // As OpenTelemetry's SDKs describe themselves: a resource with more than its service name is also what
            // makes Prometheus keep a `target_info` for it over OTLP, which the dashboards join on.
            for (key, value) in ["telemetry.sdk.name": "codex-telemetry", "telemetry.sdk.language": "swift"] {
                configuration.resourceAttributes[key] = configuration.resourceAttributes[key] ?? value
            }
            if let base = arguments["--otlp-endpoint"] {
                try configuration.setBaseEndpoint(base, source: "--otlp-endpoint")
            }
            if let name = arguments["--otlp-protocol"] {
                let parsed = try OTLPExporterConfiguration.wireProtocol(name, variable: "--otlp-protocol")
                for signal in OTLPSignal.allCases { configuration.protocols[signal] = parsed }
            }
            for header in arguments.all("--otlp-header") {
                let parsed = try OTLPExporterConfiguration.headers(header, variable: "--otlp-header")
                for signal in OTLPSignal.allCases { configuration.headers[signal, default: [:]].merge(parsed) { $1 } }
            }
            for pair in arguments.all("--resource-attribute") {
                let parsed = try OTLPExporterConfiguration.keyValues(pair, variable: "--resource-attribute")
                if let name = parsed["service.name"] { configuration.serviceName = name }
                configuration.resourceAttributes.merge(parsed.filter { $0.key != "service.name" }) { $1 }
            }
        } catch let error as OTLPConfigurationError {
            throw UsageError(error.message, usage: usage)
        }
        let names = arguments["--metric-names"] ?? environment.setting("CODEX_TELEMETRY_METRIC_NAMES") ?? "genai"
        guard let metricNames = MetricNames(rawValue: names) else {
            throw UsageError("--metric-names must be genai, codex or both", usage: usage)
        }
        self.metricNames = metricNames
        if let list = arguments["--signals"] {
            var signals: Set<OTLPSignal> = []
            for name in list.split(separator: ",") {
                guard let signal = OTLPSignal(rawValue: String(name.trimmed())) else {
                    throw UsageError("--signals takes logs, traces and metrics, separated by commas", usage: usage)
                }
                signals.insert(signal)
            }
            configuration.signals = signals
        }
        let (source, seconds) =
            arguments["--flush-timeout"].map { ("--flush-timeout", $0) }
            ?? environment.setting("CODEX_TELEMETRY_FLUSH_TIMEOUT").map { ("CODEX_TELEMETRY_FLUSH_TIMEOUT", $0) }
            ?? ("", "10")
        guard let flush = Double(seconds).flatMap({ Duration(seconds: $0, in: .zero...ExecCommand.longestWait) })
        else {
            throw UsageError("\(source) must be a number of seconds, at most a year", usage: usage)
        }
        flushTimeout = flush
        if let directory = arguments["--spool-dir"] ?? environment.setting("CODEX_TELEMETRY_SPOOL_DIR") {
            spoolDirectory = URL(fileURLWithPath: directory)
        } else {
            spoolDirectory = URL(fileURLWithPath: LocalPaths.state(environment: environment) + "/spool")
        }
        try chooseExporters(arguments, environment: environment, usage: usage, scrapeable: scrapeable)
        try identifyUser(arguments, environment: environment, usage: usage)
    }

    /// Where each signal goes, as `OTEL_{LOGS,TRACES,METRICS}_EXPORTER` (or their flags) say: OTLP keeps the
    /// signals listed with `otlp`, the console those with `console`, and a scrape endpoint serves the metrics for
    /// `prometheus`.
    private mutating func chooseExporters(
        _ arguments: ParsedArguments,
        environment: [String: String],
        usage: String,
        scrapeable: Bool
    ) throws {
        for signal in OTLPSignal.allCases {
            let flag = "--\(signal == .traces ? "traces" : signal.rawValue)-exporter"
            let variable = "OTEL_\(signal.rawValue.uppercased())_EXPORTER"
            let (source, list) =
                arguments[flag].map { (flag, $0) } ?? environment.setting(variable).map { (variable, $0) }
                ?? (flag, "otlp")
            let allowed = signal == .metrics ? ["otlp", "prometheus", "console", "none"] : ["otlp", "console", "none"]
            let names = Set(list.split(separator: ",").map { String($0.trimmed()).lowercased() })
            guard !names.isEmpty, names.isSubset(of: allowed), !names.contains("none") || names.count == 1 else {
                throw UsageError(
                    "\(source) takes \(allowed.dropLast().joined(separator: ", ")), a list of them, or none",
                    usage: usage
                )
            }
            if !names.contains("otlp") { configuration.signals.remove(signal) }
            if names.contains("console") { console.insert(signal) }
            guard names.contains("prometheus") else { continue }
            guard scrapeable else {
                printError(
                    "note: the prometheus exporter serves watch and proxy, which run long enough to be scraped; "
                        + "this command would end before a scrape saw it, so its metrics go only where else they go"
                )
                continue
            }
            let host =
                arguments["--prometheus-host"] ?? environment.setting("OTEL_EXPORTER_PROMETHEUS_HOST") ?? "localhost"
            let portText =
                arguments["--prometheus-port"] ?? environment.setting("OTEL_EXPORTER_PROMETHEUS_PORT") ?? "9464"
            guard let port = Int(portText), (1...65535).contains(port) else {
                throw UsageError("the prometheus port must be 1 to 65535: \(portText)", usage: usage)
            }
            scrape = ScrapeAddress(host: host, port: port)
        }
    }

    /// With `--identify-user`, adds the signed-in account to the resource, or says once that there is none.
    private mutating func identifyUser(
        _ arguments: ParsedArguments,
        environment: [String: String],
        usage: String
    )
        throws
    {
        let variable = environment.setting("CODEX_TELEMETRY_IDENTIFY_USER") ?? ""
        guard ["", "0", "1", "true", "false"].contains(variable.lowercased()) else {
            throw UsageError("CODEX_TELEMETRY_IDENTIFY_USER must be 1 or 0", usage: usage)
        }
        guard arguments["--identify-user"] != nil || ["1", "true"].contains(variable.lowercased()) else { return }
        let home = LocalPaths.codexHome(environment: environment)
        guard let account = SignedInAccount(codexHome: home) else {
            printError(
                "note: --identify-user: Codex is not signed in with a ChatGPT account in \(home), so no user is "
                    + "added to the telemetry"
            )
            return
        }
        configuration.resourceAttributes.merge(account.resourceAttributes) { $1 }
    }

    /// The export settings, or `nil` when nothing goes anywhere.
    func settings(parent: TraceContext? = nil) -> ExportSettings? {
        let settings = ExportSettings(
            configuration: configuration,
            spoolDirectory: spoolDirectory,
            flushTimeout: flushTimeout,
            parent: parent,
            metricNames: metricNames,
            console: console,
            scrape: scrape
        )
        return settings.exportsAnything ? settings : nil
    }

    /// Whether anything goes anywhere.
    var exportsAnything: Bool { settings() != nil }

    /// Says on stderr, once, what about exporting the user should know before it starts.
    func announce() {
        if !exportsAnything {
            printError(
                "note: no OTLP endpoint is configured, so nothing is exported; set OTEL_EXPORTER_OTLP_ENDPOINT "
                    + "or pass --otlp-endpoint (see --help)"
            )
        }
        if let scrape {
            printError("codex-telemetry: metrics for Prometheus at http://\(scrape.host):\(scrape.port)/metrics")
        }
    }

    /// Runs `body` with an export when an endpoint is configured (`nil` otherwise), then reports on stderr what
    /// was sent.
    ///
    /// - Returns: whether telemetry was lost (not delivered, and not kept in the spool for a later run).
    @discardableResult
    func withExport(
        atCheckpoints: Bool = false,
        _ body: (TelemetryExport?) async throws -> Void
    ) async throws -> Bool {
        announce()
        guard let settings = settings() else {
            try await body(nil)
            return false
        }
        let (outcome, report) = try await TelemetryExport.withExport(settings, atCheckpoints: atCheckpoints) {
            export -> Result<Void, any Error> in
            do {
                return .success(try await body(export))
            } catch {
                return .failure(error)
            }
        }
        if configuration.hasEndpoint { printError(report.text(spoolDirectory: spoolDirectory)) }
        try outcome.get()
        return report.lostAnything
    }
}

extension PriceTable {
    /// The bundled prices, with the file of `--prices` (or `CODEX_TELEMETRY_PRICES`) laid over them.
    ///
    /// - Throws: `UsageError` when the file cannot be read (or is over 1 MiB) or holds prices that cannot be used.
    static func from(_ arguments: ParsedArguments, environment: [String: String], usage: String) throws -> PriceTable {
        guard let file = arguments["--prices"] ?? environment.setting("CODEX_TELEMETRY_PRICES") else { return .bundled }
        do {
            return try PriceTable.bundled.overlaid(
                with: try readFile(file, atMost: 1 << 20, what: "the price file"),
                from: file
            )
        } catch let error as FileReadError {
            throw UsageError(error.description, usage: usage)
        } catch let error as PriceTableError {
            throw UsageError(error.message, usage: usage)
        }
    }
}
