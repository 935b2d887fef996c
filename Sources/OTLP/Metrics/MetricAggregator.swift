/// Aggregates measurements into sums, histograms and gauges, one series per metric and attribute set, and turns
/// them into OTLP metrics with the chosen temporality.
///
/// Times are those of the measurements, not a clock: a replayed session's metrics carry the session's times.
public struct MetricAggregator: Sendable {
    public let temporality: AggregationTemporality
    /// The measurements since the last collection (delta), or since the start (cumulative).
    private var current = Store()
    /// Since the start, beside `current`, when a reader of totals (a scrape) asks for them under delta
    /// temporality; under cumulative, `current` is that already.
    private var sinceStart: Store?

    /// The most series one metric keeps: past it, measurements go to one series with the attribute
    /// `otel.metric.overflow` (as OpenTelemetry SDKs do), so that no input can grow a metric without bound.
    public static let maximumSeriesPerMetric = 2_000
    static let overflow = [OTLPAttribute("otel.metric.overflow", .bool(true))]

    /// What a metric is: its description, unit and kind.
    public struct Descriptor: Sendable, Hashable {
        /// How measurements are aggregated.
        public enum Kind: Sendable, Hashable {
            /// A monotonic sum.
            case sum
            /// A histogram with these explicit bucket bounds.
            case histogram(bounds: [Double])
            /// The latest measurement, not an aggregate.
            case gauge
        }

        public var name: String
        public var description: String
        public var unit: String
        public var kind: Kind

        public init(name: String, description: String, unit: String, kind: Kind = .sum) {
            self.name = name
            self.description = description
            self.unit = unit
            self.kind = kind
        }
    }

    fileprivate struct Instrument: Sendable {
        var descriptor: Descriptor
        var series: [[OTLPAttribute]: Series] = [:]
        var seriesOrder: [[OTLPAttribute]] = []
    }

    fileprivate struct Series: Sendable {
        var start: UInt64
        var last: UInt64
        var count: UInt64 = 0
        var sum: Double = 0
        var min = Double.infinity
        var max = -Double.infinity
        /// The measurement made last, in time (the later one of two at the same time).
        var latest = 0.0
        var bucketCounts: [UInt64]
    }

    /// Instruments by name, in the order they were first measured.
    fileprivate struct Store: Sendable {
        var instruments: [String: Instrument] = [:]
        var order: [String] = []
    }

    /// - Parameters:
    ///   - temporality: what `collect()` gives: the change since the last collection, or the total since the start.
    ///   - keepingTotals: also keep the totals since the start under delta temporality, for `totals()` (what a
    ///     scrape serves while deltas are pushed).
    public init(temporality: AggregationTemporality, keepingTotals: Bool = false) {
        self.temporality = temporality
        if keepingTotals, temporality == .delta { sinceStart = Store() }
    }

    /// Adds a measurement to the metric `descriptor` under `attributes`, at Unix time `time` in nanoseconds.
    public mutating func record(
        _ value: Double,
        to descriptor: Descriptor,
        attributes: [OTLPAttribute],
        at time: UInt64
    ) {
        let key = attributes.sorted { $0.key < $1.key }
        current.record(value, to: descriptor, key: key, at: time)
        sinceStart?.record(value, to: descriptor, key: key, at: time)
    }

    /// The metrics so far. With delta temporality, what is collected is forgotten, and a series that has had no
    /// measurement since the last collection is left out.
    public mutating func collect() -> [OTLPMetric] {
        let metrics = current.metrics(temporality: temporality)
        if temporality == .delta { current = Store() }
        return metrics
    }

    /// Every series since the start, cumulative whatever the temporality (kept with `keepingTotals`), without
    /// collecting: what a scrape reads.
    public func totals() -> [OTLPMetric] {
        (sinceStart ?? current).metrics(temporality: .cumulative)
    }
}

extension MetricAggregator.Store {
    mutating func record(
        _ value: Double,
        to descriptor: MetricAggregator.Descriptor,
        key: [OTLPAttribute],
        at time: UInt64
    ) {
        // Taken out while it changes, so that its tables are changed in place, and its name hashed twice, not five
        // times.
        var instrument =
            instruments.removeValue(forKey: descriptor.name)
            ?? {
                order.append(descriptor.name)
                return MetricAggregator.Instrument(descriptor: descriptor)
            }()
        defer { instruments[descriptor.name] = instrument }
        let bounds: [Double]
        if case .histogram(let histogramBounds) = descriptor.kind { bounds = histogramBounds } else { bounds = [] }
        let key =
            instrument.series[key] != nil || instrument.series.count < MetricAggregator.maximumSeriesPerMetric - 1
            ? key : MetricAggregator.overflow
        var series =
            instrument.series[key]
            ?? {
                instrument.seriesOrder.append(key)
                return MetricAggregator.Series(
                    start: time,
                    last: time,
                    bucketCounts: Array(repeating: 0, count: bounds.count + 1)
                )
            }()
        series.start = Swift.min(series.start, time)
        if time >= series.last { series.latest = value }
        series.last = Swift.max(series.last, time)
        series.count += 1
        series.sum += value
        series.min = Swift.min(series.min, value)
        series.max = Swift.max(series.max, value)
        // A bucket holds values up to and including its upper bound (metrics data model, "Histogram").
        series.bucketCounts[bounds.firstIndex { value <= $0 } ?? bounds.count] += 1
        instrument.series[key] = series
    }

    func metrics(temporality: AggregationTemporality) -> [OTLPMetric] {
        order.compactMap { name -> OTLPMetric? in
            let instrument = instruments[name]!
            let series = instrument.seriesOrder.compactMap { key in instrument.series[key].map { (key, $0) } }
            guard !series.isEmpty else { return nil }
            func numberPoints(_ value: (MetricAggregator.Series) -> Double) -> [OTLPMetric.NumberPoint] {
                series.map { key, series in
                    OTLPMetric.NumberPoint(
                        attributes: key,
                        startTimeUnixNano: series.start,
                        timeUnixNano: series.last,
                        value: value(series)
                    )
                }
            }
            let data: OTLPMetric.Data
            switch instrument.descriptor.kind {
            case .sum:
                data = .sum(numberPoints(\.sum), isMonotonic: true)
            case .gauge:
                data = .gauge(numberPoints(\.latest))
            case .histogram(let bounds):
                data = .histogram(
                    series.map { key, series in
                        OTLPMetric.HistogramPoint(
                            attributes: key,
                            startTimeUnixNano: series.start,
                            timeUnixNano: series.last,
                            count: series.count,
                            sum: series.sum,
                            min: series.min,
                            max: series.max,
                            bucketCounts: series.bucketCounts,
                            explicitBounds: bounds
                        )
                    }
                )
            }
            return OTLPMetric(
                name: name,
                description: instrument.descriptor.description,
                unit: instrument.descriptor.unit,
                temporality: temporality,
                data: data
            )
        }
    }
}
