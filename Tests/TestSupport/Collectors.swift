public import Foundation
import JSON
package import JSONRPC
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A free TCP port on loopback (bound, read, released: another process could take it, rarely), and never one
/// handed out before in this run: a test that leaves its port unheard for a while (a collector down at first) must
/// not see another test's collector start there, which the kernel's choice alone allows now and then.
public func freePort() -> Int {
    while true {
        let port = boundAndReleasedPort()
        if handedOutPorts.withLock({ $0.insert(port).inserted }) { return port }
    }
}

private let handedOutPorts = Mutex<Set<Int>>([])

private func boundAndReleasedPort() -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
    }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether something accepts connections on `port` now.
public func isListening(_ port: Int) -> Bool {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    // A port from the ephemeral range can be connected to with nothing listening: when the kernel picks that same
    // port as the connection's own, the socket meets itself. That is not a listener.
    var local = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &local) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    return connected == 0 && named == 0 && local.sin_port != UInt16(port).bigEndian
}

/// `rotel-agent`, a real collector, printing what it decoded; parsed into records as it arrives.
public final class Rotel: Sendable {
    /// One decoded item: a log record, a span or a metric data point.
    public struct Item: Sendable {
        public var kind: String
        /// `EventName`, span `Name`, or the metric's name.
        public var name = ""
        public var attributes: [String: String] = [:]
        public var fields: [String: String] = [:]
    }

    public let port: Int
    /// Where its OTLP/gRPC receiver listens.
    public let grpcPort = freePort()
    private let process: ChildProcess
    private let store = ItemStore()
    private let output = ToolOutput()

    private final class ItemStore: Sendable {
        let items = Mutex<[Item]>([])
        /// Each metric's descriptor as printed: `Unit`, `DataType`, `AggregationTemporality`, `IsMonotonic`, ….
        let descriptors = Mutex<[String: [String: String]]>([:])
        /// Whether the lines read are a resource's attributes, which belong to no item.
        let inResource = Mutex(false)

        /// Reads one line of rotel's detailed debug output; `metric` is the name of the metric being printed.
        func read(_ line: String, metric: inout String) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            func field(_ prefix: String) -> String? {
                guard trimmed.hasPrefix(prefix) else { return nil }
                let rest = trimmed.dropFirst(prefix.count).drop { $0 == " " }
                return rest.hasPrefix(":") ? rest.dropFirst().trimmingCharacters(in: .whitespaces) : nil
            }
            func update(_ change: (inout Item) -> Void) {
                items.withLock { items in
                    if !items.isEmpty { change(&items[items.count - 1]) }
                }
            }
            if trimmed.hasPrefix("Resource attributes") {
                inResource.withLock { $0 = true }
                return
            }
            let startsItem = ["LogRecord #", "Span #", "NumberDataPoints #", "HistogramDataPoints #", "-> Name:"]
            if startsItem.contains(where: trimmed.hasPrefix) { inResource.withLock { $0 = false } }
            if inResource.withLock({ $0 }) { return }
            if trimmed.hasPrefix("LogRecord #") {
                items.withLock { $0.append(Item(kind: "log")) }
            } else if trimmed.hasPrefix("Span #") {
                items.withLock { $0.append(Item(kind: "span")) }
            } else if trimmed.hasPrefix("NumberDataPoints #") || trimmed.hasPrefix("HistogramDataPoints #") {
                items.withLock { $0.append(Item(kind: "point", name: metric)) }
            } else if trimmed.hasPrefix("-> Name:") {
                metric = trimmed.dropFirst("-> Name:".count).trimmingCharacters(in: .whitespaces)
                descriptors.withLock { [metric] in $0[metric] = [:] }
            } else if let key = ["Description", "Unit", "DataType", "IsMonotonic", "AggregationTemporality"].first(
                where: { trimmed.hasPrefix("-> \($0):") }
            ) {
                let value = trimmed.dropFirst("-> \(key):".count).trimmingCharacters(in: .whitespaces)
                descriptors.withLock { [metric] in $0[metric, default: [:]][key] = value }
            } else if trimmed.hasPrefix("-> "), let colon = trimmed.firstIndex(of: ":") {
                let key = String(trimmed[trimmed.index(trimmed.startIndex, offsetBy: 3)..<colon])
                var value = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                if let open = value.firstIndex(of: "("), value.hasSuffix(")") {
                    value = String(value[value.index(after: open)..<value.index(before: value.endIndex)])
                }
                update { $0.attributes[key] = value }
            } else if let name = field("EventName") ?? (trimmed.hasPrefix("Name ") ? field("Name") : nil) {
                update { $0.name = name }
            } else if let key = [
                "Trace ID", "Parent ID", "ID", "Kind", "Status code", "Count", "Sum", "Value", "Timestamp",
            ]
            .first(where: { field($0) != nil }) {
                update { $0.fields[key] = field(key) }
            }
        }
    }

    public init(port: Int = freePort()) async throws {
        self.port = port
        process = try TestTools.launch(
            ChildProcess.Configuration(
                executable: try TestTools.rotel(),
                arguments: [
                    "start", "--otlp-http-endpoint", "127.0.0.1:\(port)", "--otlp-grpc-endpoint",
                    "127.0.0.1:\(grpcPort)",
                    "--exporter", "blackhole", "--debug-log", "logs", "--debug-log", "traces", "--debug-log", "metrics",
                    "--debug-log-verbosity", "detailed", "--batch-timeout", "100ms",
                ],
                environment: ["PATH": "/usr/bin:/bin", "NO_COLOR": "1"]
            )
        )
        Task { [process, store, output] in
            var metric = ""
            for await bytes in process.lines {
                let line = String(decoding: bytes, as: UTF8.self)
                output.append(line)
                store.read(line, metric: &metric)
            }
        }
        try await process.waitUntilReady("rotel (OTLP on ports \(port) and \(grpcPort))", output: output) {
            isListening(port) && isListening(grpcPort)
        }
    }

    /// Everything decoded so far.
    public var items: [Item] { store.items.withLock { $0 } }

    /// The descriptor of each metric received, by name: `Unit`, `DataType`, `AggregationTemporality`, ….
    public var metricDescriptors: [String: [String: String]] { store.descriptors.withLock { $0 } }

    /// Waits until `condition` holds for what was decoded, or `limit` passes; returns what was decoded.
    public func items(
        within limit: Duration = TestTools.patience,
        until condition: ([Item]) -> Bool
    ) async throws -> [Item] {
        if try await TestTools.eventually(within: limit, { condition(items) }) {
            // Let a duplicate, if any, arrive too.
            try await Task.sleep(for: .milliseconds(500))
        }
        return items
    }

    public func stop() async {
        await process.terminate(grace: .milliseconds(300))
    }
}

/// `scripts/stand-in-collector.py` (OTLP/HTTP) or `scripts/stand-in-grpc-collector.py` (OTLP/gRPC): answers from
/// a script, saves every body, counts items with the official definitions.
public final class StandInCollector: Sendable {
    public struct Request: Sendable, Decodable {
        public var path: String
        /// The answer given, as the script names it.
        public var status: String
        public var items: Int
        public var contentType: String
        public var headers: [String]
        /// When it came, in seconds since 1970 (gRPC only).
        public var time: Double?
    }

    public let port: Int
    /// Where each request body, and its description, is saved.
    public let bodies: URL
    /// The PEM file of the certificate an https collector presents.
    public let certificate: String?
    private let process: ChildProcess

    /// With `tls`, the collector speaks https only, with a certificate made for it: `certificate`. With `grpc`, it
    /// speaks OTLP/gRPC, and `respond` names gRPC answers (`ok`, `unavailable`, …; see its script).
    public init(
        respond: String,
        retryAfter: Int? = nil,
        location: String? = nil,
        tls: Bool = false,
        grpc: Bool = false,
        port: Int = freePort()
    ) async throws {
        self.port = port
        bodies = try TestTools.makeTemporaryDirectory("bodies")
        let name = grpc ? "stand-in-grpc-collector.py" : "stand-in-collector.py"
        let script = TestTools.packageRoot.appendingPathComponent("scripts/\(name)").path
        var arguments = [script, "--port", "\(port)", "--save-dir", bodies.path, "--respond", respond]
        if let retryAfter { arguments += ["--retry-after", "\(retryAfter)"] }
        if let location { arguments += ["--location", location] }
        let tlsDirectory = try tls ? TestTools.makeTemporaryDirectory("tls") : nil
        if let tlsDirectory { arguments += ["--tls-dir", tlsDirectory.path] }
        certificate = tlsDirectory?.appendingPathComponent("certificate.pem").path
        process = try TestTools.launch(
            ChildProcess.Configuration(executable: try TestTools.otelPython(), arguments: arguments)
        )
        // Its line, not a connection, says it is ready: it listens before it has made its certificate, and a
        // connection could reach another server that took the port since `freePort` let it go.
        let output = ToolOutput(readyLine: "listening ")
        process.keepOutput(in: output)
        try await process.waitUntilReady("the stand-in collector (\(name), port \(port))", output: output) {
            output.announced == "\(port)"
        }
    }

    /// The requests received, in order, each described by the collector before it answered: so every request a
    /// command saw answered is here when the command ends.
    public var requests: [Request] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: bodies.path)) ?? []
        return names.filter { $0.hasSuffix(".request.json") }.sorted().compactMap { name in
            (try? Data(contentsOf: bodies.appendingPathComponent(name))).flatMap {
                try? JSONDecoder().decode(Request.self, from: $0)
            }
        }
    }

    /// Items received per signal path (`/v1/logs`, …), whatever order the requests came in.
    public var itemsByPath: [String: Int] {
        requests.reduce(into: [:]) { $0[$1.path, default: 0] += $1.items }
    }

    /// Every byte the collector was sent.
    public func receivedBytes() throws -> [UInt8] {
        try FileManager.default.contentsOfDirectory(atPath: bodies.path).filter { $0.hasSuffix(".body") }.flatMap {
            Array(try Data(contentsOf: bodies.appendingPathComponent($0)))
        }
    }

    public func stop() async {
        await process.terminate(grace: .milliseconds(200))
    }
}

/// What a run of the built `codex-telemetry` did.
public struct CommandOutcome: Sendable {
    package var status: ChildProcess.Termination
    public var stdout: String
    public var stderr: String

    /// The cells of the summary table's row for `key` (`Total` for the total), as standard output holds it; cells
    /// are apart by two spaces or more. `nil` when there is no such row.
    public func tableRow(_ key: String) -> [String]? {
        stdout.split(separator: "\n").first { $0.hasPrefix(key + "  ") }.map { line in
            line.split(separator: "  ", omittingEmptySubsequences: true).map { $0.trimmingCharacters(in: .whitespaces) }
        }
    }
}

extension TestTools {
    /// Runs the built `codex-telemetry` with `arguments`, our environment plus `environment`, to its end.
    ///
    /// - Parameters:
    ///   - stdout: a file to give it as stdout (`/dev/full`, say) instead of a pipe to the test.
    ///   - unprivileged: run it as `nobody` when the tests run as root, for whom no permission bit is a barrier.
    ///   - limit: when given, a run still going after it is killed (and ends `signalled(9)`, which no test
    ///     expects): for a run that must end by itself, however long a loaded machine makes it.
    public static func runCLI(
        _ arguments: [String],
        environment: [String: String] = [:],
        stdout: String? = nil,
        unprivileged: Bool = false,
        within limit: Duration? = nil
    ) async throws -> CommandOutcome {
        let process = try startCLI(arguments, environment: environment, stdout: stdout, unprivileged: unprivileged)
        guard let limit else { return await process.finish() }
        return await process.finish(within: limit)
    }

    /// Starts the built `codex-telemetry`; `finish()` collects its outcome. Parameters as for `runCLI`.
    public static func startCLI(
        _ arguments: [String],
        environment: [String: String] = [:],
        stdout: String? = nil,
        unprivileged: Bool = false
    ) throws -> RunningCLI {
        let stderrFile = FileManager.default.temporaryDirectory.appendingPathComponent("stderr-\(UUID())")
        let asNobody =
            unprivileged && geteuid() == 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : []
        let command = (asNobody + [try cli()] + arguments).map { "'\($0)'" }.joined(separator: " ")
        let redirection = stdout.map { " >'\($0)'" } ?? ""
        // A state folder of its own, unless the test names one: runs that shared the user's default spool would
        // send each other's batches, each to its own collector.
        var environment = environment
        if environment["XDG_STATE_HOME"] == nil, asNobody.isEmpty {
            environment["XDG_STATE_HOME"] = try makeTemporaryDirectory("state").path
        }
        let process = try ChildProcess(
            ChildProcess.Configuration(
                executable: "sh",
                arguments: ["-c", "exec \(command)\(redirection) 2>'\(stderrFile.path)'"],
                environment: ProcessInfo.processInfo.environment.merging(environment) { $1 }
            )
        )
        return RunningCLI(process: process, stderrFile: stderrFile)
    }
}

extension TestTools {
    /// What a run of the built `codex-telemetry` cost.
    public struct ResourceUse: Sendable {
        public var status: Int
        public var stderr: String
        /// Peak resident memory.
        public var peakKiB: Int
        /// User and system CPU time.
        public var cpuSeconds: Double
    }

    /// Runs the built `codex-telemetry` to its end under a Python parent that reads what its child used
    /// (`getrusage`); stdout is discarded.
    public static func runCLIMeasuringResources(
        _ arguments: [String],
        environment: [String: String] = [:]
    ) async throws -> ResourceUse {
        let script = """
            import json, os, resource, subprocess, sys
            environment = dict(os.environ, **json.loads(sys.argv[1]))
            run = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment)
            use = resource.getrusage(resource.RUSAGE_CHILDREN)
            print(json.dumps({"status": run.returncode, "stderr": run.stderr.decode(errors="replace"),
                              "peak": use.ru_maxrss, "cpu": use.ru_utime + use.ru_stime}))
            """
        let variables = String(
            decoding: JSONValue.object(JSONObject(environment.mapValues(JSONValue.string))).serialized(),
            as: UTF8.self
        )
        let (_, stdout) = try await output(of: "python3", ["-c", script, variables, try cli()] + arguments)
        let report = try JSONValue(parsing: stdout)
        return ResourceUse(
            status: Int(report["status"]?.int ?? -1),
            stderr: report["stderr"]?.string ?? "",
            peakKiB: Int(report["peak"]?.int ?? .max),
            cpuSeconds: report["cpu"]?.double ?? .infinity
        )
    }
}

/// A `codex-telemetry` started by a test.
public struct RunningCLI: Sendable {
    package let process: ChildProcess
    let stderrFile: URL

    /// What it has written on stderr so far.
    public var stderrSoFar: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }

    /// Sends `signal` once the command has taken it over from its default action (it then ignores it, and hears
    /// it on a queue of its own): a stop asked for before that would end it as it ends any program, and a loaded
    /// machine can take a while to get there. A command that has ended is sent nothing.
    public func send(_ signal: Int32) async throws {
        try await TestTools.eventually { process.termination != nil || process.hears(signal) }
        if process.termination == nil { kill(process.pid, signal) }
    }

    /// Whether the command has taken `signal` over from its default action (`ChildProcess.hears`).
    public func hears(_ signal: Int32) -> Bool { process.hears(signal) }

    /// `finish()`, for a run that must end by itself within `limit`: past it, it is killed (and ends `signalled(9)`,
    /// which no test expects), so a run that hangs fails its test rather than hanging it.
    public func finish(within limit: Duration) async -> CommandOutcome {
        let killer = Task { [process] in
            try await Task.sleep(for: limit)
            kill(process.pid, SIGKILL)
        }
        defer { killer.cancel() }
        return await finish()
    }

    public func finish() async -> CommandOutcome {
        var stdout: [String] = []
        for await line in process.lines { stdout.append(String(decoding: line, as: UTF8.self)) }
        let status = await process.waitForExit()
        let stderr = (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? ""
        return CommandOutcome(status: status, stdout: stdout.joined(separator: "\n"), stderr: stderr)
    }
}
