import CodexAppServer
import JSON

/// A rollout record as translation reads it: its type, its time and what its payload says.
///
/// Two readers give it, and must give the same. `init(scanning:)` walks a line's bytes once for the records that
/// make most of what is read (token counts, tool calls and their outputs, turns' starts, ends and contexts), keeping
/// only these values, never the objects around them. It declines whatever it does not expect (another kind of
/// record, an escaped name, an object or array where a plain value belongs, a line that is not JSON), and
/// `init(parsed:)` takes every record from the parser's tree (`selection`).
package struct RolloutRecord: Equatable, Sendable {
    var type: String
    /// Unix nanoseconds.
    var time: Int64
    /// The payload's own type: `token_count`, `function_call`, …
    var payloadType: String?
    var turnID: String?
    var rootTurnID: String?
    var model: String?
    var effort: String?
    var callID: String?
    var id: String?
    var name: String?
    var status: String?
    /// The head of a tool's output (`ToolOutcome.headLength` bytes).
    var output: String?
    /// What a call's patch, or a completed item's changes, did to files: counted as the record is read (on the
    /// reading workers), so that no diff goes further.
    var changes: FileChangeSummary?
    /// What a call's command, or a completed item's, did to a repository: classified as the record is read.
    var actions: CodeActions = []
    /// The turn's approval policy (`turn_context`): whether Codex asked before each patch.
    var approvalPolicy: String?
    var durationMilliseconds: Int64?
    var totalUsage: TokenUsage?
    var lastUsage: TokenUsage?
    /// The tokens of the last call, and the model's window: how full the context is.
    var contextTokens: Int64?
    var contextWindow: Int64?
    /// Plan quotas, and the turn's error, as parsed (both are small).
    var rateLimits: JSONValue?
    var error: JSONValue?
    /// The whole payload as parsed, for the records read member by member in their own way: `session_meta` and an
    /// `item_completed`.
    var payload: JSONValue?
    /// How the vocabulary says a record of this kind is read; `nil` for a kind it does not declare. Looked up once,
    /// as the record is read.
    var reading: CodexVocabulary.RecordKind.Reading?

    private init(type: String, time: Int64) {
        self.type = type
        self.time = time
    }

    /// Exactly what translation reads of a record, for the parser: the conversation itself is never built.
    static let selection: JSONSelection = {
        let all = JSONSelection.everything
        let usage = JSONSelection.members([
            "input_tokens": all, "cached_input_tokens": all, "cache_write_input_tokens": all, "output_tokens": all,
            "reasoning_output_tokens": all, "total_tokens": all,
        ])
        let payload = JSONSelection.members([
            "id": all, "model_provider": all, "forked_from_id": all, "model": all, "turn_id": all, "type": all,
            "name": all, "call_id": all, "status": all, "output": .head(ToolOutcome.headLength), "effort": all,
            "root_turn_id": all, "input": all, "arguments": .head(RolloutRecord.argumentsHeadLength),
            "approval_policy": all, "action": .members(["command": all]),
            "parent_thread_id": all, "agent_role": all, "source": ThreadInfo.sourceSelection,
            "started_at_ms": all, "completed_at_ms": all, "duration_ms": all,
            "error": errorSelection,
            "info": .members([
                "total_token_usage": usage, "last_token_usage": usage, "model_context_window": all,
            ]),
            "rate_limits": rateLimitsSelection,
            "item": .members([
                "id": all, "type": all, "tool": all, "server": all, "status": all, "exit_code": all,
                "duration": .members(["secs": all, "nanos": all]), "receiver_thread_ids": all,
                "changes": all, "command": all,
            ]),
        ])
        return .members(["timestamp": all, "type": all, "payload": payload])
    }()
    /// How much of a function's arguments is read: a command's words come first, and one longer than the shell
    /// reading reads is not classified.
    static let argumentsHeadLength = ShellWords.maximumLength + 1

    /// The two members the scanner keeps as the parser builds them: both small.
    private static let rateLimitsSelection: JSONSelection = {
        let all = JSONSelection.everything
        let window = JSONSelection.members(["used_percent": all, "window_minutes": all, "resets_at": all])
        return .members(["limit_id": all, "plan_type": all, "primary": window, "secondary": window])
    }()
    private static let errorSelection = JSONSelection.members(["codex_error_info": .everything])

    // MARK: - From the parser's tree

    /// The record a line holds, parsed whole (what is not selected checked and skipped); `nil` if it is not JSON or
    /// not a rollout record.
    package init?(parsing line: UnsafeRawBufferPointer) {
        let maximumValues = AppServerMessage.maximumSelectedValues
        guard let record = try? JSONValue(parsing: line, selecting: Self.selection, maximumValues: maximumValues)
        else {
            return nil
        }
        self.init(parsed: record)
    }

    /// The record a parsed line holds; `nil` if it is not a rollout record (no type, payload or readable time).
    init?(parsed record: JSONValue) {
        guard let type = record["type"]?.string, let payload = record["payload"],
            let time = record["timestamp"]?.string.flatMap(unixNanoseconds(iso8601:))
        else { return nil }
        self.init(type: type, time: time)
        payloadType = payload["type"]?.string
        turnID = payload["turn_id"]?.string
        rootTurnID = payload["root_turn_id"]?.string
        model = payload["model"]?.string
        effort = payload["effort"]?.string
        callID = payload["call_id"]?.string
        id = payload["id"]?.string
        name = payload["name"]?.string
        status = payload["status"]?.string
        output = payload["output"]?.string
        approvalPolicy = payload["approval_policy"]?.string
        if let item = payload["item"] {
            changes = item["changes"].flatMap(FileChangeSummary.init(rolloutChanges:))
            actions = CodeActions(arguments: item["command"]?.array?.compactMap(\.string) ?? [])
        } else {
            readCall(
                input: payload["input"]?.string,
                arguments: payload["arguments"]?.string,
                command: payload["action"]?["command"]?.array?.compactMap(\.string)
            )
        }
        durationMilliseconds = payload["duration_ms"]?.int
        let info = payload["info"]
        totalUsage = info?["total_token_usage"].flatMap(Self.usage)
        lastUsage = info?["last_token_usage"].flatMap(Self.usage)
        contextTokens = info?["last_token_usage"]?["total_tokens"]?.int
        contextWindow = info?["model_context_window"]?.int
        rateLimits = payload["rate_limits"]
        error = payload["error"]
        reading = CodexVocabulary.reading(type: type, payloadType: payloadType)
        if reading != .scanned { self.payload = payload }
    }

    /// Counts a call's patch (a custom tool's `input`, or an `input` argument) and classifies its command (a local
    /// shell's words, or a shell function's `cmd` or `command` argument).
    private mutating func readCall(input: String?, arguments: String?, command: [String]?) {
        guard input != nil || arguments != nil || command != nil else { return }
        let parsed = arguments.flatMap { try? JSONValue(parsing: $0) }
        changes = (input ?? parsed?["input"]?.string).flatMap(FileChangeSummary.init(patch:))
        if let command {
            actions = CodeActions(arguments: command)
        } else if let line = parsed?["cmd"]?.string ?? parsed?["command"]?.string {
            actions = CodeActions(commandLine: line)
        } else {
            actions = CodeActions(arguments: parsed?["command"]?.array?.compactMap(\.string) ?? [])
        }
    }

    private static func usage(_ value: JSONValue) -> TokenUsage? {
        usage(
            input: value["input_tokens"]?.int,
            cachedInput: value["cached_input_tokens"]?.int,
            cacheWriteInput: value["cache_write_input_tokens"]?.int,
            output: value["output_tokens"]?.int,
            reasoningOutput: value["reasoning_output_tokens"]?.int
        )
    }

    /// A snapshot of token counts; `nil` without input and output.
    private static func usage(
        input: Int64?,
        cachedInput: Int64?,
        cacheWriteInput: Int64?,
        output: Int64?,
        reasoningOutput: Int64?
    ) -> TokenUsage? {
        guard let input, let output else { return nil }
        return TokenUsage(
            input: input,
            cachedInput: cachedInput ?? 0,
            cacheWriteInput: cacheWriteInput ?? 0,
            output: output,
            reasoningOutput: reasoningOutput ?? 0
        )
    }

    // MARK: - From the bytes

    /// How the scanner gives up a line, for the parser to read.
    fileprivate static let declined = JSONParseError(offset: 0, reason: "left to the parser")
    /// Few values are kept of a record scanned; a line that would need more is left to the parser, which has the
    /// same bound and more.
    private static let maximumScannedValues = 256

    /// The record a line holds, read from its bytes; `nil` when the line is not one the scanner takes.
    package init?(scanning line: UnsafeRawBufferPointer) {
        self.init(type: "", time: 0)
        var type: String?
        var time: Int64?
        var sawPayload = false
        var call: (input: String?, arguments: String?) = (nil, nil)
        do {
            let bytes = line.assumingMemoryBound(to: UInt8.self)
            var reader = JSONMemberReader(bytes, maximumValues: Self.maximumScannedValues)
            var seen = SeenMembers()
            try reader.forEachMember { reader, name throws(JSONParseError) in
                switch try seen.first(name) {
                case .timestamp:
                    time = try reader.withString { unixNanoseconds(iso8601: UnsafeRawBufferPointer($0)) } ?? nil
                case .type: type = try reader.plainValue().string
                case .payload:
                    sawPayload = true
                    try scanPayload(&reader, call: &call)
                default: try reader.skipValue()
                }
            }
            try reader.finish()
        } catch {
            return nil
        }
        // The scanner takes only the kinds the vocabulary says it reads.
        let reading = type.map { CodexVocabulary.reading(type: $0, payloadType: payloadType) } ?? nil
        guard sawPayload, let type, let time, reading == .scanned else { return nil }
        self.reading = reading
        self.type = type
        self.time = time
        readCall(input: call.input, arguments: call.arguments, command: nil)
    }

    private mutating func scanPayload(
        _ reader: inout JSONMemberReader,
        call: inout (input: String?, arguments: String?)
    ) throws(JSONParseError) {
        var seen = SeenMembers()
        try reader.forEachMember { reader, member throws(JSONParseError) in
            switch try seen.first(member) {
            case .type: payloadType = try reader.plainValue().string
            case .turnID: turnID = try reader.plainValue().string
            case .rootTurnID: rootTurnID = try reader.plainValue().string
            case .model: model = try reader.plainValue().string
            case .effort: effort = try reader.plainValue().string
            case .callID: callID = try reader.plainValue().string
            case .id: id = try reader.plainValue().string
            case .name: name = try reader.plainValue().string
            case .status: status = try reader.plainValue().string
            case .output: output = try reader.plainValue(.head(ToolOutcome.headLength)).string
            case .input: call.input = try reader.plainValue().string
            case .arguments: call.arguments = try reader.plainValue(.head(Self.argumentsHeadLength)).string
            case .approvalPolicy: approvalPolicy = try reader.plainValue().string
            case .durationMilliseconds: durationMilliseconds = try reader.plainValue().int
            case .info: try scanInfo(&reader)
            case .rateLimits: rateLimits = try reader.value(Self.rateLimitsSelection)
            case .error: error = try reader.value(Self.errorSelection)
            // Read by the parser's tree, for records the scanner does not take.
            case .modelProvider, .forkedFromID, .parentThreadID, .agentRole, .source, .startedAt, .completedAt, .item,
                .action:
                throw Self.declined
            default: try reader.skipValue()
            }
        }
    }

    private mutating func scanInfo(_ reader: inout JSONMemberReader) throws(JSONParseError) {
        (totalUsage, lastUsage, contextTokens, contextWindow) = (nil, nil, nil, nil)
        guard reader.peek() == UInt8(ascii: "{") else {
            // Not an object: nothing in it.
            _ = try reader.plainValue()
            return
        }
        var seen = SeenMembers()
        try reader.forEachMember { reader, name throws(JSONParseError) in
            switch try seen.first(name) {
            case .totalUsage: totalUsage = try Self.scanUsage(&reader).usage
            case .lastUsage: (lastUsage, contextTokens) = try Self.scanUsage(&reader)
            case .contextWindow: contextWindow = try reader.plainValue().int
            default: try reader.skipValue()
            }
        }
    }

    private static func scanUsage(
        _ reader: inout JSONMemberReader
    ) throws(JSONParseError) -> (usage: TokenUsage?, totalTokens: Int64?) {
        guard reader.peek() == UInt8(ascii: "{") else {
            _ = try reader.plainValue()
            return (nil, nil)
        }
        var input: Int64?
        var cachedInput: Int64?
        var cacheWriteInput: Int64?
        var output: Int64?
        var reasoningOutput: Int64?
        var total: Int64?
        var seen = SeenMembers()
        try reader.forEachMember { reader, name throws(JSONParseError) in
            switch try seen.first(name) {
            case .inputTokens: input = try reader.plainValue().int
            case .cachedInputTokens: cachedInput = try reader.plainValue().int
            case .cacheWriteInputTokens: cacheWriteInput = try reader.plainValue().int
            case .outputTokens: output = try reader.plainValue().int
            case .reasoningOutputTokens: reasoningOutput = try reader.plainValue().int
            case .totalTokens: total = try reader.plainValue().int
            default: try reader.skipValue()
            }
        }
        let usage = usage(
            input: input,
            cachedInput: cachedInput,
            cacheWriteInput: cacheWriteInput,
            output: output,
            reasoningOutput: reasoningOutput
        )
        return (usage, total)
    }

    /// The member names the scanner knows: those it reads, and those only the parser's tree reads.
    private enum Member: String, CaseIterable {
        case timestamp, type, payload
        case turnID = "turn_id"
        case rootTurnID = "root_turn_id"
        case model, effort
        case callID = "call_id"
        case id, name, status
        case output, input, arguments, action
        case approvalPolicy = "approval_policy"
        case durationMilliseconds = "duration_ms"
        case info
        case rateLimits = "rate_limits"
        case error
        case totalUsage = "total_token_usage"
        case lastUsage = "last_token_usage"
        case contextWindow = "model_context_window"
        case inputTokens = "input_tokens"
        case cachedInputTokens = "cached_input_tokens"
        case cacheWriteInputTokens = "cache_write_input_tokens"
        case outputTokens = "output_tokens"
        case reasoningOutputTokens = "reasoning_output_tokens"
        case totalTokens = "total_tokens"
        case modelProvider = "model_provider"
        case forkedFromID = "forked_from_id"
        case parentThreadID = "parent_thread_id"
        case agentRole = "agent_role"
        case source
        case startedAt = "started_at_ms"
        case completedAt = "completed_at_ms"
        case item

        private static let all = allCases
        private static let names = NameTable(all.map(\.rawValue))

        /// The member a raw name is, and its position among them; `nil` for a name the scanner passes over. An
        /// escaped name is left to the parser.
        static func named(_ raw: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> (Member, position: Int)? {
            if let position = names.position(of: raw) { return (all[position], position) }
            guard !raw.contains(UInt8(ascii: "\\")) else { throw RolloutRecord.declined }
            return nil
        }
    }

    /// The members of one object met so far: a name given twice is read the first time only, as the parser keeps
    /// it.
    private struct SeenMembers {
        private var met: UInt64 = 0

        /// The member a name is, the first time it comes; `nil` for a name passed over, or met before.
        mutating func first(_ raw: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> Member? {
            guard let (member, position) = try Member.named(raw) else { return nil }
            let bit: UInt64 = 1 << UInt64(position)
            guard met & bit == 0 else { return nil }
            met |= bit
            return member
        }
    }
}

extension JSONMemberReader {
    /// A value that must be plain (a string, number, Boolean or `null`): an object or array here is left to the
    /// parser.
    fileprivate mutating func plainValue(_ selection: JSONSelection = .everything) throws(JSONParseError) -> JSONValue {
        guard let next = peek(), next != UInt8(ascii: "{"), next != UInt8(ascii: "[") else {
            throw RolloutRecord.declined
        }
        return try value(selection)
    }
}
