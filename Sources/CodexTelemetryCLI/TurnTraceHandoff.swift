import CodexHarness
import JSON
import JSONRPC
import OTLP
import Synchronization

/// Hands each turn's trace position to Codex in the client's own `turn/start`, as `exec` does with its own: with
/// Codex's tracing on, Codex's spans of the turn sit under the turn span the proxy exports. A request that already
/// carries a trace is the client's to decide, and is left alone; so is every other line.
final class TurnTraceHandoff: Sendable {
    private struct State {
        var export: TelemetryExport?
        /// Positions handed to Codex, by the request that carried them, until Codex answers it.
        var pending: [JSONRPCID: (thread: String, position: TraceContext)] = [:]
        /// Turns that have their position: a `turn/start` sent while a turn runs is answered with that turn, which
        /// keeps the position it started with.
        var placed: Set<String> = []
    }

    private let state = Mutex(State())

    /// A `turn/start` is a few kilobytes; a longer line (a prompt with an image) is passed on unread.
    static let maximumInspectedLength = 1 << 20

    private static let selection = JSONSelection.members([
        "method": .everything, "id": .everything, "trace": .members([:]), "params": .members(["threadId": .head(256)]),
    ])

    /// Starts handing positions once there is an export to put the turns in.
    func start(_ export: TelemetryExport) {
        state.withLock { $0.export = export }
    }

    /// The client's line as Codex is to get it: a `turn/start` without a trace gains one, in a new member ahead of
    /// the others; anything else is returned as it is.
    func forward(_ line: ArraySlice<UInt8>) -> [UInt8] {
        guard state.withLock({ $0.export != nil }), line.count <= Self.maximumInspectedLength,
            let brace = line.firstIndex(of: UInt8(ascii: "{")),
            line[..<brace].allSatisfy({ [0x20, 0x09, 0x0D].contains($0) }),
            let request = try? JSONValue(parsing: line, selecting: Self.selection, maximumValues: 16),
            request["method"]?.string == "turn/start", let id = request["id"].flatMap(JSONRPCID.init),
            request["trace"] == nil, let thread = request["params"]?["threadId"]?.string
        else { return Array(line) }
        let position = state.withLock { state -> TraceContext? in
            // Bounded: a client that never reads its answers does not grow this.
            guard let position = state.export?.positionForNextTurn(), state.pending.count < 1024 else { return nil }
            state.pending[id] = (thread, position)
            return position
        }
        guard let position else { return Array(line) }
        let trace = Array(#""trace":{"traceparent":"\#(position.traceparent)"},"#.utf8)
        return Array(line[...brace]) + trace + line[(brace + 1)...]
    }

    /// Codex answered a request: a `turn/start` that carried a position gives it to the turn it started, unless it
    /// was refused.
    func answered(_ response: JSONRPCResponse) {
        let turnID = try? response.outcome.get()["turn"]?["id"]?.string
        state.withLock { state in
            guard let (thread, position) = state.pending.removeValue(forKey: response.id), let turnID,
                let export = state.export,
                !state.placed.contains(turnID)
            else { return }
            if state.placed.count >= 4096 { state.placed = [] }
            state.placed.insert(turnID)
            export.assign(position, toTurn: turnID, ofThread: thread)
        }
    }
}
