import JSON
import JSONRPC
import Synchronization

/// Remembers which turns have ended, so a wait for a turn's end works whether `turn/completed` arrives before or
/// after the wait begins (notifications for a turn can even precede the `turn/start` response).
final class TurnTracker: Sendable {
    struct Key: Hashable, Sendable {
        var threadID: String
        var turnID: String
    }

    private struct State {
        var ended: [Key: TurnEnd] = [:]
        var lastAgentMessage: [Key: String] = [:]
        /// Waiters by turn, each under a number of its own so a cancelled one can be found.
        var waiters: [Key: [Int: CheckedContinuation<TurnEnd, any Error>]] = [:]
        var nextWaiter = 0
        var closedReason: String?
        var stderrExcerpt = ""
    }

    private let state = Mutex(State())

    /// Reads a line for turn ends and, for the caller's eyes only, the text of each turn's last agent message.
    func observe(_ message: JSONRPCMessage) {
        // Only two methods matter here; every other line is passed over before anything is decoded.
        guard case .notification(let notification) = message else { return }
        if notification.method == AppServerMethod.itemCompleted, let params = notification.params,
            params["item"]?["type"] == "agentMessage", let text = params["item"]?["text"]?.string,
            let threadID = params["threadId"]?.string, let turnID = params["turnId"]?.string
        {
            state.withLock { $0.lastAgentMessage[Key(threadID: threadID, turnID: turnID)] = text }
            return
        }
        guard notification.method == AppServerMethod.turnCompleted,
            case .turnCompleted(let threadID, let turn) = AppServerMessage(message)
        else { return }
        let key = Key(threadID: threadID, turnID: turn.id)
        let waiters = state.withLock { state in
            let end = TurnEnd(turn: turn, finalAgentMessage: state.lastAgentMessage.removeValue(forKey: key))
            state.ended[key] = end
            return (state.waiters.removeValue(forKey: key) ?? [:]).values.map { ($0, end) }
        }
        for (waiter, end) in waiters { waiter.resume(returning: end) }
    }

    func endOfStream(reason: String, stderrExcerpt: String) {
        let waiters = state.withLock { state in
            state.closedReason = reason
            state.stderrExcerpt = stderrExcerpt
            defer { state.waiters = [:] }
            return state.waiters.values.flatMap { $0.values }
        }
        for waiter in waiters {
            waiter.resume(throwing: AppServerError(.serverExited, reason, stderrExcerpt: stderrExcerpt))
        }
    }

    /// Waits for the turn's end; cancelling the waiting task ends the wait with `CancellationError`.
    func waitForEnd(of key: Key) async throws -> TurnEnd {
        let waiter = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let outcome = state.withLock { state -> Result<TurnEnd, any Error>? in
                    if let turn = state.ended[key] { return .success(turn) }
                    if let reason = state.closedReason {
                        return .failure(AppServerError(.serverExited, reason, stderrExcerpt: state.stderrExcerpt))
                    }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiters[key, default: [:]][waiter] = continuation
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            state.withLock { $0.waiters[key]?.removeValue(forKey: waiter) }?.resume(throwing: CancellationError())
        }
    }
}

/// How a turn ended, and the last thing the agent said in it.
public struct TurnEnd: Sendable, Hashable {
    public var turn: TurnInfo
    /// The text of the turn's last `agentMessage` item: content, for the caller to show, never telemetry.
    public var finalAgentMessage: String?
}
