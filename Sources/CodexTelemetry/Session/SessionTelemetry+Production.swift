import CodexAppServer
import JSONRPC
import SaturatingArithmetic

/// What the agent produced: lines of files changed, decisions on its edits, commits, pull and merge requests; and
/// the user's time between turns. Every figure is a count the decoder gave (it read the diffs and commands): none
/// of it is text from the session.
extension SessionTelemetry {
    /// A gap between two turns of a thread longer than this is the user away, not at work: none of it counts.
    static let userActiveGap: UInt64 = 5 * 60 * 1_000_000_000

    /// The user's time before a turn starting at `time` in `threadID`: the gap since the thread's last turn ended,
    /// when it is short; a sub-agent's thread has no user.
    func userActiveMilliseconds(before time: UInt64, in threadID: String) -> Int64? {
        guard let thread = threads[threadID], let ended = thread.lastTurnEnd, ended <= time,
            time - ended <= Self.userActiveGap, agents.spawn(of: threadID) == nil
        else { return nil }
        if case .subAgent = thread.source { return nil }
        return milliseconds(from: ended, to: time)
    }

    /// Codex asked approval for an item: its decision is then a person's.
    mutating func noteApprovalAsked(for itemID: String, in key: TurnKey) {
        withOpenTurn(key) { turn in
            guard turn.approvals[itemID] == nil, turn.approvals.count < SessionLimits.maximumPendingApprovals else {
                return
            }
            turn.approvals[itemID] = ""
        }
    }

    /// The client answered an approval request, as it said (seen in a recording, a proxy, a harness).
    mutating func answerApproval(_ requestID: JSONRPCID, decision: String) {
        guard let approval = pendingApprovals.first(where: { $0.key.requestID == requestID })?.value else { return }
        withOpenTurn(approval.turn) { turn in
            if turn.approvals[approval.itemID] != nil { turn.approvals[approval.itemID] = decision }
        }
    }

    /// What a completed call produced, to count in its turn and report with it; `nil` for a call that produced
    /// nothing to report.
    static func production(of item: ItemInfo, approval: String?) -> CallProduction? {
        var call = CallProduction()
        if let changes = item.fileChanges, item.type == CodexVocabulary.fileChange {
            call.decision = item.editDecision ?? editDecision(asked: approval, status: item.status)
            if item.status == .completed { call.changes = changes }
        }
        let succeeded =
            item.status == .completed && (item.type != CodexVocabulary.commandExecution || item.exitCode == 0)
        if succeeded { call.actions = item.codeActions }
        return call.isEmpty ? nil : call
    }

    /// How an edit was decided: as the client answered, when that was seen; else told by what became of it. Asked
    /// and applied (or applied and failed), a person accepted it; asked and declined, declined; applied unasked, no
    /// one was asked (`auto`).
    static func editDecision(asked approval: String?, status: ItemStatus?) -> String? {
        switch (approval, status) {
        case (let decision?, _) where !decision.isEmpty: decision
        case (_, .declined): EditDecision.decline
        case (.some, .completed), (.some, .failed): EditDecision.accept
        case (nil, .completed): EditDecision.auto
        default: nil
        }
    }
}

/// The decisions on an edit: Codex's words for a person's (`accept`, `acceptForSession`, `decline`), and `auto`
/// for one applied with no one asked.
enum EditDecision {
    static let accept = "accept"
    static let acceptForSession = "acceptForSession"
    static let decline = "decline"
    static let auto = "auto"
}

/// What one call produced.
struct CallProduction: Sendable {
    /// The lines and files of a patch that was applied.
    var changes: FileChangeSummary?
    var decision: String?
    var actions: CodeActions = []

    var isEmpty: Bool { changes == nil && decision == nil && actions.isEmpty }

    var attributes: [TelemetryAttribute] {
        var attributes: [TelemetryAttribute] = []
        if let changes {
            attributes += [
                TelemetryAttribute(key: .linesAdded, value: .int(changes.linesAdded)),
                TelemetryAttribute(key: .linesRemoved, value: .int(changes.linesRemoved)),
                TelemetryAttribute(key: .filesChanged, value: .int(changes.files)),
            ]
            if let language = changes.language {
                attributes.append(TelemetryAttribute(key: .fileLanguage, value: .dimension(language)))
            }
        }
        if let decision { attributes.append(TelemetryAttribute(key: .editDecision, value: .dimension(decision))) }
        for (action, key) in [
            (CodeActions.commit, TelemetryAttribute.Key.commits), (.pullRequest, .pullRequests),
            (.mergeRequest, .mergeRequests),
        ] where actions.contains(action) {
            attributes.append(TelemetryAttribute(key: key, value: .int(1)))
        }
        return attributes
    }
}

/// What a turn's calls produced, in all.
struct Production: Sendable, Equatable {
    var linesAdded: Int64 = 0
    var linesRemoved: Int64 = 0
    var filesChanged: Int64 = 0
    var commits: Int64 = 0
    var pullRequests: Int64 = 0
    var mergeRequests: Int64 = 0
    var editsAccepted: Int64 = 0
    var editsRejected: Int64 = 0
    var editsUnprompted: Int64 = 0

    mutating func add(_ call: CallProduction) {
        if let changes = call.changes {
            linesAdded = linesAdded.addingSaturated(changes.linesAdded)
            linesRemoved = linesRemoved.addingSaturated(changes.linesRemoved)
            filesChanged = filesChanged.addingSaturated(changes.files)
        }
        switch call.decision {
        case EditDecision.accept, EditDecision.acceptForSession: editsAccepted += 1
        case EditDecision.decline: editsRejected += 1
        case EditDecision.auto: editsUnprompted += 1
        default: break
        }
        if call.actions.contains(.commit) { commits += 1 }
        if call.actions.contains(.pullRequest) { pullRequests += 1 }
        if call.actions.contains(.mergeRequest) { mergeRequests += 1 }
    }

    /// The turn's totals, those that are not zero.
    var attributes: [TelemetryAttribute] {
        [
            (TelemetryAttribute.Key.linesAdded, linesAdded), (.linesRemoved, linesRemoved),
            (.filesChanged, filesChanged), (.commits, commits), (.pullRequests, pullRequests),
            (.mergeRequests, mergeRequests), (.editsAccepted, editsAccepted), (.editsRejected, editsRejected),
            (.editsUnprompted, editsUnprompted),
        ].filter { $0.1 != 0 }.map { TelemetryAttribute(key: $0.0, value: .int($0.1)) }
    }
}
