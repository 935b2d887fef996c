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
}
