import CodexAppServer
public import JSONRPC

extension SessionTelemetry {
    /// Takes one JSON-RPC message from the server, live or replayed, and returns the events it completes.
    ///
    /// The time used is the one the server put on the message (`emittedAtMs`), then the payload's own time, then
    /// `receivedAt`, then the last time seen: so a live run and a replay of its capture give the same events.
    /// - Parameters:
    ///   - message: one line from the server, decoded.
    ///   - receivedAt: when the message arrived, in Unix nanoseconds; `nil` in a replay, which has no such time.
    public mutating func receive(_ message: JSONRPCMessage, receivedAt: UInt64?) -> [TelemetryEvent] {
        receive(AppServerMessage(message), from: message, receivedAt: receivedAt)
    }

    /// The same, for a message whose typed reading the caller already has.
    mutating func receive(
        _ typed: AppServerMessage,
        from message: JSONRPCMessage,
        receivedAt: UInt64?
    ) -> [TelemetryEvent] {
        let milliseconds = AppServerMessage.emittedAtMilliseconds(of: message) ?? typed.payloadTimeMilliseconds
        let time = milliseconds.map { UInt64(max(0, $0)) * 1_000_000 } ?? receivedAt ?? latestTime
        return receive(typed, at: time)
    }
}
