import CodexTelemetry
import Foundation
import OTLP

/// OTLP encoding throughput: the bundled session's events, repeated under new thread ids until there are `count`,
/// mapped (a log record and a span each) and encoded in batches of 512 as the exporter does.
func printEncodingRates(count: Int, root: URL) throws {
    let session = try Data(
        contentsOf: root.appendingPathComponent("protocol/sessions/codex-0.163.0-scenarios.jsonl")
    )
    var replay = SessionReplay()
    let template = session.withUnsafeBytes { replay.replay(file: $0) }

    var events: [TelemetryEvent] = []
    events.reserveCapacity(count)
    var copy = 0
    while events.count < count {
        for event in template where events.count < count {
            let attributes = event.attributes.map { attribute in
                attribute.key == .conversationID
                    ? TelemetryAttribute(key: .conversationID, value: .string("thread-\(copy)")) : attribute
            }
            events.append(
                TelemetryEvent(
                    name: event.name,
                    startTimeUnixNano: event.startTimeUnixNano,
                    endTimeUnixNano: event.endTimeUnixNano,
                    attributes: attributes
                )
            )
        }
        copy += 1
    }

    let clock = ContinuousClock()
    func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    var mapping = OpenTelemetryMapping(temporality: .cumulative)
    var logs: [OTLPLogRecord] = []
    var spans: [OTLPSpan] = []
    let mapped = clock.measure {
        for event in events {
            let (log, span) = mapping.map(event)
            logs.append(log)
            if let span { spans.append(span) }
        }
    }
    print(String(format: "mapping: %.0f events/s", Double(count) / seconds(mapped)))

    let resource = OTLPResource(attributes: [OTLPAttribute("service.name", .string("benchmark"))])
    let scope = OTLPScope(name: "codex-telemetry", version: "benchmark")
    // Batched as the exporter batches them, before the clock starts: what is timed is the encoding alone.
    let batches = stride(from: 0, to: count, by: 512).flatMap { start in
        let end = min(count, start + 512)
        return [OTLPBatch.logs(Array(logs[start..<end])), .traces(Array(spans[start..<end]))]
    }
    for wireProtocol in ["protobuf", "json"] {
        for run in 1...3 {
            var bytes = 0
            let elapsed = clock.measure {
                for batch in batches {
                    bytes +=
                        wireProtocol == "protobuf"
                        ? batch.protobuf(resource: resource, scope: scope).count
                        : batch.json(resource: resource, scope: scope).count
                }
            }
            print(
                String(
                    format:
                        "%@ run %d: %.0f events/s (a log record and a span each), %.0f MiB/s out, %.0f bytes per event",
                    wireProtocol,
                    run,
                    Double(count) / seconds(elapsed),
                    Double(bytes) / 1_048_576 / seconds(elapsed),
                    Double(bytes) / Double(count)
                )
            )
        }
    }
}
