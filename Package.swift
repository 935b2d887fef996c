// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "codex-telemetry",
    products: [
        .library(name: "JSONRPC", targets: ["JSONRPC"]),
        .library(name: "CodexAppServer", targets: ["CodexAppServer"]),
        .library(name: "CodexTelemetry", targets: ["CodexTelemetry"]),
        .executable(name: "codex-telemetry", targets: ["CodexTelemetryCLI"]),
    ],
    targets: [
        .target(name: "JSONRPC"),
        .target(name: "CodexAppServer", dependencies: ["JSONRPC"]),
        .target(name: "CodexTelemetry", dependencies: ["CodexAppServer", "JSONRPC"]),
        .executableTarget(
            name: "CodexTelemetryCLI",
            dependencies: ["CodexTelemetry", "CodexAppServer", "JSONRPC"]
        ),
        .executableTarget(
            name: "ReplayBenchmark",
            dependencies: ["CodexTelemetry"],
            path: "Benchmarks/ReplayBenchmark"
        ),
        .target(name: "TestSupport", dependencies: ["CodexAppServer", "JSONRPC"], path: "Tests/TestSupport"),
        .testTarget(name: "JSONRPCTests", dependencies: ["JSONRPC", "TestSupport"]),
        .testTarget(name: "CodexAppServerTests", dependencies: ["CodexAppServer", "TestSupport"]),
        .testTarget(name: "CodexTelemetryTests", dependencies: ["CodexTelemetry", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["CodexTelemetry", "CodexAppServer", "TestSupport"]),
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
