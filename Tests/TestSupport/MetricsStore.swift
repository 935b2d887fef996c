import Foundation
import JSON
import JSONRPC

/// A store the dashboards' queries run against, asked through Prometheus's HTTP API: Debian's Prometheus, which
/// scrapes, or Debian's VictoriaMetrics, which takes metrics over OTLP (at `/opentelemetry/v1/metrics`, named as
/// Prometheus names them). `scripts/install-test-tools` unpacks both into `.tools`.
public final class MetricsStore: Sendable {
    public enum Kind: Sendable {
        /// Prometheus, with this configuration (its YAML).
        case prometheus(configuration: String)
        case victoriaMetrics
    }

    public let port: Int
    private let process: ChildProcess
    private let output = ToolOutput()

    /// Prometheus' own checker of the text format, `promtool`.
    public static func promtool() throws -> String { try binary("prometheus/root/usr/bin/promtool") }

    static func binary(_ path: String) throws -> String {
        let binary = TestTools.packageRoot.appendingPathComponent(".tools/\(path)").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw MissingTool(name: URL(fileURLWithPath: path).lastPathComponent)
        }
        return binary
    }

    /// Starts the store, and waits until it says it is ready.
    public init(_ kind: Kind, port: Int = freePort()) async throws {
        self.port = port
        let folder = try TestTools.makeTemporaryDirectory("metrics-store")
        let configuration: ChildProcess.Configuration
        switch kind {
        case .prometheus(let yaml):
            let file = folder.appendingPathComponent("prometheus.yml")
            try Data(yaml.utf8).write(to: file)
            configuration = ChildProcess.Configuration(
                executable: try Self.binary("prometheus/root/usr/bin/prometheus"),
                arguments: [
                    "--config.file=\(file.path)", "--storage.tsdb.path=\(folder.appendingPathComponent("data").path)",
                    "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
                ]
            )
        case .victoriaMetrics:
            // What it takes is searchable at once (no latency offset), and kept whatever its age.
            configuration = ChildProcess.Configuration(
                executable: try Self.binary("victoria-metrics/root/usr/bin/victoria-metrics"),
                arguments: [
                    "-httpListenAddr=127.0.0.1:\(port)",
                    "-storageDataPath=\(folder.appendingPathComponent("data").path)",
                    "-opentelemetry.usePrometheusNaming", "-retentionPeriod=100y", "-search.latencyOffset=0s",
                    "-loggerLevel=WARN",
                ]
            )
        }
        process = try TestTools.launch(configuration)
        Task { [process, output] in
            for await bytes in process.lines { output.append(String(decoding: bytes, as: UTF8.self)) }
        }
        try await process.waitUntilReady("\(configuration.executable) (on port \(port))", output: output) {
            guard isListening(port) else { return false }
            let path = if case .victoriaMetrics = kind { "/health" } else { "/-/ready" }
            return (try? await self.get(path)) != nil
        }
    }

    /// The body of a GET of `path` (with its query).
    func get(_ path: String) async throws -> String {
        try await TestTools.fetch("http://127.0.0.1:\(port)\(path)")
    }

    /// The series an instant query gives now: each one's labels and value, as Prometheus writes them.
    public func query(_ expression: String) async throws -> [Series] {
        try await query([expression])[0]
    }

    /// The series of each instant query, asked in one go: a dashboard makes a hundred of them.
    public func query(_ expressions: [String]) async throws -> [[Series]] {
        let paths = expressions.map { "http://127.0.0.1:\(port)/api/v1/query?query=\(Self.encoded($0))" }
        return try zip(expressions, try await TestTools.fetch(paths)).map { expression, body in
            let answer = try JSONValue(parsing: body)
            guard answer["status"]?.string == "success", let result = answer["data"]?["result"]?.array else {
                throw MetricsStoreError("\(expression): \(answer["error"]?.string ?? "no result")")
            }
            return result.map { series in
                let labels =
                    series["metric"]?.object.map { object in
                        Dictionary(
                            object.map { ($0.key, $0.value.string ?? "") },
                            uniquingKeysWith: { first, _ in first }
                        )
                    } ?? [:]
                return Series(labels: labels, value: series["value"]?.array?.last?.string ?? "")
            }
        }
    }

    /// A series of a query's answer: its labels, and its value as Prometheus writes it.
    public struct Series: Sendable {
        public var labels: [String: String]
        public var value: String
    }

    private static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }

    /// The values a label has across the series `match` selects (what Grafana's `label_values` lists).
    public func labelValues(_ label: String, match: String) async throws -> [String] {
        let answer = try JSONValue(
            parsing: try await get("/api/v1/label/\(label)/values?match[]=\(Self.encoded(match))")
        )
        return answer["data"]?.array?.compactMap(\.string) ?? []
    }

    /// The end of what the store printed (warnings and errors).
    public var log: String { process.stderrText }

    public func stop() async {
        _ = await process.terminate(grace: .seconds(2))
    }
}

extension TestTools {
    /// The body of a GET of `url`; throws unless the answer is a 2xx.
    public static func fetch(_ url: String) async throws -> String {
        try await fetch([url])[0]
    }

    /// The bodies of GETs of `urls`, in order, by one process; throws unless every answer is a 2xx.
    public static func fetch(_ urls: [String]) async throws -> [String] {
        let fetch = """
            import json, sys, urllib.request
            json.dump([urllib.request.urlopen(url).read().decode() for url in sys.argv[1:]], sys.stdout)
            """
        let (status, body) = try await output(of: "python3", ["-c", fetch] + urls)
        guard status == .exited(0), let bodies = try? JSONValue(parsing: body).array?.compactMap(\.string),
            bodies.count == urls.count
        else { throw MetricsStoreError("GET \(urls.first ?? "")…: \(status)") }
        return bodies
    }
}

public struct MetricsStoreError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
