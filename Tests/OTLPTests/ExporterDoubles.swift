import Foundation
import OTLP
import OTLPExport
import Synchronization
import TestSupport

/// Answers each request from a script, the last answer repeated, and keeps every request it was given.
final class ScriptedHTTPTransport: HTTPTransport {
    private let state: Mutex<(answers: [HTTPOutcome], requests: [HTTPRequest])>

    init(_ answers: [HTTPOutcome]) {
        state = Mutex((answers, []))
    }

    func post(_ request: HTTPRequest) async -> HTTPOutcome {
        state.withLock { state in
            state.requests.append(request)
            return state.answers.count > 1 ? state.answers.removeFirst() : state.answers[0]
        }
    }

    var requests: [HTTPRequest] { state.withLock { $0.requests } }
}

extension HTTPOutcome {
    /// A response with `status`, `headers` and a text `body`.
    static func status(_ status: Int, _ headers: [String: String] = [:], body: String = "") -> HTTPOutcome {
        .response(status: status, headers: headers, body: Array(body.utf8))
    }
}

/// A clock that stands still until told to move: every sleep is recorded and lasts until `advance` passes its end.
final class TestClock: ExportClock {
    private struct State {
        var now = Duration.zero
        var sleepers: [Int: (end: Duration, continuation: CheckedContinuation<Void, Never>)] = [:]
        var nextSleeper = 0
        var requested: [Duration] = []
    }

    private let state = Mutex(State())
    /// The wall clock stands still too: 2026-11-18.
    let date = Date(timeIntervalSince1970: 1_795_000_000)

    func sleep(for duration: Duration) async {
        let number = state.withLock { state in
            defer { state.nextSleeper += 1 }
            return state.nextSleeper
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    state.requested.append(duration)
                    guard duration > .zero, !Task.isCancelled else { return true }
                    state.sleepers[number] = (state.now + duration, continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.sleepers.removeValue(forKey: number) }?.continuation.resume()
        }
    }

    /// Moves time on, waking every sleep that ends by then.
    func advance(by duration: Duration) {
        let due = state.withLock { state in
            state.now += duration
            let due = state.sleepers.filter { $0.value.end <= state.now }
            for number in due.keys { state.sleepers[number] = nil }
            return due.values.map(\.continuation)
        }
        for continuation in due { continuation.resume() }
    }

    /// Waits, in real time (a few seconds at most), until `count` sleeps have been asked for; returns them all.
    func sleeps(atLeast count: Int) async -> [Duration] {
        _ = try? await TestTools.eventually(every: .milliseconds(5)) { state.withLock { $0.requested.count >= count } }
        return state.withLock { $0.requested }
    }
}
