import JSON
import JSONRPC
import Synchronization

/// Remembers which turns have started and ended, so a wait for a turn's start or end works whether the notification
/// arrives before or after the wait begins (notifications for a turn can even precede the `turn/start` response).
final class TurnTracker: Sendable {
    struct Key: Hashable, Sendable {
        var threadID: String
        var turnID: String
    }

    /// One waiting for a turn: for its end, or only for its start (which its end also answers, with the end).
    private struct Waiter {
        var untilEnd: Bool
        var continuation: CheckedContinuation<TurnEnd?, any Error>
    }

    private struct State {
        var started: Set<Key> = []
        var ended: [Key: TurnEnd] = [:]
        var lastAgentMessage: [Key: String] = [:]
        /// Waiters by turn, each under a number of its own so a cancelled one can be found.
        var waiters: [Key: [Int: Waiter]] = [:]
        var nextWaiter = 0
        var closedReason: String?
        var stderrExcerpt = ""
    }

    private let state = Mutex(State())

    /// Reads a line for turn starts and ends and, for the caller's eyes only, the text of each turn's last agent
    /// message.
    func observe(_ message: JSONRPCMessage) {
        // Only three methods matter here; every other line is passed over before anything is decoded.
        guard case .notification(let notification) = message else { return }
        if notification.method == AppServerMethod.itemCompleted, let params = notification.params,
            params["item"]?["type"] == "agentMessage", let text = params["item"]?["text"]?.string,
            let threadID = params["threadId"]?.string, let turnID = params["turnId"]?.string
        {
            state.withLock { $0.lastAgentMessage[Key(threadID: threadID, turnID: turnID)] = text }
            return
        }
        guard notification.method == AppServerMethod.turnCompleted || notification.method == AppServerMethod.turnStarted
        else { return }
        switch AppServerMessage(message) {
        case .turnStarted(let threadID, let turn):
            let key = Key(threadID: threadID, turnID: turn.id)
            let waiters = state.withLock { state in
                state.started.insert(key)
                let waiting = state.waiters[key] ?? [:]
                state.waiters[key] = waiting.filter(\.value.untilEnd)
                return waiting.values.filter { !$0.untilEnd }
            }
            for waiter in waiters { waiter.continuation.resume(returning: nil) }
        case .turnCompleted(let threadID, let turn):
            let key = Key(threadID: threadID, turnID: turn.id)
            let (waiters, end) = state.withLock { state in
                let end = TurnEnd(turn: turn, finalAgentMessage: state.lastAgentMessage.removeValue(forKey: key))
                state.ended[key] = end
                return ((state.waiters.removeValue(forKey: key) ?? [:]).values, end)
            }
            for waiter in waiters { waiter.continuation.resume(returning: end) }
        default:
            return
        }
    }

    func endOfStream(reason: String, stderrExcerpt: String) {
        let waiters = state.withLock { state in
            state.closedReason = reason
            state.stderrExcerpt = stderrExcerpt
            defer { state.waiters = [:] }
            return state.waiters.values.flatMap { $0.values }
        }
        for waiter in waiters {
            waiter.continuation.resume(throwing: AppServerError(.serverExited, reason, stderrExcerpt: stderrExcerpt))
        }
    }

    /// Waits for the turn's end; cancelling the waiting task ends the wait with `CancellationError`.
    func waitForEnd(of key: Key) async throws -> TurnEnd {
        // A wait until the end is answered only with one.
        try await wait(for: key, untilEnd: true)!
    }

    /// Waits until the turn has started (or already ended: its end, then). Cancellable as `waitForEnd` is.
    func waitForStart(of key: Key) async throws -> TurnEnd? {
        try await wait(for: key, untilEnd: false)
    }

    private func wait(for key: Key, untilEnd: Bool) async throws -> TurnEnd? {
        let number = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let outcome = state.withLock { state -> Result<TurnEnd?, any Error>? in
                    if let turn = state.ended[key] { return .success(turn) }
                    if !untilEnd, state.started.contains(key) { return .success(nil) }
                    if let reason = state.closedReason {
                        return .failure(AppServerError(.serverExited, reason, stderrExcerpt: state.stderrExcerpt))
                    }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiters[key, default: [:]][number] = Waiter(untilEnd: untilEnd, continuation: continuation)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            state.withLock { $0.waiters[key]?.removeValue(forKey: number) }?.continuation.resume(
                throwing: CancellationError()
            )
        }
    }
}

/// How a turn ended, and the last thing the agent said in it.
public struct TurnEnd: Sendable, Hashable {
    public var turn: TurnInfo
    /// The text of the turn's last `agentMessage` item: content, for the caller to show, never telemetry.
    public var finalAgentMessage: String?
}
