public import JSON
package import JSONRPC
import SaturatingArithmetic

/// What an app-server message says about threads, turns, items and usage: ids, enums, counts and names only.
///
/// Decoding reads just these fields, so prompts, messages, commands, outputs, paths and error texts are never copied
/// out of the JSON they came in. It is lenient: a message that is not one of these, or lacks a field we need, is
/// `.other`; unknown fields are ignored.
package enum AppServerMessage: Sendable, Hashable {
    /// A thread was opened: by a `thread/start`, `thread/resume` or `thread/fork` result, or `thread/started`.
    case threadOpened(ThreadInfo)
    /// The thread's settings changed (`thread/settings/updated`); they apply to its next turns.
    case threadSettingsUpdated(threadID: String, model: String?, reasoningEffort: String? = nil)
    /// The server switched a turn to another model (`model/rerouted`).
    case modelRerouted(threadID: String, turnID: String, model: String)
    case turnStarted(threadID: String, turn: TurnInfo)
    case turnCompleted(threadID: String, turn: TurnInfo)
    case itemStarted(threadID: String, turnID: String, item: ItemInfo, startedAtMilliseconds: Int64?)
    case itemCompleted(threadID: String, turnID: String, item: ItemInfo, completedAtMilliseconds: Int64?)
    /// The thread's cumulative usage and that of the last model call (`thread/tokenUsage/updated`), with how full
    /// the context is.
    case tokenUsageUpdated(
        threadID: String,
        turnID: String,
        total: TokenUsage,
        last: TokenUsage,
        context: ContextUsage? = nil
    )
    /// An `error` notification: `willRetry` false means the turn will fail.
    case error(threadID: String, turnID: String, errorClass: ErrorClass?, willRetry: Bool)
    /// The account's quota as the server last heard it (`account/rateLimits/updated`).
    case rateLimitsUpdated(RateLimits)
    /// The server asked its client to approve a tool item (`item/…/requestApproval`); the wait ends with
    /// `serverRequestResolved` of the same request id.
    case approvalRequested(
        threadID: String,
        turnID: String,
        itemID: String,
        requestID: JSONRPCID,
        requestedAtMilliseconds: Int64?
    )
    /// A request of the server's was answered, or withdrawn (`serverRequest/resolved`).
    case serverRequestResolved(threadID: String, requestID: JSONRPCID)
    /// The client's answer to an approval request, as the client sent it: `accept`, `acceptForSession` or
    /// `decline` (Codex's older words mapped to these).
    case approvalAnswered(requestID: JSONRPCID, decision: String)
    /// A hook finished running (`hook/completed`); `turnID` is `nil` for a hook of the thread, such as
    /// `sessionStart`.
    case hookCompleted(threadID: String, turnID: String?, run: HookRun)
    /// Anything else: a method we do not follow, a request, an error response.
    case other

    /// The methods of the notifications and server requests this decoding understands; a replay can pass over any
    /// other without parsing it.
    package static let followedMethods: Set<String> = AppServerMethod.approvalRequests.union([
        AppServerMethod.threadStarted, AppServerMethod.threadSettingsUpdated, AppServerMethod.modelRerouted,
        AppServerMethod.turnStarted, AppServerMethod.turnCompleted, AppServerMethod.itemStarted,
        AppServerMethod.itemCompleted, AppServerMethod.threadTokenUsageUpdated, AppServerMethod.error,
        AppServerMethod.accountRateLimitsUpdated, AppServerMethod.serverRequestResolved, AppServerMethod.hookCompleted,
    ])

    /// Exactly what this decoding reads of a line, as a selection: a line parsed with it builds nothing else, so a
    /// reader that only wants these messages never holds content, and its memory follows the few fields kept.
    package static let selection: JSONSelection = {
        let all = JSONSelection.everything
        let thread = JSONSelection.members([
            "id": all, "model": all, "modelProvider": all, "forkedFromId": all, "parentThreadId": all,
            "agentRole": all, "reasoningEffort": all, "projectId": all, "source": ThreadInfo.sourceSelection,
        ])
        let usage = JSONSelection.members([
            "inputTokens": all, "cachedInputTokens": all, "cacheWriteInputTokens": all, "outputTokens": all,
            "reasoningOutputTokens": all, "totalTokens": all,
        ])
        let window = JSONSelection.members(["usedPercent": all, "windowDurationMins": all, "resetsAt": all])
        let error = JSONSelection.members(["codexErrorInfo": all])
        let params = JSONSelection.members([
            "threadId": all, "turnId": all, "thread": thread,
            "threadSettings": .members(["model": all, "effort": all]),
            "toModel": all, "startedAtMs": all, "completedAtMs": all, "error": error, "willRetry": all,
            "itemId": all, "requestId": all,
            "run": .members([
                "eventName": all, "handlerType": all, "source": all, "status": all, "durationMs": all,
            ]),
            "turn": .members([
                "id": all, "status": all, "error": error, "startedAt": all, "completedAt": all, "durationMs": all,
                "rootTurnId": all,
            ]),
            "item": .members([
                "id": all, "type": all, "tool": all, "server": all, "status": all, "exitCode": all, "durationMs": all,
                "kind": all, "agentThreadId": all, "receiverThreadIds": all, "model": all,
                "startedAtMs": all, "completedAtMs": all,
                // Read to be counted or classified where they are decoded; only counts and a class leave.
                "changes": all, "command": .head(ShellWords.maximumLength + 1),
            ]),
            "tokenUsage": .members(["total": usage, "last": usage, "modelContextWindow": all]),
            "rateLimits": .members([
                "limitId": all, "planType": all, "primary": window, "secondary": window,
            ]),
        ])
        return .members([
            "id": all, "method": all, "emittedAtMs": all, "params": params,
            "result": .members([
                "thread": thread, "model": all, "modelProvider": all, "reasoningEffort": all,
                "turn": .members(["id": all]), "decision": all,
            ]),
            "error": .members(["code": all]),
        ])
    }()

    /// How many JSON values a line parsed with `selection` may build: far more than any message of ours holds, a
    /// patch of thousands of files included.
    package static let maximumSelectedValues = 1 << 16

    /// Reads a decoded JSON-RPC message.
    package init(_ message: JSONRPCMessage) {
        switch message {
        case .notification(let notification):
            self = Self.decode(method: notification.method, params: notification.params ?? .null) ?? .other
        case .response(let response):
            guard case .success(let result) = response.outcome else {
                self = .other
                return
            }
            if let thread = ThreadInfo(openedBy: result) {
                self = .threadOpened(thread)
            } else if let decision = result["decision"]?.string.flatMap(Self.approvalDecision) {
                self = .approvalAnswered(requestID: response.id, decision: decision)
            } else {
                self = .other
            }
        case .request(let request):
            let params = request.params ?? .null
            guard AppServerMethod.approvalRequests.contains(request.method),
                let threadID = params["threadId"]?.string, let turnID = params["turnId"]?.string,
                let itemID = params["itemId"]?.string
            else {
                self = .other
                return
            }
            self = .approvalRequested(
                threadID: threadID,
                turnID: turnID,
                itemID: itemID,
                requestID: request.id,
                requestedAtMilliseconds: params["startedAtMs"]?.int
            )
        }
    }

    /// An approval's decision in the words of `fileChange` approvals; those of older releases' review decisions
    /// (`approved`, `approved_for_session`, `denied`, `abort`) and a `cancel` mapped to them.
    private static func approvalDecision(_ decision: String) -> String? {
        switch decision {
        case "accept", "approved": "accept"
        case "acceptForSession", "approved_for_session": "acceptForSession"
        case "decline", "cancel", "denied", "abort": "decline"
        default: nil
        }
    }

    private static func decode(method: String, params: JSONValue) -> AppServerMessage? {
        switch method {
        case AppServerMethod.threadStarted:
            return params["thread"].flatMap { ThreadInfo(thread: $0, model: nil, provider: nil) }.map(Self.threadOpened)
        case AppServerMethod.threadSettingsUpdated:
            guard let threadID = params["threadId"]?.string else { return nil }
            return .threadSettingsUpdated(
                threadID: threadID,
                model: params["threadSettings"]?["model"]?.string,
                reasoningEffort: params["threadSettings"]?["effort"]?.string
            )
        case AppServerMethod.modelRerouted:
            guard let threadID = params["threadId"]?.string, let turnID = params["turnId"]?.string,
                let model = params["toModel"]?.string
            else { return nil }
            return .modelRerouted(threadID: threadID, turnID: turnID, model: model)
        case AppServerMethod.turnStarted, AppServerMethod.turnCompleted:
            guard let threadID = params["threadId"]?.string, let turn = params["turn"].flatMap(TurnInfo.init)
            else { return nil }
            return method == AppServerMethod.turnStarted
                ? .turnStarted(threadID: threadID, turn: turn) : .turnCompleted(threadID: threadID, turn: turn)
        case AppServerMethod.itemStarted, AppServerMethod.itemCompleted:
            guard let threadID = params["threadId"]?.string, let turnID = params["turnId"]?.string,
                let item = params["item"].flatMap(ItemInfo.init)
            else { return nil }
            if method == AppServerMethod.itemStarted {
                return .itemStarted(
                    threadID: threadID,
                    turnID: turnID,
                    item: item,
                    startedAtMilliseconds: params["startedAtMs"]?.int
                )
            }
            return .itemCompleted(
                threadID: threadID,
                turnID: turnID,
                item: item,
                completedAtMilliseconds: params["completedAtMs"]?.int
            )
        case AppServerMethod.threadTokenUsageUpdated:
            guard let threadID = params["threadId"]?.string, let turnID = params["turnId"]?.string,
                let usage = params["tokenUsage"], let total = usage["total"].flatMap(TokenUsage.init(breakdown:)),
                let last = usage["last"].flatMap(TokenUsage.init(breakdown:))
            else { return nil }
            let context = usage["last"]?["totalTokens"]?.int.map {
                ContextUsage(tokens: $0, window: usage["modelContextWindow"]?.int)
            }
            return .tokenUsageUpdated(threadID: threadID, turnID: turnID, total: total, last: last, context: context)
        case AppServerMethod.accountRateLimitsUpdated:
            return params["rateLimits"].map { .rateLimitsUpdated(RateLimits($0)) }
        case AppServerMethod.serverRequestResolved:
            guard let threadID = params["threadId"]?.string, let requestID = params["requestId"].flatMap(JSONRPCID.init)
            else { return nil }
            return .serverRequestResolved(threadID: threadID, requestID: requestID)
        case AppServerMethod.hookCompleted:
            guard let threadID = params["threadId"]?.string, let run = params["run"],
                let eventName = run["eventName"]?.string, let status = run["status"]?.string
            else { return nil }
            let hook = HookRun(
                eventName: eventName,
                handlerType: run["handlerType"]?.string,
                source: run["source"]?.string,
                status: status,
                durationMilliseconds: run["durationMs"]?.int
            )
            return .hookCompleted(threadID: threadID, turnID: params["turnId"]?.string, run: hook)
        case AppServerMethod.error:
            guard let threadID = params["threadId"]?.string, let turnID = params["turnId"]?.string else { return nil }
            return .error(
                threadID: threadID,
                turnID: turnID,
                errorClass: params["error"].flatMap(errorClass(of:)),
                willRetry: params["willRetry"]?.bool ?? false
            )
        default:
            return nil
        }
    }
}

/// The class of a turn error, read from its `codexErrorInfo`; `nil` when the error carries no class.
func errorClass(of error: JSONValue) -> ErrorClass? {
    switch error["codexErrorInfo"] {
    case .string(let name): ErrorClass(rawValue: name)
    case .object(let variant): variant.keys.sorted().first.map(ErrorClass.init(rawValue:))
    default: nil
    }
}

/// A thread's identity, the model it runs, and where it comes from.
public struct ThreadInfo: Sendable, Hashable {
    public var id: String
    public var model: String?
    public var provider: String?
    /// The thread this one was forked from.
    public var forkedFromID: String?
    /// Who started the thread: a client, or an agent (a sub-agent's thread).
    public var source: SessionSource?
    /// The thread that spawned this one, for a sub-agent.
    public var parentThreadID: String?
    /// A spawned sub-agent's configured role (`agent_role`), and how deep it is in the tree of agents (1 for a
    /// child of the root).
    public var agentRole: String?
    public var agentDepth: Int64?
    /// The reasoning effort the thread is configured with (`low`, `medium`, …).
    public var reasoningEffort: String?
    /// The project the app-server assigned the thread to.
    public var projectID: String?

    public init(
        id: String,
        model: String? = nil,
        provider: String? = nil,
        forkedFromID: String? = nil,
        source: SessionSource? = nil,
        parentThreadID: String? = nil,
        agentRole: String? = nil,
        agentDepth: Int64? = nil,
        reasoningEffort: String? = nil,
        projectID: String? = nil
    ) {
        self.id = id
        self.model = model
        self.provider = provider
        self.forkedFromID = forkedFromID
        self.source = source
        self.parentThreadID = parentThreadID
        self.agentRole = agentRole
        self.agentDepth = agentDepth
        self.reasoningEffort = reasoningEffort
        self.projectID = projectID
    }

    /// Reads the result of `thread/start`, `thread/resume` or `thread/fork`: a `thread` and the `model` it runs.
    init?(openedBy result: JSONValue) {
        guard let thread = result["thread"], let model = result["model"]?.string else { return nil }
        self.init(thread: thread, model: model, provider: result["modelProvider"]?.string)
        reasoningEffort = result["reasoningEffort"]?.string ?? reasoningEffort
    }

    init?(thread: JSONValue, model: String?, provider: String?) {
        guard let id = thread["id"]?.string else { return nil }
        let spawn = SessionSource.threadSpawn(in: thread["source"])
        self.init(
            id: id,
            model: model ?? thread["model"]?.string,
            provider: provider ?? thread["modelProvider"]?.string,
            forkedFromID: thread["forkedFromId"]?.string,
            source: thread["source"].map(SessionSource.init(json:)),
            parentThreadID: thread["parentThreadId"]?.string ?? spawn?["parent_thread_id"]?.string,
            agentRole: thread["agentRole"]?.string ?? spawn?["agent_role"]?.string,
            agentDepth: spawn?["depth"]?.int,
            reasoningEffort: thread["reasoningEffort"]?.string,
            projectID: thread["projectId"]?.string
        )
    }

    /// What is read of a thread's `source`: its variant names, and of a spawned thread, its parent, depth and role.
    package static let sourceSelection: JSONSelection = {
        let spawn = JSONSelection.members([
            "parent_thread_id": .everything, "depth": .everything, "agent_role": .everything,
        ])
        let subAgent = JSONSelection.members(["thread_spawn": spawn, "other": .members([:])])
        return .members(["subAgent": subAgent, "subagent": subAgent, "custom": .members([:])])
    }()
}

/// Who started a thread. A client's own name for itself (`custom`) is not kept: it is free text.
public enum SessionSource: Sendable, Hashable {
    case cli, vscode, exec, appServer, custom, unknown
    /// A thread Codex started for an agent: spawned by another thread, a review, a compaction, memory work.
    case subAgent(SubAgentKind)

    /// The kinds of sub-agent thread.
    public enum SubAgentKind: String, Sendable, Hashable {
        case threadSpawn, review, compact, memoryConsolidation, other
    }

    /// The name exported: `cli`, `vscode`, `exec`, `appServer`, `custom`, `unknown` or `subAgent`.
    public var name: String {
        switch self {
        case .cli: "cli"
        case .vscode: "vscode"
        case .exec: "exec"
        case .appServer: "appServer"
        case .custom: "custom"
        case .unknown: "unknown"
        case .subAgent: "subAgent"
        }
    }

    /// Reads the app-server's `SessionSource` (`"cli"`, `{"subAgent":"review"}`,
    /// `{"subAgent":{"thread_spawn":{…}}}`, …) or a rollout's (`{"subagent":…}`, snake-case names).
    public init(json: JSONValue) {
        switch json {
        case .string(let name):
            self =
                [
                    "cli": .cli, "vscode": .vscode, "exec": .exec, "appServer": .appServer, "app_server": .appServer,
                ][name] ?? .unknown
        case .object(let variant):
            if let agent = variant["subAgent"] ?? variant["subagent"] {
                let name: String? =
                    switch agent {
                    case .string(let name): name
                    case .object(let inner): inner.keys.sorted().first
                    default: nil
                    }
                let kinds: [String: SubAgentKind] = [
                    "thread_spawn": .threadSpawn, "threadSpawn": .threadSpawn, "review": .review,
                    "compact": .compact, "memory_consolidation": .memoryConsolidation,
                    "memoryConsolidation": .memoryConsolidation,
                ]
                self = .subAgent(name.flatMap { kinds[$0] } ?? .other)
            } else {
                self = variant["custom"] != nil ? .custom : .unknown
            }
        default:
            self = .unknown
        }
    }

    /// The `thread_spawn` details of a spawned thread's source: its parent, depth and role.
    package static func threadSpawn(in source: JSONValue?) -> JSONValue? {
        (source?["subAgent"] ?? source?["subagent"])?["thread_spawn"]
    }
}

/// How full a thread's context is after a model call: the tokens it holds, out of the model's window.
public struct ContextUsage: Sendable, Hashable {
    public var tokens: Int64
    public var window: Int64?

    public init(tokens: Int64, window: Int64?) {
        self.tokens = tokens
        self.window = window
    }
}

/// An account's quota: per window (`primary`, `secondary`), how much is used and when it resets.
public struct RateLimits: Sendable, Hashable {
    public struct Window: Sendable, Hashable {
        /// `primary` or `secondary`.
        public var name: String
        public var usedPercent: Int64?
        public var durationMinutes: Int64?
        /// Unix time in seconds.
        public var resetsAt: Int64?

        public init(name: String, usedPercent: Int64?, durationMinutes: Int64?, resetsAt: Int64?) {
            self.name = name
            self.usedPercent = usedPercent
            self.durationMinutes = durationMinutes
            self.resetsAt = resetsAt
        }
    }

    /// The limit's id (`codex`, or one per metered model) and the plan (`plus`, `pro`, …).
    public var limitID: String?
    public var planType: String?
    public var windows: [Window]

    public init(limitID: String?, planType: String?, windows: [Window]) {
        self.limitID = limitID
        self.planType = planType
        self.windows = windows
    }

    init(_ snapshot: JSONValue) {
        self.init(
            limitID: snapshot["limitId"]?.string,
            planType: snapshot["planType"]?.string,
            windows: ["primary", "secondary"].compactMap { name in
                guard let window = snapshot[name], window != .null else { return nil }
                return Window(
                    name: name,
                    usedPercent: window["usedPercent"]?.int,
                    durationMinutes: window["windowDurationMins"]?.int,
                    resetsAt: window["resetsAt"]?.int
                )
            }
        )
    }
}

/// How a turn ended, or that it is running.
public struct TurnInfo: Sendable, Hashable {
    public var id: String
    public var status: TurnStatus
    /// The class of the turn's error, when it failed.
    public var errorClass: ErrorClass?
    /// Unix time in seconds.
    public var startedAt: Int64?
    /// Unix time in seconds.
    public var completedAt: Int64?
    public var durationMilliseconds: Int64?
    /// The first turn of the chain of work this one belongs to: for a sub-agent's turn, the root thread's turn
    /// that led to it.
    public var rootTurnID: String?

    public init(
        id: String,
        status: TurnStatus,
        errorClass: ErrorClass? = nil,
        startedAt: Int64? = nil,
        completedAt: Int64? = nil,
        durationMilliseconds: Int64? = nil,
        rootTurnID: String? = nil
    ) {
        self.id = id
        self.status = status
        self.errorClass = errorClass
        self.startedAt = startedAt
        self.completedAt = completedAt
        self.durationMilliseconds = durationMilliseconds
        self.rootTurnID = rootTurnID
    }

    init?(_ turn: JSONValue) {
        guard let id = turn["id"]?.string else { return nil }
        self.init(
            id: id,
            status: turn["status"]?.string.map(TurnStatus.init(rawValue:)) ?? .inProgress,
            errorClass: turn["error"].flatMap(errorClass(of:)),
            startedAt: turn["startedAt"]?.int,
            completedAt: turn["completedAt"]?.int,
            durationMilliseconds: turn["durationMs"]?.int,
            rootTurnID: turn["rootTurnId"]?.string
        )
    }
}

/// The dimensions of a thread item: its kind and, for tools, name, status, exit code and duration.
public struct ItemInfo: Sendable, Hashable {
    public var id: String
    /// The item type: `commandExecution`, `fileChange`, `mcpToolCall`, `agentMessage`, …
    public var type: String
    /// The tool's own name, for the kinds that have one (MCP, dynamic and collaboration tools).
    public var toolName: String?
    /// The MCP server that provides the tool.
    public var toolServer: String?
    public var status: ItemStatus?
    public var exitCode: Int64?
    public var durationMilliseconds: Int64?
    /// The threads this item started: a `spawnAgent` collaboration call's receivers, or the agent a
    /// `subAgentActivity` reports started.
    public var spawnedThreadIDs: [String]
    /// The model the spawned threads run: a sub-agent announces no thread of its own.
    public var spawnedModel: String?
    /// What a patch did to files, in counts (a `fileChange`).
    public var fileChanges: FileChangeSummary?
    /// What a command or an MCP tool did to a repository: a commit, a pull or merge request.
    public var codeActions: CodeActions = []
    /// How an edit was decided, where the decoder could tell (a rollout, which records no approvals, by the turn's
    /// approval policy); `nil` leaves it to the approvals the session saw.
    public var editDecision: String?
    /// The item's own times, in Unix milliseconds (Codex 0.167 and later put them on every item): when present,
    /// they time the call rather than the notifications that carry it.
    public var startedAtMilliseconds: Int64?
    public var completedAtMilliseconds: Int64?

    public init(
        id: String,
        type: String,
        toolName: String? = nil,
        toolServer: String? = nil,
        status: ItemStatus? = nil,
        exitCode: Int64? = nil,
        durationMilliseconds: Int64? = nil,
        spawnedThreadIDs: [String] = [],
        spawnedModel: String? = nil,
        fileChanges: FileChangeSummary? = nil,
        codeActions: CodeActions = []
    ) {
        self.id = id
        self.type = type
        self.toolName = toolName
        self.toolServer = toolServer
        self.status = status
        self.exitCode = exitCode
        self.durationMilliseconds = durationMilliseconds
        self.spawnedThreadIDs = spawnedThreadIDs
        self.spawnedModel = spawnedModel
        self.fileChanges = fileChanges
        self.codeActions = codeActions
    }

    init?(_ item: JSONValue) {
        guard let id = item["id"]?.string, let type = item["type"]?.string else { return nil }
        // `tool` is a name for MCP, dynamic and collaboration tools; other kinds carry no tool name.
        self.init(
            id: id,
            type: type,
            toolName: item["tool"]?.string,
            toolServer: item["server"]?.string,
            status: item["status"]?.string.map(ItemStatus.init(rawValue:)),
            exitCode: item["exitCode"]?.int,
            durationMilliseconds: item["durationMs"]?.int
        )
        startedAtMilliseconds = item["startedAtMs"]?.int
        completedAtMilliseconds = item["completedAtMs"]?.int
        switch type {
        case CodexVocabulary.collabAgentToolCall where toolName == CodexVocabulary.spawnAgent:
            spawnedThreadIDs = item["receiverThreadIds"]?.array?.compactMap(\.string) ?? []
        case CodexVocabulary.subAgentActivity where item["kind"]?.string == "started":
            spawnedThreadIDs = item["agentThreadId"]?.string.map { [$0] } ?? []
        case CodexVocabulary.fileChange:
            fileChanges = item["changes"].flatMap(FileChangeSummary.init(appServerChanges:))
        case CodexVocabulary.commandExecution:
            codeActions = item["command"]?.string.map(CodeActions.init(commandLine:)) ?? []
        case CodexVocabulary.mcpToolCall:
            codeActions = CodeActions(mcpServer: toolServer, tool: toolName)
        default:
            break
        }
        if !spawnedThreadIDs.isEmpty { spawnedModel = item["model"]?.string.flatMap { $0.isEmpty ? nil : $0 } }
    }
}

extension TokenUsage {
    /// Reads a `TokenUsageBreakdown`.
    init?(breakdown: JSONValue) {
        guard let input = breakdown["inputTokens"]?.int, let output = breakdown["outputTokens"]?.int else {
            return nil
        }
        self.init(
            input: input,
            cachedInput: breakdown["cachedInputTokens"]?.int ?? 0,
            cacheWriteInput: breakdown["cacheWriteInputTokens"]?.int ?? 0,
            output: output,
            reasoningOutput: breakdown["reasoningOutputTokens"]?.int ?? 0
        )
    }
}

extension AppServerMessage {
    /// Whether a line may hold a message this decoding follows, told without parsing it: `false` only for a line
    /// that begins `{"method":"…"` (as `codex app-server` writes every notification and request) with a method not
    /// in `followedMethods`. Most lines of a session are content deltas, and this lets a reader pass over them at
    /// the cost of comparing a few bytes.
    package static func mayBeFollowed(_ line: UnsafeRawBufferPointer) -> Bool {
        guard let method = LeadingBytes.string(after: #"{"method":""#, in: line)?.text else { return true }
        return followedMethodNames.contains(method)
    }

    private static let followedMethodNames = NameTable(followedMethods)

    /// When the server emitted the message, in Unix milliseconds: `emittedAtMs`, which Codex 0.147 and later put
    /// on every notification.
    package static func emittedAtMilliseconds(of message: JSONRPCMessage) -> Int64? {
        guard case .notification(let notification) = message else { return nil }
        return notification.otherMembers["emittedAtMs"]?.int
    }

    /// The time the payload gives for its own event, in Unix milliseconds, for messages without `emittedAtMs`.
    package var payloadTimeMilliseconds: Int64? {
        switch self {
        case .itemStarted(_, _, _, let startedAt): startedAt
        case .itemCompleted(_, _, _, let completedAt): completedAt
        case .approvalRequested(_, _, _, _, let requestedAt): requestedAt
        case .turnStarted(_, let turn): turn.startedAt?.multipliedSaturated(by: 1000)
        case .turnCompleted(_, let turn): turn.completedAt?.multipliedSaturated(by: 1000)
        default: nil
        }
    }
}
