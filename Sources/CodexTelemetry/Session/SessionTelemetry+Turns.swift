import CodexAppServer
import JSON
import SaturatingArithmetic

/// Turns and their bounds: opened when first heard of, ended when the server says so (or once their tools
/// complete), and closed early, oldest first, when too many run at once.
extension SessionTelemetry {
    mutating func startTurn(_ threadID: String, _ turn: TurnInfo, at time: UInt64) {
        if let key = openTurn(turnKey(threadID, turn.id), at: time), let root = turn.rootTurnID {
            openTurns[key]?.rootTurnID = SessionLimits.boundedName(root)
        }
    }

    /// The server ended a turn: it is closed now, or once the tools still running in it complete.
    mutating func completeTurn(_ key: TurnKey, _ turn: TurnInfo, at time: UInt64) -> [TelemetryEvent] {
        guard let key = openTurn(key, at: time), withOpenTurn(key, { $0.ending == nil }) == true else { return [] }
        let ending = TurnEnding(
            status: SessionLimits.boundedName(turn.status),
            errorClass: turn.errorClass.map { SessionLimits.boundedName($0) },
            time: time,
            reportedDuration: turn.durationMilliseconds.flatMap { believableDuration($0) }
        )
        guard withOpenTurn(key, { $0.openTools.isEmpty }) == false else { return endTurn(key, ending) }
        openTurns[key]?.ending = ending
        turnsAwaitingTools.append(key)
        return []
    }

    /// Reads or changes a running turn where it is: `openTurns[key]` would copy it, retaining each of its strings
    /// and tables; `nil` if the turn is not running.
    mutating func withOpenTurn<Result>(_ key: TurnKey, _ body: (inout TurnState) -> Result) -> Result? {
        guard let index = openTurns.index(forKey: key) else { return nil }
        return body(&openTurns.values[index])
    }

    /// The key of a turn, the last one's again when it is the same turn.
    mutating func turnKey(_ threadID: String, _ turnID: String) -> TurnKey {
        if let last = lastTurnKey, last.turnID == turnID, last.threadID == threadID { return last }
        let key = TurnKey(threadID, turnID)
        lastTurnKey = key
        return key
    }

    /// The key of a running turn, opening it at `time` if this is the first we hear of it; `nil` if it has ended.
    mutating func openTurn(_ key: TurnKey, at time: UInt64) -> TurnKey? {
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
            reasoningEffort: thread.reasoningEffort,
            userActiveMilliseconds: userActiveMilliseconds(before: time, in: key.threadID)
        )
        openingOrder.append(key)
        return key
    }

    /// Makes room for one more tracked item; `false` if that closed the turn `key` itself.
    mutating func makeRoomForItem(in key: TurnKey) -> Bool {
        while trackedItems >= SessionLimits.maximumTrackedItems, !openTurns.isEmpty { closeOldestTurn() }
        return openTurns.index(forKey: key) != nil
    }

    /// Closes the turn that opened first as `incomplete`, to stay within the state bound.
    mutating func closeOldestTurn() {
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
    mutating func endTurn(_ key: TurnKey, _ ending: TurnEnding) -> [TelemetryEvent] {
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
        attributes += turn.production.attributes
        if let userActive = turn.userActiveMilliseconds {
            attributes.append(TelemetryAttribute(key: .userActiveMilliseconds, value: .int(userActive)))
        }
        updateThread(key.threadID, at: end) { $0.lastTurnEnd = max($0.lastTurnEnd ?? end, end) }
        events.append(
            TelemetryEvent(name: .turn, startTimeUnixNano: start, endTimeUnixNano: end, attributes: attributes)
        )
        return events
    }

    /// Drops the openings of ended turns from the queue once they outnumber the running ones, so it stays
    /// proportional to the turns running.
    mutating func forgetEndedOpenings() {
        guard openingOrder.count - oldestOpening > 2 * openTurns.count + 64 else { return }
        openingOrder = openingOrder[oldestOpening...].filter { openTurns[$0] != nil }
        oldestOpening = 0
    }
}
