import Foundation
import TestSupport
import Testing

@testable import OTLP
@testable import OTLPExport

/// OTLP/gRPC without a network: where a call goes, how it is framed, and what each answer means, as the OTLP
/// specification ("OTLP/gRPC Response", "Failures", "Throttling") and gRPC's status mapping say.
struct GRPCTests {
    static func configuration(_ endpoint: String) throws -> OTLPExporterConfiguration {
        try OTLPExporterConfiguration(serviceName: "test").applying(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        ])
    }

    @Test(arguments: [
        ("http://collector", "http://collector:4317/opentelemetry.proto.collector.logs.v1.LogsService/Export"),
        (
            "https://collector:443/some/path/?token=x",
            "https://collector:443/opentelemetry.proto.collector.logs.v1.LogsService/Export"
        ),
        ("http://[::1]:9000", "http://[::1]:9000/opentelemetry.proto.collector.logs.v1.LogsService/Export"),
    ])
    func anEndpointIsAHostAndPortWith4317WhenItHasNoPort(endpoint: String, url: String) throws {
        let configuration = try Self.configuration(endpoint)
        #expect(configuration.wireProtocol(for: .logs) == .grpc)
        #expect(configuration.grpcURL(for: .logs)?.absoluteString == url)
        #expect(
            configuration.grpcURL(for: .traces)?.path == "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
        )
    }

    /// A request spooled for a collector over HTTP is not sent to it over gRPC, nor the other way round.
    @Test func theDestinationOfASpooledRequestNamesItsWire() throws {
        let grpc = try Self.configuration("http://collector:4317")
        var http = grpc
        http.protocols[.logs] = .protobuf
        #expect(grpc.destinationTag(for: .logs) != http.destinationTag(for: .logs))
    }

    @Test func aCallIsOneFramedMessageOverHTTP2WithItsDeadlineAndTheConfiguredMetadata() async throws {
        var configuration = try Self.configuration("http://collector.invalid")
        configuration.headers[.logs] = ["Authorization": "Bearer x"]
        configuration.timeouts[.logs] = .milliseconds(2500)
        let transport = ScriptedHTTPTransport([.status(200, ["grpc-status": "0"])])
        let report = try await OTLPExporterTests.export(
            transport,
            TestClock(),
            spool: nil,
            configuration: configuration
        )
        .value
        #expect(report.sent == [.logs: 1])
        let call = try #require(transport.requests.first)
        #expect(call.version == .http2)
        #expect(call.url.path == "/opentelemetry.proto.collector.logs.v1.LogsService/Export")
        #expect(
            call.headers.map { "\($0.name)=\($0.value)" }.sorted() == [
                "authorization=Bearer x", "content-type=application/grpc", "grpc-accept-encoding=identity",
                "grpc-timeout=2500m", "te=trailers", "user-agent=codex-telemetry",
            ]
        )
        let message = OTLPBatch.logs([OTLPExporterTests.record]).protobuf(
            resource: OTLPResource(attributes: [OTLPAttribute("service.name", .string("test"))]),
            scope: OTLPScope(name: "test", version: "0")
        )
        #expect(call.body == [0] + withUnsafeBytes(of: UInt32(message.count).bigEndian, Array.init) + message)
    }

    /// `google.rpc.Status` { code = 8, details = [Any { RetryInfo { retry_delay { seconds, nanos } } }] }, base64.
    static func statusDetails(seconds: UInt8, nanos: UInt8 = 0, padded: Bool = true) -> String {
        let type = Array("type.googleapis.com/google.rpc.RetryInfo".utf8)
        let duration: [UInt8] = [0x08, seconds, 0x10, nanos]
        let info: [UInt8] = [0x0A, UInt8(duration.count)] + duration
        let any: [UInt8] = [0x0A, UInt8(type.count)] + type + [0x12, UInt8(info.count)] + info
        let status: [UInt8] = [0x08, 8, 0x1A, UInt8(any.count)] + any
        let text = Data(status).base64EncodedString()
        return padded ? text : String(text.prefix { $0 != "=" })
    }

    /// An Export…ServiceResponse rejecting `rejected` items, framed as a gRPC message.
    static func partialSuccess(rejected: UInt8) -> [UInt8] {
        let partial: [UInt8] = [0x08, rejected, 0x12, 2] + Array("no".utf8)
        let response: [UInt8] = [0x0A, UInt8(partial.count)] + partial
        return GRPCMessage.frame(response, compressed: false)
    }

    @Test(arguments: [
        (
            HTTPOutcome.response(status: 200, headers: ["grpc-status": "0"], body: []),
            Delivery.accepted(rejected: 0, message: nil)
        ),
        (
            .response(status: 200, headers: ["grpc-status": "0"], body: partialSuccess(rejected: 2)),
            .accepted(rejected: 2, message: "no")
        ),
        // A count past the batch is held to it.
        (
            .response(status: 200, headers: ["grpc-status": "0"], body: partialSuccess(rejected: 90)),
            .accepted(rejected: 5, message: "no")
        ),
        (
            .response(status: 200, headers: ["grpc-status": "14"], body: []),
            .retryable(reason: "gRPC UNAVAILABLE", retryAfter: nil)
        ),
        (
            .response(status: 200, headers: ["grpc-status": "4"], body: []),
            .retryable(reason: "gRPC DEADLINE_EXCEEDED", retryAfter: nil)
        ),
        (.response(status: 200, headers: ["grpc-status": "8"], body: []), .refused(reason: "gRPC RESOURCE_EXHAUSTED")),
        (
            .response(
                status: 200,
                headers: ["grpc-status": "8", "grpc-status-details-bin": statusDetails(seconds: 3)],
                body: []
            ),
            .retryable(reason: "gRPC RESOURCE_EXHAUSTED", retryAfter: .seconds(3))
        ),
        (
            .response(
                status: 200,
                headers: [
                    "grpc-status": "8", "grpc-status-details-bin": statusDetails(seconds: 1, nanos: 100, padded: false),
                ],
                body: []
            ),
            .retryable(reason: "gRPC RESOURCE_EXHAUSTED", retryAfter: .seconds(1) + .nanoseconds(100))
        ),
        (
            .response(status: 200, headers: ["grpc-status": "8", "grpc-status-details-bin": "not base64!"], body: []),
            .refused(reason: "gRPC RESOURCE_EXHAUSTED")
        ),
        (.response(status: 200, headers: ["grpc-status": "3"], body: []), .refused(reason: "gRPC INVALID_ARGUMENT")),
        (.response(status: 200, headers: ["grpc-status": "13"], body: []), .refused(reason: "gRPC INTERNAL")),
        // No status at all, from a server or a proxy in the way: gRPC's own mapping.
        (.response(status: 200, headers: [:], body: []), .refused(reason: "gRPC UNKNOWN")),
        // A proxy's throttling or gateway errors are worth another try; its other refusals are not.
        (.response(status: 429, headers: [:], body: []), .retryable(reason: "gRPC UNAVAILABLE", retryAfter: nil)),
        (.response(status: 502, headers: [:], body: []), .retryable(reason: "gRPC UNAVAILABLE", retryAfter: nil)),
        (.response(status: 503, headers: [:], body: []), .retryable(reason: "gRPC UNAVAILABLE", retryAfter: nil)),
        (.response(status: 504, headers: [:], body: []), .retryable(reason: "gRPC UNAVAILABLE", retryAfter: nil)),
        (.response(status: 400, headers: [:], body: []), .refused(reason: "gRPC INTERNAL")),
        (.response(status: 401, headers: [:], body: []), .refused(reason: "gRPC UNAUTHENTICATED")),
        (.response(status: 403, headers: [:], body: []), .refused(reason: "gRPC PERMISSION_DENIED")),
        (.response(status: 404, headers: [:], body: []), .refused(reason: "gRPC UNIMPLEMENTED")),
        (.response(status: 500, headers: [:], body: []), .refused(reason: "gRPC UNKNOWN")),
        (
            .failed("Stream error in the HTTP/2 framing layer"),
            .retryable(reason: "Stream error in the HTTP/2 framing layer", retryAfter: nil)
        ),
    ])
    func eachAnswerIsRetriedOrDroppedAsTheSpecificationSays(outcome: HTTPOutcome, delivery: Delivery) {
        #expect(Delivery(grpc: outcome, itemCount: 5) == delivery)
    }

    @Test func aRetryInfoWaitIsHeldToADay() {
        let status: [UInt8] =
            [0x1A, 0x3A, 0x0A, 0x28] + Array("type.googleapis.com/google.rpc.RetryInfo".utf8)
            + [0x12, 0x0E, 0x0A, 0x0C, 0x08] + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F] + [0x10, 0x00]
        #expect(RetryInfo.delay(inStatusDetails: Data(status).base64EncodedString()) == .seconds(86_400))
    }
}
