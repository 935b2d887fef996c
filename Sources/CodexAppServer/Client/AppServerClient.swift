import JSON
import JSONRPC

/// A running `codex app-server` and a JSON-RPC session with it.
///
/// Use it within `withClient(_:_:)`, which starts Codex, performs the handshake, and stops Codex when the body
/// returns or throws. Writing to a Codex that has died fails quietly (the writer thread blocks SIGPIPE).
public final class AppServerClient: Sendable {
    /// The package version sent as `clientInfo.version`.
    public static let version = "0.1.0"

    /// The server's `userAgent`, from the handshake: it names the Codex version.
    public let userAgent: String
    /// The process id of `codex app-server`, for a harness that watches or signals it.
    public let processID: Int32

    private let connection: JSONRPCConnection
    private let turns: TurnTracker

    private init(connection: JSONRPCConnection, turns: TurnTracker, userAgent: String, processID: Int32) {
        self.connection = connection
        self.turns = turns
        self.userAgent = userAgent
        self.processID = processID
    }

    /// Starts Codex, initializes a session, runs `body`, and stops Codex: close stdin, wait, SIGTERM, wait, SIGKILL.
    ///
    /// - Throws: `AppServerError` when Codex cannot be started or does not complete the handshake; whatever `body`
    ///   throws.
    public static func withClient<Result: Sendable>(
        _ configuration: AppServerConfiguration,
        _ body: (AppServerClient) async throws -> Result
    ) async throws -> Result {
        let process: ChildProcess
        do {
            process = try ChildProcess(
                ChildProcess.Configuration(
                    executable: configuration.executable,
                    arguments: configuration.arguments,
                    environment: configuration.environment,
                    workingDirectory: configuration.workingDirectory
                )
            )
        } catch {
            throw AppServerError(.launchFailed, "could not start Codex: \(error.message)")
        }
        let connection = JSONRPCConnection(process: process, sent: configuration.outboundObserver)
        let turns = TurnTracker()
        let observer = configuration.observer

        // The reader runs in a task of its own: cancelling the caller must not cut off what Codex still writes
        // (the end of a turn, its usage). The teardown below ends it.
        let reader = Task {
            await connection.run(handler: configuration.serverRequestPolicy.answer) { line in
                observer?(line)
                if let message = line.message { turns.observe(message) }
            }
            let ending = process.termination.map { "Codex \($0)" } ?? "Codex closed its output but did not exit"
            turns.endOfStream(reason: ending, stderrExcerpt: process.stderrExcerpt)
        }
        let outcome: Swift.Result<Result, any Error>
        do {
            let userAgent = try await initialize(connection, configuration)
            let client = AppServerClient(
                connection: connection,
                turns: turns,
                userAgent: userAgent,
                processID: process.pid
            )
            outcome = .success(try await body(client))
        } catch {
            outcome = .failure(error)
        }
        // Teardown as steps that run to their end even if the caller is cancelled, as swift-subprocess does.
        await Task {
            await process.terminate()
            // The reader ends when Codex's stdout closes, normally as Codex exits, and first hands on the lines
            // Codex wrote before it did. A grandchild that inherited that stdout must not keep us here.
            await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    await reader.value
                    return true
                }
                group.addTask {
                    try? await Task.sleep(for: readerDrainLimit)
                    return false
                }
                if await group.next() == false { reader.cancel() }
                group.cancelAll()
            }
        }.value
        return try outcome.get()
    }

    /// Starts a thread.
    ///
    /// - Parameters:
    ///   - options: where and how Codex works; `nil` fields take Codex's own configuration.
    /// - Returns: the thread's id and the model and provider it runs.
    /// - Throws: `AppServerError` when Codex refuses or has exited.
    public func startThread(_ options: ThreadOptions = ThreadOptions()) async throws -> ThreadInfo {
        let result = try await callWithOldVocabularyFallback(AppServerMethod.threadStart, options, [:])
        guard let thread = ThreadInfo(openedBy: result) else {
            throw AppServerError(.unexpectedResponse, "thread/start answered without a thread id and model")
        }
        return thread
    }

    /// Resumes a thread that Codex has on disk, so further turns continue it.
    ///
    /// - Parameters:
    ///   - threadID: the thread to resume.
    ///   - options: overrides for the resumed thread; `nil` fields keep the thread's own.
    /// - Throws: `AppServerError` when Codex refuses (an unknown thread) or has exited.
    public func resumeThread(_ threadID: String, _ options: ThreadOptions = ThreadOptions()) async throws -> ThreadInfo
    {
        let result = try await callWithOldVocabularyFallback(
            AppServerMethod.threadResume,
            options,
            ["threadId": .string(threadID)]
        )
        guard let thread = ThreadInfo(openedBy: result) else {
            throw AppServerError(.unexpectedResponse, "thread/resume answered without a thread id and model")
        }
        return thread
    }

    /// Forks a thread: a new thread that starts from the other's history, which goes on unchanged.
    ///
    /// - Parameters:
    ///   - threadID: the thread to fork.
    /// - Returns: the new thread, whose `forkedFromID` is `threadID`.
    /// - Throws: `AppServerError` when Codex refuses (an unknown thread) or has exited.
    public func forkThread(_ threadID: String) async throws -> ThreadInfo {
        let result = try await call(AppServerMethod.threadFork, ["threadId": .string(threadID)])
        guard let thread = ThreadInfo(openedBy: result) else {
            throw AppServerError(.unexpectedResponse, "thread/fork answered without a thread id and model")
        }
        return thread
    }

    /// Asks Codex to compact a thread's context now. The compaction runs as a turn of its own, which this does not
    /// wait for.
    ///
    /// - Throws: `AppServerError` when Codex refuses (a release without compaction on request) or has exited.
    public func compactThread(_ threadID: String) async throws {
        _ = try await call(AppServerMethod.threadCompactStart, ["threadId": .string(threadID)])
    }

    /// Archives a thread: Codex moves its rollout file to `archived_sessions/`, where `unarchiveThread` finds it.
    ///
    /// - Throws: `AppServerError` when Codex refuses (a thread it cannot find) or has exited.
    public func archiveThread(_ threadID: String) async throws {
        _ = try await call(AppServerMethod.threadArchive, ["threadId": .string(threadID)])
    }

    /// Unarchives a thread: Codex moves its rollout file back under `sessions/`; resume it to run turns again.
    ///
    /// - Throws: `AppServerError` when Codex refuses (a thread not archived) or has exited.
    public func unarchiveThread(_ threadID: String) async throws {
        _ = try await call(AppServerMethod.threadUnarchive, ["threadId": .string(threadID)])
    }

    /// The hook handlers Codex has configured for a working directory, as `hooks/list` gives them (Codex 0.133 and
    /// later): what a tool that installed one needs to have it trusted.
    ///
    /// - Throws: `AppServerError` when Codex refuses (a release without hooks) or has exited.
    public func configuredHooks(workingDirectory: String) async throws -> [ConfiguredHook] {
        let result = try await call(AppServerMethod.hooksList, ["cwds": [.string(workingDirectory)]])
        return (result["data"]?.array ?? []).flatMap { entry in
            (entry["hooks"]?.array ?? []).compactMap(ConfiguredHook.init(listed:))
        }
    }

    /// Trusts hook handlers at their current hash, as the user's review in Codex would: written to the user's
    /// `config.toml` by Codex's own configuration writer, which leaves every other setting as it was.
    ///
    /// - Throws: `AppServerError` when Codex refuses or has exited.
    public func trust(_ hooks: [ConfiguredHook]) async throws {
        var trusted = JSONObject()
        for hook in hooks { trusted[hook.key] = ["trusted_hash": .string(hook.currentHash)] }
        let edit: JSONValue = ["keyPath": "hooks.state", "mergeStrategy": "upsert", "value": .object(trusted)]
        _ = try await call(AppServerMethod.configBatchWrite, ["edits": [edit]])
    }

    /// Starts a turn with a text prompt and returns its id; the turn runs on, see `waitForTurnEnd(threadID:turnID:)`.
    ///
    /// A `turn/start` sent while a turn is running returns that turn's id: it is not a new turn. With a
    /// `traceparent` (W3C), Codex's own spans of the turn join that trace, under that span.
    /// - Throws: `AppServerError` when Codex refuses or has exited.
    public func startTurn(threadID: String, text: String, traceparent: String? = nil) async throws -> String {
        let params: JSONValue = ["threadId": .string(threadID), "input": [["type": "text", "text": .string(text)]]]
        let trace: JSONObject = traceparent.map { ["trace": ["traceparent": .string($0)]] } ?? [:]
        let result = try await call(AppServerMethod.turnStart, params, otherMembers: trace)
        guard let turnID = result["turn"]?["id"]?.string else {
            throw AppServerError(.unexpectedResponse, "turn/start answered without a turn id")
        }
        return turnID
    }

    /// Asks Codex to stop a running turn; it then ends with status `interrupted`.
    ///
    /// Codex answers `turn/start` before the turn runs, and refuses to interrupt it until it does (`no active turn
    /// to interrupt`): a refused interrupt waits for the turn's `turn/started` (which may come just after the
    /// refusal) and is sent once more. A turn that ended meanwhile needs none.
    /// - Throws: `AppServerError` when Codex refuses twice or has exited.
    public func interruptTurn(threadID: String, turnID: String) async throws {
        let params: JSONValue = ["threadId": .string(threadID), "turnId": .string(turnID)]
        do {
            _ = try await call(AppServerMethod.turnInterrupt, params)
        } catch let refusal as AppServerError where refusal.serverError != nil {
            if try await turns.waitForStart(of: TurnTracker.Key(threadID: threadID, turnID: turnID)) != nil { return }
            _ = try await call(AppServerMethod.turnInterrupt, params)
        }
    }

    /// Asks Codex to stop a running turn and waits for it to end, for at most `limit`: a Codex that neither answers
    /// nor ends the turn must not hold its caller forever.
    ///
    /// - Returns: how the turn ended (normally `interrupted`) and its last agent message.
    /// - Throws: `AppServerError` with code `.timedOut` when the turn has not ended by then; as `interruptTurn`
    ///   and `waitForTurnEnd` do otherwise.
    public func interruptTurn(threadID: String, turnID: String, waitingAtMost limit: Duration) async throws -> TurnEnd {
        do {
            return try await withTimeout(limit) { [self] in
                try await interruptTurn(threadID: threadID, turnID: turnID)
                return try await waitForTurnEnd(threadID: threadID, turnID: turnID)
            }
        } catch let error as JSONRPCConnectionError where error.code == .timedOut {
            throw AppServerError(.timedOut, "Codex did not end the turn within \(limit) of being asked to interrupt it")
        }
    }

    /// Waits for `turn/completed` of a turn, even if it came before this call.
    ///
    /// - Returns: how the turn ended and its last agent message.
    /// - Throws: `AppServerError` with code `.serverExited` when Codex ends first; `CancellationError`.
    public func waitForTurnEnd(threadID: String, turnID: String) async throws -> TurnEnd {
        try await turns.waitForEnd(of: TurnTracker.Key(threadID: threadID, turnID: turnID))
    }

    /// Sends a thread request with the documented spellings (`danger-full-access`, `untrusted`); if the server
    /// refuses it as an invalid request and the options have a camelCase spelling (`dangerFullAccess`,
    /// `unlessTrusted`: the only ones Codex 0.65 knows), tries once more with those. The first refusal is what is
    /// thrown when both fail.
    private func callWithOldVocabularyFallback(
        _ method: String,
        _ options: ThreadOptions,
        _ extra: [String: JSONValue]
    ) async throws -> JSONValue {
        do {
            return try await call(method, .object(JSONObject(options.members.merging(extra) { $1 })))
        } catch let refusal as AppServerError where refusal.serverError?.code == invalidRequestCode {
            let old = options.inOldVocabulary
            guard old.members != options.members else { throw refusal }
            do {
                return try await call(method, .object(JSONObject(old.members.merging(extra) { $1 })))
            } catch {
                throw refusal
            }
        }
    }

    private func call(_ method: String, _ params: JSONValue, otherMembers: JSONObject = [:]) async throws -> JSONValue {
        do {
            return try await connection.request(method, params: params, otherMembers: otherMembers)
        } catch let error as JSONRPCConnectionError {
            throw AppServerError(error)
        }
    }

    private static func initialize(
        _ connection: JSONRPCConnection,
        _ configuration: AppServerConfiguration
    ) async throws -> String {
        let optOut = configuration.optOutNotificationMethods.map(JSONValue.string)
        let params: JSONValue = [
            "clientInfo": ["name": "codex-telemetry", "version": .string(version)],
            "capabilities": ["optOutNotificationMethods": .array(optOut)],
        ]
        let result: JSONValue
        do {
            result = try await withTimeout(configuration.handshakeTimeout) {
                try await connection.request(AppServerMethod.initialize, params: params)
            }
        } catch let error as JSONRPCConnectionError {
            throw AppServerError(.handshakeFailed, "Codex did not complete the initialize handshake: \(error.message)")
        }
        connection.notify(AppServerMethod.initialized, params: [:])
        return result["userAgent"]?.string ?? "unknown"
    }
}

/// How long the reader may take, once Codex has exited, to hand on the lines Codex wrote before exiting.
private let readerDrainLimit = Duration.seconds(2)

/// Runs `operation`, failing with `.timedOut` if it takes longer than `limit`.
func withTimeout<Value: Sendable>(
    _ limit: Duration,
    _ operation: @escaping @Sendable () async throws -> Value
) async throws -> Value {
    try await withThrowingTaskGroup(of: Value.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw JSONRPCConnectionError(.timedOut, nil, "no answer within \(limit)")
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// Where and how a thread works. Fields left `nil` take Codex's own configuration.
public struct ThreadOptions: Sendable {
    /// The working directory of the thread.
    public var workingDirectory: String?
    public var model: String?
    /// `untrusted`, `on-failure`, `on-request` or `never`.
    public var approvalPolicy: String?
    /// `read-only`, `workspace-write` or `danger-full-access`.
    public var sandbox: String?

    public init(
        workingDirectory: String? = nil,
        model: String? = nil,
        approvalPolicy: String? = nil,
        sandbox: String? = nil
    ) {
        self.workingDirectory = workingDirectory
        self.model = model
        self.approvalPolicy = approvalPolicy
        self.sandbox = sandbox
    }

    /// The `thread/start` (and `thread/resume`) parameters these options set.
    /// The same options spelled as Codex's oldest app-servers (0.65) want their enums: in camelCase.
    var inOldVocabulary: ThreadOptions {
        var options = self
        options.sandbox = sandbox.map {
            ["read-only": "readOnly", "workspace-write": "workspaceWrite", "danger-full-access": "dangerFullAccess"][$0]
                ?? $0
        }
        options.approvalPolicy = approvalPolicy.map {
            ["untrusted": "unlessTrusted", "on-failure": "onFailure", "on-request": "onRequest"][$0] ?? $0
        }
        return options
    }

    var members: [String: JSONValue] {
        var members: [String: JSONValue] = [:]
        if let workingDirectory { members["cwd"] = .string(workingDirectory) }
        if let model { members["model"] = .string(model) }
        if let approvalPolicy { members["approvalPolicy"] = .string(approvalPolicy) }
        if let sandbox { members["sandbox"] = .string(sandbox) }
        return members
    }
}

/// JSON-RPC's code for a request the server could not accept, which Codex also answers for an unknown enum value.
private let invalidRequestCode: Int64 = -32600

/// A hook handler as Codex lists it.
public struct ConfiguredHook: Sendable, Equatable {
    /// Codex's name for the handler: its file, event and position.
    public var key: String
    /// `stop`, `sessionEnd`, …
    public var eventName: String
    /// The command it runs, for a command handler.
    public var command: String?
    /// The hash a trust must name.
    public var currentHash: String
    /// `trusted`, `untrusted`, `modified` or `managed`.
    public var trustStatus: String

    init?(listed entry: JSONValue) {
        guard let key = entry["key"]?.string, let eventName = entry["eventName"]?.string,
            let currentHash = entry["currentHash"]?.string, let trustStatus = entry["trustStatus"]?.string
        else { return nil }
        self.key = key
        self.eventName = eventName
        command = entry["command"]?.string
        self.currentHash = currentHash
        self.trustStatus = trustStatus
    }
}
