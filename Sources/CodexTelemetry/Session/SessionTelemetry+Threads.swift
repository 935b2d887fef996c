import CodexAppServer
import JSON
import SaturatingArithmetic

/// Threads and their lineage: what each thread runs with, which thread spawned which, and the attributes every
/// event of a turn takes from its thread.
extension SessionTelemetry {
    /// A thread's model or effort changed: an effort set before a turn's first model call is the one it runs with
    /// (a rollout states it just after the turn starts).
    mutating func applySettings(_ threadID: String, model: String?, effort: String?, at time: UInt64) {
        updateThread(threadID, at: time) { thread in
            if let model { thread.model = SessionLimits.boundedName(model) }
            if let effort { thread.reasoningEffort = SessionLimits.boundedName(effort) }
        }
        guard let effort else { return }
        for key in openTurns.keys where key.threadID == threadID && openTurns[key]?.llmCalls == 0 {
            openTurns[key]?.reasoningEffort = SessionLimits.boundedName(effort)
        }
    }

    /// The model the server moved a turn to, which the thread keeps too.
    mutating func reroute(_ threadID: String, turnID: String, to model: String, at time: UInt64) {
        let model = SessionLimits.boundedName(model)
        updateThread(threadID, at: time) { $0.model = model }
        openTurns[turnKey(threadID, turnID)]?.model = model
    }

    mutating func openThread(_ info: ThreadInfo, at time: UInt64) {
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
    mutating func recordSpawns(by item: ItemInfo, in key: TurnKey) {
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
    func dimensions(_ key: TurnKey, _ turn: TurnState) -> [TelemetryAttribute] {
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

    mutating func updateThread(_ id: String, at time: UInt64, _ change: (inout ThreadState) -> Void) {
        var thread = threads[id] ?? ThreadState()
        change(&thread)
        thread.lastSeen = max(thread.lastSeen, time)
        threads[id] = thread
        if threads.count > SessionLimits.maximumThreads { forgetLeastRecentThreads() }
    }

    /// Forgets the quarter of threads seen least recently: their model and baseline, which a resume announces
    /// again. Their running turns keep their own.
    mutating func forgetLeastRecentThreads() {
        let oldest = threads.sorted { ($0.value.lastSeen, $0.key) < ($1.value.lastSeen, $1.key) }
        for (id, _) in oldest.prefix(threads.count / 4) { threads[id] = nil }
    }
}
