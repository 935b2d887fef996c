import Foundation
import JSON
import JSONRPC
import OTLP
import TestSupport
import Testing

/// Our encodings of the golden requests against what the official library wrote (`Golden/README.md`).
struct OTLPGoldenTests {
    static let resource = OTLPResource(attributes: [
        OTLPAttribute("service.name", .string("golden-service")), OTLPAttribute("team", .string("payments")),
    ])
    static let scope = OTLPScope(name: "codex-telemetry", version: "0.1.0")
    static let traceID = TraceID(bytes: Array(1...16))
    static let rootSpan = SpanID(bytes: [0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8])
    static let childSpan = SpanID(bytes: [0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8])
    static let second: UInt64 = 1_000_000_000
    static let start: UInt64 = 1_700_000_000 * second

    static let batches: [(String, OTLPBatch)] = [
        (
            "logs",
            .logs([
                OTLPLogRecord(
                    timeUnixNano: start + 1,
                    observedTimeUnixNano: start + 2,
                    eventName: "codex.tool_call",
                    attributes: [
                        OTLPAttribute("event.name", .string("codex.tool_call")),
                        OTLPAttribute("process.exit.code", .int(-3)),
                        OTLPAttribute("codex.cost.usd", .double(0.125)),
                        OTLPAttribute("retried", .bool(true)),
                        OTLPAttribute("count", .int(0)),
                        // Lengths of two and three bytes, in the value and in the attribute around it.
                        OTLPAttribute("a.value.of.two.hundred.bytes", .string(String(repeating: "v", count: 200))),
                        OTLPAttribute(String(repeating: "k", count: 130), .int(.min)),
                        OTLPAttribute("a.value.of.sixteen.kilobytes", .string(String(repeating: "w", count: 16_400))),
                    ],
                    traceID: traceID,
                    spanID: rootSpan
                )
            ])
        ),
        (
            "traces",
            .traces([
                OTLPSpan(
                    traceID: traceID,
                    spanID: rootSpan,
                    parentSpanID: nil,
                    name: "invoke_agent codex",
                    kind: .internal,
                    startTimeUnixNano: start,
                    endTimeUnixNano: start + 5 * second,
                    attributes: [OTLPAttribute("gen_ai.operation.name", .string("invoke_agent"))],
                    status: .error
                ),
                OTLPSpan(
                    traceID: traceID,
                    spanID: childSpan,
                    parentSpanID: rootSpan,
                    name: "chat gpt-5.5",
                    kind: .client,
                    startTimeUnixNano: start + second,
                    endTimeUnixNano: start + 2 * second,
                    attributes: [OTLPAttribute("gen_ai.usage.input_tokens", .int(1200))],
                    status: .unset
                ),
            ])
        ),
        (
            "metrics",
            .metrics([
                OTLPMetric(
                    name: "codex.cost.usd",
                    description: "Cost of model calls",
                    unit: "USD",
                    temporality: .cumulative,
                    data: .sum(
                        [
                            .init(
                                attributes: [OTLPAttribute("gen_ai.request.model", .string("gpt-5.5"))],
                                startTimeUnixNano: start,
                                timeUnixNano: start + 5 * second,
                                value: 1.5
                            ),
                            .init(attributes: [], startTimeUnixNano: start, timeUnixNano: start + 5 * second, value: 0),
                        ],
                        isMonotonic: true
                    )
                ),
                OTLPMetric(
                    name: "gen_ai.client.token.usage",
                    description: "Tokens used",
                    unit: "{token}",
                    temporality: .delta,
                    data: .histogram([
                        .init(
                            attributes: [OTLPAttribute("gen_ai.token.type", .string("input"))],
                            startTimeUnixNano: start,
                            timeUnixNano: start + 5 * second,
                            count: 3,
                            sum: 10.5,
                            min: 0.5,
                            max: 8,
                            bucketCounts: [1, 1, 1, 0],
                            explicitBounds: [1, 4, 16]
                        )
                    ])
                ),
                OTLPMetric(
                    name: "codex.rate_limit.used_percent",
                    description: "Share of a quota window used",
                    unit: "%",
                    temporality: .cumulative,
                    data: .gauge([
                        .init(
                            attributes: [OTLPAttribute("codex.rate_limit.window", .string("primary"))],
                            startTimeUnixNano: start,
                            timeUnixNano: start + 5 * second,
                            value: 42
                        )
                    ])
                ),
            ])
        ),
    ]

    static func golden(_ name: String) throws -> Data {
        try Data(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
                "Golden/\(name)"
            )
        )
    }

    @Test(arguments: batches)
    func protobufIsByteForByteWhatTheOfficialLibraryWrites(signal: String, batch: OTLPBatch) throws {
        let ours = batch.protobuf(resource: Self.resource, scope: Self.scope)
        #expect(ours == Array(try Self.golden("\(signal).pb")))
    }

    @Test(arguments: batches)
    func jsonIsTheGoldenDescription(signal: String, batch: OTLPBatch) throws {
        let ours = try JSONValue(parsing: batch.json(resource: Self.resource, scope: Self.scope))
        #expect(ours == (try JSONValue(parsing: try Self.golden("\(signal).json"))))
    }

    /// The official decoder reads our protobuf and our JSON (strictly: an unknown field fails) to the same message.
    @Test(arguments: batches)
    func theOfficialDecoderReadsBothEncodingsAlike(signal: String, batch: OTLPBatch) async throws {
        let python = try TestTools.otelPython()
        let decoder = TestTools.packageRoot.appendingPathComponent("scripts/otlp-decode.py").path
        let folder = try TestTools.makeTemporaryDirectory("otlp")
        let protobufFile = folder.appendingPathComponent("request.pb")
        let jsonFile = folder.appendingPathComponent("request.json")
        try Data(batch.protobuf(resource: Self.resource, scope: Self.scope)).write(to: protobufFile)
        try Data(batch.json(resource: Self.resource, scope: Self.scope)).write(to: jsonFile)
        let fromProtobuf = try await TestTools.output(of: python, [decoder, signal, "protobuf", protobufFile.path])
        let fromJSON = try await TestTools.output(of: python, [decoder, signal, "json", jsonFile.path])
        #expect(fromProtobuf.status == .exited(0))
        #expect(fromJSON.status == .exited(0))
        #expect(!fromProtobuf.stdout.isEmpty)
        #expect(fromProtobuf.stdout == fromJSON.stdout)
    }
}
