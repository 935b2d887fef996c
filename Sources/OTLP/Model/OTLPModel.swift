/// An attribute value: the scalar kinds of OTLP's `AnyValue` that telemetry attributes use.
public enum OTLPValue: Sendable, Hashable {
    case string(String)
    case bool(Bool)
    case int(Int64)
    case double(Double)
}

/// A key and its value (`KeyValue`).
public struct OTLPAttribute: Sendable, Hashable {
    public var key: String
    public var value: OTLPValue

    public init(_ key: String, _ value: OTLPValue) {
        self.key = key
        self.value = value
    }
}

/// What produced the telemetry (`Resource`): `service.name` and the like.
public struct OTLPResource: Sendable, Hashable {
    public var attributes: [OTLPAttribute]

    public init(attributes: [OTLPAttribute]) {
        self.attributes = attributes
    }
}

/// The library that recorded the telemetry (`InstrumentationScope`).
public struct OTLPScope: Sendable, Hashable {
    public var name: String
    public var version: String

    public init(name: String, version: String) {
        self.name = name
        self.version = version
    }
}

/// A 16-byte trace id; never all zeros.
public struct TraceID: Sendable, Hashable {
    // Held in two words, not an array: every record carries ids, and an array is an allocation, and a retain
    // and a release each time a record is encoded.
    private var high: UInt64
    private var low: UInt64

    public var bytes: [UInt8] { withBytes(Array.init) }

    /// The 32 lowercase hex digits W3C Trace Context and people read.
    public var hex: String { withBytes(lowercaseHex) }

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 16, "a trace id is 16 bytes")
        high = UInt64(bigEndianBytes: bytes[..<8])
        low = UInt64(bigEndianBytes: bytes[8...])
    }

    /// Calls `body` with the 16 bytes, in place.
    package func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        withUnsafeBytes(of: (high.bigEndian, low.bigEndian), body)
    }
}

/// An 8-byte span id; never all zeros.
public struct SpanID: Sendable, Hashable {
    private var value: UInt64

    public var bytes: [UInt8] { withBytes(Array.init) }

    /// The 16 lowercase hex digits W3C Trace Context and people read.
    public var hex: String { withBytes(lowercaseHex) }

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 8, "a span id is 8 bytes")
        value = UInt64(bigEndianBytes: bytes[...])
    }

    /// Calls `body` with the 8 bytes, in place.
    package func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        withUnsafeBytes(of: value.bigEndian, body)
    }
}

private func lowercaseHex(_ bytes: UnsafeRawBufferPointer) -> String {
    let digits = Array("0123456789abcdef".utf8)
    return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
}

extension UInt64 {
    fileprivate init(bigEndianBytes bytes: ArraySlice<UInt8>) {
        self = bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }
}

/// One log record (`LogRecord`).
public struct OTLPLogRecord: Sendable, Hashable {
    public var timeUnixNano: UInt64
    public var observedTimeUnixNano: UInt64
    /// `SeverityNumber`: 9 is INFO.
    public var severityNumber: Int32
    public var severityText: String
    public var eventName: String
    public var attributes: [OTLPAttribute]
    public var traceID: TraceID?
    public var spanID: SpanID?

    public init(
        timeUnixNano: UInt64,
        observedTimeUnixNano: UInt64,
        severityNumber: Int32 = 9,
        severityText: String = "INFO",
        eventName: String,
        attributes: [OTLPAttribute],
        traceID: TraceID? = nil,
        spanID: SpanID? = nil
    ) {
        self.timeUnixNano = timeUnixNano
        self.observedTimeUnixNano = observedTimeUnixNano
        self.severityNumber = severityNumber
        self.severityText = severityText
        self.eventName = eventName
        self.attributes = attributes
        self.traceID = traceID
        self.spanID = spanID
    }
}

/// One span (`Span`).
public struct OTLPSpan: Sendable, Hashable {
    /// `Span.SpanKind`.
    public enum Kind: Int32, Sendable {
        case `internal` = 1
        case server = 2
        case client = 3
    }

    /// `Status.StatusCode`.
    public enum StatusCode: Int32, Sendable {
        case unset = 0
        case ok = 1
        case error = 2
    }

    public var traceID: TraceID
    public var spanID: SpanID
    public var parentSpanID: SpanID?
    public var name: String
    public var kind: Kind
    public var startTimeUnixNano: UInt64
    public var endTimeUnixNano: UInt64
    public var attributes: [OTLPAttribute]
    public var status: StatusCode

    public init(
        traceID: TraceID,
        spanID: SpanID,
        parentSpanID: SpanID?,
        name: String,
        kind: Kind,
        startTimeUnixNano: UInt64,
        endTimeUnixNano: UInt64,
        attributes: [OTLPAttribute],
        status: StatusCode
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.name = name
        self.kind = kind
        self.startTimeUnixNano = startTimeUnixNano
        self.endTimeUnixNano = endTimeUnixNano
        self.attributes = attributes
        self.status = status
    }
}

/// How metric points relate to each other over time (`AggregationTemporality`).
public enum AggregationTemporality: Int32, Sendable, Hashable {
    /// Each point holds what happened since the previous export.
    case delta = 1
    /// Each point holds everything since the start.
    case cumulative = 2
}

/// One metric with its points (`Metric` holding a `Sum`, a `Histogram` or a `Gauge`).
public struct OTLPMetric: Sendable, Hashable {
    public enum Data: Sendable, Hashable {
        case sum([NumberPoint], isMonotonic: Bool)
        case histogram([HistogramPoint])
        /// The last value measured; a gauge has no temporality.
        case gauge([NumberPoint])
    }

    public struct NumberPoint: Sendable, Hashable {
        public var attributes: [OTLPAttribute]
        public var startTimeUnixNano: UInt64
        public var timeUnixNano: UInt64
        public var value: Double

        public init(attributes: [OTLPAttribute], startTimeUnixNano: UInt64, timeUnixNano: UInt64, value: Double) {
            self.attributes = attributes
            self.startTimeUnixNano = startTimeUnixNano
            self.timeUnixNano = timeUnixNano
            self.value = value
        }
    }

    public struct HistogramPoint: Sendable, Hashable {
        public var attributes: [OTLPAttribute]
        public var startTimeUnixNano: UInt64
        public var timeUnixNano: UInt64
        public var count: UInt64
        public var sum: Double
        public var min: Double
        public var max: Double
        /// One more count than bounds: the last bucket is everything above the last bound.
        public var bucketCounts: [UInt64]
        public var explicitBounds: [Double]

        public init(
            attributes: [OTLPAttribute],
            startTimeUnixNano: UInt64,
            timeUnixNano: UInt64,
            count: UInt64,
            sum: Double,
            min: Double,
            max: Double,
            bucketCounts: [UInt64],
            explicitBounds: [Double]
        ) {
            self.attributes = attributes
            self.startTimeUnixNano = startTimeUnixNano
            self.timeUnixNano = timeUnixNano
            self.count = count
            self.sum = sum
            self.min = min
            self.max = max
            self.bucketCounts = bucketCounts
            self.explicitBounds = explicitBounds
        }
    }

    public var name: String
    public var description: String
    public var unit: String
    public var temporality: AggregationTemporality
    public var data: Data

    public init(name: String, description: String, unit: String, temporality: AggregationTemporality, data: Data) {
        self.name = name
        self.description = description
        self.unit = unit
        self.temporality = temporality
        self.data = data
    }
}

/// The three OTLP signals.
public enum OTLPSignal: String, Sendable, Hashable, CaseIterable {
    case logs, traces, metrics

    /// The OTLP/HTTP path: `/v1/logs`, `/v1/traces`, `/v1/metrics`.
    public var path: String { "/v1/\(rawValue)" }

    /// The OTLP/gRPC method: `/opentelemetry.proto.collector.logs.v1.LogsService/Export` and its kin.
    public var grpcMethodPath: String {
        switch self {
        case .logs: "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
        case .traces: "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
        case .metrics: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
        }
    }
}

/// One export request's content, for one signal.
public enum OTLPBatch: Sendable, Hashable {
    case logs([OTLPLogRecord])
    case traces([OTLPSpan])
    case metrics([OTLPMetric])

    public var signal: OTLPSignal {
        switch self {
        case .logs: .logs
        case .traces: .traces
        case .metrics: .metrics
        }
    }

    /// Log records, spans or data points in the batch.
    public var itemCount: Int {
        switch self {
        case .logs(let records): records.count
        case .traces(let spans): spans.count
        case .metrics(let metrics):
            metrics.reduce(0) { total, metric in
                switch metric.data {
                case .sum(let points, _), .gauge(let points): total + points.count
                case .histogram(let points): total + points.count
                }
            }
        }
    }

    /// About how many bytes the batch encodes to, so its buffer is allocated once: a record takes under a
    /// kilobyte in protobuf, under two in JSON.
    var estimatedSize: Int { 512 + itemCount * 1024 }
}
