import OTLP
import Testing

struct MetricAggregatorTests {
    let histogram = MetricAggregator.Descriptor(
        name: "h",
        description: "",
        unit: "s",
        kind: .histogram(bounds: [1, 10])
    )
    let counter = MetricAggregator.Descriptor(name: "c", description: "", unit: "{call}")
    let red = [OTLPAttribute("colour", .string("red"))]

    @Test func aValueOnABoundGoesInThatBucket() {
        var aggregator = MetricAggregator(temporality: .cumulative)
        for value in [0.5, 1, 1.5, 10, 11] { aggregator.record(value, to: histogram, attributes: red, at: 5) }
        guard case .histogram(let points) = aggregator.collect().first?.data else {
            Issue.record("no histogram")
            return
        }
        #expect(points.first?.bucketCounts == [2, 2, 1])
        #expect(points.first?.count == 5)
        #expect(points.first?.sum == 24)
        #expect(points.first?.min == 0.5)
        #expect(points.first?.max == 11)
    }

    /// A gauge holds the measurement made last in time, whatever order the measurements arrive in.
    @Test func aGaugeHoldsTheLatestMeasurement() {
        let gauge = MetricAggregator.Descriptor(name: "g", description: "", unit: "%", kind: .gauge)
        var aggregator = MetricAggregator(temporality: .cumulative)
        for (value, time) in [(40.0, UInt64(10)), (70, 30), (55, 20)] {
            aggregator.record(value, to: gauge, attributes: red, at: time)
        }
        #expect(
            aggregator.collect().first?.data
                == .gauge([OTLPMetric.NumberPoint(attributes: red, startTimeUnixNano: 10, timeUnixNano: 30, value: 70)])
        )
    }

    @Test func cumulativeKeepsCountingAndDeltaStartsAfresh() {
        for temporality in [AggregationTemporality.cumulative, .delta] {
            var aggregator = MetricAggregator(temporality: temporality)
            aggregator.record(1, to: counter, attributes: red, at: 10)
            aggregator.record(1, to: counter, attributes: [], at: 20)
            #expect(
                aggregator.collect().first?.data
                    == .sum(
                        [
                            .init(attributes: red, startTimeUnixNano: 10, timeUnixNano: 10, value: 1),
                            .init(attributes: [], startTimeUnixNano: 20, timeUnixNano: 20, value: 1),
                        ],
                        isMonotonic: true
                    )
            )
            aggregator.record(2, to: counter, attributes: red, at: 30)
            let second = aggregator.collect().first?.data
            if temporality == .cumulative {
                #expect(
                    second
                        == .sum(
                            [
                                .init(attributes: red, startTimeUnixNano: 10, timeUnixNano: 30, value: 3),
                                .init(attributes: [], startTimeUnixNano: 20, timeUnixNano: 20, value: 1),
                            ],
                            isMonotonic: true
                        )
                )
            } else {
                #expect(
                    second
                        == .sum(
                            [.init(attributes: red, startTimeUnixNano: 30, timeUnixNano: 30, value: 2)],
                            isMonotonic: true
                        )
                )
            }
        }
    }

    /// A scrape reads totals since the start, while a delta exporter collects and forgets: neither takes from the
    /// other.
    @Test func totalsSinceTheStartSurviveDeltaCollections() {
        var aggregator = MetricAggregator(temporality: .delta, keepingTotals: true)
        aggregator.record(1, to: counter, attributes: red, at: 10)
        _ = aggregator.collect()
        aggregator.record(2, to: counter, attributes: red, at: 20)
        guard case .sum(let delta, _)? = aggregator.collect().first?.data,
            case .sum(let totals, _)? = aggregator.totals().first?.data
        else {
            Issue.record("no sums")
            return
        }
        #expect(delta.map(\.value) == [2])
        #expect(totals.map(\.value) == [3])
        #expect(aggregator.totals().first?.temporality == .cumulative)
        #expect(aggregator.collect().isEmpty, "totals() collects nothing")
    }

    /// Past the bound of series, new attribute sets go to one overflow series: every measurement is still
    /// counted, in the metric's total, and no input grows it further.
    @Test func seriesPastTheBoundGoToOneOverflowSeries() {
        var aggregator = MetricAggregator(temporality: .cumulative)
        let limit = MetricAggregator.maximumSeriesPerMetric
        for index in 0..<(limit + 500) {
            aggregator.record(1, to: counter, attributes: [OTLPAttribute("n", .int(Int64(index)))], at: 1)
        }
        aggregator.record(1, to: counter, attributes: [OTLPAttribute("n", .int(0))], at: 2)
        guard case .sum(let points, _)? = aggregator.totals().first?.data else {
            Issue.record("no sum")
            return
        }
        #expect(points.count == limit)
        #expect(points.map(\.value).reduce(0, +) == Double(limit + 501))
        let overflow = points.first { $0.attributes == [OTLPAttribute("otel.metric.overflow", .bool(true))] }
        #expect(overflow?.value == 501, "the 1,999 series kept, and the rest in the overflow")
        #expect(points.first { $0.attributes == [OTLPAttribute("n", .int(0))] }?.value == 2, "a known series goes on")
    }
}
