import CodexAppServer
import JSON
import SaturatingArithmetic

/// Items: tool calls and the approvals they waited for, compactions, and hooks' runs.
extension SessionTelemetry {
    /// An item started: a compaction's or a tool call's start is noted, once; a repeated start, or a start after the
    /// completion, is not another call.
    mutating func startItem(_ item: ItemInfo, in key: TurnKey, startedAt: Int64?, at time: UInt64) {
        recordSpawns(by: item, in: key)
        if item.type == CodexVocabulary.contextCompaction, let key = openTurn(key, at: time),
            let open = openTurns[key]?.openCompactions.count, open < SessionLimits.maximumOpenCompactions
        {
            let start = payloadTime(startedAt) ?? time
            openTurns[key]?.openCompactions[item.id] = start
        }
        guard Self.toolKindNames.contains(item.type), let key = openTurn(key, at: time) else { return }
        // The item's own start (Codex 0.167 and later), else its notification's.
        let start = payloadTime(item.startedAtMilliseconds ?? startedAt) ?? time
        // (No copy of the turn is kept while it changes: its tables would be copied whole, every time.)
        let known = withOpenTurn(key) {
            $0.ending != nil || $0.openTools[item.id] != nil || $0.completedTools.contains(item.id)
        }
        guard known == false, makeRoomForItem(in: key) else { return }
        let tool = OpenTool(item: believable(item), start: start)
        openTurns[key]?.openTools[item.id] = tool
        trackedItems += 1
    }

    /// An item completed: a compaction's or a tool call's event, and its turn's end if that was all it waited for.
    mutating func completeItem(
        _ item: ItemInfo,
        in key: TurnKey,
        completedAt: Int64?,
        at time: UInt64
    ) -> [TelemetryEvent] {
        recordSpawns(by: item, in: key)
        if item.type == CodexVocabulary.contextCompaction, let key = openTurn(key, at: time) {
            return completeCompaction(item.id, in: key, at: payloadTime(completedAt) ?? time)
        }
        let isPrompt = Self.promptKindNames.contains(item.type)
        if isPrompt || Self.modelOutputKindNames.contains(item.type) {
            noteModelBound(isPrompt: isPrompt, in: key, at: payloadTime(completedAt) ?? time)
            return []
        }
        guard Self.toolKindNames.contains(item.type), let key = openTurn(key, at: time) else { return [] }
        let end = payloadTime(item.completedAtMilliseconds ?? completedAt) ?? time
        var events = completeTool(believable(item), in: key, at: end)
        // A late completion may be the last its ended turn was waiting for.
        if let ending = withOpenTurn(key, { $0.openTools.isEmpty ? $0.ending : nil }) ?? nil {
            events += endTurn(key, ending)
        }
        return events
    }

    /// The prompt in, or a piece of the model's output completed, in a running turn: a bound of its model calls.
    private mutating func noteModelBound(isPrompt: Bool, in key: TurnKey, at time: UInt64) {
        withOpenTurn(key) { turn in
            if isPrompt {
                if turn.promptIn == nil { turn.promptIn = time }
            } else if turn.modelOutputs.count < SessionLimits.maximumModelOutputsPerCall {
                turn.modelOutputs.append(time)
            }
        }
    }

    // MARK: - Approvals

    /// The server asked the client to approve an item; the wait is known when the request is resolved.
    mutating func requestApproval(_ request: PendingApprovalKey, in turn: TurnKey, _ itemID: String, at time: UInt64) {
        guard pendingApprovals.count < SessionLimits.maximumPendingApprovals || pendingApprovals[request] != nil else {
            discards.outOfRange += 1
            return
        }
        pendingApprovals[request] = PendingApproval(turn: turn, itemID: itemID, requestedAt: time)
    }

    /// The client answered: the item waited that long, added to what it waited before (an item asked about twice
    /// waited for both answers).
    mutating func resolveApproval(_ request: PendingApprovalKey, at time: UInt64) {
        guard let approval = pendingApprovals.removeValue(forKey: request),
            let waits = openTurns[approval.turn]?.approvalWaits
        else { return }
        guard waits.count < SessionLimits.maximumPendingApprovals || waits[approval.itemID] != nil else {
            discards.outOfRange += 1
            return
        }
        let wait = milliseconds(from: approval.requestedAt, to: time)
        openTurns[approval.turn]?.approvalWaits[approval.itemID] = (waits[approval.itemID] ?? 0).addingSaturated(wait)
    }

    // MARK: - Tool calls

    mutating func completeTool(_ item: ItemInfo, in key: TurnKey, at end: UInt64) -> [TelemetryEvent] {
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
        let production = Self.production(of: item, approval: turn.approvals.removeValue(forKey: item.id))
        if let production { turn.production.add(production) }
        return [
            toolEvent(item, key: key, turn: turn, start: start, end: end, approvalWait: wait, production: production)
        ]
    }

    func toolEvent(
        _ item: ItemInfo,
        key: TurnKey,
        turn: TurnState,
        start: UInt64,
        end: UInt64,
        approvalWait: Int64?,
        production: CallProduction? = nil
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
        if let production { attributes += production.attributes }
        return TelemetryEvent(name: .toolCall, startTimeUnixNano: start, endTimeUnixNano: end, attributes: attributes)
    }

    // MARK: - Compactions

    /// A compaction's event: the context it held is that of the last model call before it ends (the compaction's
    /// own call reads the whole history), and what it holds after, the size the server reports without a call.
    mutating func completeCompaction(_ id: String, in key: TurnKey, at end: UInt64) -> [TelemetryEvent] {
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
    mutating func hookRunEvents(
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

    /// A tool's name, never its arguments: the MCP, dynamic or collaboration tool's own name, or a fixed name for
    /// the built-in kinds.
    static func toolName(of item: ItemInfo) -> String {
        CodexVocabulary.toolName(kind: item.type, named: item.toolName)
    }
}
