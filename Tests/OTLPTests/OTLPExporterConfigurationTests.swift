import Foundation
import OTLP
import OTLPExport
import Testing

struct OTLPExporterConfigurationTests {
    let defaults = OTLPExporterConfiguration(serviceName: "codex-telemetry")

    @Test func aBaseEndpointGetsSignalPathsAndPerSignalEndpointsAreUsedAsTheyAre() throws {
        let configuration = try defaults.applying(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example/custom/path",
        ])
        #expect(configuration.endpoints[.logs]?.absoluteString == "http://collector:4318/v1/logs")
        #expect(configuration.endpoints[.metrics]?.absoluteString == "http://collector:4318/v1/metrics")
        #expect(configuration.endpoints[.traces]?.absoluteString == "https://traces.example/custom/path")
    }

    /// Every form of base a user may give: the signal's path goes after its own path, before its query.
    @Test(arguments: [
        ("http://collector:4318", "http://collector:4318/v1/traces"),
        ("http://collector:4318/", "http://collector:4318/v1/traces"),
        ("http://collector", "http://collector/v1/traces"),
        ("https://gateway.example/otlp", "https://gateway.example/otlp/v1/traces"),
        ("https://gateway.example/otlp/", "https://gateway.example/otlp/v1/traces"),
        ("https://gateway.example/otlp?tenant=a%20b", "https://gateway.example/otlp/v1/traces?tenant=a%20b"),
        ("http://[::1]:4318", "http://[::1]:4318/v1/traces"),
        ("http://[fe80::1]/", "http://[fe80::1]/v1/traces"),
    ])
    func aBaseEndpointOfAnyFormGetsTheSignalsPath(base: String, traces: String) throws {
        let configuration = try defaults.applying(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": base])
        #expect(configuration.endpoints[.traces]?.absoluteString == traces)
        #expect(
            configuration.endpoints[.logs]?.absoluteString == traces.replacingOccurrences(of: "traces", with: "logs")
        )
    }

    /// A signal's own setting beats the general one, for every setting that has both.
    @Test func aSignalsOwnSettingBeatsTheGeneralOne() throws {
        let configuration = try defaults.applying(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://general:4318",
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://logs:4318/v1/logs",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
            "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2000",
            "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "3000",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
            "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION": "none",
        ])
        #expect(configuration.endpoints[.logs]?.host == "logs")
        #expect(configuration.endpoints[.traces]?.host == "general")
        #expect(configuration.wireProtocol(for: .logs) == .protobuf)
        #expect(configuration.wireProtocol(for: .traces) == .json)
        #expect(configuration.timeout(for: .logs) == .seconds(3))
        #expect(configuration.timeout(for: .traces) == .seconds(2))
        #expect(configuration.compression(for: .logs) == OTLPExporterConfiguration.Compression.none)
        #expect(configuration.compression(for: .traces) == .gzip)
    }

    @Test func headersArePercentDecodedAndPerSignalHeadersAddToThem() throws {
        let configuration = try defaults.applying(environment: [
            "OTEL_EXPORTER_OTLP_HEADERS": "api-key=a%20b, team=x",
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "team=logs",
        ])
        #expect(configuration.headers[.traces] == ["api-key": "a b", "team": "x"])
        #expect(configuration.headers[.logs] == ["api-key": "a b", "team": "logs"])
    }

    /// Read as Foundation's `removingPercentEncoding` reads them (which the product no longer links): a `%` that
    /// starts no pair, or bytes that are not UTF-8, leave the value as it was given.
    @Test(arguments: ["a%20b", "%C3%A9t%C3%A9", "100%", "%zz", "%+1x", "%-1x", "%FF%FE", "%2", "plain", "%25%32%30"])
    func percentEncodingIsReadAsFoundationReadsIt(value: String) throws {
        let read = try OTLPExporterConfiguration.keyValues("key=\(value)", variable: "TEST")
        #expect(read == ["key": value.removingPercentEncoding ?? value])
    }

    @Test func protocolTimeoutTemporalityAndResource() throws {
        let configuration = try defaults.applying(environment: [
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "Delta",
            "OTEL_RESOURCE_ATTRIBUTES": "service.name=from-resource,team=payments,cost.centre=cc%2042",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
            "OTEL_METRIC_EXPORT_INTERVAL": "15000",
        ])
        #expect(configuration.metricExportInterval == .seconds(15))
        #expect(configuration.wireProtocol(for: .logs) == .json)
        #expect(configuration.wireProtocol(for: .metrics) == .protobuf)
        #expect(configuration.timeout(for: .traces) == .milliseconds(2500))
        #expect(configuration.temporality == .delta)
        #expect(configuration.serviceName == "from-resource")
        #expect(configuration.resourceAttributes == ["team": "payments", "cost.centre": "cc 42"])
        #expect(configuration.compression(for: .traces) == .gzip)
        #expect(
            try defaults.applying(environment: [
                "OTEL_SERVICE_NAME": "svc", "OTEL_RESOURCE_ATTRIBUTES": "service.name=r",
            ]).serviceName == "svc"
        )
    }

    @Test func nothingIsConfiguredByDefault() throws {
        let configuration = try defaults.applying(environment: [:])
        #expect(!configuration.hasEndpoint)
        // Unset: the metric names' own then, cumulative for the GenAI conventions' (`CodexMetricNamesTests`).
        #expect(configuration.temporality == nil)
        #expect(
            try defaults.applying(environment: ["OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "cumulative"])
                .temporality == .cumulative
        )
        #expect(configuration.wireProtocol(for: .logs) == .protobuf)
        #expect(configuration.scheduleDelay(for: .logs) == .seconds(1))
        #expect(configuration.scheduleDelay(for: .traces) == .seconds(1))
    }

    /// The batch delays, as the specification names them: one for the log record processor, one for the span's.
    @Test func scheduleDelaysAreReadForLogsAndSpans() throws {
        let configuration = try defaults.applying(environment: [
            "OTEL_BLRP_SCHEDULE_DELAY": "250", "OTEL_BSP_SCHEDULE_DELAY": "5000",
        ])
        #expect(configuration.scheduleDelay(for: .logs) == .milliseconds(250))
        #expect(configuration.scheduleDelay(for: .traces) == .seconds(5))
        #expect(throws: OTLPConfigurationError.self) {
            try defaults.applying(environment: ["OTEL_BSP_SCHEDULE_DELAY": "0"])
        }
    }

    @Test(arguments: [
        ["OTEL_EXPORTER_OTLP_PROTOCOL": "thrift"],
        ["OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://collector?token=s3cret"],
        ["OTEL_EXPORTER_OTLP_HEADERS": "novalue-s3cret"],
        ["OTEL_EXPORTER_OTLP_TIMEOUT": "soon"],
        ["OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "sometimes"],
        ["OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"],
        ["OTEL_BLRP_SCHEDULE_DELAY": "-1"],
    ])
    func badValuesAreClearErrorsThatDoNotRepeatSecrets(environment: [String: String]) {
        #expect {
            _ = try defaults.applying(environment: environment)
        } throws: { error in
            let message = "\(error)"
            return message.contains("OTEL_") && !message.contains("s3cret")
        }
    }

    /// A header that would corrupt or forge the request: refused where it is configured, naming the variable and
    /// never the value.
    @Test(arguments: [
        ("OTEL_EXPORTER_OTLP_HEADERS", "content-length=5"), ("OTEL_EXPORTER_OTLP_HEADERS", "bad name=x"),
        ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "x-key=secret%0D%0AInjected: yes"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "Host=elsewhere"),
    ])
    func headersThatCannotBeSentAreRefused(variable: String, value: String) {
        #expect {
            try defaults.applying(environment: [variable: value])
        } throws: { error in
            let message = (error as? OTLPConfigurationError)?.message ?? ""
            return message.hasPrefix(variable) && !message.contains("secret") && !message.contains("elsewhere")
        }
    }

    @Test func ordinaryHeadersPass() throws {
        let parsed = try OTLPExporterConfiguration.headers(
            "Authorization=Bearer a.b-c,x-team=payments\tops",
            variable: "x"
        )
        #expect(parsed == ["Authorization": "Bearer a.b-c", "x-team": "payments\tops"])
    }
}
