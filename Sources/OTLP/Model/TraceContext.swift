/// A position in someone else's trace: the W3C `traceparent` a harness passes so our spans join its trace.
public struct TraceContext: Sendable, Hashable {
    public var traceID: TraceID
    /// The span ours become children of.
    public var parentSpanID: SpanID

    public init(traceID: TraceID, parentSpanID: SpanID) {
        self.traceID = traceID
        self.parentSpanID = parentSpanID
    }

    /// The `traceparent` header value of this position, sampled.
    public var traceparent: String { "00-\(traceID.hex)-\(parentSpanID.hex)-01" }

    /// Parses a `traceparent` header value, `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`
    /// (W3C Trace Context, section 3.2); `nil` if it is not one, or its ids are all zeros, as the format requires.
    public init?(traceparent: String) {
        let parts = traceparent.trimmed().lowercased().split(separator: "-")
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff", parts[3].count == 2,
            let trace = Self.bytes(hex: parts[1], count: 16), let span = Self.bytes(hex: parts[2], count: 8),
            trace.contains(where: { $0 != 0 }), span.contains(where: { $0 != 0 })
        else { return nil }
        self.init(traceID: TraceID(bytes: trace), parentSpanID: SpanID(bytes: span))
    }

    private static func bytes(hex: Substring, count: Int) -> [UInt8]? {
        guard hex.count == count * 2 else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hexDigits: hex[index..<next]) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}
