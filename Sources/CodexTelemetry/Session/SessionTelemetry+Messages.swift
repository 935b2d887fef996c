import CodexAppServer
public import JSONRPC

extension SessionTelemetry {
    /// Takes one JSON-RPC message from the server, live or replayed, and returns the events it completes.
    ///
    /// The time used is the one the server put on the message (`emittedAtMs`), then the payload's own time, then
    /// `receivedAt`, then the last time seen: so a live run and a replay of its capture give the same events. A
    /// time outside 2000…2100 is not believed (and counted): the next source is used instead.
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
        let emitted = payloadTime(AppServerMessage.emittedAtMilliseconds(of: message))
        // An item's own time is checked (and counted) again where the item is read.
        let payload = typed.payloadTimeMilliseconds.flatMap(SessionLimits.nanoseconds(fromUnixMilliseconds:))
        guard let time = emitted ?? payload ?? receivedAt else { return receiveUntimed(typed) }
        return receive(typed, at: time)
    }
}
