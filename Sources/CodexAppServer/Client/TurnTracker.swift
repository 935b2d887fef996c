import Synchronization

/// Remembers which turns have ended, so a wait for a turn's end works whether `turn/completed` arrives before or
/// after the wait begins (notifications for a turn can even precede the `turn/start` response).
final class TurnTracker: Sendable {
    struct Key: Hashable, Sendable {
        var threadID: String
        var turnID: String
    }

    private struct State {
        var ended: [Key: TurnInfo] = [:]
        var waiters: [Key: [CheckedContinuation<TurnInfo, any Error>]] = [:]
        var closedReason: String?
    }

    private let state = Mutex(State())

    func observe(_ message: AppServerMessage) {
        guard case .turnCompleted(let threadID, let turn) = message else { return }
        let key = Key(threadID: threadID, turnID: turn.id)
        let waiters = state.withLock { state in
            state.ended[key] = turn
            return state.waiters.removeValue(forKey: key) ?? []
        }
        for waiter in waiters { waiter.resume(returning: turn) }
    }

    func endOfStream(reason: String) {
        let waiters = state.withLock { state in
            state.closedReason = reason
            defer { state.waiters = [:] }
            return state.waiters.values.flatMap { $0 }
        }
        for waiter in waiters { waiter.resume(throwing: AppServerError(.serverExited, reason)) }
    }

    func waitForEnd(of key: Key) async throws -> TurnInfo {
        try await withCheckedThrowingContinuation { continuation in
            let outcome = state.withLock { state -> Result<TurnInfo, AppServerError>? in
                if let turn = state.ended[key] { return .success(turn) }
                if let reason = state.closedReason { return .failure(AppServerError(.serverExited, reason)) }
                state.waiters[key, default: []].append(continuation)
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }
}
