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
    private static let toolKindNames = NameTable(toolKinds)

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
    public private(set) var discards = Discards()
    /// The latest time seen, in Unix nanoseconds.
    public private(set) var latestTime: UInt64 = 0
    /// The time given to messages that carry none while no time is known yet (a replayed file's modification time,
    /// for releases that put no time in their messages); `nil` leaves them at the latest time seen.
    var fileTime: UInt64?
    /// Messages that could date an event, dated by `fileTime` because nothing gave a time of their own.
    private(set) var messagesDatedByFile = 0
    private var threads: [String: ThreadState] = [:]
    /// Which thread spawned which: kept from file to file of a replay (see `SessionReplay.agents`).
    package var agents = AgentTree()
    private var openTurns: [TurnKey: TurnState] = [:]
    /// Running turns in the order they opened, oldest first; turns that have ended since are skipped when met.
    private var openingOrder: [TurnKey] = []
    private var oldestOpening = 0
    private var endedTurns = RecentKeys(capacity: SessionLimits.rememberedEndedTurns)
    /// Tool items held by running turns, open or remembered as completed.
    private var trackedItems = 0
    /// Turns that ended while tools were still running, in the order they ended; turns since closed are skipped.
    private var turnsAwaitingTools: [TurnKey] = []
    /// Events of turns closed on the way (to make room, or done waiting for their tools), handed out with the events
    /// of the message that caused it.
    private var closedOnTheWay: [TelemetryEvent] = []
    /// Approval requests not yet answered, with the turn and item they are for and when they were made.
    private var pendingApprovals: [PendingApprovalKey: PendingApproval] = [:]
    /// The key of the turn the last message named: messages come turn by turn, and a key's hash is worked out once
    /// for them all.
    private var lastTurnKey: TurnKey?
    /// What a state machine for one file on its own took for granted of the files before it (see
    /// `init(detachedFrom:)`); `nil` for any other.
    private var assumptions: Assumptions?

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
    public mutating func receive(_ message: AppServerMessage, at time: UInt64) -> [TelemetryEvent] {
        latestTime = max(latestTime, time)
        return receiveAtKnownTime(message, at: time)
    }

    /// Takes a message that carries no time of its own: it is dated at the latest time seen or, before any, at the
    /// file's time.
    mutating func receiveUntimed(_ message: AppServerMessage) -> [TelemetryEvent] {
        switch message {
        // An approval's wait is known only when both its request and its answer are dated.
        case .approvalRequested(let threadID, _, _, let requestID, _),
            .serverRequestResolved(let threadID, let requestID):
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
    private var now: UInt64 { latestTime > 0 ? latestTime : fileTime ?? 0 }

    private mutating func receiveAtKnownTime(_ message: AppServerMessage, at time: UInt64) -> [TelemetryEvent] {
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

    private mutating func handle(_ message: AppServerMessage, at time: UInt64) -> [TelemetryEvent] {
        switch message {
        case .threadOpened(let info):
            openThread(info, at: time)
        case .threadSettingsUpdated(let threadID, let model, let effort):
            updateThread(threadID, at: time) { thread in
                if let model { thread.model = SessionLimits.boundedName(model) }
                if let effort { thread.reasoningEffort = SessionLimits.boundedName(effort) }
            }
            // An effort set before a turn's first model call is the one it runs with (a rollout states it just
            // after the turn starts).
            if let effort {
                for key in openTurns.keys where key.threadID == threadID && openTurns[key]?.llmCalls == 0 {
                    openTurns[key]?.reasoningEffort = SessionLimits.boundedName(effort)
                }
            }
        case .modelRerouted(let threadID, let turnID, let model):
            let model = SessionLimits.boundedName(model)
            updateThread(threadID, at: time) { $0.model = model }
            openTurns[turnKey(threadID, turnID)]?.model = model
        case .turnStarted(let threadID, let turn):
            if let key = openTurn(turnKey(threadID, turn.id), at: time), let root = turn.rootTurnID {
                openTurns[key]?.rootTurnID = SessionLimits.boundedName(root)
            }
        case .itemStarted(let threadID, let turnID, let item, let startedAt):
            let key = turnKey(threadID, turnID)
            recordSpawns(by: item, in: key)
            if item.type == CodexVocabulary.contextCompaction, let key = openTurn(key, at: time),
                let open = openTurns[key]?.openCompactions.count, open < SessionLimits.maximumOpenCompactions
            {
                let start = payloadTime(startedAt) ?? time
                openTurns[key]?.openCompactions[item.id] = start
            }
            guard Self.toolKindNames.contains(item.type), let key = openTurn(key, at: time) else { break }
            let start = payloadTime(startedAt) ?? time
            // A repeated start, or a start after the completion, is not another call. (No copy of the turn is kept
            // while it changes: its tables would be copied whole, every time.)
            let known = withOpenTurn(key) {
                $0.ending != nil || $0.openTools[item.id] != nil || $0.completedTools.contains(item.id)
            }
            guard known == false, makeRoomForItem(in: key) else { break }
            let tool = OpenTool(item: believable(item), start: start)
            openTurns[key]?.openTools[item.id] = tool
            trackedItems += 1
        case .itemCompleted(let threadID, let turnID, let item, let completedAt):
            let key = turnKey(threadID, turnID)
            recordSpawns(by: item, in: key)
            if item.type == CodexVocabulary.contextCompaction, let key = openTurn(key, at: time) {
                return completeCompaction(item.id, in: key, at: payloadTime(completedAt) ?? time)
            }
            guard Self.toolKindNames.contains(item.type), let key = openTurn(key, at: time) else { break }
            var events = completeTool(believable(item), in: key, at: payloadTime(completedAt) ?? time)
            // A late completion may be the last its ended turn was waiting for.
            if let ending = withOpenTurn(key, { $0.openTools.isEmpty ? $0.ending : nil }) ?? nil {
                events += endTurn(key, ending)
            }
            return events
        case .tokenUsageUpdated(let threadID, let turnID, let total, let last, let context):
            return recordUsage(turnKey(threadID, turnID), total: total, last: last, context: context, at: time)
        case .rateLimitsUpdated(let limits):
            return rateLimitEvents(limits, at: time)
        case .approvalRequested(let threadID, let turnID, let itemID, let requestID, _):
            let key = PendingApprovalKey(threadID, requestID)
            guard pendingApprovals.count < SessionLimits.maximumPendingApprovals || pendingApprovals[key] != nil else {
                discards.outOfRange += 1
                break
            }
            pendingApprovals[key] = PendingApproval(turn: turnKey(threadID, turnID), itemID: itemID, requestedAt: time)
        case .serverRequestResolved(let threadID, let requestID):
            guard let approval = pendingApprovals.removeValue(forKey: PendingApprovalKey(threadID, requestID)),
                let waits = openTurns[approval.turn]?.approvalWaits
            else { break }
            guard waits.count < SessionLimits.maximumPendingApprovals || waits[approval.itemID] != nil else {
                discards.outOfRange += 1
                break
            }
            let wait = milliseconds(from: approval.requestedAt, to: time)
            // An item asked about twice waited for both answers.
            let waited = waits[approval.itemID] ?? 0
            openTurns[approval.turn]?.approvalWaits[approval.itemID] = waited.addingSaturated(wait)
        case .hookCompleted(let threadID, let turnID, let run):
            return hookRunEvents(run, threadID: threadID, turnID: turnID, at: time)
        case .error(let threadID, let turnID, let errorClass, let willRetry):
            if !willRetry, let errorClass {
                openTurns[turnKey(threadID, turnID)]?.errorClass = SessionLimits.boundedName(errorClass)
            }
        case .turnCompleted(let threadID, let turn):
            guard let key = openTurn(turnKey(threadID, turn.id), at: time),
                withOpenTurn(key, { $0.ending == nil }) == true
            else { break }
            let ending = TurnEnding(
                status: SessionLimits.boundedName(turn.status),
                errorClass: turn.errorClass.map { SessionLimits.boundedName($0) },
                time: time,
                reportedDuration: turn.durationMilliseconds.flatMap { believableDuration($0) }
            )
            guard withOpenTurn(key, { $0.openTools.isEmpty }) == false else { return endTurn(key, ending) }
            openTurns[key]?.ending = ending
            turnsAwaitingTools.append(key)
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
    private mutating func closeTurnsDoneWaiting(_ isDone: (TurnEnding) -> Bool) {
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

    private var incompleteEnding: TurnEnding { TurnEnding(status: .incomplete, time: now) }

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
    private mutating func believable(_ context: ContextUsage) -> ContextUsage? {
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

    private mutating func believableDuration(_ milliseconds: Int64) -> Int64? {
        guard let duration = SessionLimits.duration(milliseconds: milliseconds) else {
            discards.outOfRange += 1
            return nil
        }
        return duration
    }

    /// The item with what cannot be believed removed: an absurd duration, an exit code no process has.
    private mutating func believable(_ item: ItemInfo) -> ItemInfo {
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
    private struct Assumptions: Sendable {
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

    // MARK: - Threads and turns

    private mutating func openThread(_ info: ThreadInfo, at time: UInt64) {
        // A fork starts from its parent's usage: that is history, not new calls.
        let parentTotal = info.forkedFromID.flatMap { threads[$0]?.total }
        updateThread(info.id, at: time) { thread in
            if let model = info.model { thread.model = SessionLimits.boundedName(model) }
            if let provider = info.provider { thread.provider = SessionLimits.boundedName(provider) }
            if thread.total == nil { thread.total = parentTotal }
            thread.source = info.source ?? thread.source
            thread.agentRole = info.agentRole.map(SessionLimits.boundedName) ?? thread.agentRole
            thread.agentDepth =
                info.agentDepth.flatMap { (0...Int64(SessionLimits.maximumAgentDepth)).contains($0) ? $0 : nil }
                ?? thread.agentDepth
            thread.reasoningEffort = info.reasoningEffort.map(SessionLimits.boundedName) ?? thread.reasoningEffort
            thread.projectID = info.projectID.map(SessionLimits.boundedName) ?? thread.projectID
        }
        if let parent = info.parentThreadID {
            assumptions?.toldOfSpawns = true
            agents.record(child: info.id, AgentTree.Spawn(parentThreadID: parent))
        }
    }

    /// Learns the threads an item started (a spawn call's receivers, a sub-agent's start), and where.
    private mutating func recordSpawns(by item: ItemInfo, in key: TurnKey) {
        guard !item.spawnedThreadIDs.isEmpty else { return }
        // Only a tool call has a span for its children to sit under.
        let callID = Self.toolKindNames.contains(item.type) ? item.id : nil
        for child in item.spawnedThreadIDs.prefix(SessionLimits.maximumSpawnsPerItem) {
            assumptions?.toldOfSpawns = true
            agents.record(
                child: child,
                AgentTree.Spawn(parentThreadID: key.threadID, turnID: key.turnID, callID: callID)
            )
            if let model = item.spawnedModel, threads[child]?.model == nil {
                updateThread(child, at: threads[key.threadID]?.lastSeen ?? 0) {
                    $0.model = SessionLimits.boundedName(model)
                }
            }
        }
    }

    /// The attributes every event of a turn shares: its ids and model, and where its thread comes from.
    private func dimensions(_ key: TurnKey, _ turn: TurnState) -> [TelemetryAttribute] {
        var attributes = turn.dimensions(key)
        let thread = threads[key.threadID]
        let spawn = agents.spawn(of: key.threadID)
        // A thread nobody announced (a live sub-agent's) but that was seen spawned is a spawned agent's.
        if let source = thread?.source ?? spawn.map({ _ in .subAgent(.threadSpawn) }) {
            attributes.append(TelemetryAttribute(key: .sessionSource, value: .dimension(source.name)))
            if case .subAgent(let kind) = source {
                attributes.append(TelemetryAttribute(key: .agentKind, value: .dimension(kind.rawValue)))
            }
        }
        if let role = thread?.agentRole {
            attributes.append(TelemetryAttribute(key: .agentRole, value: .dimension(role)))
        }
        if let project = thread?.projectID {
            attributes.append(TelemetryAttribute(key: .projectID, value: .dimension(project)))
        }
        var rootTurn = turn.rootTurnID
        if let spawn {
            let root = agents.root(of: key.threadID)
            attributes += [
                TelemetryAttribute(key: .parentThreadID, value: .dimension(spawn.parentThreadID)),
                TelemetryAttribute(key: .rootThreadID, value: .dimension(root)),
                TelemetryAttribute(
                    key: .agentDepth,
                    value: .int(thread?.agentDepth ?? agents.depth(of: key.threadID))
                ),
            ]
            if let turnID = spawn.turnID {
                attributes.append(TelemetryAttribute(key: .parentTurnID, value: .dimension(turnID)))
                // Without the server's root turn, a child of the root thread belongs to the turn that spawned it.
                if rootTurn == nil, spawn.parentThreadID == root { rootTurn = turnID }
            }
            if let callID = spawn.callID {
                attributes.append(TelemetryAttribute(key: .parentToolCallID, value: .dimension(callID)))
            }
        }
        if let rootTurn, rootTurn != key.turnID {
            attributes.append(TelemetryAttribute(key: .rootTurnID, value: .dimension(rootTurn)))
        }
        return attributes
    }

    private mutating func updateThread(_ id: String, at time: UInt64, _ change: (inout ThreadState) -> Void) {
        var thread = threads[id] ?? ThreadState()
        change(&thread)
        thread.lastSeen = max(thread.lastSeen, time)
        threads[id] = thread
        if threads.count > SessionLimits.maximumThreads { forgetLeastRecentThreads() }
    }

    /// Forgets the quarter of threads seen least recently: their model and baseline, which a resume announces
    /// again. Their running turns keep their own.
    private mutating func forgetLeastRecentThreads() {
        let oldest = threads.sorted { ($0.value.lastSeen, $0.key) < ($1.value.lastSeen, $1.key) }
        for (id, _) in oldest.prefix(threads.count / 4) { threads[id] = nil }
    }

    /// Reads or changes a running turn where it is: `openTurns[key]` would copy it, retaining each of its strings
    /// and tables; `nil` if the turn is not running.
    private mutating func withOpenTurn<Result>(_ key: TurnKey, _ body: (inout TurnState) -> Result) -> Result? {
        guard let index = openTurns.index(forKey: key) else { return nil }
        return body(&openTurns.values[index])
    }

    /// The key of a turn, the last one's again when it is the same turn.
    private mutating func turnKey(_ threadID: String, _ turnID: String) -> TurnKey {
        if let last = lastTurnKey, last.turnID == turnID, last.threadID == threadID { return last }
        let key = TurnKey(threadID, turnID)
        lastTurnKey = key
        return key
    }

    /// The key of a running turn, opening it at `time` if this is the first we hear of it; `nil` if it has ended.
    private mutating func openTurn(_ key: TurnKey, at time: UInt64) -> TurnKey? {
        if openTurns.index(forKey: key) != nil { return key }
        if endedTurns.contains(key.hash) { return nil }
        if openTurns.count >= SessionLimits.maximumOpenTurns { closeOldestTurn() }
        // Its events take their lineage from the tree.
        assumptions?.threads.insert(key.threadID)
        let thread = threads[key.threadID] ?? ThreadState()
        openTurns[key] = TurnState(
            start: time,
            model: thread.model,
            provider: thread.provider,
            reasoningEffort: thread.reasoningEffort
        )
        openingOrder.append(key)
        return key
    }

    /// Makes room for one more tracked item; `false` if that closed the turn `key` itself.
    private mutating func makeRoomForItem(in key: TurnKey) -> Bool {
        while trackedItems >= SessionLimits.maximumTrackedItems, !openTurns.isEmpty { closeOldestTurn() }
        return openTurns.index(forKey: key) != nil
    }

    /// Closes the turn that opened first as `incomplete`, to stay within the state bound.
    private mutating func closeOldestTurn() {
        while oldestOpening < openingOrder.count {
            let key = openingOrder[oldestOpening]
            oldestOpening += 1
            guard openTurns[key] != nil else { continue }
            discards.turnsClosedEarly += 1
            closedOnTheWay += endTurn(key, openTurns[key]?.ending ?? incompleteEnding)
            return
        }
    }

    /// Closes the turn: its open tools as `incomplete` (or `interrupted`), then the turn itself, its span widened to
    /// hold every call it made.
    private mutating func endTurn(_ key: TurnKey, _ ending: TurnEnding) -> [TelemetryEvent] {
        guard let turn = openTurns.removeValue(forKey: key) else { return [] }
        endedTurns.insert(key.hash)
        // Requests never answered (releases before 0.112 say nothing when they are) go with their turn.
        if !pendingApprovals.isEmpty { pendingApprovals = pendingApprovals.filter { $0.value.turn != key } }
        forgetEndedOpenings()
        trackedItems -= turn.openTools.count + turn.completedTools.count
        // The server's duration dates the start of a turn whose beginning we missed or know only to the second.
        var start =
            ending.reportedDuration.map { min(turn.start, ending.time.subtractingSaturated(UInt64($0) * 1_000_000)) }
            ?? turn.start
        var end = max(ending.time, start)
        if let calls = turn.callBounds {
            start = min(start, calls.lowerBound)
            end = max(end, calls.upperBound)
        }
        let toolStatus: ItemStatus = ending.status == .interrupted ? .interrupted : .incomplete
        var events = turn.openTools.values.sorted { ($0.start, $0.item.id) < ($1.start, $1.item.id) }.map { open in
            var item = open.item
            item.status = toolStatus
            item.durationMilliseconds = nil
            let wait = turn.approvalWaits[item.id]
            return toolEvent(item, key: key, turn: turn, start: min(open.start, end), end: end, approvalWait: wait)
        }
        var attributes = dimensions(key, turn)
        attributes += [
            TelemetryAttribute(key: .turnStatus, value: .dimension(ending.status.rawValue)),
            TelemetryAttribute(key: .llmCallCount, value: .int(turn.llmCalls)),
            TelemetryAttribute(key: .toolCallCount, value: .int(turn.toolCalls + Int64(events.count))),
            TelemetryAttribute(key: .durationMilliseconds, value: .int(milliseconds(from: start, to: end))),
        ]
        attributes += usageAttributes(turn.usage)
        if turn.llmCalls > 0, let cost = turn.cost {
            attributes.append(TelemetryAttribute(key: .costUSD, value: .double(cost)))
        }
        if ending.status == .failed {
            let errorType = ending.errorClass ?? turn.errorClass ?? .other
            attributes.append(TelemetryAttribute(key: .errorType, value: .dimension(errorType.rawValue)))
        }
        events.append(
            TelemetryEvent(name: .turn, startTimeUnixNano: start, endTimeUnixNano: end, attributes: attributes)
        )
        return events
    }

    /// Drops the openings of ended turns from the queue once they outnumber the running ones, so it stays
    /// proportional to the turns running.
    private mutating func forgetEndedOpenings() {
        guard openingOrder.count - oldestOpening > 2 * openTurns.count + 64 else { return }
        openingOrder = openingOrder[oldestOpening...].filter { openTurns[$0] != nil }
        oldestOpening = 0
    }

    // MARK: - Tools

    private mutating func completeTool(_ item: ItemInfo, in key: TurnKey, at end: UInt64) -> [TelemetryEvent] {
        guard
            let wasOpen = withOpenTurn(
                key,
                { $0.completedTools.contains(item.id) ? nil : $0.openTools[item.id] != nil }
            ) ?? nil
        else { return [] }
        // Taken out while it changes, so its tables are changed in place, not copied.
        guard wasOpen || makeRoomForItem(in: key), var turn = openTurns.removeValue(forKey: key) else { return [] }
        defer { openTurns[key] = turn }
        let opened = turn.openTools.removeValue(forKey: item.id)
        // The tool's own duration, when it gives one, is its span: the two always agree.
        let reportedStart = item.durationMilliseconds.map { end.subtractingSaturated(UInt64($0) * 1_000_000) }
        let start = min(reportedStart ?? opened?.start ?? end, end)
        turn.completedTools.insert(item.id)
        turn.toolCalls += 1
        turn.toolSpans.append(start...end)
        turn.include(start...end)
        if !wasOpen { trackedItems += 1 }
        let wait = turn.approvalWaits.removeValue(forKey: item.id)
        return [toolEvent(item, key: key, turn: turn, start: start, end: end, approvalWait: wait)]
    }

    private func toolEvent(
        _ item: ItemInfo,
        key: TurnKey,
        turn: TurnState,
        start: UInt64,
        end: UInt64,
        approvalWait: Int64?
    ) -> TelemetryEvent {
        var attributes = dimensions(key, turn)
        attributes += [
            TelemetryAttribute(key: .toolCallID, value: .dimension(item.id)),
            TelemetryAttribute(key: .toolKind, value: .dimension(item.type)),
            TelemetryAttribute(key: .toolName, value: .dimension(Self.toolName(of: item))),
            // A web search carries no status: it is reported once it has completed.
            TelemetryAttribute(key: .toolStatus, value: .dimension((item.status ?? .completed).rawValue)),
            TelemetryAttribute(key: .durationMilliseconds, value: .int(milliseconds(from: start, to: end))),
        ]
        if let exitCode = item.exitCode {
            attributes.append(TelemetryAttribute(key: .processExitCode, value: .int(exitCode)))
        }
        if item.type == CodexVocabulary.mcpToolCall, let server = item.toolServer {
            attributes.append(TelemetryAttribute(key: .mcpServer, value: .dimension(server)))
        }
        if let approvalWait {
            attributes.append(TelemetryAttribute(key: .approvalWaitMilliseconds, value: .int(approvalWait)))
        }
        return TelemetryEvent(name: .toolCall, startTimeUnixNano: start, endTimeUnixNano: end, attributes: attributes)
    }

    // MARK: - Compactions

    /// A compaction's event: the context it held is that of the last model call before it ends (the compaction's
    /// own call reads the whole history), and what it holds after, the size the server reports without a call.
    private mutating func completeCompaction(_ id: String, in key: TurnKey, at end: UInt64) -> [TelemetryEvent] {
        guard var turn = openTurns[key] else { return [] }
        let start = min(turn.openCompactions.removeValue(forKey: id) ?? end, end)
        turn.include(start...end)
        openTurns[key] = turn
        let thread = threads[key.threadID]
        var attributes = dimensions(key, turn)
        attributes += [
            TelemetryAttribute(key: .compactionID, value: .dimension(id)),
            TelemetryAttribute(key: .durationMilliseconds, value: .int(milliseconds(from: start, to: end))),
        ]
        if let before = thread?.callContext {
            attributes.append(TelemetryAttribute(key: .tokensBefore, value: .int(before)))
        }
        if let after = thread?.contextSinceCall {
            attributes.append(TelemetryAttribute(key: .tokensAfter, value: .int(after)))
        }
        return [
            TelemetryEvent(name: .compaction, startTimeUnixNano: start, endTimeUnixNano: end, attributes: attributes)
        ]
    }

    // MARK: - Hooks

    /// A hook's run, in its turn when it ran for one (and the turn's span grows to hold it), else in its thread
    /// alone. It ends when the server reports it completed; it lasted what the server measured.
    private mutating func hookRunEvents(
        _ run: HookRun,
        threadID: String,
        turnID: String?,
        at end: UInt64
    ) -> [TelemetryEvent] {
        let duration = run.durationMilliseconds.flatMap { believableDuration($0) }
        let start = duration.map { end.subtractingSaturated(UInt64($0) * 1_000_000) } ?? end
        var attributes: [TelemetryAttribute]
        if let turnID, let key = openTurn(TurnKey(threadID, turnID), at: start), var turn = openTurns[key] {
            turn.include(start...end)
            openTurns[key] = turn
            attributes = dimensions(key, turn)
        } else {
            attributes = [TelemetryAttribute(key: .conversationID, value: .dimension(threadID))]
        }
        attributes += [
            TelemetryAttribute(key: .hookEvent, value: .dimension(SessionLimits.boundedName(run.eventName))),
            TelemetryAttribute(key: .hookStatus, value: .dimension(SessionLimits.boundedName(run.status))),
            TelemetryAttribute(key: .durationMilliseconds, value: .int(milliseconds(from: start, to: end))),
        ]
        if let handler = run.handlerType {
            attributes.append(TelemetryAttribute(key: .hookHandlerType, value: .dimension(handler)))
        }
        if let source = run.source {
            attributes.append(TelemetryAttribute(key: .hookSource, value: .dimension(source)))
        }
        return [TelemetryEvent(name: .hookRun, startTimeUnixNano: start, endTimeUnixNano: end, attributes: attributes)]
    }

    // MARK: - Quotas

    /// One event per window of the account's quota, with what is used of it, its length and when it resets.
    private func rateLimitEvents(_ limits: RateLimits, at time: UInt64) -> [TelemetryEvent] {
        limits.windows.compactMap { window in
            guard let used = window.usedPercent, (0...1000).contains(used) else { return nil }
            var attributes = [
                TelemetryAttribute(key: .rateLimitWindow, value: .dimension(window.name)),
                TelemetryAttribute(key: .usedPercent, value: .int(used)),
            ]
            if let id = limits.limitID {
                attributes.append(TelemetryAttribute(key: .rateLimitID, value: .dimension(id)))
            }
            if let plan = limits.planType {
                attributes.append(TelemetryAttribute(key: .planType, value: .dimension(plan)))
            }
            if let minutes = window.durationMinutes,
                SessionLimits.duration(milliseconds: minutes.multipliedSaturated(by: 60_000)) != nil
            {
                attributes.append(TelemetryAttribute(key: .windowMinutes, value: .int(minutes)))
            }
            if let resetsAt = window.resetsAt,
                SessionLimits.nanoseconds(fromUnixMilliseconds: resetsAt.multipliedSaturated(by: 1000)) != nil
            {
                attributes.append(TelemetryAttribute(key: .resetsAt, value: .int(resetsAt)))
            }
            return TelemetryEvent(
                name: .rateLimit,
                startTimeUnixNano: time,
                endTimeUnixNano: time,
                attributes: attributes
            )
        }
    }

    /// A tool's name, never its arguments: the MCP, dynamic or collaboration tool's own name, or a fixed name for
    /// the built-in kinds.
    static func toolName(of item: ItemInfo) -> String {
        CodexVocabulary.toolName(kind: item.type, named: item.toolName)
    }

    // MARK: - Model calls

    private mutating func recordUsage(
        _ key: TurnKey,
        total: TokenUsage,
        last: TokenUsage,
        context: ContextUsage?,
        at time: UInt64
    ) -> [TelemetryEvent] {
        guard total.hasCounts(upTo: SessionLimits.maximumTokenCount),
            last.hasCounts(upTo: SessionLimits.maximumTokenCount)
        else {
            discards.outOfRange += 1
            return []
        }
        let context = context.flatMap { believable($0) }
        let previous = threads[key.threadID]?.total
        updateThread(key.threadID, at: time) { thread in
            thread.total = total
            // A snapshot with a new total follows a model call; a repeated one that changes the context's size
            // follows a compaction.
            if total != previous {
                thread.callContext = context?.tokens
                thread.contextSinceCall = nil
            } else if let tokens = context?.tokens, tokens != thread.callContext {
                thread.contextSinceCall = tokens
            }
        }
        // Taken out while it changes, so its tables are changed in place, not copied.
        guard total != previous, withOpenTurn(key, { $0.ending == nil }) == true,
            var turn = openTurns.removeValue(forKey: key)
        else {
            return []
        }
        defer { openTurns[key] = turn }
        // The change in the cumulative total is this call. With no earlier total (a thread whose history we did not
        // see) or a total that went down, the server's own per-call figure is the best there is.
        let usage = previous.map { total.dominates($0) ? total - $0 : last } ?? last
        guard usage.hasCounts(upTo: SessionLimits.maximumCallTokens) else {
            discards.outOfRange += 1
            return []
        }
        let start = turn.nextCallStart()
        var attributes = dimensions(key, turn)
        attributes.append(TelemetryAttribute(key: .operationName, value: .string("chat")))
        attributes.append(
            TelemetryAttribute(key: .durationMilliseconds, value: .int(milliseconds(from: start, to: time)))
        )
        attributes += usageAttributes(usage)
        if let context {
            attributes.append(TelemetryAttribute(key: .contextTokens, value: .int(context.tokens)))
            if let window = context.window {
                attributes += [
                    TelemetryAttribute(key: .contextWindow, value: .int(window)),
                    TelemetryAttribute(
                        key: .contextUtilization,
                        value: .double(Double(context.tokens) / Double(window))
                    ),
                ]
            }
        }
        let cost = turn.model.flatMap(prices.price(of:))?.cost(of: usage)
        if let cost { attributes.append(TelemetryAttribute(key: .costUSD, value: .double(cost))) }
        // A turn's cost is known only if every one of its calls could be priced.
        turn.cost = turn.llmCalls == 0 ? cost : turn.cost.flatMap { sum in cost.map { sum + $0 } }
        turn.llmCalls += 1
        turn.usage = turn.usage + usage
        turn.lastCallEnd = time
        turn.include(start...max(start, time))
        return [TelemetryEvent(name: .llmCall, startTimeUnixNano: start, endTimeUnixNano: time, attributes: attributes)]
    }

    private func usageAttributes(_ usage: TokenUsage) -> [TelemetryAttribute] {
        [
            TelemetryAttribute(key: .inputTokens, value: .int(usage.input)),
            TelemetryAttribute(key: .cacheReadInputTokens, value: .int(usage.cachedInput)),
            TelemetryAttribute(key: .cacheWriteInputTokens, value: .int(usage.cacheWriteInput)),
            TelemetryAttribute(key: .outputTokens, value: .int(usage.output)),
            TelemetryAttribute(key: .reasoningOutputTokens, value: .int(usage.reasoningOutput)),
        ]
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
        case .itemStarted(let threadID, let turnID, let item, _), .itemCompleted(let threadID, let turnID, let item, _):
            return fits(threadID) && fits(turnID) && fits(item.id) && fits(item.type)
                && item.spawnedThreadIDs.prefix(SessionLimits.maximumSpawnsPerItem).allSatisfy(fits)
        case .other: return true
        }
    }
}

private struct TurnKey: Hashable, Comparable, Sendable {
    let threadID: String
    let turnID: String
    /// The key as remembered once the turn has ended; worked out once, for the several lookups of a message.
    let hash: Int

    init(_ threadID: String, _ turnID: String) {
        self.threadID = threadID
        self.turnID = turnID
        hash = RecentKeys.hash(threadID, turnID)
    }

    static func == (left: TurnKey, right: TurnKey) -> Bool {
        left.hash == right.hash && left.threadID == right.threadID && left.turnID == right.turnID
    }

    func hash(into hasher: inout Hasher) { hasher.combine(hash) }

    static func < (left: TurnKey, right: TurnKey) -> Bool {
        (left.threadID, left.turnID) < (right.threadID, right.turnID)
    }
}

private struct ThreadState: Sendable {
    var model: String?
    var provider: String?
    /// The thread's cumulative usage as last reported.
    var total: TokenUsage?
    var reasoningEffort: String?
    var source: SessionSource?
    var agentRole: String?
    var agentDepth: Int64?
    var projectID: String?
    /// The context's size after the last model call, and the size reported since without a call (after a
    /// compaction).
    var callContext: Int64?
    var contextSinceCall: Int64?
    /// When the thread was last heard of, to forget the least recent first.
    var lastSeen: UInt64 = 0
}

/// How a turn ended, kept while it waits for tools still running.
private struct TurnEnding: Sendable {
    var status: TurnStatus
    var errorClass: ErrorClass?
    var time: UInt64
    var reportedDuration: Int64?
}

/// A server request for approval, by the thread it came in and its id.
private struct PendingApprovalKey: Hashable, Sendable {
    var threadID: String
    var requestID: JSONRPCID

    init(_ threadID: String, _ requestID: JSONRPCID) {
        self.threadID = threadID
        self.requestID = requestID
    }
}

private struct PendingApproval: Sendable {
    var turn: TurnKey
    var itemID: String
    var requestedAt: UInt64
}

private struct OpenTool: Sendable {
    var item: ItemInfo
    var start: UInt64
}

private struct TurnState: Sendable {
    var start: UInt64
    var model: String?
    var provider: String?
    var reasoningEffort: String?
    /// The first turn of the chain of work this one belongs to, as the server reports it.
    var rootTurnID: String?
    /// Compactions started and not yet completed, by item id, with their start.
    var openCompactions: [String: UInt64] = [:]
    /// When the turn's last model call ended.
    var lastCallEnd: UInt64?
    /// The spans of completed tool calls not yet placed before a model call.
    var toolSpans: [ClosedRange<UInt64>] = []
    var openTools: [String: OpenTool] = [:]
    var completedTools: Set<String> = []
    var llmCalls: Int64 = 0
    var toolCalls: Int64 = 0
    var usage = TokenUsage.zero
    /// The summed cost, or `nil` if any call could not be priced.
    var cost: Double?
    /// The class of an error the server said it would not retry.
    var errorClass: ErrorClass?
    /// How long the client took to answer the approval requests for each tool item, until the item is reported.
    var approvalWaits: [String: Int64] = [:]
    /// Set once the server has ended the turn while tools were still running.
    var ending: TurnEnding?
    /// From the earliest start to the latest end of the turn's calls so far.
    var callBounds: ClosedRange<UInt64>?

    mutating func include(_ span: ClosedRange<UInt64>) {
        callBounds =
            callBounds.map { min($0.lowerBound, span.lowerBound)...max($0.upperBound, span.upperBound) } ?? span
    }

    /// When the model call being reported began: after the previous call, and after the tools that call caused
    /// (those started before it ended). Tools started since were caused by this call and ran during it.
    mutating func nextCallStart() -> UInt64 {
        let previous = lastCallEnd ?? start
        let caused = toolSpans.filter { $0.lowerBound <= previous }
        toolSpans.removeAll { $0.lowerBound <= previous }
        return caused.map(\.upperBound).reduce(previous, max)
    }

    /// The attributes every event of the turn shares.
    func dimensions(_ key: TurnKey) -> [TelemetryAttribute] {
        var attributes: [TelemetryAttribute] = []
        // Room for what the events add after these: one array per event, not one per growth.
        attributes.reserveCapacity(24)
        attributes.append(TelemetryAttribute(key: .conversationID, value: .dimension(key.threadID)))
        attributes.append(TelemetryAttribute(key: .turnID, value: .dimension(key.turnID)))
        if let model { attributes.append(TelemetryAttribute(key: .requestModel, value: .dimension(model))) }
        if let provider { attributes.append(TelemetryAttribute(key: .providerName, value: .dimension(provider))) }
        if let reasoningEffort {
            attributes.append(TelemetryAttribute(key: .reasoningEffort, value: .dimension(reasoningEffort)))
        }
        return attributes
    }
}

private func milliseconds(from start: UInt64, to end: UInt64) -> Int64 {
    Int64((end - min(start, end)) / 1_000_000)
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
