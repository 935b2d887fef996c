import Foundation
import OTLP
import Testing

/// Metrics as a scrape reads them: named as Prometheus names what it receives over OTLP, so that one dashboard
/// reads a scrape and a push alike. (`DashboardTests` has a real Prometheus read them.)
struct PrometheusExpositionTests {
    static func metric(_ name: String, unit: String, _ data: OTLPMetric.Data, description: String = "") -> OTLPMetric {
        OTLPMetric(name: name, description: description, unit: unit, temporality: .cumulative, data: data)
    }

    static let sum = OTLPMetric.Data.sum([], isMonotonic: true)
    static let histogram = OTLPMetric.Data.histogram([])
    static let gauge = OTLPMetric.Data.gauge([])

    @Test(arguments: [
        ("gen_ai.client.token.usage", "{token}", histogram, "gen_ai_client_token_usage"),
        ("gen_ai.client.operation.duration", "s", histogram, "gen_ai_client_operation_duration_seconds"),
        ("codex.cost.usd", "USD", sum, "codex_cost_usd_USD_total"),
        ("codex.turns", "{turn}", sum, "codex_turns_total"),
        ("codex.active_time.total", "s", sum, "codex_active_time_seconds_total"),
        ("codex.rate_limit.used_percent", "%", gauge, "codex_rate_limit_used_percent"),
        ("codex.rate_limit.window_minutes", "min", gauge, "codex_rate_limit_window_minutes"),
        ("codex.rate_limit.resets_at", "s", gauge, "codex_rate_limit_resets_at_seconds"),
        ("codex.context.utilization", "1", histogram, "codex_context_utilization"),
        ("cache.hit", "1", gauge, "cache_hit_ratio"),
        ("codex.turn.e2e_duration_ms", "ms", histogram, "codex_turn_e2e_duration_ms_milliseconds"),
        ("codex.tool.call", "", sum, "codex_tool_call_total"),
        ("net.io", "By/s", sum, "net_io_bytes_per_second_total"),
        ("2xx..answers", "", gauge, "_2xx_answers"),
    ])
    func namesAreWhatPrometheusGivesTheSameMetricOverOTLP(
        name: String,
        unit: String,
        data: OTLPMetric.Data,
        expected: String
    ) {
        #expect(PrometheusExposition.name(of: Self.metric(name, unit: unit, data)) == expected)
    }

    @Test func everySeriesWithItsLabelsBucketsTargetAndScope() {
        let model = OTLPAttribute("gen_ai.request.model", .string("gpt-5.5"))
        let metrics = [
            Self.metric(
                "codex.turns",
                unit: "{turn}",
                .sum(
                    [
                        .init(
                            attributes: [model, OTLPAttribute("codex.turn.status", .string("completed"))],
                            startTimeUnixNano: 1,
                            timeUnixNano: 2,
                            value: 8
                        ),
                        .init(
                            attributes: [model, OTLPAttribute("codex.turn.status", .string("failed"))],
                            startTimeUnixNano: 1,
                            timeUnixNano: 2,
                            value: 1
                        ),
                    ],
                    isMonotonic: true
                ),
                description: "Turns by status"
            ),
            Self.metric(
                "gen_ai.client.operation.duration",
                unit: "s",
                .histogram([
                    .init(
                        attributes: [model],
                        startTimeUnixNano: 1,
                        timeUnixNano: 2,
                        count: 4,
                        sum: 2.5,
                        min: 0.1,
                        max: 1.5,
                        bucketCounts: [1, 2, 1],
                        explicitBounds: [0.2, 1]
                    )
                ])
            ),
            Self.metric(
                "codex.rate_limit.used_percent",
                unit: "%",
                .gauge([.init(attributes: [], startTimeUnixNano: 1, timeUnixNano: 2, value: 42.5)])
            ),
        ]
        let resource = OTLPResource(attributes: [
            OTLPAttribute("service.name", .string("codex-telemetry")), OTLPAttribute("team", .string("infra")),
        ])
        let text = String(
            decoding: PrometheusExposition.text(metrics, resource: resource, scope: OTLPScope(name: "s", version: "1")),
            as: UTF8.self
        )
        let scope = #"otel_scope_name="s",otel_scope_version="1""#
        #expect(
            text == """
                # HELP target_info Target metadata
                # TYPE target_info gauge
                target_info{service_name="codex-telemetry",team="infra"} 1
                # HELP codex_turns_total Turns by status
                # TYPE codex_turns_total counter
                codex_turns_total{codex_turn_status="completed",gen_ai_request_model="gpt-5.5",\(scope)} 8
                codex_turns_total{codex_turn_status="failed",gen_ai_request_model="gpt-5.5",\(scope)} 1
                # TYPE gen_ai_client_operation_duration_seconds histogram
                gen_ai_client_operation_duration_seconds_bucket{gen_ai_request_model="gpt-5.5",le="0.2",\(scope)} 1
                gen_ai_client_operation_duration_seconds_bucket{gen_ai_request_model="gpt-5.5",le="1",\(scope)} 3
                gen_ai_client_operation_duration_seconds_bucket{gen_ai_request_model="gpt-5.5",le="+Inf",\(scope)} 4
                gen_ai_client_operation_duration_seconds_sum{gen_ai_request_model="gpt-5.5",\(scope)} 2.5
                gen_ai_client_operation_duration_seconds_count{gen_ai_request_model="gpt-5.5",\(scope)} 4
                # TYPE codex_rate_limit_used_percent gauge
                codex_rate_limit_used_percent{\(scope)} 42.5

                """
        )
    }

    /// Label names are made of letters, digits and `_`; values keep their text, with `\`, `"` and newlines escaped;
    /// two keys that make one name have their values joined. Descriptions are escaped too.
    @Test func labelsAndHelpAreEscaped() {
        let metric = Self.metric(
            "m",
            unit: "",
            .gauge([
                .init(
                    attributes: [
                        OTLPAttribute("a.b", .string("x")), OTLPAttribute("a-b", .string("y")),
                        OTLPAttribute("9lives", .int(9)), OTLPAttribute("_private", .bool(true)),
                        OTLPAttribute("quoted", .string("say \"hi\"\\\nbye")),
                    ],
                    startTimeUnixNano: 1,
                    timeUnixNano: 1,
                    value: 1
                )
            ]),
            description: "line one\nline \\two"
        )
        let text = String(
            decoding: PrometheusExposition.text(
                [metric],
                resource: OTLPResource(attributes: []),
                scope: .init(name: "s", version: "1")
            ),
            as: UTF8.self
        )
        #expect(text.contains(#"# HELP m line one\nline \\two"#))
        #expect(
            text.contains(
                #"m{key_9lives="9",key_private="true",a_b="y;x",otel_scope_name="s",otel_scope_version="1",quoted="say \"hi\"\\\nbye"} 1"#
            ),
            "\(text)"
        )
    }

    /// Two metrics that Prometheus names alike (one vocabulary's and another's) are one family, their series
    /// together: a second `# TYPE` for a name would make the whole scrape fail.
    @Test func metricsOfOneNameAreOneFamily() {
        func counter(_ name: String, _ value: Double, _ source: String) -> OTLPMetric {
            Self.metric(
                name,
                unit: "",
                .sum(
                    [
                        .init(
                            attributes: [OTLPAttribute("src", .string(source))],
                            startTimeUnixNano: 1,
                            timeUnixNano: 1,
                            value: value
                        )
                    ],
                    isMonotonic: true
                )
            )
        }
        let metrics = [counter("a.b", 1, "one"), counter("other", 5, "x"), counter("a_b", 2, "two")]
        let text = String(
            decoding: PrometheusExposition.text(
                metrics,
                resource: OTLPResource(attributes: []),
                scope: .init(name: "s", version: "1")
            ),
            as: UTF8.self
        )
        let lines = text.split(separator: "\n").filter { $0.hasPrefix("a_b_total") || $0.hasPrefix("# TYPE a_b") }
        #expect(lines.count == 3)
        #expect(lines.first == "# TYPE a_b_total counter")
        #expect(text.components(separatedBy: "# TYPE a_b_total").count == 2)
    }
}
