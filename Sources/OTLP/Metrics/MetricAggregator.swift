/// Aggregates measurements into sums, histograms and gauges, one series per metric and attribute set, and turns
/// them into OTLP metrics with the chosen temporality.
///
/// Times are those of the measurements, not a clock: a replayed session's metrics carry the session's times.
public struct MetricAggregator: Sendable {
    public let temporality: AggregationTemporality
    private var instruments: [String: Instrument] = [:]
    private var order: [String] = []

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

    private struct Instrument: Sendable {
        var descriptor: Descriptor
        var series: [[OTLPAttribute]: Series] = [:]
        var seriesOrder: [[OTLPAttribute]] = []
    }

    private struct Series: Sendable {
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

    public init(temporality: AggregationTemporality) {
        self.temporality = temporality
    }

    /// Adds a measurement to the metric `descriptor` under `attributes`, at Unix time `time` in nanoseconds.
    public mutating func record(
        _ value: Double,
        to descriptor: Descriptor,
        attributes: [OTLPAttribute],
        at time: UInt64
    ) {
        // Taken out while it changes, so that its tables are changed in place, and its name hashed twice, not five
        // times.
        var instrument =
            instruments.removeValue(forKey: descriptor.name)
            ?? {
                order.append(descriptor.name)
                return Instrument(descriptor: descriptor)
            }()
        defer { instruments[descriptor.name] = instrument }
        let key = attributes.sorted { $0.key < $1.key }
        let bounds: [Double]
        if case .histogram(let histogramBounds) = descriptor.kind { bounds = histogramBounds } else { bounds = [] }
        var series =
            instrument.series[key]
            ?? {
                instrument.seriesOrder.append(key)
                return Series(start: time, last: time, bucketCounts: Array(repeating: 0, count: bounds.count + 1))
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

    /// The metrics so far. With delta temporality, what is collected is forgotten, and a series that has had no
    /// measurement since the last collection is left out.
    public mutating func collect() -> [OTLPMetric] {
        let metrics = order.compactMap { name -> OTLPMetric? in
            let instrument = instruments[name]!
            let series = instrument.seriesOrder.compactMap { key in instrument.series[key].map { (key, $0) } }
            guard !series.isEmpty else { return nil }
            func numberPoints(_ value: (Series) -> Double) -> [OTLPMetric.NumberPoint] {
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
        if temporality == .delta {
            for name in order {
                instruments[name]!.series = [:]
                instruments[name]!.seriesOrder = []
            }
        }
        return metrics
    }
}
