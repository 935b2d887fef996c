public import CodexAppServer
import JSON
import JSONRPC
import SaturatingArithmetic

/// Turns the messages of an app-server session, live or replayed, into telemetry events.
///
/// A pure state machine: `receive(_:at:)` takes one message and the time it was emitted and returns the events it
/// completes; it does no I/O and reads no clock, so a replay produces exactly the events of the live run.
///
/// Invariants, each tested:
/// - Every turn that starts ends exactly once: by `turn/completed`, or as `incomplete` by `finish()` or when the
///   state bound forces it.
/// - Every tool item that starts produces one `codex.tool_call`: when it completes, or as `incomplete` when its
///   turn has ended and the wait for it is over. A turn that ends with tools still running waits for them (some
///   releases report a command's completion after its turn's), until a message comes more than
///   `SessionLimits.lateToolGrace` after the turn's end, or `stopAwaitingTools(threadID:turnID:)`, or `finish()`.
/// - A turn's span contains its calls' spans, and every `codex.duration_ms` is its span's length.
/// - A model call is counted only when a running turn's cumulative usage changes; its tokens are the change. A
///   repeated snapshot, or one for a turn that is not running (a resume or fork replaying history), only sets the
///   baseline.
/// - Nothing from the session can make it trap or grow without bound: values out of range are not believed, and
///   state is bounded (see `Discards`).
public struct SessionTelemetry: Sendable {
    /// The item types reported as tool calls.
    public static let toolKinds: Set<String> = CodexVocabulary.toolItemNames
    static let toolKindNames = NameTable(toolKinds)
    /// The item kinds whose times bound a model call: the prompt, and what the model wrote.
    static let promptKindNames = NameTable(CodexVocabulary.promptItemNames)
    static let modelOutputKindNames = NameTable(CodexVocabulary.modelOutputItemNames)

    /// What the session sent that was not believed, and the state given up to stay bounded.
    public struct Discards: Sendable, Hashable {
        /// Values not believed: times outside 2000…2100, negative or absurd durations, token counts and exit
        /// codes, ids longer than 256 bytes. The rest of the message is still used where it can be.
        public var outOfRange = 0
        /// Turns closed early as `incomplete`, the one opened longest ago first, because too many were running at
        /// once (1024) or their tool items were too many to track (65,536 across running turns).
        public var turnsClosedEarly = 0

        public init() {}
    }

    /// The prices model calls are costed with.
    public let prices: PriceTable
    /// What was not believed or not kept so far.
    public internal(set) var discards = Discards()
    /// The latest time seen, in Unix nanoseconds.
    public private(set) var latestTime: UInt64 = 0
    /// The time given to messages that carry none while no time is known yet (a replayed file's modification time,
    /// for releases that put no time in their messages); `nil` leaves them at the latest time seen.
    var fileTime: UInt64?
    /// Messages that could date an event, dated by `fileTime` because nothing gave a time of their own.
    private(set) var messagesDatedByFile = 0
    var threads: [String: ThreadState] = [:]
    /// Which thread spawned which: kept from file to file of a replay (see `SessionReplay.agents`).
    package var agents = AgentTree()
    var openTurns: [TurnKey: TurnState] = [:]
    /// Running turns in the order they opened, oldest first; turns that have ended since are skipped when met.
    var openingOrder: [TurnKey] = []
    var oldestOpening = 0
    var endedTurns = RecentKeys(capacity: SessionLimits.rememberedEndedTurns)
    /// Tool items held by running turns, open or remembered as completed.
    var trackedItems = 0
    /// Turns that ended while tools were still running, in the order they ended; turns since closed are skipped.
    var turnsAwaitingTools: [TurnKey] = []
    /// Events of turns closed on the way (to make room, or done waiting for their tools), handed out with the events
    /// of the message that caused it.
    var closedOnTheWay: [TelemetryEvent] = []
    /// Approval requests not yet answered, with the turn and item they are for and when they were made.
    var pendingApprovals: [PendingApprovalKey: PendingApproval] = [:]
    /// The key of the turn the last message named: messages come turn by turn, and a key's hash is worked out once
    /// for them all.
    var lastTurnKey: TurnKey?
    /// What a state machine for one file on its own took for granted of the files before it (see
    /// `init(detachedFrom:)`); `nil` for any other.
    var assumptions: Assumptions?

    /// Creates a state machine that prices model calls with `prices`.
    public init(prices: PriceTable = .bundled) {
        self.prices = prices
    }

    /// A state machine for the next file of a replay: turns that ended in earlier files stay ended, so a turn seen
    /// through a capture, a recording and a rollout is counted once; only their usage sets baselines.
    init(continuing earlier: SessionTelemetry) {
        prices = earlier.prices
        discards = earlier.discards
        endedTurns = earlier.endedTurns
        messagesDatedByFile = earlier.messagesDatedByFile
        agents = earlier.agents
        assumptions = earlier.assumptions
    }

    /// Takes one message with the Unix time, in nanoseconds, at which it was emitted (or received, when the message
    /// carries no time of its own), and returns the events it completes.
    package mutating func receive(_ message: AppServerMessage, at time: UInt64) -> [TelemetryEvent] {
        latestTime = max(latestTime, time)
        return receiveAtKnownTime(message, at: time)
    }

    /// Takes a message that carries no time of its own: it is dated at the latest time seen or, before any, at the
    /// file's time.
    mutating func receiveUntimed(_ message: AppServerMessage) -> [TelemetryEvent] {
        switch message {
        // An approval's wait is known only when both its request and its answer are dated.
        case .approvalRequested(let threadID, let turnID, let itemID, let requestID, _):
            pendingApprovals[PendingApprovalKey(threadID, requestID)] = nil
            noteApprovalAsked(for: itemID, in: turnKey(threadID, turnID))
            return []
        case .serverRequestResolved(let threadID, let requestID):
            pendingApprovals[PendingApprovalKey(threadID, requestID)] = nil
            return []
        default:
            break
        }
        guard latestTime == 0, let fileTime else { return receive(message, at: latestTime) }
        // A thread's opening (a response, which never has a time) dates nothing; only what can is counted.
        switch message {
        case .threadOpened, .threadSettingsUpdated, .rateLimitsUpdated, .other: break
        default: messagesDatedByFile += 1
        }
        return receiveAtKnownTime(message, at: fileTime)
    }

    /// The current time of the session: the latest seen, else the file's.
    var now: UInt64 { latestTime > 0 ? latestTime : fileTime ?? 0 }

    mutating func receiveAtKnownTime(_ message: AppServerMessage, at time: UInt64) -> [TelemetryEvent] {
        guard message.identifiersAreBounded else {
            discards.outOfRange += 1
            return []
        }
        let events = handle(message, at: time)
        if !turnsAwaitingTools.isEmpty {
            let now = now
            closeTurnsDoneWaiting { now > $0.time.addingSaturated(SessionLimits.lateToolGrace) }
        }
        guard !closedOnTheWay.isEmpty else { return events }
        defer { closedOnTheWay = [] }
        return closedOnTheWay + events
    }

    /// Hands each message to the part that keeps its state: threads, turns, tools and approvals, usage and quotas.
    mutating func handle(_ message: AppServerMessage, at time: UInt64) -> [TelemetryEvent] {
        switch message {
        case .threadOpened(let info):
            openThread(info, at: time)
        case .threadSettingsUpdated(let threadID, let model, let effort):
            applySettings(threadID, model: model, effort: effort, at: time)
        case .modelRerouted(let threadID, let turnID, let model):
            reroute(threadID, turnID: turnID, to: model, at: time)
        case .turnStarted(let threadID, let turn):
            startTurn(threadID, turn, at: time)
        case .itemStarted(let threadID, let turnID, let item, let startedAt):
            startItem(item, in: turnKey(threadID, turnID), startedAt: startedAt, at: time)
        case .itemCompleted(let threadID, let turnID, let item, let completedAt):
            return completeItem(item, in: turnKey(threadID, turnID), completedAt: completedAt, at: time)
        case .tokenUsageUpdated(let threadID, let turnID, let total, let last, let context):
            return recordUsage(turnKey(threadID, turnID), total: total, last: last, context: context, at: time)
        case .rateLimitsUpdated(let limits):
            return rateLimitEvents(limits, at: time)
        case .approvalRequested(let threadID, let turnID, let itemID, let requestID, _):
            let key = turnKey(threadID, turnID)
            requestApproval(PendingApprovalKey(threadID, requestID), in: key, itemID, at: time)
            noteApprovalAsked(for: itemID, in: key)
        case .serverRequestResolved(let threadID, let requestID):
            resolveApproval(PendingApprovalKey(threadID, requestID), at: time)
        case .approvalAnswered(let requestID, let decision):
            answerApproval(requestID, decision: decision)
        case .hookCompleted(let threadID, let turnID, let run):
            return hookRunEvents(run, threadID: threadID, turnID: turnID, at: time)
        case .error(let threadID, let turnID, let errorClass, let willRetry):
            if !willRetry, let errorClass {
                openTurns[turnKey(threadID, turnID)]?.errorClass = SessionLimits.boundedName(errorClass)
            }
        case .turnCompleted(let threadID, let turn):
            return completeTurn(turnKey(threadID, turn.id), turn, at: time)
        case .other:
            break
        }
        return []
    }

    /// Ends the session: every turn still running is closed as `incomplete` at the last time seen, with its open
    /// tool calls; a turn that had ended keeps its status, and the tools it waited for are `incomplete`.
    public mutating func finish() -> [TelemetryEvent] {
        turnsAwaitingTools = []
        return openTurns.keys.sorted().flatMap { key in endTurn(key, openTurns[key]?.ending ?? incompleteEnding) }
    }

    /// Whether a turn is running, or has ended and waits for its tools.
    var hasOpenTurns: Bool { !openTurns.isEmpty }

    /// Whether the turn has ended but waits for tool calls the server has yet to complete: a live reader may give
    /// them a moment before it finishes.
    public func isAwaitingTools(threadID: String, turnID: String) -> Bool {
        openTurns[TurnKey(threadID, turnID)]?.ending != nil
    }

    /// Stops waiting for the turn's late tool completions: if it is waiting, it is closed, its open tools as
    /// `incomplete`.
    public mutating func stopAwaitingTools(threadID: String, turnID: String) -> [TelemetryEvent] {
        let key = TurnKey(threadID, turnID)
        guard let ending = openTurns[key]?.ending else { return [] }
        return endTurn(key, ending)
    }

    /// Closes the turns waiting for tools for which `isDone` says the wait is over.
    mutating func closeTurnsDoneWaiting(_ isDone: (TurnEnding) -> Bool) {
        var stillWaiting: [TurnKey] = []
        for key in turnsAwaitingTools {
            guard let ending = openTurns[key]?.ending else { continue }
            if isDone(ending) {
                closedOnTheWay += endTurn(key, ending)
            } else {
                stillWaiting.append(key)
            }
        }
        turnsAwaitingTools = stillWaiting
    }

    var incompleteEnding: TurnEnding { TurnEnding(status: .incomplete, time: now) }

    /// The time a message gives in Unix milliseconds, as nanoseconds; `nil` (and counted) when out of range.
    mutating func payloadTime(_ milliseconds: Int64?) -> UInt64? {
        guard let milliseconds else { return nil }
        guard let nanoseconds = SessionLimits.nanoseconds(fromUnixMilliseconds: milliseconds) else {
            discards.outOfRange += 1
            return nil
        }
        return nanoseconds
    }

    /// A time in Unix nanoseconds from a file, or `nil` (and counted) when out of range.
    mutating func believableTime(unixNanoseconds nanoseconds: Int64) -> UInt64? {
        guard let believed = SessionLimits.nanoseconds(fromUnixNanoseconds: nanoseconds) else {
            discards.outOfRange += 1
            return nil
        }
        return believed
    }

    /// The context's size, with a window only if it is one: no more tokens than a model call can hold, a
    /// window of at least one token.
    mutating func believable(_ context: ContextUsage) -> ContextUsage? {
        guard (0...SessionLimits.maximumCallTokens).contains(context.tokens) else {
            discards.outOfRange += 1
            return nil
        }
        guard let window = context.window, !(1...SessionLimits.maximumCallTokens).contains(window) else {
            return context
        }
        discards.outOfRange += 1
        return ContextUsage(tokens: context.tokens, window: nil)
    }

    mutating func believableDuration(_ milliseconds: Int64) -> Int64? {
        guard let duration = SessionLimits.duration(milliseconds: milliseconds) else {
            discards.outOfRange += 1
            return nil
        }
        return duration
    }

    /// The item with what cannot be believed removed: an absurd duration, an exit code no process has.
    mutating func believable(_ item: ItemInfo) -> ItemInfo {
        var item = item
        item.durationMilliseconds = item.durationMilliseconds.flatMap { believableDuration($0) }
        if let exitCode = item.exitCode, Int32(exactly: exitCode) == nil {
            discards.outOfRange += 1
            item.exitCode = nil
        }
        item.toolName = item.toolName.map(SessionLimits.boundedName)
        item.status = item.status.map { SessionLimits.boundedName($0) }
        return item
    }

    // MARK: - Files read apart

    /// What a file read apart from the ones before it assumed they held: nothing that would have changed its events.
    struct Assumptions: Sendable {
        /// The threads whose turns it opened: spawned by no earlier file, so without lineage.
        var threads: Set<String> = []
        /// Whether it told of a spawn, which the tree the earlier files built might have taken otherwise.
        var toldOfSpawns = false
    }

    /// A state machine for one file of a replay read apart from the ones before it (on another core, say), which
    /// takes it that they ended none of its turns and spawned none of its threads, and keeps what it took for
    /// granted, for `merge` to check against the state those files did leave.
    init(detachedFrom replay: SessionTelemetry) {
        prices = replay.prices
        endedTurns = RecentKeys(capacity: SessionLimits.rememberedEndedTurns, recordingMisses: true)
        assumptions = Assumptions()
    }

    /// Whether a file's detached state machine, once at its end, saw what this one would have: the file opened no
    /// turn that ended here and no thread spawned here, and told of no spawn.
    func canMerge(_ file: SessionTelemetry) -> Bool {
        guard let assumed = file.assumptions, !assumed.toldOfSpawns, endedTurns.agrees(with: file.endedTurns) else {
            return false
        }
        return assumed.threads.allSatisfy { agents.spawn(of: $0) == nil }
    }

    /// Takes in what a file's detached state machine (`canMerge`) left: this one is then as if it had read the file.
    mutating func merge(_ file: SessionTelemetry) {
        discards.outOfRange += file.discards.outOfRange
        discards.turnsClosedEarly += file.discards.turnsClosedEarly
        messagesDatedByFile += file.messagesDatedByFile
        endedTurns.insert(contentsOf: file.endedTurns)
    }
}

extension AppServerMessage {
    /// Whether every id the message names, each of which becomes a key of the state and an attribute, is within
    /// `SessionLimits.maximumNameLength`. (Checked for every message: no list of them is made.)
    fileprivate var identifiersAreBounded: Bool {
        func fits(_ id: String?) -> Bool { (id?.utf8.count ?? 0) <= SessionLimits.maximumNameLength }
        switch self {
        case .threadOpened(let info):
            return fits(info.id) && fits(info.forkedFromID) && fits(info.parentThreadID) && fits(info.agentRole)
                && fits(info.reasoningEffort) && fits(info.projectID)
        case .threadSettingsUpdated(let threadID, _, _), .serverRequestResolved(let threadID, _):
            return fits(threadID)
        case .rateLimitsUpdated(let limits): return fits(limits.limitID) && fits(limits.planType)
        case .modelRerouted(let threadID, let turnID, _), .tokenUsageUpdated(let threadID, let turnID, _, _, _),
            .error(let threadID, let turnID, _, _):
            return fits(threadID) && fits(turnID)
        case .turnStarted(let threadID, let turn), .turnCompleted(let threadID, let turn):
            return fits(threadID) && fits(turn.id)
        case .approvalRequested(let threadID, let turnID, let itemID, _, _):
            return fits(threadID) && fits(turnID) && fits(itemID)
        case .hookCompleted(let threadID, let turnID, _): return fits(threadID) && fits(turnID)
        case .approvalAnswered: return true
        case .itemStarted(let threadID, let turnID, let item, _), .itemCompleted(let threadID, let turnID, let item, _):
            return fits(threadID) && fits(turnID) && fits(item.id) && fits(item.type)
                && item.spawnedThreadIDs.prefix(SessionLimits.maximumSpawnsPerItem).allSatisfy(fits)
        case .other: return true
        }
    }
}

extension TurnStatus {
    /// A turn we closed without the server's word: the session ended, or state had to be given up, first.
    public static let incomplete: Self = "incomplete"
}

extension ItemStatus {
    /// A tool still running when its turn was closed without the server's word on it.
    public static let incomplete: Self = "incomplete"
    /// A tool still running when its turn was interrupted.
    public static let interrupted: Self = "interrupted"
}
