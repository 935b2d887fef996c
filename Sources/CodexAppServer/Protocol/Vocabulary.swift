/// A name Codex gives a state or a class: kept as it came, so that one a later release adds passes through, and
/// written as a literal where we compare with one we know.
public protocol CodexName: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral where RawValue == String {
    init(rawValue: String)
}

extension CodexName {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
}

/// How a turn ended, or that it runs, in Codex's words; a status a later release adds passes through as it came.
public struct TurnStatus: CodexName {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public static let inProgress: Self = "inProgress"
    public static let completed: Self = "completed"
    public static let failed: Self = "failed"
    public static let interrupted: Self = "interrupted"
}

/// Where a tool item stands, in Codex's words; a status a later release adds passes through as it came.
public struct ItemStatus: CodexName {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public static let inProgress: Self = "inProgress"
    public static let completed: Self = "completed"
    public static let failed: Self = "failed"
    /// The user (or the client's policy) refused it.
    public static let declined: Self = "declined"
}

/// The class of an error: the name of its `codexErrorInfo` variant (`internalServerError`,
/// `httpConnectionFailed`, …). An error's message is never read, so this is all that can be told of it.
public struct ErrorClass: CodexName {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    /// The class of an error that named none.
    public static let other: Self = "other"
}

/// The hooks Codex runs, as `hook/started` and `hook/completed` describe them: only what names the hook and how
/// its run went. A run's id and output, and its handler's path, hold paths and text and are never read.
public struct HookRun: Sendable, Hashable {
    /// The lifecycle event the hook ran for: `preToolUse`, `stop`, `sessionStart`, …
    public var eventName: String
    /// `command`, `prompt`, `agent` or `mcpTool`.
    public var handlerType: String?
    /// Which configuration it came from: `user`, `project`, `plugin`, `mdm`, …
    public var source: String?
    /// `running`, `completed`, `failed`, `blocked` or `stopped`.
    public var status: String
    public var durationMilliseconds: Int64?

    public init(
        eventName: String,
        handlerType: String? = nil,
        source: String? = nil,
        status: String,
        durationMilliseconds: Int64? = nil
    ) {
        self.eventName = eventName
        self.handlerType = handlerType
        self.source = source
        self.status = status
        self.durationMilliseconds = durationMilliseconds
    }
}

/// Codex's vocabulary, each word declared once, as data: the kinds of thread item the app-server reports, and the
/// kinds of record a rollout holds, each with what telemetry makes of it. The live decoder, the session core, the
/// rollout scanner, the pass-over of unread records and the rollout translation all derive from these tables, and
/// `scripts/schema-drift` holds the pinned schema to them: a kind Codex adds must be declared here, read or not.
package enum CodexVocabulary {
    // MARK: - Thread items

    /// A kind of thread item, by its app-server name (`item.type`).
    package struct ItemKind: Sendable, Hashable {
        package enum Role: Sendable, Hashable {
            /// A tool call, reported under `toolName` unless the item names its tool itself (`namedByItem`).
            case tool(name: String, namedByItem: Bool)
            /// A context compaction, reported as an event of its own.
            case compaction
            /// A sub-agent starting: read only for the thread it spawns.
            case subAgent
            /// The prompt, in: the turn's first model call can begin. Only its time is read.
            case prompt
            /// What the model wrote (its words, reasoning, plan): a model call ends where its output did. Only its
            /// time is read.
            case modelOutput
            /// Review marks, hook prompts, outputs shown apart: nothing of it is read.
            case notRead
        }

        package let name: String
        package let role: Role
        /// The function names by which a rollout's conversation calls this tool (`function_call.name`).
        package let rolloutFunctions: [String]

        init(_ name: String, _ role: Role, rolloutFunctions: [String] = []) {
            self.name = name
            self.role = role
            self.rolloutFunctions = rolloutFunctions
        }

        package var isTool: Bool {
            if case .tool = role { return true }
            return false
        }
    }

    package static let commandExecution = "commandExecution"
    package static let fileChange = "fileChange"
    package static let mcpToolCall = "mcpToolCall"
    package static let dynamicToolCall = "dynamicToolCall"
    package static let webSearch = "webSearch"
    package static let collabAgentToolCall = "collabAgentToolCall"
    package static let subAgentActivity = "subAgentActivity"
    package static let contextCompaction = "contextCompaction"
    /// The collaboration tool that starts a sub-agent (camel case, as the app-server names it).
    package static let spawnAgent = "spawnAgent"

    package static let items: [ItemKind] = [
        ItemKind(
            commandExecution,
            .tool(name: "shell", namedByItem: false),
            rolloutFunctions: ["exec_command", "shell", "shell_command", "container.exec", "local_shell"]
        ),
        ItemKind(fileChange, .tool(name: "apply_patch", namedByItem: false), rolloutFunctions: ["apply_patch"]),
        // Offered to the model as `mcp__SERVER__TOOL`: told by that shape, not by a name.
        ItemKind(mcpToolCall, .tool(name: mcpToolCall, namedByItem: true)),
        // Any other function the model calls.
        ItemKind(dynamicToolCall, .tool(name: dynamicToolCall, namedByItem: true)),
        ItemKind(webSearch, .tool(name: "web_search", namedByItem: false)),
        ItemKind("imageView", .tool(name: "view_image", namedByItem: false), rolloutFunctions: ["view_image"]),
        ItemKind("imageGeneration", .tool(name: "image_generation", namedByItem: false)),
        // Named in snake case in rollouts (`spawn_agent`), in camel case by the app-server (`spawnAgent`).
        ItemKind(
            collabAgentToolCall,
            .tool(name: collabAgentToolCall, namedByItem: true),
            rolloutFunctions: ["spawn_agent", "send_input", "wait", "wait_agent", "close_agent", "resume_agent"]
        ),
        ItemKind(contextCompaction, .compaction),
        ItemKind(subAgentActivity, .subAgent),
        ItemKind("userMessage", .prompt),
        ItemKind("hookPrompt", .notRead),
        ItemKind("agentMessage", .modelOutput),
        ItemKind("functionCallOutput", .notRead),
        ItemKind("plan", .modelOutput),
        ItemKind("reasoning", .modelOutput),
        ItemKind("sleep", .notRead),
        ItemKind("enteredReviewMode", .notRead),
        ItemKind("exitedReviewMode", .notRead),
    ]

    /// Functions a rollout's conversation calls that the app-server reports as no tool call: a plan update, input
    /// to a running command, a question to the user.
    package static let functionsNotReported: Set<String> = ["update_plan", "write_stdin", "request_user_input"]

    private static let itemsByName = Dictionary(uniqueKeysWithValues: items.map { ($0.name, $0) })
    private static let itemsByFunction = Dictionary(
        uniqueKeysWithValues: items.flatMap { kind in kind.rolloutFunctions.map { ($0, kind) } }
    )

    /// The kind an item type names; `nil` for a kind Codex added that is not declared here.
    package static func item(named name: String) -> ItemKind? { itemsByName[name] }

    /// The item kinds reported as tool calls.
    package static let toolItemNames = Set(items.filter(\.isTool).map(\.name))
    /// The item kinds whose times bound a model call: the prompt, and what the model wrote.
    package static let promptItemNames = Set(items.filter { $0.role == .prompt }.map(\.name))
    package static let modelOutputItemNames = Set(items.filter { $0.role == .modelOutput }.map(\.name))

    /// The tool a rollout's function call stands for, as the app-server reports it: its item kind, and the tool and
    /// server it names; `nil` for the functions reported as no tool call.
    package static func tool(calledAs function: String) -> (kind: String, toolName: String?, server: String?)? {
        guard !functionsNotReported.contains(function) else { return nil }
        if let kind = itemsByFunction[function] {
            guard case .tool(_, let namedByItem) = kind.role else { return nil }
            return (kind.name, namedByItem ? camelCase(function) : nil, nil)
        }
        let parts = function.split(separator: "__", maxSplits: 2, omittingEmptySubsequences: false)
        if parts.count == 3, parts[0] == "mcp" { return (mcpToolCall, String(parts[2]), String(parts[1])) }
        return (dynamicToolCall, function, nil)
    }

    /// The name a tool call is reported under, never its arguments: the item's own tool name for the kinds that
    /// carry one, else the kind's fixed name.
    package static func toolName(kind: String, named toolName: String?) -> String {
        guard case .tool(let name, let namedByItem)? = itemsByName[kind]?.role else { return kind }
        return namedByItem ? toolName ?? name : name
    }

    /// A tool's name as Codex's own metrics name it (their `tool`): the function the model called. MCP tools are
    /// offered as `mcp__SERVER__TOOL`, collaboration tools in snake case.
    package static func codexToolName(kind: String, named toolName: String?, server: String?) -> String {
        switch kind {
        case mcpToolCall: return server.map { "mcp__\($0)__\(toolName ?? "")" } ?? toolName ?? kind
        case collabAgentToolCall: return toolName.map(snakeCase) ?? kind
        case dynamicToolCall: return toolName ?? kind
        default:
            guard let item = itemsByName[kind], case .tool(let name, _) = item.role else { return kind }
            return item.rolloutFunctions.first ?? name
        }
    }

    // MARK: - Rollout records

    /// A kind of rollout record: its `type`, and for `event_msg` and `response_item` its payload's `type`.
    package struct RecordKind: Sendable, Hashable {
        package enum Reading: Sendable, Hashable {
            /// Read from its bytes by the scanner (the parser reads it when the scanner declines it).
            case scanned
            /// Read from the parser's tree.
            case parsed
            /// Passed over: it stands for nothing the telemetry reports.
            case notRead
        }

        package let type: String
        /// `nil` for a record type read or passed over whatever its payload.
        package let payloadType: String?
        package let reading: Reading
    }

    package static let sessionMeta = "session_meta"
    package static let turnContext = "turn_context"
    package static let eventMessage = "event_msg"
    package static let responseItem = "response_item"

    /// The `event_msg` payloads translation reads.
    package enum Event: String, CaseIterable, Sendable {
        case userMessage = "user_message"
        case taskStarted = "task_started"
        case tokenCount = "token_count"
        case itemCompleted = "item_completed"
        case taskComplete = "task_complete"
        case turnAborted = "turn_aborted"

        var reading: RecordKind.Reading {
            switch self {
            case .userMessage, .itemCompleted: .parsed
            case .taskStarted, .tokenCount, .taskComplete, .turnAborted: .scanned
            }
        }
    }

    /// The `response_item` payloads translation reads: the conversation's tool calls and their outputs.
    package enum ConversationRecord: String, CaseIterable, Sendable {
        case functionCall = "function_call"
        case customToolCall = "custom_tool_call"
        case localShellCall = "local_shell_call"
        case functionCallOutput = "function_call_output"
        case customToolCallOutput = "custom_tool_call_output"
        case webSearchCall = "web_search_call"
    }

    /// The `event_msg` payloads Codex writes that stand for nothing reported.
    private static let eventsNotRead = [
        "agent_message", "agent_reasoning", "agent_reasoning_raw_content", "agent_reasoning_section_break",
        "context_compacted", "entered_review_mode", "exited_review_mode", "undo_started", "undo_completed",
        "thread_settings_applied", "thread_name_updated", "thread_rolled_back", "error", "warning", "stream_error",
        "background_event", "exec_command_begin", "exec_command_end", "patch_apply_begin", "patch_apply_end",
        "mcp_tool_call_begin", "mcp_tool_call_end", "web_search_begin", "web_search_end", "view_image_tool_call",
        "image_generation_begin", "image_generation_end", "plan_update", "turn_diff", "item_started",
        "collab_agent_spawn_end", "collab_agent_interaction_end", "collab_waiting_end", "collab_close_end",
        "collab_resume_end", "deprecation_notice", "session_configured", "shutdown_complete",
    ]

    /// The `response_item` payloads Codex writes that stand for nothing reported: words, reasoning, tool lists,
    /// compactions (reported from their `item_completed`).
    private static let conversationRecordsNotRead = [
        "message", "agent_message", "reasoning", "additional_tools", "tool_search_call", "tool_search_output",
        "image_generation_call", "compaction", "configuration_update", "compaction_trigger", "context_compaction",
        "ghost_snapshot", "other",
    ]

    package static let records: [RecordKind] =
        [
            RecordKind(type: sessionMeta, payloadType: nil, reading: .parsed),
            RecordKind(type: turnContext, payloadType: nil, reading: .scanned),
            // Whole-record kinds of the newer releases: a summary of the context, a usage record the
            // `token_count` events also carry, and a compacted history.
            RecordKind(type: "world_state", payloadType: nil, reading: .notRead),
            RecordKind(type: "token_usage_record", payloadType: nil, reading: .notRead),
            RecordKind(type: "compacted", payloadType: nil, reading: .notRead),
        ]
        + Event.allCases.map { RecordKind(type: eventMessage, payloadType: $0.rawValue, reading: $0.reading) }
        + ConversationRecord.allCases.map {
            RecordKind(type: responseItem, payloadType: $0.rawValue, reading: .scanned)
        }
        + eventsNotRead.map { RecordKind(type: eventMessage, payloadType: $0, reading: .notRead) }
        + conversationRecordsNotRead.map { RecordKind(type: responseItem, payloadType: $0, reading: .notRead) }

    private static let recordReadings = Dictionary(
        uniqueKeysWithValues: records.map { (RecordKey(type: $0.type, payloadType: $0.payloadType), $0.reading) }
    )

    private struct RecordKey: Hashable {
        var type: String
        var payloadType: String?
    }

    /// How a record of this type and payload type is read; `nil` for a kind not declared here.
    package static func reading(type: String, payloadType: String?) -> RecordKind.Reading? {
        recordReadings[RecordKey(type: type, payloadType: nil)]
            ?? recordReadings[RecordKey(type: type, payloadType: payloadType)]
    }

    /// The payload types of `type` records declared `notRead`: those passed over by their first bytes.
    package static func payloadTypesNotRead(of type: String) -> [String] {
        records.filter { $0.type == type && $0.reading == .notRead }.compactMap(\.payloadType)
    }

    /// The record types passed over whatever their payload.
    package static let recordTypesNotRead = records.filter { $0.payloadType == nil && $0.reading == .notRead }
        .map(\.type)

    /// `spawnAgent` as a rollout spells it: `spawn_agent`.
    package static func snakeCase(_ camel: String) -> String {
        var snake = ""
        for character in camel {
            if character.isUppercase, !snake.isEmpty { snake.append("_") }
            snake += character.lowercased()
        }
        return snake
    }

    /// Rollouts spell in snake case (`spawn_agent`, `internal_server_error`) what the app-server spells in camel
    /// case.
    package static func camelCase(_ snake: String) -> String {
        let words = snake.split(separator: "_")
        return (words.first.map(String.init) ?? "")
            + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }
}
