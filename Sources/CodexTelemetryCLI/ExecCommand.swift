import CodexAppServer
import CodexHarness
import CodexReplay
import CodexReport
import CodexTelemetry
import Dispatch
import FoundationEssentials
import JSON
import JSONRPC
import OTLP
import OTLPExport
import SaturatingArithmetic
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `codex-telemetry exec PROMPT`: a headless Codex run with telemetry, as `codex exec` with numbers.
struct ExecCommand {
    static let usage = """
        USAGE: codex-telemetry exec [options] [PROMPT]

        Starts `codex app-server`, runs PROMPT as a turn in a new thread (or --thread), prints the agent's final
        message on stdout, exports telemetry, and exits with a status that says how the turn ended. The prompt is
        PROMPT, or --prompt-file, or standard input (when PROMPT is `-` or missing and stdin is not a terminal).

        OPTIONS:
          --then PROMPT             Another turn on the same thread after the first completes; repeatable.
          --thread ID               Resume this thread instead of starting one.
          --model MODEL             The model; default: Codex's configuration.
          --cwd DIR                 Codex's working directory; default: this one.
          --sandbox MODE            read-only, workspace-write or danger-full-access.
          --approval POLICY         When Codex asks: untrusted, on-failure, on-request or never.
          --approval-decision D     How its requests are answered: decline (default) or accept.
          -c KEY=VALUE              A Codex configuration override, passed through; repeatable.
          --codex PATH              The Codex executable. Environment: CODEX_BIN. Default: codex on PATH.
          --timeout SECONDS         Interrupt a turn that runs longer.
          --json                    Print a JSON result (status, ids, usage, cost, duration), not the message.
          --quiet                   No summary line on stderr.
          --record FILE             Record the session (it holds content: created 0600) for `replay`.
          --traceparent VALUE       Join a W3C trace: the turns' spans become children of this span.
                                    Environment: TRACEPARENT.
          --prompt-file FILE        Read the prompt from FILE.
          --prices FILE             USD prices per million tokens over the bundled table.

        \(ExportOptions.help)

        EXIT STATUS:
          0    the turn (every turn) completed
          1    a turn failed (the model request failed, the context window was exceeded, …)
          3    Codex could not be started, or exited before the turn ended
          124  a turn ran past --timeout and was interrupted
          130  interrupted by Ctrl-C or SIGTERM
          74   every turn completed, but telemetry was lost (what, on stderr)
          64   usage error
        """

    var prompts: [String]
    var thread: String?
    var threadOptions: ThreadOptions
    var decision: ServerRequestPolicy
    var configuration: AppServerConfiguration
    var timeout: Duration?
    var json: Bool
    var quiet: Bool
    var recordingPath: String?
    var parent: TraceContext?
    var prices: PriceTable
    var export: ExportOptions

    init(
        parsing arguments: inout ArgumentList,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        let names: Set<String> = [
            "--then", "--thread", "--model", "--cwd", "--sandbox", "--approval", "--approval-decision", "-c", "--codex",
            "--timeout", "--json", "--quiet", "--record", "--traceparent", "--prompt-file", "--prices",
        ]
        let parsed = try arguments.parse(
            options: names.union(ExportOptions.names),
            flags: ExportOptions.flags.union(["--json", "--quiet"]),
            usage: Self.usage
        )
        var first: String
        if let file = parsed["--prompt-file"] {
            first = try Self.prompt { () throws(FileReadError) in
                try readFile(file, atMost: Self.maximumPromptSize, what: "the prompt file")
            }
        } else if let argument = parsed.positionals.first, argument != "-" {
            first = argument
        } else if parsed.positionals.first == "-" || isatty(STDIN_FILENO) == 0 {
            first = try Self.prompt { () throws(FileReadError) in
                try readAll(STDIN_FILENO, atMost: Self.maximumPromptSize, what: "the prompt on stdin")
            }
        } else {
            throw UsageError("exec needs a PROMPT (or --prompt-file, or the prompt on stdin)", usage: Self.usage)
        }
        guard parsed.positionals.count <= 1 else {
            throw UsageError("exec takes one PROMPT; quote it", usage: Self.usage)
        }
        first = String(first.trimmed())
        guard !first.isEmpty else { throw UsageError("the prompt is empty", usage: Self.usage) }
        prompts = [first] + parsed.all("--then")
        thread = parsed["--thread"]
        let directory = parsed["--cwd"].map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        threadOptions = ThreadOptions(
            workingDirectory: directory ?? FileManager.default.currentDirectoryPath,
            model: parsed["--model"],
            approvalPolicy: parsed["--approval"],
            sandbox: parsed["--sandbox"]
        )
        switch parsed["--approval-decision"] ?? "decline" {
        case "decline": decision = .declineApprovals
        case "accept": decision = .acceptApprovals
        default: throw UsageError("--approval-decision is decline or accept", usage: Self.usage)
        }
        configuration = AppServerConfiguration(configOverrides: parsed.all("-c"), workingDirectory: directory)
            .applying(environment: environment)
        if let codex = parsed["--codex"] { configuration.executable = codex }
        if let seconds = parsed["--timeout"] {
            guard let value = Double(seconds),
                let limit = Duration(seconds: value, in: .milliseconds(1)...Self.longestWait)
            else {
                throw UsageError(
                    "--timeout is a number of seconds, at most \(Self.longestWait) (a year)",
                    usage: Self.usage
                )
            }
            timeout = limit
        }
        json = parsed["--json"] != nil
        quiet = parsed["--quiet"] != nil
        recordingPath = parsed["--record"]
        if let value = parsed["--traceparent"] ?? environment.setting("TRACEPARENT") {
            guard let context = TraceContext(traceparent: value) else {
                throw UsageError("--traceparent (or TRACEPARENT) is not a W3C traceparent", usage: Self.usage)
            }
            parent = context
        }
        prices = try PriceTable.from(parsed, environment: environment, usage: Self.usage)
        export = try ExportOptions(parsed, environment: environment, usage: Self.usage)
    }

    /// The prompt `read` reads; a usage error when it cannot.
    private static func prompt(_ read: () throws(FileReadError) -> [UInt8]) throws -> String {
        do {
            return String(decoding: try read(), as: UTF8.self)
        } catch {
            throw UsageError(error.description, usage: usage)
        }
    }

    /// The largest prompt read from a file or stdin: far beyond what a model takes, small enough to hold.
    static let maximumPromptSize = 16 << 20
    /// The longest `--timeout` or `--flush-timeout`.
    static let longestWait = Duration.seconds(365 * 24 * 3600)

    /// How the run ended, for the exit status.
    enum Ending: Int32 {
        case completed = 0
        case failed = 1
        case codexFailed = 3
        case timedOut = 124
        case interrupted = 130
    }

    func run() async throws -> Int32 {
        let signals = SignalHandling()
        let approvals = ApprovalCounter()
        var harness = HarnessConfiguration(
            appServer: configuration,
            prices: prices,
            export: export.settings(parent: parent),
            recordingPath: recordingPath
        )
        let decision = decision
        harness.appServer.serverRequestPolicy = ServerRequestPolicy { request in
            let answer = await decision.answer(request)
            approvals.count(request.method, answer)
            return answer
        }
        export.announce()
        let started = ContinuousClock.now
        let (prompts, thread, threadOptions, timeout) = (prompts, thread, threadOptions, timeout)
        let overridden = !configuration.configOverrides.isEmpty
        let outcome = try await CodexHarness.withSession(harness) { session in
            signals.watch(session)
            if overridden, let version = CodexVersion(userAgent: session.client.userAgent),
                version.ignoresConfigOverrides
            {
                printError(
                    "codex-telemetry: Codex \(version) ignores -c on app-server (releases up to 0.77 do): "
                        + "put those settings in CODEX_HOME/config.toml"
                )
            }
            let threadID: String
            if let thread {
                threadID = try await session.resumeThread(thread, threadOptions).id
            } else {
                threadID = try await session.startThread(threadOptions).id
            }
            var results: [TurnResult] = []
            for prompt in prompts {
                let result = try await session.runTurn(threadID: threadID, prompt: prompt, timeout: timeout)
                results.append(result)
                if result.status != .completed || signals.interrupted { break }
            }
            return (threadID, results)
        }
        signals.stop()
        let elapsed = ContinuousClock.now - started
        if let report = outcome.exportReport, export.configuration.hasEndpoint {
            printError(report.text(spoolDirectory: export.spoolDirectory))
        }
        let lost = outcome.exportReport?.lostAnything == true
        let ending = report(outcome.result, interrupted: signals.interrupted, lost: lost, elapsed: elapsed)
        if !quiet {
            printError(
                Self.summary(ending: ending, events: outcome.events, approvals: approvals.text, elapsed: elapsed)
            )
        }
        return Self.exitStatus(ending, lost: lost)
    }

    /// How the run ended, said on stdout (the last answer, or the JSON result) and, for a failure, on stderr.
    private func report(
        _ result: Result<(String, [TurnResult]), any Error>,
        interrupted: Bool,
        lost: Bool,
        elapsed: Duration
    ) -> Ending {
        let ending: Ending
        switch result {
        case .success(let (threadID, results)):
            let last = results.last
            if interrupted || last?.status == .interrupted && last?.timedOut == false {
                ending = .interrupted
            } else if last?.timedOut == true {
                ending = .timedOut
            } else if last?.status == .completed {
                ending = .completed
            } else {
                ending = .failed
            }
            if json {
                let status = Self.exitStatus(ending, lost: lost)
                print(
                    Self.json(
                        ending: ending,
                        exitStatus: status,
                        threadID: threadID,
                        results: results,
                        elapsed: elapsed
                    )
                )
            } else if let message = last?.finalMessage {
                print(message)
            }
        case .failure(let error):
            if interrupted {
                ending = .interrupted
            } else if (error as? AppServerError)?.code == .timedOut {
                ending = .timedOut
            } else {
                ending = .codexFailed
            }
            printError("error: \(Self.explain(error))")
            if json {
                print(
                    Self.json(ending: ending, exitStatus: ending.rawValue, threadID: nil, results: [], elapsed: elapsed)
                )
            }
        }
        return ending
    }

    /// How the run ended, as the exit status; a run that completed but lost telemetry exits 74.
    static func exitStatus(_ ending: Ending, lost: Bool) -> Int32 {
        ending == .completed && lost ? ExitStatus.ioError : ending.rawValue
    }

    /// One sentence about a failure, without Codex's stderr once a session has begun (it may quote the session).
    static func explain(_ error: any Error) -> String {
        guard let failure = error as? AppServerError else { return "\(error)" }
        switch failure.code {
        case .launchFailed, .handshakeFailed: return failure.description
        case .serverExited: return "\(failure.message), before the turn ended; run with --record to keep the session"
        default: return failure.message
        }
    }

    static func summary(ending: Ending, events: [TelemetryEvent], approvals: String, elapsed: Duration) -> String {
        var report = UsageReport(by: [.model], calendar: .utc)
        for event in events { report.add(event) }
        let models = report.rows.map { $0.key[0] }.joined(separator: ", ")
        let sum = report.total
        // A call without a price is never counted as free.
        var cost = "$" + sum.costUSD.decimal(places: 4)
        if sum.unpricedModelCalls == sum.modelCalls, sum.modelCalls > 0 {
            cost = "cost unknown"
        } else if sum.unpricedModelCalls > 0 {
            cost += " + \(sum.unpricedModelCalls) unpriced call\(sum.unpricedModelCalls == 1 ? "" : "s")"
        }
        var parts = [
            "\(ending)", models.isEmpty ? "no model" : models,
            "\(sum.modelCalls) model call\(sum.modelCalls == 1 ? "" : "s")",
            "\(sum.inputTokens) input (\(sum.cachedInputTokens) cached) + \(sum.outputTokens) output tokens", cost,
            "\(sum.toolCalls) tool call\(sum.toolCalls == 1 ? "" : "s")",
            (Double(elapsed.wholeMilliseconds) / 1000).decimal(places: 1) + " s",
        ]
        if !approvals.isEmpty { parts.append(approvals) }
        return "codex-telemetry: " + parts.joined(separator: " · ")
    }

    static func json(
        ending: Ending,
        exitStatus: Int32,
        threadID: String?,
        results: [TurnResult],
        elapsed: Duration
    ) -> String {
        let usage = results.reduce(TokenUsage.zero) { $0 + $1.usage }
        // A turn without a model call cost nothing; one whose model has no price has no cost.
        let costs = results.map { $0.modelCalls == 0 ? 0 : $0.costUSD }
        var members: JSONObject = [
            "status": .string("\(ending)"),
            "exitCode": .int(Int64(exitStatus)),
            "turns": .array(
                results.map { result in
                    var turn: JSONObject = [
                        "turnId": .string(result.turnID), "status": .string(result.status.rawValue),
                        "modelCalls": .int(Int64(result.modelCalls)), "toolCalls": .int(Int64(result.toolCalls)),
                        "durationMs": .int(result.duration.wholeMilliseconds),
                    ]
                    if let errorClass = result.errorClass { turn["errorType"] = .string(errorClass.rawValue) }
                    if result.timedOut { turn["timedOut"] = .bool(true) }
                    return .object(turn)
                }
            ),
            "usage": [
                "inputTokens": .int(usage.input), "cachedInputTokens": .int(usage.cachedInput),
                "outputTokens": .int(usage.output), "reasoningOutputTokens": .int(usage.reasoningOutput),
            ],
            "durationMs": .int(elapsed.wholeMilliseconds),
        ]
        if let threadID { members["threadId"] = .string(threadID) }
        if !costs.isEmpty, costs.allSatisfy({ $0 != nil }) {
            members["costUsd"] = .double(costs.compactMap { $0 }.reduce(0, +))
        }
        return JSONValue.object(members).serializedText
    }
}

extension JSONValue {
    var serializedText: String { String(decoding: serialized(), as: UTF8.self) }
}

/// Counts the approvals Codex asked for and how they were answered, for the summary.
final class ApprovalCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    func count(_ method: String, _ answer: Result<JSONValue, JSONRPCError>) {
        guard method.hasSuffix("requestApproval") || method.hasSuffix("Approval") else { return }
        let decision = (try? answer.get())?["decision"]?.string ?? "declined"
        let word = ["accept", "approved"].contains(decision) ? "accepted" : "declined"
        counts.withLock { $0[word, default: 0] += 1 }
    }

    var text: String {
        counts.withLock { counts in
            counts.keys.sorted().map { "\(counts[$0]!) approval\(counts[$0]! == 1 ? "" : "s") \($0)" }
                .joined(separator: ", ")
        }
    }
}

/// Ctrl-C and SIGTERM: the first interrupts the running turn (and stops Codex if it does not end within ten
/// seconds), so the turn is reported, not lost; the second exits at once.
final class SignalHandling: Sendable {
    private struct State {
        var session: CodexSession?
        var received = 0
    }

    private let state = Mutex(State())
    /// Set once, as the handler is made.
    nonisolated(unsafe) private var signals: StopSignals?

    init() {
        signals = StopSignals { [weak self] _ in self?.received() }
    }

    var interrupted: Bool { state.withLock { $0.received > 0 } }

    /// Gives the handler the session to interrupt; a signal that came while Codex was starting is acted on now.
    func watch(_ session: CodexSession) {
        let early = state.withLock { state in
            state.session = session
            return state.received > 0
        }
        if early { Task { await session.interruptRunningTurns() } }
    }

    func stop() {
        signals?.cancel()
    }

    private func received() {
        let (count, session) = state.withLock { state -> (Int, CodexSession?) in
            state.received += 1
            return (state.received, state.session)
        }
        if count > 1 {
            printError("codex-telemetry: stopping now")
            exit(ExecCommand.Ending.interrupted.rawValue)
        }
        printError("codex-telemetry: interrupting the turn (Ctrl-C again to stop at once)")
        guard let session else { return }
        Task {
            await session.interruptRunningTurns()
            try? await Task.sleep(for: .seconds(10))
            kill(session.client.processID, SIGTERM)
        }
    }
}
