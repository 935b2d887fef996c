// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "codex-telemetry",
    products: [
        // One product for embedders: the harness and the layers under it, each a module of its own (see the
        // "Embedding" article of CodexHarness's documentation).
        .library(
            name: "CodexTelemetry",
            targets: ["CodexHarness", "CodexTelemetry", "CodexAppServer", "OTLP", "OTLPExport", "JSONRPC", "JSON"]
        ),
        .executable(name: "codex-telemetry", targets: ["CodexTelemetryCLI"]),
    ],
    targets: [
        .target(name: "SaturatingArithmetic"),
        .target(name: "DescriptorIO"),
        .target(name: "CivilTime"),
        .target(name: "JSON"),
        .target(name: "JSONRPC", dependencies: ["DescriptorIO", "JSON", "SaturatingArithmetic"]),
        .target(name: "CodexAppServer", dependencies: ["JSON", "JSONRPC", "SaturatingArithmetic"]),
        .target(name: "OTLP", dependencies: ["JSON", "SaturatingArithmetic"]),
        .target(
            name: "OTLPExport",
            dependencies: ["CivilTime", "DescriptorIO", "JSON", "OTLP", "SaturatingArithmetic"]
        ),
        .target(
            name: "CodexTelemetry",
            dependencies: ["CivilTime", "CodexAppServer", "JSON", "JSONRPC", "OTLP", "SaturatingArithmetic"]
        ),
        // Session files replayed and followed: both cores for a replay, a cursor for resuming, what crosses files.
        .target(
            name: "CodexReplay",
            dependencies: [
                "CodexHarness", "CodexTelemetry", "DescriptorIO", "JSON", "JSONRPC", "OTLPExport",
                "SaturatingArithmetic",
            ]
        ),
        // Reports for people: totals by period, model, session, source or project, as tables, JSON, CSV and HTML.
        .target(
            name: "CodexReport",
            dependencies: ["CivilTime", "CodexTelemetry", "JSON", "OTLP", "SaturatingArithmetic"]
        ),
        .target(
            name: "CodexHarness",
            dependencies: [
                "CodexAppServer", "CodexTelemetry", "DescriptorIO", "JSONRPC", "OTLP", "OTLPExport",
                "SaturatingArithmetic",
            ]
        ),
        .executableTarget(
            name: "CodexTelemetryCLI",
            dependencies: [
                "CodexHarness", "CodexReplay", "CodexReport", "CodexTelemetry", "CodexAppServer", "DescriptorIO",
                "JSON", "JSONRPC", "OTLP", "OTLPExport", "SaturatingArithmetic",
            ]
        ),
        .executableTarget(
            name: "ReplayBenchmark",
            dependencies: ["CodexTelemetry", "OTLP"],
            path: "Benchmarks/ReplayBenchmark"
        ),
        .executableTarget(
            name: "HarnessExample",
            dependencies: ["CodexAppServer", "CodexHarness", "CodexTelemetry", "OTLP", "OTLPExport"],
            path: "Examples/HarnessExample"
        ),
        // The differential fuzz target: `scripts/fuzz` builds it for libFuzzer.
        .executableTarget(
            name: "ReplayFuzz",
            dependencies: ["CodexTelemetry", "JSON", "OTLPExport"],
            path: "Tests/Fuzz"
        ),
        .target(
            name: "TestSupport",
            dependencies: ["CodexAppServer", "CodexTelemetry", "JSON", "JSONRPC"],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "JSONRPCTests", dependencies: ["DescriptorIO", "JSON", "JSONRPC", "TestSupport"]),
        .testTarget(name: "CodexAppServerTests", dependencies: ["CodexAppServer", "JSON", "JSONRPC", "TestSupport"]),
        .testTarget(
            name: "CodexTelemetryTests",
            dependencies: ["CodexTelemetry", "JSON", "JSONRPC", "OTLP", "OTLPExport", "TestSupport"],
            exclude: ["Snapshots"]
        ),
        .testTarget(
            name: "OTLPTests",
            dependencies: ["OTLP", "OTLPExport", "JSON", "JSONRPC", "TestSupport"],
            exclude: ["Golden"]
        ),
        .testTarget(name: "CodexReportTests", dependencies: ["CodexReport", "CodexTelemetry", "JSON", "TestSupport"]),
        .testTarget(name: "CodexReplayTests", dependencies: ["CodexReplay", "DescriptorIO"]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "CodexHarness", "CodexReport", "CodexTelemetry", "CodexAppServer", "JSON", "JSONRPC", "TestSupport",
            ],
            exclude: ["Screenshots"]
        ),
    ]
)

// Strict settings on every target, as swift-log does: every cross-module edge is explicit.
for target in package.targets {
    target.swiftSettings =
        (target.swiftSettings ?? []) + [
            .enableUpcomingFeature("ExistentialAny"),
            .enableUpcomingFeature("MemberImportVisibility"),
            .enableUpcomingFeature("InternalImportsByDefault"),
        ]
}
