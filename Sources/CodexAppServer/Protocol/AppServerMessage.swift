public import JSON
public import JSONRPC
import SaturatingArithmetic

/// What an app-server message says about threads, turns, items and usage: ids, enums, counts and names only.
///
/// Decoding reads just these fields, so prompts, messages, commands, outputs, paths and error texts are never copied
/// out of the JSON they came in. It is lenient: a message that is not one of these, or lacks a field we need, is
/// `.other`; unknown fields are ignored.
public enum AppServerMessage: Sendable, Hashable {
    /// A thread was opened: by a `thread/start`, `thread/resume` or `thread/fork` result, or `thread/started`.
    case threadOpened(ThreadInfo)
    /// The thread's settings changed (`thread/settings/updated`).
    case threadSettingsUpdated(threadID: String, model: String?)
    /// The server switched a turn to another model (`model/rerouted`).
    case modelRerouted(threadID: String, turnID: String, model: String)
    case turnStarted(threadID: String, turn: TurnInfo)
    case turnCompleted(threadID: String, turn: TurnInfo)
    case itemStarted(threadID: String, turnID: String, item: ItemInfo, startedAtMilliseconds: Int64?)
    case itemCompleted(threadID: String, turnID: String, item: ItemInfo, completedAtMilliseconds: Int64?)
    /// The thread's cumulative usage and that of the last model call (`thread/tokenUsage/updated`).
    case tokenUsageUpdated(threadID: String, turnID: String, total: TokenUsage, last: TokenUsage)
    /// An `error` notification: `willRetry` false means the turn will fail.
    case error(threadID: String, turnID: String, errorClass: String?, willRetry: Bool)
    /// Anything else: a method we do not follow, a request, an error response.
    case other

    /// The methods this decoding understands; a replay can pass over any other notification without parsing it.
    public static let followedNotifications: Set<String> = [
        AppServerMethod.threadStarted, AppServerMethod.threadSettingsUpdated, AppServerMethod.modelRerouted,
        AppServerMethod.turnStarted, AppServerMethod.turnCompleted, AppServerMethod.itemStarted,
        AppServerMethod.itemCompleted, AppServerMethod.threadTokenUsageUpdated, AppServerMethod.error,
    ]

    /// Exactly what this decoding reads of a line, as a selection: a line parsed with it builds nothing else, so a
    /// reader that only wants these messages never holds content, and its memory follows the few fields kept.
    public static let selection: JSONSelection = {
        let all = JSONSelection.everything
        let thread = JSONSelection.members(["id": all, "model": all, "modelProvider": all, "forkedFromId": all])
        let usage = JSONSelection.members([
            "inputTokens": all, "cachedInputTokens": all, "outputTokens": all, "reasoningOutputTokens": all,
        ])
        let error = JSONSelection.members(["codexErrorInfo": all])
        let params = JSONSelection.members([
            "threadId": all, "turnId": all, "thread": thread, "threadSettings": .members(["model": all]),
            "toModel": all, "startedAtMs": all, "completedAtMs": all, "error": error, "willRetry": all,
            "turn": .members([
                "id": all, "status": all, "error": error, "startedAt": all, "completedAt": all, "durationMs": all,
            ]),
            "item": .members([
                "id": all, "type": all, "tool": all, "server": all, "status": all, "exitCode": all, "durationMs": all,
            ]),
            "tokenUsage": .members(["total": usage, "last": usage]),
        ])
        return .members([
            "id": all, "method": all, "emittedAtMs": all, "params": params,
            "result": .members(["thread": thread, "model": all, "modelProvider": all]),
            "error": .members(["code": all]),
        ])
    }()

    /// How many JSON values a line parsed with `selection` may build: far more than any message of ours holds.
    public static let maximumSelectedValues = 4096

    /// Reads a decoded JSON-RPC message.
    public init(_ message: JSONRPCMessage) {
        switch message {
        case .notification(let notification):
            self = Self.decode(method: notification.method, params: notification.params ?? .null) ?? .other
        case .response(let response):
            if case .success(let result) = response.outcome, let thread = ThreadInfo(openedBy: result) {
                self = .threadOpened(thread)
            } else {
                self = .other
            }
        case .request:
            self = .other
        }
    }

    private static func decode(method: String, params: JSONValue) -> AppServerMessage? {
        switch method {
        case AppServerMethod.threadStarted:
            return params["thread"].flatMap { ThreadInfo(thread: $0, model: nil, provider: nil) }.map(Self.threadOpened)
        case AppServerMethod.threadSettingsUpdated:
            guard let threadID = params["threadId"]?.string else { return nil }
            return .threadSettingsUpdated(threadID: threadID, model: params["threadSettings"]?["model"]?.string)
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
            return .tokenUsageUpdated(threadID: threadID, turnID: turnID, total: total, last: last)
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

/// The class of a turn error: the name of its `codexErrorInfo` variant (`internalServerError`,
/// `httpConnectionFailed`, …), never its message. `nil` when the error carries no class.
func errorClass(of error: JSONValue) -> String? {
    switch error["codexErrorInfo"] {
    case .string(let name): name
    case .object(let variant): variant.keys.sorted().first
    default: nil
    }
}

/// A thread's identity and the model it runs.
public struct ThreadInfo: Sendable, Hashable {
    public var id: String
    public var model: String?
    public var provider: String?
    /// The thread this one was forked from.
    public var forkedFromID: String?

    public init(id: String, model: String? = nil, provider: String? = nil, forkedFromID: String? = nil) {
        self.id = id
        self.model = model
        self.provider = provider
        self.forkedFromID = forkedFromID
    }

    /// Reads the result of `thread/start`, `thread/resume` or `thread/fork`: a `thread` and the `model` it runs.
    init?(openedBy result: JSONValue) {
        guard let thread = result["thread"], let model = result["model"]?.string else { return nil }
        self.init(thread: thread, model: model, provider: result["modelProvider"]?.string)
    }

    init?(thread: JSONValue, model: String?, provider: String?) {
        guard let id = thread["id"]?.string else { return nil }
        self.init(
            id: id,
            model: model ?? thread["model"]?.string,
            provider: provider ?? thread["modelProvider"]?.string,
            forkedFromID: thread["forkedFromId"]?.string
        )
    }
}

/// How a turn ended, or that it is running.
public struct TurnInfo: Sendable, Hashable {
    public var id: String
    /// `inProgress`, `completed`, `failed` or `interrupted` (or a status a later Codex adds).
    public var status: String
    /// The class of the turn's error, when it failed.
    public var errorClass: String?
    /// Unix time in seconds.
    public var startedAt: Int64?
    /// Unix time in seconds.
    public var completedAt: Int64?
    public var durationMilliseconds: Int64?

    public init(
        id: String,
        status: String,
        errorClass: String? = nil,
        startedAt: Int64? = nil,
        completedAt: Int64? = nil,
        durationMilliseconds: Int64? = nil
    ) {
        self.id = id
        self.status = status
        self.errorClass = errorClass
        self.startedAt = startedAt
        self.completedAt = completedAt
        self.durationMilliseconds = durationMilliseconds
    }

    init?(_ turn: JSONValue) {
        guard let id = turn["id"]?.string else { return nil }
        self.init(
            id: id,
            status: turn["status"]?.string ?? "inProgress",
            errorClass: turn["error"].flatMap(errorClass(of:)),
            startedAt: turn["startedAt"]?.int,
            completedAt: turn["completedAt"]?.int,
            durationMilliseconds: turn["durationMs"]?.int
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
    public var status: String?
    public var exitCode: Int64?
    public var durationMilliseconds: Int64?

    public init(
        id: String,
        type: String,
        toolName: String? = nil,
        toolServer: String? = nil,
        status: String? = nil,
        exitCode: Int64? = nil,
        durationMilliseconds: Int64? = nil
    ) {
        self.id = id
        self.type = type
        self.toolName = toolName
        self.toolServer = toolServer
        self.status = status
        self.exitCode = exitCode
        self.durationMilliseconds = durationMilliseconds
    }

    init?(_ item: JSONValue) {
        guard let id = item["id"]?.string, let type = item["type"]?.string else { return nil }
        // `tool` is a name for MCP, dynamic and collaboration tools; other kinds carry no tool name.
        self.init(
            id: id,
            type: type,
            toolName: item["tool"]?.string,
            toolServer: item["server"]?.string,
            status: item["status"]?.string,
            exitCode: item["exitCode"]?.int,
            durationMilliseconds: item["durationMs"]?.int
        )
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
            output: output,
            reasoningOutput: breakdown["reasoningOutputTokens"]?.int ?? 0
        )
    }
}

extension AppServerMessage {
    /// The method of a notification line that begins `{"method":"…"`, as `codex app-server` writes every one,
    /// read without parsing the line; `nil` for any other line. Most lines of a session are content deltas, and
    /// this lets a reader pass over them at the cost of a prefix comparison.
    public static func leadingMethod(of line: UnsafeRawBufferPointer) -> String? {
        let prefix: StaticString = #"{"method":""#
        let prefixLength = prefix.utf8CodeUnitCount
        guard line.count > prefixLength,
            line.prefix(prefixLength).elementsEqual(
                UnsafeRawBufferPointer(start: prefix.utf8Start, count: prefixLength)
            )
        else { return nil }
        let rest = line[prefixLength...]
        guard let end = rest.firstIndex(of: UInt8(ascii: "\"")) else { return nil }
        let name = line[prefixLength..<end]
        // Method names are plain ASCII; an escape means this is not a name we know.
        guard !name.contains(UInt8(ascii: "\\")) else { return nil }
        return String(decoding: name, as: UTF8.self)
    }

    /// When the server emitted the message, in Unix milliseconds: `emittedAtMs`, which Codex 0.147 and later put
    /// on every notification.
    public static func emittedAtMilliseconds(of message: JSONRPCMessage) -> Int64? {
        guard case .notification(let notification) = message else { return nil }
        return notification.otherMembers["emittedAtMs"]?.int
    }

    /// The time the payload gives for its own event, in Unix milliseconds, for messages without `emittedAtMs`.
    public var payloadTimeMilliseconds: Int64? {
        switch self {
        case .itemStarted(_, _, _, let startedAt): startedAt
        case .itemCompleted(_, _, _, let completedAt): completedAt
        case .turnStarted(_, let turn): turn.startedAt?.multipliedSaturated(by: 1000)
        case .turnCompleted(_, let turn): turn.completedAt?.multipliedSaturated(by: 1000)
        default: nil
        }
    }
}
