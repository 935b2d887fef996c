import JSON

// OTLP/JSON is the proto3 JSON mapping with the deviations of the OTLP specification ("JSON Protobuf Encoding",
// https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): trace and span ids are hex strings, not
// base64; enums are integers, not names; keys are lowerCamelCase. Per proto3 JSON, 64-bit integers (including
// fixed64 times and counts) are decimal strings.

extension OTLPBatch {
    /// The `Export{Logs,Trace,Metrics}ServiceRequest` for this batch, as OTLP/JSON bytes.
    public func json(resource: OTLPResource, scope: OTLPScope) -> [UInt8] {
        let records: (group: String, scopeGroup: String, key: String, values: [JSONValue])
        switch self {
        case .logs(let logs): records = ("resourceLogs", "scopeLogs", "logRecords", logs.map(\.json))
        case .traces(let spans): records = ("resourceSpans", "scopeSpans", "spans", spans.map(\.json))
        case .metrics(let metrics): records = ("resourceMetrics", "scopeMetrics", "metrics", metrics.map(\.json))
        }
        let scopeJSON: JSONValue = ["name": .string(scope.name), "version": .string(scope.version)]
        let request: JSONValue = [
            records.group: [
                [
                    "resource": ["attributes": .array(resource.attributes.map(\.json))],
                    records.scopeGroup: [["scope": scopeJSON, records.key: .array(records.values)]],
                ]
            ]
        ]
        return request.serialized()
    }
}

private func string(_ value: UInt64) -> JSONValue { .string(String(value)) }

private func hex(_ bytes: [UInt8]) -> JSONValue {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0x0F)])
    }
    return .string(String(decoding: text, as: UTF8.self))
}

extension OTLPAttribute {
    fileprivate var json: JSONValue {
        let value: JSONValue
        switch self.value {
        case .string(let text): value = ["stringValue": .string(text)]
        case .bool(let flag): value = ["boolValue": .bool(flag)]
        case .int(let number): value = ["intValue": .string(String(number))]
        case .double(let number): value = ["doubleValue": .double(number)]
        }
        return ["key": .string(key), "value": value]
    }
}

extension OTLPLogRecord {
    fileprivate var json: JSONValue {
        var members: [String: JSONValue] = [
            "timeUnixNano": string(timeUnixNano),
            "observedTimeUnixNano": string(observedTimeUnixNano),
            "severityNumber": .int(Int64(severityNumber)),
            "severityText": .string(severityText),
            "eventName": .string(eventName),
            "attributes": .array(attributes.map(\.json)),
        ]
        if let traceID { members["traceId"] = hex(traceID.bytes) }
        if let spanID { members["spanId"] = hex(spanID.bytes) }
        return .object(members)
    }
}

extension OTLPSpan {
    fileprivate var json: JSONValue {
        var members: [String: JSONValue] = [
            "traceId": hex(traceID.bytes),
            "spanId": hex(spanID.bytes),
            "name": .string(name),
            "kind": .int(Int64(kind.rawValue)),
            "startTimeUnixNano": string(startTimeUnixNano),
            "endTimeUnixNano": string(endTimeUnixNano),
            "attributes": .array(attributes.map(\.json)),
        ]
        if let parentSpanID { members["parentSpanId"] = hex(parentSpanID.bytes) }
        if status != .unset { members["status"] = ["code": .int(Int64(status.rawValue))] }
        return .object(members)
    }
}

extension OTLPMetric {
    fileprivate var json: JSONValue {
        var members: [String: JSONValue] = [
            "name": .string(name), "description": .string(description), "unit": .string(unit),
        ]
        let temporality = JSONValue.int(Int64(self.temporality.rawValue))
        func numberPoints(_ points: [OTLPMetric.NumberPoint]) -> JSONValue {
            .array(
                points.map { point -> JSONValue in
                    [
                        "attributes": .array(point.attributes.map(\.json)),
                        "startTimeUnixNano": string(point.startTimeUnixNano),
                        "timeUnixNano": string(point.timeUnixNano),
                        "asDouble": .double(point.value),
                    ]
                }
            )
        }
        switch data {
        case .sum(let points, let isMonotonic):
            members["sum"] = [
                "dataPoints": numberPoints(points), "aggregationTemporality": temporality,
                "isMonotonic": .bool(isMonotonic),
            ]
        case .gauge(let points):
            members["gauge"] = ["dataPoints": numberPoints(points)]
        case .histogram(let points):
            let dataPoints = points.map { point -> JSONValue in
                [
                    "attributes": .array(point.attributes.map(\.json)),
                    "startTimeUnixNano": string(point.startTimeUnixNano),
                    "timeUnixNano": string(point.timeUnixNano),
                    "count": string(point.count),
                    "sum": .double(point.sum),
                    "min": .double(point.min),
                    "max": .double(point.max),
                    "bucketCounts": .array(point.bucketCounts.map(string)),
                    "explicitBounds": .array(point.explicitBounds.map(JSONValue.double)),
                ]
            }
            members["histogram"] = ["dataPoints": .array(dataPoints), "aggregationTemporality": temporality]
        }
        return .object(members)
    }
}
