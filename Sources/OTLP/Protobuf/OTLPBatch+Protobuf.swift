// Field numbers from opentelemetry-proto v1.x: opentelemetry/proto/{common,resource,logs,trace,metrics}/v1/*.proto
// and collector/{logs,trace,metrics}/v1/*_service.proto.

/// common.proto
private enum AnyValueField { static let string = 1, bool = 2, int = 3, double = 4 }
private enum KeyValueField { static let key = 1, value = 2 }
private enum ScopeField { static let name = 1, version = 2 }
/// resource.proto
private enum ResourceField { static let attributes = 1 }
/// Every `Export…ServiceRequest` holds its `Resource…` at 1; each of those holds `resource` at 1 and its
/// `Scope…` at 2; each of those holds `scope` at 1 and its records at 2.
private enum EnvelopeField { static let resourceGroup = 1, resource = 1, scopeGroup = 2, scope = 1, records = 2 }
/// logs.proto `LogRecord`
private enum LogRecordField {
    static let timeUnixNano = 1, severityNumber = 2, severityText = 3, attributes = 6, traceID = 9, spanID = 10
    static let observedTimeUnixNano = 11, eventName = 12
}
/// trace.proto `Span` and `Status`
private enum SpanField {
    static let traceID = 1, spanID = 2, parentSpanID = 4, name = 5, kind = 6, startTimeUnixNano = 7
    static let endTimeUnixNano = 8, attributes = 9, status = 15
}
private enum StatusField { static let code = 3 }
/// metrics.proto `Metric`, `Sum`, `Histogram` and their points
private enum MetricField { static let name = 1, description = 2, unit = 3, gauge = 5, sum = 7, histogram = 9 }
private enum GaugeField { static let dataPoints = 1 }
private enum SumField { static let dataPoints = 1, temporality = 2, isMonotonic = 3 }
private enum HistogramField { static let dataPoints = 1, temporality = 2 }
private enum NumberPointField { static let startTimeUnixNano = 2, timeUnixNano = 3, asDouble = 4, attributes = 7 }
private enum HistogramPointField {
    static let startTimeUnixNano = 2, timeUnixNano = 3, count = 4, sum = 5, bucketCounts = 6, explicitBounds = 7
    static let attributes = 9, min = 11, max = 12
}

extension OTLPBatch {
    /// The `Export{Logs,Trace,Metrics}ServiceRequest` for this batch, as protobuf bytes.
    public func protobuf(resource: OTLPResource, scope: OTLPScope) -> [UInt8] {
        var writer = ProtobufWriter(capacity: estimatedSize)
        writer.writeMessageField(EnvelopeField.resourceGroup, lengthBytes: 3) { group in
            group.writeMessageField(EnvelopeField.resource) { message in
                message.writeAttributes(ResourceField.attributes, resource.attributes)
            }
            group.writeMessageField(EnvelopeField.scopeGroup, lengthBytes: 3) { scopeGroup in
                scopeGroup.writeMessageField(EnvelopeField.scope) { message in
                    message.writeStringFieldUnlessEmpty(ScopeField.name, scope.name)
                    message.writeStringFieldUnlessEmpty(ScopeField.version, scope.version)
                }
                // Read in place, and written without a closure, which would capture a copy: a copy of each record
                // would retain each of its strings and arrays.
                switch self {
                case .logs(let records):
                    records.withUnsafeBufferPointer { records in
                        for index in records.indices {
                            let record = scopeGroup.beginMessageField(EnvelopeField.records, lengthBytes: 2)
                            scopeGroup.write(records[index])
                            scopeGroup.endMessageField(record)
                        }
                    }
                case .traces(let spans):
                    spans.withUnsafeBufferPointer { spans in
                        for index in spans.indices {
                            let span = scopeGroup.beginMessageField(EnvelopeField.records, lengthBytes: 2)
                            scopeGroup.write(spans[index])
                            scopeGroup.endMessageField(span)
                        }
                    }
                case .metrics(let metrics):
                    for metric in metrics { scopeGroup.writeMessageField(EnvelopeField.records) { $0.write(metric) } }
                }
            }
        }
        return writer.bytes
    }
}

extension ProtobufWriter {
    /// A `KeyValue`, sized before it is written, so that each length goes straight in front of what it measures
    /// and the whole pair takes one check for room, with its value looked at once: attributes are most of what a
    /// batch holds, and each look at a string value retains it.
    fileprivate mutating func writeAttribute(_ field: Int, _ attribute: borrowing OTLPAttribute) {
        switch attribute.value {
        case .string(let text):
            let count = text.utf8.count
            writePair(field, attribute.key, valueSize: 1 + Self.varintSize(UInt64(count)) + count) {
                $0.writeStringField(AnyValueField.string, text)
            }
        case .bool(let flag):
            writePair(field, attribute.key, valueSize: 2) {
                $0.writeVarintField(AnyValueField.bool, flag ? 1 : 0)
            }
        case .int(let number):
            let value = UInt64(bitPattern: number)
            writePair(field, attribute.key, valueSize: 1 + Self.varintSize(value)) {
                $0.writeVarintField(AnyValueField.int, value)
            }
        case .double(let number):
            writePair(field, attribute.key, valueSize: 9) {
                $0.writeFixed64Field(AnyValueField.double, number.bitPattern)
            }
        }
    }

    /// A `KeyValue` of `key` and an `AnyValue` of `valueSize` bytes, which `value` writes. (The tags of both
    /// fields, and of each `AnyValue` member, take a byte.)
    @inline(__always)
    private mutating func writePair(
        _ field: Int,
        _ key: String,
        valueSize: Int,
        _ value: (inout ReservedBytes) -> Void
    ) {
        let keySize = key.utf8.count
        let pairSize =
            1 + Self.varintSize(UInt64(keySize)) + keySize + 1 + Self.varintSize(UInt64(valueSize)) + valueSize
        writeReserved(atMost: Self.maximumTagSize + Self.varintSize(UInt64(pairSize)) + pairSize) { bytes in
            bytes.writeTag(field, .lengthDelimited)
            bytes.writeVarint(UInt64(pairSize))
            bytes.writeStringField(KeyValueField.key, key)
            bytes.writeTag(KeyValueField.value, .lengthDelimited)
            bytes.writeVarint(UInt64(valueSize))
            value(&bytes)
        }
    }

    /// Writes each of `attributes` as field `field`, reading them in place.
    fileprivate mutating func writeAttributes(_ field: Int, _ attributes: [OTLPAttribute]) {
        attributes.withUnsafeBufferPointer { attributes in
            for index in attributes.indices { writeAttribute(field, attributes[index]) }
        }
    }

    fileprivate mutating func write(_ record: borrowing OTLPLogRecord) {
        writeFixed64FieldUnlessZero(LogRecordField.timeUnixNano, record.timeUnixNano)
        writeVarintFieldUnlessZero(LogRecordField.severityNumber, UInt64(record.severityNumber))
        writeStringFieldUnlessEmpty(LogRecordField.severityText, record.severityText)
        writeAttributes(LogRecordField.attributes, record.attributes)
        if let traceID = record.traceID { traceID.withBytes { writeBytesField(LogRecordField.traceID, $0) } }
        if let spanID = record.spanID { spanID.withBytes { writeBytesField(LogRecordField.spanID, $0) } }
        writeFixed64FieldUnlessZero(LogRecordField.observedTimeUnixNano, record.observedTimeUnixNano)
        writeStringFieldUnlessEmpty(LogRecordField.eventName, record.eventName)
    }

    fileprivate mutating func write(_ span: borrowing OTLPSpan) {
        span.traceID.withBytes { writeBytesField(SpanField.traceID, $0) }
        span.spanID.withBytes { writeBytesField(SpanField.spanID, $0) }
        if let parent = span.parentSpanID { parent.withBytes { writeBytesField(SpanField.parentSpanID, $0) } }
        writeStringFieldUnlessEmpty(SpanField.name, span.name)
        writeVarintFieldUnlessZero(SpanField.kind, UInt64(span.kind.rawValue))
        writeFixed64FieldUnlessZero(SpanField.startTimeUnixNano, span.startTimeUnixNano)
        writeFixed64FieldUnlessZero(SpanField.endTimeUnixNano, span.endTimeUnixNano)
        writeAttributes(SpanField.attributes, span.attributes)
        if span.status != .unset {
            writeMessageField(SpanField.status) { $0.writeVarintField(StatusField.code, UInt64(span.status.rawValue)) }
        }
    }

    fileprivate mutating func write(_ metric: OTLPMetric) {
        writeStringFieldUnlessEmpty(MetricField.name, metric.name)
        writeStringFieldUnlessEmpty(MetricField.description, metric.description)
        writeStringFieldUnlessEmpty(MetricField.unit, metric.unit)
        switch metric.data {
        case .sum(let points, let isMonotonic):
            writeMessageField(MetricField.sum) { sum in
                for point in points { sum.writeMessageField(SumField.dataPoints) { $0.write(point) } }
                sum.writeVarintFieldUnlessZero(SumField.temporality, UInt64(metric.temporality.rawValue))
                sum.writeVarintFieldUnlessZero(SumField.isMonotonic, isMonotonic ? 1 : 0)
            }
        case .gauge(let points):
            writeMessageField(MetricField.gauge) { gauge in
                for point in points { gauge.writeMessageField(GaugeField.dataPoints) { $0.write(point) } }
            }
        case .histogram(let points):
            writeMessageField(MetricField.histogram) { histogram in
                for point in points { histogram.writeMessageField(HistogramField.dataPoints) { $0.write(point) } }
                histogram.writeVarintFieldUnlessZero(HistogramField.temporality, UInt64(metric.temporality.rawValue))
            }
        }
    }

    private mutating func write(_ point: OTLPMetric.NumberPoint) {
        writeFixed64FieldUnlessZero(NumberPointField.startTimeUnixNano, point.startTimeUnixNano)
        writeFixed64FieldUnlessZero(NumberPointField.timeUnixNano, point.timeUnixNano)
        // `as_double` is a member of the `value` oneof: written even when zero, which marks which member is set.
        writeDoubleField(NumberPointField.asDouble, point.value)
        writeAttributes(NumberPointField.attributes, point.attributes)
    }

    private mutating func write(_ point: OTLPMetric.HistogramPoint) {
        writeFixed64FieldUnlessZero(HistogramPointField.startTimeUnixNano, point.startTimeUnixNano)
        writeFixed64FieldUnlessZero(HistogramPointField.timeUnixNano, point.timeUnixNano)
        writeFixed64FieldUnlessZero(HistogramPointField.count, point.count)
        // `sum`, `min` and `max` are `optional`: present means written, zero or not.
        writeDoubleField(HistogramPointField.sum, point.sum)
        writePackedFixed64Field(HistogramPointField.bucketCounts, point.bucketCounts)
        writePackedFixed64Field(HistogramPointField.explicitBounds, point.explicitBounds.map(\.bitPattern))
        writeAttributes(HistogramPointField.attributes, point.attributes)
        writeDoubleField(HistogramPointField.min, point.min)
        writeDoubleField(HistogramPointField.max, point.max)
    }
}
