import JSON

// OTLP/JSON is the proto3 JSON mapping with the deviations of the OTLP specification ("JSON Protobuf Encoding",
// https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): trace and span ids are hex strings, not
// base64; enums are integers, not names; keys are lowerCamelCase. Per proto3 JSON, 64-bit integers (including
// fixed64 times and counts) are decimal strings.

extension OTLPBatch {
    /// The `Export{Logs,Trace,Metrics}ServiceRequest` for this batch, as OTLP/JSON bytes: written straight into
    /// one buffer, member by member, with no tree of values built first.
    public func json(resource: OTLPResource, scope: OTLPScope) -> [UInt8] {
        var out = OTLPJSONWriter(capacity: 2 * estimatedSize)
        let names: (group: StaticString, scopeGroup: StaticString, records: StaticString) =
            switch self {
            case .logs: ("resourceLogs", "scopeLogs", "logRecords")
            case .traces: ("resourceSpans", "scopeSpans", "spans")
            case .metrics: ("resourceMetrics", "scopeMetrics", "metrics")
            }
        out.raw("{\"")
        out.raw(names.group)
        out.raw("\":[{\"resource\":{\"attributes\":")
        out.attributes(resource.attributes)
        out.raw("},\"")
        out.raw(names.scopeGroup)
        out.raw("\":[{\"scope\":{\"name\":")
        out.string(scope.name)
        out.raw(",\"version\":")
        out.string(scope.version)
        out.raw("},\"")
        out.raw(names.records)
        out.raw("\":")
        switch self {
        case .logs(let records): out.list(records) { $0.write($1) }
        case .traces(let spans): out.list(spans) { $0.write($1) }
        case .metrics(let metrics): out.list(metrics) { $0.write($1) }
        }
        out.raw("}]}]}")
        return out.bytes
    }
}

/// Bytes of OTLP/JSON, appended in order.
private struct OTLPJSONWriter {
    var bytes: [UInt8] = []

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    mutating func raw(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func string(_ text: String) {
        JSONValue.writeString(text, to: &bytes)
    }

    /// A 64-bit integer, which proto3 JSON writes as a decimal string.
    mutating func decimal<Number: FixedWidthInteger>(_ value: Number) {
        bytes.append(UInt8(ascii: "\""))
        integer(value)
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func integer<Number: FixedWidthInteger>(_ value: Number) {
        if Number.isSigned {
            JSONValue.writeInteger(Int64(truncatingIfNeeded: value), to: &bytes)
        } else {
            JSONValue.writeInteger(UInt64(truncatingIfNeeded: value), to: &bytes)
        }
    }

    mutating func double(_ value: Double) {
        JSONValue.double(value).write(to: &bytes)
    }

    mutating func hex(_ id: UnsafeRawBufferPointer) {
        let digits: StaticString = "0123456789abcdef"
        bytes.append(UInt8(ascii: "\""))
        for byte in id {
            bytes.append(digits.utf8Start[Int(byte >> 4)])
            bytes.append(digits.utf8Start[Int(byte & 0x0F)])
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func list<Element>(_ elements: [Element], _ write: (inout Self, Element) -> Void) {
        bytes.append(UInt8(ascii: "["))
        for (position, element) in elements.enumerated() {
            if position > 0 { bytes.append(UInt8(ascii: ",")) }
            write(&self, element)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func attributes(_ attributes: [OTLPAttribute]) {
        list(attributes) { out, attribute in
            out.raw("{\"key\":")
            out.string(attribute.key)
            switch attribute.value {
            case .string(let text):
                out.raw(",\"value\":{\"stringValue\":")
                out.string(text)
            case .bool(let flag):
                out.raw(flag ? ",\"value\":{\"boolValue\":true" : ",\"value\":{\"boolValue\":false")
            case .int(let number):
                out.raw(",\"value\":{\"intValue\":")
                out.decimal(number)
            case .double(let number):
                out.raw(",\"value\":{\"doubleValue\":")
                out.double(number)
            }
            out.raw("}}")
        }
    }

    mutating func write(_ record: OTLPLogRecord) {
        raw("{\"timeUnixNano\":")
        decimal(record.timeUnixNano)
        raw(",\"observedTimeUnixNano\":")
        decimal(record.observedTimeUnixNano)
        raw(",\"severityNumber\":")
        integer(record.severityNumber)
        raw(",\"severityText\":")
        string(record.severityText)
        raw(",\"eventName\":")
        string(record.eventName)
        raw(",\"attributes\":")
        attributes(record.attributes)
        if let traceID = record.traceID {
            raw(",\"traceId\":")
            traceID.withBytes { hex($0) }
        }
        if let spanID = record.spanID {
            raw(",\"spanId\":")
            spanID.withBytes { hex($0) }
        }
        raw("}")
    }

    mutating func write(_ span: OTLPSpan) {
        raw("{\"traceId\":")
        span.traceID.withBytes { hex($0) }
        raw(",\"spanId\":")
        span.spanID.withBytes { hex($0) }
        if let parent = span.parentSpanID {
            raw(",\"parentSpanId\":")
            parent.withBytes { hex($0) }
        }
        raw(",\"name\":")
        string(span.name)
        raw(",\"kind\":")
        integer(span.kind.rawValue)
        raw(",\"startTimeUnixNano\":")
        decimal(span.startTimeUnixNano)
        raw(",\"endTimeUnixNano\":")
        decimal(span.endTimeUnixNano)
        raw(",\"attributes\":")
        attributes(span.attributes)
        if span.status != .unset {
            raw(",\"status\":{\"code\":")
            integer(span.status.rawValue)
            raw("}")
        }
        raw("}")
    }

    mutating func write(_ metric: OTLPMetric) {
        raw("{\"name\":")
        string(metric.name)
        raw(",\"description\":")
        string(metric.description)
        raw(",\"unit\":")
        string(metric.unit)
        switch metric.data {
        case .sum(let points, let isMonotonic):
            raw(",\"sum\":{\"dataPoints\":")
            list(points) { $0.write($1) }
            raw(",\"aggregationTemporality\":")
            integer(metric.temporality.rawValue)
            raw(isMonotonic ? ",\"isMonotonic\":true}" : ",\"isMonotonic\":false}")
        case .gauge(let points):
            raw(",\"gauge\":{\"dataPoints\":")
            list(points) { $0.write($1) }
            raw("}")
        case .histogram(let points):
            raw(",\"histogram\":{\"dataPoints\":")
            list(points) { $0.write($1) }
            raw(",\"aggregationTemporality\":")
            integer(metric.temporality.rawValue)
            raw("}")
        }
        raw("}")
    }

    mutating func write(_ point: OTLPMetric.NumberPoint) {
        raw("{\"attributes\":")
        attributes(point.attributes)
        raw(",\"startTimeUnixNano\":")
        decimal(point.startTimeUnixNano)
        raw(",\"timeUnixNano\":")
        decimal(point.timeUnixNano)
        raw(",\"asDouble\":")
        double(point.value)
        raw("}")
    }

    mutating func write(_ point: OTLPMetric.HistogramPoint) {
        raw("{\"attributes\":")
        attributes(point.attributes)
        raw(",\"startTimeUnixNano\":")
        decimal(point.startTimeUnixNano)
        raw(",\"timeUnixNano\":")
        decimal(point.timeUnixNano)
        raw(",\"count\":")
        decimal(point.count)
        raw(",\"sum\":")
        double(point.sum)
        raw(",\"min\":")
        double(point.min)
        raw(",\"max\":")
        double(point.max)
        raw(",\"bucketCounts\":")
        list(point.bucketCounts) { $0.decimal($1) }
        raw(",\"explicitBounds\":")
        list(point.explicitBounds) { $0.double($1) }
        raw("}")
    }
}
