public import CodexAppServer
public import CodexTelemetry
import FoundationEssentials
import JSONRPC
import OTLP
public import OTLPExport
import SaturatingArithmetic
import Synchronization

/// How a harness runs Codex and what it does with the telemetry.
public struct HarnessConfiguration: Sendable {
    /// How Codex is started, and how its requests (approvals, user input, dynamic tools) are answered.
    public var appServer: AppServerConfiguration
    public var prices: PriceTable
    /// OTLP export; `nil` keeps the telemetry in the process (sinks, turn results).
    public var export: ExportSettings?
    /// Your own receivers of events.
    public var sinks: [any TelemetrySink]
    /// A file to record the session to (it will hold content; created 0600).
    public var recordingPath: String?

    public init(
        appServer: AppServerConfiguration,
        prices: PriceTable = .bundled,
        export: ExportSettings? = nil,
        sinks: [any TelemetrySink] = [],
        recordingPath: String? = nil
    ) {
        self.appServer = appServer
        self.prices = prices
        self.export = export
        self.sinks = sinks
        self.recordingPath = recordingPath
    }
}

/// Runs Codex for an automation harness: an eval runner, a bot, a CI job.
public enum CodexHarness {
    /// The package version.
    public static let version = AppServerClient.version

    /// Starts Codex, runs `body` with a session, then closes the session's telemetry (turns still running are
    /// `incomplete`), exports it and stops Codex. A failure of Codex or of `body` is in the outcome, after the
    /// telemetry has been flushed: a failed run is when telemetry matters most.
    ///
    /// - Throws: `HarnessError` or `OTLPConfigurationError` only when the recording or the spool cannot be created.
    public static func withSession<Result: Sendable>(
        _ configuration: HarnessConfiguration,
        _ body: @escaping @Sendable (CodexSession) async throws -> Result
    ) async throws -> SessionOutcome<Result> {
        let recorder = try configuration.recordingPath.map { try SessionRecorder(path: $0) }
        guard let settings = configuration.export else {
            return await run(configuration, recorder: recorder, export: nil, body)
        }
        var (outcome, report) = try await TelemetryExport.withExport(settings) { export in
            await run(configuration, recorder: recorder, export: export, body)
        }
        outcome.exportReport = report
        return outcome
    }

    private static func run<Result: Sendable>(
        _ configuration: HarnessConfiguration,
        recorder: SessionRecorder?,
        export: TelemetryExport?,
        _ body: @escaping @Sendable (CodexSession) async throws -> Result
    ) async -> SessionOutcome<Result> {
        let pipeline = EventPipeline(
            prices: configuration.prices,
            sinks: configuration.sinks,
            export: export,
            recorder: recorder
        )
        var appServer = configuration.appServer
        let observe = appServer.observer
        appServer.observer = { line in
            observe?(line)
            pipeline.observe(line)
        }
        let sent = appServer.outboundObserver
        appServer.outboundObserver = { line in
            sent?(line)
            recorder?.record(line, from: .client, at: Date())
            pipeline.observeSent(line)
        }
        let result: Swift.Result<Result, any Error>
        do {
            result = .success(
                try await AppServerClient.withClient(appServer) { client in
                    try await body(CodexSession(client: client, pipeline: pipeline))
                }
            )
        } catch {
            result = .failure(error)
        }
        pipeline.finish()
        return SessionOutcome(result: result, events: pipeline.events)
    }
}

/// What a session produced.
public struct SessionOutcome<Result: Sendable>: Sendable {
    /// What the body returned, or why Codex or the body failed.
    public var result: Swift.Result<Result, any Error>
    /// Every telemetry event of the session, in order.
    public var events: [TelemetryEvent]
    /// What was exported, when export was on.
    public var exportReport: ExportReport?
}

/// A running Codex with telemetry attached.
public final class CodexSession: Sendable {
    /// The app-server client, for anything the session does not wrap.
    public let client: AppServerClient
    let pipeline: EventPipeline
    private let turns = Mutex(RunningTurns())

    private struct RunningTurns {
        var running: Set<TurnKey> = []
        /// Set by `interruptRunningTurns()`: a turn that starts afterwards is interrupted at once.
        var interruptRequested = false
    }

    struct TurnKey: Hashable, Sendable {
        var threadID: String
        var turnID: String
    }

    init(client: AppServerClient, pipeline: EventPipeline) {
        self.client = client
        self.pipeline = pipeline
    }

    /// Starts a thread. See `AppServerClient.startThread(_:)`.
    public func startThread(_ options: ThreadOptions = ThreadOptions()) async throws -> ThreadInfo {
        try await client.startThread(options)
    }

    /// Resumes a thread Codex has on disk. See `AppServerClient.resumeThread(_:_:)`.
    public func resumeThread(_ threadID: String, _ options: ThreadOptions = ThreadOptions()) async throws -> ThreadInfo
    {
        try await client.resumeThread(threadID, options)
    }

    /// Runs one turn to its end.
    ///
    /// - Parameters:
    ///   - threadID: the thread to run the turn in.
    ///   - prompt: the user's text: content, sent to Codex and nowhere else.
    ///   - timeout: how long the turn may run; past it, it is interrupted (and its result says so).
    /// - Returns: how the turn ended, its final message, usage, cost and events.
    /// - Throws: `AppServerError` when Codex refuses the turn or exits during it, or (code `.timedOut`) when a turn
    ///   past its timeout has not ended ten seconds after it was interrupted: the timeout always bounds the wait.
    public func runTurn(threadID: String, prompt: String, timeout: Duration? = nil) async throws -> TurnResult {
        // Codex's own spans of the turn (when its tracing is on) go under the turn's span, in its trace.
        let position = pipeline.export?.positionForNextTurn()
        let turnID = try await client.startTurn(threadID: threadID, text: prompt, traceparent: position?.traceparent)
        if let position { pipeline.export?.assign(position, toTurn: turnID, ofThread: threadID) }
        let key = TurnKey(threadID: threadID, turnID: turnID)
        let interruptNow = turns.withLock { turns in
            turns.running.insert(key)
            return turns.interruptRequested
        }
        defer { turns.withLock { _ = $0.running.remove(key) } }
        let client = client
        if interruptNow { try await client.interruptTurn(threadID: threadID, turnID: turnID) }
        let end: TurnEnd
        var timedOut = false
        if let timeout {
            let first = try await withThrowingTaskGroup(of: TurnEnd?.self) { group in
                group.addTask { try await client.waitForTurnEnd(threadID: threadID, turnID: turnID) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
            if let first {
                end = first
            } else {
                timedOut = true
                end = try await client.interruptTurn(threadID: threadID, turnID: turnID, waitingAtMost: interruptGrace)
            }
        } else {
            end = try await client.waitForTurnEnd(threadID: threadID, turnID: turnID)
        }
        await pipeline.awaitLateTools(threadID: threadID, turnID: turnID)
        return TurnResult(
            end: end,
            threadID: threadID,
            timedOut: timedOut,
            events: pipeline.events(ofThread: threadID, turn: turnID)
        )
    }

    /// Asks Codex to stop every turn this session is running (each then ends `interrupted`), and any turn it
    /// starts from now on: what a harness does on Ctrl-C, which can come at any moment.
    public func interruptRunningTurns() async {
        let running = turns.withLock { turns in
            turns.interruptRequested = true
            return turns.running
        }
        for key in running {
            try? await client.interruptTurn(threadID: key.threadID, turnID: key.turnID)
        }
    }

    /// Every event so far, in order.
    public var events: [TelemetryEvent] { pipeline.events }
}

/// How a turn went.
public struct TurnResult: Sendable {
    public var threadID: String
    public var turnID: String
    /// `completed`, `failed` or `interrupted`.
    public var status: TurnStatus
    /// The class of the error of a failed turn.
    public var errorClass: ErrorClass?
    /// Whether the turn was interrupted because it ran past its timeout.
    public var timedOut: Bool
    /// The last thing the agent said: content, for you, never exported.
    public var finalMessage: String?
    /// Tokens over the turn's model calls.
    public var usage: TokenUsage
    /// USD, when every model call could be priced.
    public var costUSD: Double?
    public var modelCalls: Int
    public var toolCalls: Int
    public var duration: Duration
    /// The turn's events: its model calls, tool calls, and the turn itself.
    public var events: [TelemetryEvent]

    init(end: TurnEnd, threadID: String, timedOut: Bool, events: [TelemetryEvent]) {
        self.threadID = threadID
        turnID = end.turn.id
        status = end.turn.status
        errorClass = end.turn.errorClass
        self.timedOut = timedOut
        finalMessage = end.finalAgentMessage
        self.events = events
        let turn = events.last { $0.name == .turn }
        func count(_ key: TelemetryAttribute.Key) -> Int64 {
            if case .int(let value) = turn?[key] { return value }
            return 0
        }
        usage = TokenUsage(
            input: count(.inputTokens),
            cachedInput: count(.cacheReadInputTokens),
            output: count(.outputTokens),
            reasoningOutput: count(.reasoningOutputTokens)
        )
        if case .double(let cost) = turn?[.costUSD] { costUSD = cost }
        modelCalls = Int(count(.llmCallCount))
        toolCalls = Int(count(.toolCallCount))
        duration = .milliseconds(count(.durationMilliseconds))
    }
}

/// A harness failure that is not Codex's.
public struct HarnessError: Error, Sendable, CustomStringConvertible {
    public var message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Live telemetry: Codex's lines in, events out to the sinks, the export and the turn results.
final class EventPipeline: Sendable {
    private struct State {
        var telemetry: SessionTelemetry
        var events: [TelemetryEvent] = []
    }

    private let state: Mutex<State>
    private let sinks: [any TelemetrySink]
    let export: TelemetryExport?
    private let recorder: SessionRecorder?

    init(prices: PriceTable, sinks: [any TelemetrySink], export: TelemetryExport?, recorder: SessionRecorder?) {
        state = Mutex(State(telemetry: SessionTelemetry(prices: prices)))
        self.sinks = sinks
        self.export = export
        self.recorder = recorder
    }

    func observe(_ line: JSONRPCConnection.InboundLine) {
        recorder?.record(line.bytes, from: .server, at: line.receivedAt)
        guard let message = line.message else { return }
        let receivedAt = UInt64(saturating: line.receivedAt.timeIntervalSince1970 * 1e9)
        deliver(state.withLock { $0.telemetry.receive(message, receivedAt: receivedAt) })
    }

    /// A line sent to Codex: of these, only an answer to an approval request tells the telemetry anything (how an
    /// edit was decided).
    func observeSent(_ line: [UInt8]) {
        guard
            let message = try? JSONRPCMessage(
                decoding: line,
                selecting: AppServerMessage.selection,
                maximumValues: AppServerMessage.maximumSelectedValues
            ), case .approvalAnswered = AppServerMessage(message)
        else { return }
        let now = UInt64(saturating: Date().timeIntervalSince1970 * 1e9)
        deliver(state.withLock { $0.telemetry.receive(message, receivedAt: now) })
    }

    func finish() {
        deliver(state.withLock { $0.telemetry.finish() })
    }

    /// Gives the tools of an ended turn a moment to report (some releases complete a command after its turn), then
    /// closes the turn with what it has.
    func awaitLateTools(threadID: String, turnID: String) async {
        let deadline = ContinuousClock.now + lateToolGrace
        while state.withLock({ $0.telemetry.isAwaitingTools(threadID: threadID, turnID: turnID) }) {
            guard ContinuousClock.now < deadline, (try? await Task.sleep(for: .milliseconds(20))) != nil else {
                deliver(state.withLock { $0.telemetry.stopAwaitingTools(threadID: threadID, turnID: turnID) })
                return
            }
        }
    }

    var events: [TelemetryEvent] { state.withLock { $0.events } }

    /// A turn's events. Old releases number turns alike in every thread: a turn is its thread and its id.
    func events(ofThread threadID: String, turn turnID: String) -> [TelemetryEvent] {
        state.withLock {
            $0.events.filter { $0[.turnID] == .string(turnID) && $0[.conversationID] == .string(threadID) }
        }
    }

    private func deliver(_ events: [TelemetryEvent]) {
        guard !events.isEmpty else { return }
        state.withLock { $0.events += events }
        for event in events {
            for sink in sinks { sink.record(event) }
            export?.record(event)
        }
    }
}

/// How long a turn's late tool completions are waited for, live, once the turn has ended.
private let lateToolGrace = Duration.seconds(2)

/// How long a turn past its timeout may take to end once interrupted.
private let interruptGrace = Duration.seconds(10)
