import CivilTime
import CodexAppServer
import JSON
import OTLP
import SaturatingArithmetic

#if canImport(Glibc)
import Glibc
#endif

/// Reads Codex's own rollout files (`~/.codex/sessions/**/rollout-*.jsonl`) as the app-server messages they
/// stand for, so they give the same kind of events as a live session.
///
/// One `{"timestamp","type","payload"}` record per line. What is read: `session_meta` (thread id, provider),
/// `turn_context` (the turn's model), the `event_msg`s `task_started`, `token_count`, `item_completed`,
/// `task_complete` and `turn_aborted`, and the tool calls of the conversation (`response_item`s: function, custom
/// tool, web search and local shell calls, and their outputs), which every history mode writes. Of a call, only its
/// name and id are read; of an output, only the status line Codex puts first (exit code, wall time, a rejection).
/// A call reported by both an `item_completed` and its output counts once, as the first has it.
///
/// A file's session is its first `session_meta`. A fork can copy its parent's history into its own file, after a
/// second `session_meta` (the parent's): that history's turns are the parent's, and their usage only sets the
/// baseline, so a fork replayed alone counts only what it added. A copied turn is told from the fork's own by its id,
/// a UUIDv7 that dates it before the fork (Codex 0.118 and later; a copied turn with any other id is taken as
/// copied). A fork that copies nothing starts from its parent's total: its first model call is taken from the
/// server's per-call figure. A turn already seen in another file of the same replay is skipped too.
///
/// Rollouts of Codex 0.98 and older mark no turns: a turn there runs from one `user_message` to the next (or to
/// the end of the file), completed, numbered `0`, `1`, … in its file as those releases' app-server numbered them.
struct RolloutTranslator: Sendable {
    /// Turns seen complete, across the files of one replay (by a hash of their id; the most recent are kept).
    var completedTurns = RecentKeys(capacity: SessionLimits.rememberedEndedTurns)
    private var threadID = ""
    /// Set by a second `session_meta`, until the fork's first turn of its own: what comes is copied history.
    private var copyingHistory = false
    private var currentTurn: String?
    private var skippingTurn: String?
    /// The calls of the current turn seen started, by call id: their kind and tool name, for their output.
    private var openCalls: [String: ItemInfo] = [:]
    /// Web search calls without an id (older releases) in the current turn, numbered to give them one.
    private var anonymousSearches = 0
    /// Whether the file marks its turns (`task_started`); until it does, a `user_message` starts one.
    private var marksTurns = false
    private var unmarkedTurns = 0
    /// The time of the last record read, at which an unmarked turn ends.
    private var lastTime: Int64 = 0
    /// The approval policy of the turn under way (`turn_context`): a rollout records no approval, and under
    /// `untrusted` Codex asks before every patch.
    private var approvalPolicy: String?
    /// Whether the file records items' completions (`item_completed`, Codex 0.163 and later): a command still
    /// running when the model was answered then ends with its own record, maybe after its turn.
    private var recordsItemCompletions = false

    /// The payloads passed over by their first bytes: those the vocabulary declares not read, never one it does
    /// not know (which the parser reads, and the replay counts), for each record type that has such payloads.
    private static let typesWithPayloadsNotRead = [CodexVocabulary.eventMessage, CodexVocabulary.responseItem]
    private static let typesWithPayloadsNotReadNames = NameTable(typesWithPayloadsNotRead)
    private static let payloadsNotRead = typesWithPayloadsNotRead.map {
        NameTable(CodexVocabulary.payloadTypesNotRead(of: $0))
    }

    private static let recordTypesNotRead = NameTable(CodexVocabulary.recordTypesNotRead)

    /// What follows a record's time (from its closing quote), from the comma before its type: past the
    /// `"ordinal":N` that Codex 0.163 and later write between the two. As laid out otherwise, it is left as it is,
    /// and the type is not found there.
    private static func pastOrdinal(_ rest: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let ordinal: StaticString = #"","ordinal":"#
        guard LeadingBytes.startsWith(rest, ordinal) else { return UnsafeRawBufferPointer(rebasing: rest.dropFirst()) }
        let digits = rest.dropFirst(ordinal.utf8CodeUnitCount).prefix { (48...57).contains($0) }
        // As many digits as an unsigned 64-bit number has, at most: the parser takes such a number whole.
        guard (1...19).contains(digits.count), digits.first != 48 || digits.count == 1 else {
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        return UnsafeRawBufferPointer(rebasing: rest[digits.endIndex...])
    }

    /// A record passed over unparsed (see `unreadRecordTime`) still dates the end of a turn in a file that marks
    /// none.
    mutating func passedOver(at time: Int64) {
        if !marksTurns { lastTime = time }
    }

    /// The timestamp of a record that can be passed over unparsed, told from its first bytes: only an `event_msg`
    /// or `response_item` whose payload begins with a type declared not read (messages, reasoning, an agent's
    /// words), which hold most of a rollout's bytes; `nil` for any other. Whatever is laid out otherwise is left to
    /// the parser.
    static func unreadRecordTime(_ line: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard let stamp = LeadingBytes.string(after: #"{"timestamp":""#, in: line),
            let type = LeadingBytes.string(after: #","type":""#, in: pastOrdinal(stamp.rest))
        else { return nil }
        if recordTypesNotRead.contains(type.text) { return stamp.text }
        guard let payloadType = LeadingBytes.string(after: #"","payload":{"type":""#, in: type.rest) else {
            return nil
        }
        guard let position = typesWithPayloadsNotReadNames.position(of: type.text.assumingMemoryBound(to: UInt8.self))
        else { return nil }
        return payloadsNotRead[position].contains(payloadType.text) ? stamp.text : nil
    }

    init() {}

    /// A translator for the next file of a replay, which remembers the turns completed in earlier ones.
    init(continuing earlier: RolloutTranslator) {
        completedTurns = earlier.completedTurns
    }

    /// A translator for one file read apart from the ones before it, which takes it that they completed none of its
    /// turns and keeps the turns it took so, to be checked against those they did complete.
    static func detached() -> RolloutTranslator {
        var translator = RolloutTranslator()
        translator.completedTurns = RecentKeys(capacity: SessionLimits.rememberedEndedTurns, recordingMisses: true)
        return translator
    }

    /// Hands `emit` the messages a record stands for, in order, each with its time in Unix nanoseconds (saturated:
    /// the caller checks its range). Handed over one by one, not gathered: most records stand for one message.
    mutating func translate(_ record: RolloutRecord, _ emit: (AppServerMessage, Int64) -> Void) {
        // An unmarked turn ends with the last record before the next one's prompt.
        if !marksTurns, record.type == CodexVocabulary.eventMessage,
            record.payloadType == CodexVocabulary.Event.userMessage.rawValue,
            let ending = endUnmarkedTurn()
        {
            emit(ending, lastTime)
        }
        let time = record.time
        messages(record) { emit($0, time) }
        lastTime = time
    }

    /// Whether an unmarked turn is running: it ends only with the next prompt or the file.
    var hasOpenTurn: Bool { !marksTurns && currentTurn != nil }

    /// What is left at the end of the file: an unmarked turn still running ends with the file's last record.
    mutating func finish() -> (message: AppServerMessage, time: Int64)? {
        marksTurns ? nil : endUnmarkedTurn().map { ($0, lastTime) }
    }

    private mutating func endUnmarkedTurn() -> AppServerMessage? {
        guard let turnID = currentTurn else { return nil }
        defer {
            completedTurns.insert(completionKey(turnID))
            if skippingTurn == turnID { skippingTurn = nil }
            currentTurn = nil
        }
        guard turnID != skippingTurn else { return nil }
        return .turnCompleted(threadID: threadID, turn: TurnInfo(id: turnID, status: .completed))
    }

    /// How a completed turn is remembered: by its id, unique where it is a UUID; with its thread's, where turns
    /// are numbered in each file.
    private func completionKey(_ turnID: String) -> Int {
        marksTurns ? RecentKeys.hash(turnID) : RecentKeys.hash(threadID, turnID)
    }

    private mutating func messages(_ record: RolloutRecord, _ emit: (AppServerMessage) -> Void) {
        switch record.type {
        case CodexVocabulary.sessionMeta:
            guard let payload = record.payload, let id = record.id else { return }
            guard threadID.isEmpty else {
                // Another session's header in this file: the history a fork copied from its parent follows.
                if id != threadID { copyingHistory = true }
                return
            }
            threadID = id
            let spawn = SessionSource.threadSpawn(in: payload["source"])
            let thread = ThreadInfo(
                id: id,
                provider: payload["model_provider"]?.string,
                forkedFromID: payload["forked_from_id"]?.string,
                source: payload["source"].map(SessionSource.init(json:)),
                parentThreadID: payload["parent_thread_id"]?.string ?? spawn?["parent_thread_id"]?.string,
                agentRole: payload["agent_role"]?.string ?? spawn?["agent_role"]?.string,
                agentDepth: spawn?["depth"]?.int
            )
            emit(.threadOpened(thread))
        case CodexVocabulary.turnContext:
            // The model and effort of the turn under way: the model announced the way a reroute is, which sets
            // the turn's and the thread's model.
            guard let turn = record.turnID ?? currentTurn, turn != skippingTurn else { return }
            approvalPolicy = record.approvalPolicy ?? approvalPolicy
            if let effort = record.effort {
                emit(.threadSettingsUpdated(threadID: threadID, model: nil, reasoningEffort: effort))
            }
            if let model = record.model {
                emit(.modelRerouted(threadID: threadID, turnID: turn, model: model))
            }
        case CodexVocabulary.eventMessage:
            event(record, emit)
        case CodexVocabulary.responseItem:
            toolCall(record, emit)
        default:
            break
        }
    }

    private mutating func event(_ record: RolloutRecord, _ emit: (AppServerMessage) -> Void) {
        let turnID = record.turnID ?? currentTurn
        switch record.payloadType.flatMap(CodexVocabulary.Event.init(rawValue:)) {
        case .userMessage where !marksTurns:
            startUnmarkedTurn(emit)
        case .taskStarted:
            if let turnID { startTurn(turnID, root: record.rootTurnID, emit) }
        case .tokenCount:
            if let total = record.totalUsage, let last = record.lastUsage, let turnID = currentTurn {
                let context = record.contextTokens.map { ContextUsage(tokens: $0, window: record.contextWindow) }
                // During a copied turn the turn is not open, so this only sets the baseline.
                emit(.tokenUsageUpdated(threadID: threadID, turnID: turnID, total: total, last: last, context: context))
            }
            if let limits = record.rateLimits {
                emit(.rateLimitsUpdated(Self.rateLimits(limits)))
            }
        case .itemCompleted:
            recordsItemCompletions = true
            guard let turnID, turnID != skippingTurn, let payload = record.payload else { return }
            itemCompleted(payload, record, in: turnID, emit)
        case .taskComplete, .turnAborted:
            if let turnID { endTurn(turnID, record, emit) }
        default:
            break
        }
    }

    /// A prompt in a file that marks no turns: the next turn, numbered.
    private mutating func startUnmarkedTurn(_ emit: (AppServerMessage) -> Void) {
        let turnID = String(unmarkedTurns)
        unmarkedTurns += 1
        currentTurn = turnID
        openCalls = [:]
        anonymousSearches = 0
        if completedTurns.contains(completionKey(turnID)) {
            skippingTurn = turnID
            return
        }
        emit(.turnStarted(threadID: threadID, turn: TurnInfo(id: turnID, status: .inProgress)))
    }

    /// A marked turn's start: skipped when it is history a fork copied, or a turn an earlier file completed.
    private mutating func startTurn(_ turnID: String, root: String?, _ emit: (AppServerMessage) -> Void) {
        marksTurns = true
        currentTurn = turnID
        openCalls = [:]
        anonymousSearches = 0
        if copyingHistory, !Self.isCreated(turnID, notBefore: threadID) {
            skippingTurn = turnID
            return
        }
        copyingHistory = false
        if completedTurns.contains(completionKey(turnID)) {
            skippingTurn = turnID
            return
        }
        emit(.turnStarted(threadID: threadID, turn: TurnInfo(id: turnID, status: .inProgress, rootTurnID: root)))
    }

    /// An `item_completed`: the whole item, as the app-server would report its completion.
    private mutating func itemCompleted(
        _ payload: JSONValue,
        _ record: RolloutRecord,
        in turnID: String,
        _ emit: (AppServerMessage) -> Void
    ) {
        guard let item = payload["item"], let id = item["id"]?.string, let type = item["type"]?.string else { return }
        // This completion is the call's: its output, before or after, completes nothing more.
        openCalls[id] = nil
        let duration = item["duration"].map { duration in
            (duration["secs"]?.int ?? 0).multipliedSaturated(by: 1000)
                .addingSaturated((duration["nanos"]?.int ?? 0) / 1_000_000)
        }
        let kind = type.prefix(1).lowercased() + type.dropFirst()
        let isCollaboration = kind == CodexVocabulary.collabAgentToolCall
        // Collaboration tools are named in snake case here (`spawn_agent`), in camel case by the app-server.
        let toolName = item["tool"]?.string.map { isCollaboration ? CodexVocabulary.camelCase($0) : $0 }
        var info = ItemInfo(
            id: id,
            type: kind,
            toolName: toolName,
            toolServer: item["server"]?.string,
            status: item["status"]?.string.map { ItemStatus(rawValue: CodexVocabulary.camelCase($0)) },
            exitCode: item["exit_code"]?.int,
            durationMilliseconds: duration,
            spawnedThreadIDs: isCollaboration && toolName == CodexVocabulary.spawnAgent
                ? item["receiver_thread_ids"]?.array?.compactMap(\.string) ?? [] : []
        )
        // Counted and classified as the record was read: only the counts and the class go on.
        switch kind {
        case CodexVocabulary.fileChange:
            info.fileChanges = record.changes
            info.editDecision = editDecision(of: info)
        case CodexVocabulary.commandExecution:
            info.codeActions = record.actions
        case CodexVocabulary.mcpToolCall:
            info.codeActions = CodeActions(mcpServer: info.toolServer, tool: info.toolName)
        default:
            break
        }
        // A compaction is reported whole: its start is what gives it a length.
        if kind == CodexVocabulary.contextCompaction, let startedAt = payload["started_at_ms"]?.int {
            emit(.itemStarted(threadID: threadID, turnID: turnID, item: info, startedAtMilliseconds: startedAt))
        }
        let completedAt = payload["completed_at_ms"]?.int
        emit(.itemCompleted(threadID: threadID, turnID: turnID, item: info, completedAtMilliseconds: completedAt))
    }

    /// A turn's end (`task_complete`, or `turn_aborted`): its status, and the class of its error.
    private mutating func endTurn(_ turnID: String, _ record: RolloutRecord, _ emit: (AppServerMessage) -> Void) {
        defer {
            completedTurns.insert(completionKey(turnID))
            if skippingTurn == turnID { skippingTurn = nil }
            currentTurn = nil
        }
        guard turnID != skippingTurn else { return }
        let aborted = record.payloadType == CodexVocabulary.Event.turnAborted.rawValue
        let errorClass = record.error?["codex_error_info"].flatMap(Self.errorClass)
        let status: TurnStatus =
            aborted ? .interrupted : record.error.map { $0 == .null ? .completed : .failed } ?? .completed
        let turn = TurnInfo(
            id: turnID,
            status: status,
            errorClass: errorClass,
            durationMilliseconds: record.durationMilliseconds
        )
        emit(.turnCompleted(threadID: threadID, turn: turn))
    }

    /// A tool call or its output, as the item it stands for.
    private mutating func toolCall(_ record: RolloutRecord, _ emit: (AppServerMessage) -> Void) {
        guard let turnID = currentTurn, turnID != skippingTurn,
            let type = record.payloadType.flatMap(CodexVocabulary.ConversationRecord.init(rawValue:))
        else { return }
        switch type {
        case .functionCall, .customToolCall, .localShellCall:
            // A local shell call names no function: it is the local shell.
            guard let id = record.callID ?? record.id,
                let tool = CodexVocabulary.tool(calledAs: record.name ?? "local_shell"),
                openCalls.count < SessionLimits.maximumTrackedItems
            else { return }
            var item = ItemInfo(id: id, type: tool.kind, toolName: tool.toolName, toolServer: tool.server)
            // Counted and classified as the record was read: only the counts and the class go on.
            switch tool.kind {
            case CodexVocabulary.fileChange:
                item.fileChanges = record.changes
            case CodexVocabulary.commandExecution:
                item.codeActions = record.actions
            case CodexVocabulary.mcpToolCall:
                item.codeActions = CodeActions(mcpServer: tool.server, tool: tool.toolName)
            default:
                break
            }
            openCalls[id] = item
            emit(.itemStarted(threadID: threadID, turnID: turnID, item: item, startedAtMilliseconds: nil))
        case .functionCallOutput, .customToolCallOutput:
            guard let id = record.callID, var item = openCalls.removeValue(forKey: id) else { return }
            let outcome = record.output.map(ToolOutcome.init(output:)) ?? ToolOutcome()
            // A command that outlived its wait for output is left running for its own completion, where one comes.
            if outcome.isRunning, recordsItemCompletions, item.type == CodexVocabulary.commandExecution {
                openCalls[id] = item
                return
            }
            item.status = outcome.status
            // Only a command has an exit code of its own; a patch's is the tool's.
            item.exitCode = item.type == CodexVocabulary.commandExecution ? outcome.exitCode : nil
            item.durationMilliseconds = outcome.durationMilliseconds
            if item.type == CodexVocabulary.fileChange { item.editDecision = editDecision(of: item) }
            emit(.itemCompleted(threadID: threadID, turnID: turnID, item: item, completedAtMilliseconds: nil))
        case .webSearchCall:
            anonymousSearches += 1
            let id = record.id ?? "web_search_call-\(anonymousSearches)"
            let status = record.status.map { ItemStatus(rawValue: CodexVocabulary.camelCase($0)) }
            let item = ItemInfo(id: id, type: CodexVocabulary.webSearch, status: status)
            emit(.itemCompleted(threadID: threadID, turnID: turnID, item: item, completedAtMilliseconds: nil))
        }
    }

    /// How a patch was decided, as far as a rollout tells: it records no approval, but under the `untrusted` policy
    /// Codex asks before every patch, so one applied (or applied and failed) was accepted by a person. Otherwise
    /// `nil`: the session decides as for an item asked nothing (applied: no one asked; declined: declined).
    private func editDecision(of item: ItemInfo) -> String? {
        guard approvalPolicy == "untrusted", item.status == .completed || item.status == .failed else { return nil }
        return EditDecision.accept
    }

    private static func rateLimits(_ value: JSONValue) -> RateLimits {
        RateLimits(
            limitID: value["limit_id"]?.string,
            planType: value["plan_type"]?.string,
            windows: ["primary", "secondary"].compactMap { name in
                guard let window = value[name], window != .null else { return nil }
                return RateLimits.Window(
                    name: name,
                    usedPercent: window["used_percent"]?.int,
                    durationMinutes: window["window_minutes"]?.int,
                    resetsAt: window["resets_at"]?.int
                )
            }
        )
    }

    /// Whether `turn` was created no earlier than `session`, both UUIDv7s, whose first 48 bits are their creation
    /// time in milliseconds; `false` when either is not a UUIDv7.
    static func isCreated(_ turn: String, notBefore session: String) -> Bool {
        func creation(_ id: String) -> UInt64? {
            let bytes = Array(id.utf8)
            // 8-4-4 hex digits, the version digit first in the third group.
            guard bytes.count == 36, bytes[8] == UInt8(ascii: "-"), bytes[13] == UInt8(ascii: "-"),
                bytes[14] == UInt8(ascii: "7")
            else { return nil }
            return UInt64(hexDigits: String(decoding: bytes[0..<8] + bytes[9..<13], as: UTF8.self))
        }
        guard let turnTime = creation(turn), let sessionTime = creation(session) else { return false }
        return turnTime >= sessionTime
    }

    /// Rollouts spell error classes in snake case (`internal_server_error`); the app-server, in camel case.
    private static func errorClass(_ value: JSONValue) -> ErrorClass? {
        let name: String? =
            switch value {
            case .string(let name): name
            case .object(let variant): variant.keys.sorted().first
            default: nil
            }
        return name.map { ErrorClass(rawValue: CodexVocabulary.camelCase($0)) }
    }
}

/// `2026-11-21T08:14:19.854Z` (or with a numeric offset) as Unix nanoseconds, stuck at the bounds of `Int64` for
/// years before 1678 or after 2261.
package func unixNanoseconds(iso8601 text: String) -> Int64? {
    var text = text
    return text.withUTF8 { unixNanoseconds(iso8601: UnsafeRawBufferPointer($0)) }
}

/// The same, read from the bytes of a line: most records of a rollout are passed over, their time read in place.
package func unixNanoseconds(iso8601 bytes: UnsafeRawBufferPointer) -> Int64? {
    // Every record of a rollout has a time: read two digits at a time, in place.
    func pair(_ offset: Int) -> Int? {
        guard offset + 2 <= bytes.count else { return nil }
        let tens = bytes[offset] &- 48
        let ones = bytes[offset + 1] &- 48
        return tens < 10 && ones < 10 ? Int(tens) * 10 + Int(ones) : nil
    }
    // A time is ASCII: one with any other byte is not read, whether a reader sees its bytes or their decoding.
    guard !bytes.contains(where: { $0 >= 0x80 }) else { return nil }
    guard bytes.count >= 20, let century = pair(0), let yearOfCentury = pair(2), let month = pair(5),
        let day = pair(8), let hour = pair(11), let minute = pair(14), let second = pair(17)
    else { return nil }
    let year = century * 100 + yearOfCentury
    var index = 19
    var nanoseconds = 0
    if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
        index += 1
        var scale = 100_000_000
        while index < bytes.count, case let digit = bytes[index] &- 48, digit < 10 {
            nanoseconds += Int(digit) * scale
            scale /= 10
            index += 1
        }
    }
    var offset = 0
    if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-"),
        let hours = pair(index + 1), let minutes = pair(index + 4)
    {
        offset = (hours * 3600 + minutes * 60) * (bytes[index] == UInt8(ascii: "+") ? 1 : -1)
    }
    let days = Int(CivilDate(year: Int64(year), month: Int64(month), day: Int64(day)).daysSince1970)
    // Four-digit years keep every term far inside 64 bits; only the scaling to nanoseconds can overflow.
    let seconds = Int64(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
    return seconds.multipliedSaturated(by: 1_000_000_000).addingSaturated(Int64(nanoseconds))
}

/// What the first lines of a tool's output say of how it ended: Codex writes `Process exited with code N` and
/// `Wall time: S seconds` (unified exec), or `{"output":…,"metadata":{"exit_code":N,"duration_seconds":S}}`
/// (shell and patch tools), or `Process running with session ID N` (a command that outlived the wait for its
/// output), or that the user rejected the call. Only that head is looked at, and only these numbers and those facts
/// are kept.
struct ToolOutcome: Equatable {
    var status = ItemStatus.completed
    var isRunning = false
    var exitCode: Int64?
    var durationMilliseconds: Int64?

    /// How much of an output is looked at: the status lines come first.
    static let headLength = 512

    init() {}

    init(output: String) {
        var output = output
        // Looked at where it is: no copy of it is made.
        self = output.withUTF8 { text in
            ToolOutcome(head: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(text).prefix(Self.headLength)))
        }
    }

    private init(head: UnsafeRawBufferPointer) {
        if Self.range(of: "rejected by user", in: head) != nil {
            status = .declined
            return
        }
        isRunning = Self.range(of: "Process running with session ID ", in: head) != nil
        exitCode =
            Self.number(after: "Process exited with code ", in: head).flatMap { Int64($0) }
            ?? Self.number(after: #""exit_code":"#, in: head).flatMap { Int64($0) }
        let seconds =
            (Self.number(after: "Wall time: ", in: head) ?? Self.number(after: #""duration_seconds":"#, in: head))
            .flatMap { Double($0) }.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
        durationMilliseconds = seconds.map { Int64(saturating: $0 * 1000) }
        if let exitCode, exitCode != 0 { status = .failed }
    }

    /// Where `label` ends in `text`, if it is there.
    private static func range(of label: StaticString, in text: UnsafeRawBufferPointer) -> Int? {
        let length = label.utf8CodeUnitCount
        guard let base = text.baseAddress, text.count >= length else { return nil }
        // Each place the first byte appears, then the rest compared at once.
        var start = 0
        while start + length <= text.count,
            let found = memchr(base + start, Int32(label.utf8Start.pointee), text.count - length - start + 1)
        {
            let offset = base.distance(to: found)
            if memcmp(found, label.utf8Start, length) == 0 { return offset + length }
            start = offset + 1
        }
        return nil
    }

    /// The number written right after `label`.
    private static func number(after label: StaticString, in text: UnsafeRawBufferPointer) -> String? {
        guard let start = range(of: label, in: text) else { return nil }
        let digits = text[start...].prefix {
            (48...57).contains($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
        }
        return digits.isEmpty ? nil : String(decoding: digits, as: UTF8.self)
    }
}
