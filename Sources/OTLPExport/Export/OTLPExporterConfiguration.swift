public import FoundationEssentials
public import OTLP

#if canImport(Glibc)
import Glibc
#endif

/// Where and how to send OTLP, from the standard OpenTelemetry environment variables and flags.
///
/// Precedence: flags (set on the value by the caller) beat environment (`applying(environment:)`) beat defaults.
public struct OTLPExporterConfiguration: Sendable {
    /// The OTLP transports: the two OTLP/HTTP encodings, and OTLP/gRPC (protobuf over HTTP/2).
    public enum WireProtocol: String, Sendable, CaseIterable {
        /// `http/protobuf`, the default the OTLP specification gives.
        case protobuf = "http/protobuf"
        /// `http/json`.
        case json = "http/json"
        /// `grpc`: each signal's `Export` call, over HTTP/2 through libcurl.
        case grpc
    }

    /// The URL each signal is sent to; a signal without one is not exported.
    /// Environment: `OTEL_EXPORTER_OTLP_ENDPOINT` (a base, to which `/v1/logs` etc. are appended) and
    /// `OTEL_EXPORTER_OTLP_{LOGS,TRACES,METRICS}_ENDPOINT` (used as they are). Default: none. Over gRPC only the
    /// scheme, host and port count (4317 when none is given), as the specification says; see `grpcURL(for:)`.
    public var endpoints: [OTLPSignal: URL] = [:]
    /// Environment: `OTEL_EXPORTER_OTLP_PROTOCOL` and per signal. Default: `http/protobuf`.
    public var protocols: [OTLPSignal: WireProtocol] = [:]
    /// Extra request headers, for API keys: never printed or written to disk.
    /// Environment: `OTEL_EXPORTER_OTLP_HEADERS` (`key=value,…`, values percent-decoded) and per signal.
    public var headers: [OTLPSignal: [String: String]] = [:]
    /// How long one request may take. Environment: `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds) and per signal.
    /// Default: 10 seconds.
    public var timeouts: [OTLPSignal: Duration] = [:]
    /// Which signals to export. Default: all three.
    public var signals: Set<OTLPSignal> = Set(OTLPSignal.allCases)
    /// Environment: `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` (`cumulative`, `delta`; `lowmemory` means
    /// delta here, as every instrument is a counter or histogram). Default (`nil`): the metric names' own,
    /// cumulative for the GenAI conventions' and delta for Codex's, as Codex sends them.
    public var temporality: AggregationTemporality?
    /// How long a record may wait for its batch to fill: a quiet session's records still leave within it.
    /// Environment: `OTEL_BLRP_SCHEDULE_DELAY` (log records) and `OTEL_BSP_SCHEDULE_DELAY` (spans), in
    /// milliseconds. Default: 1 second.
    public var scheduleDelays: [OTLPSignal: Duration] = [:]
    /// How often a long run sends its metrics (and once more at its end).
    /// Environment: `OTEL_METRIC_EXPORT_INTERVAL` (milliseconds). Default: 60 seconds.
    public var metricExportInterval: Duration = .seconds(60)
    /// `service.name`. Environment: `OTEL_SERVICE_NAME`, else `service.name` in `OTEL_RESOURCE_ATTRIBUTES`.
    public var serviceName: String
    /// Further resource attributes (team, cost centre, …). Environment: `OTEL_RESOURCE_ATTRIBUTES`
    /// (`key=value,…`, values percent-decoded).
    public var resourceAttributes: [String: String] = [:]
    /// Whether request bodies are gzip-compressed. Environment: `OTEL_EXPORTER_OTLP_COMPRESSION` (`gzip` or
    /// `none`) and per signal. Default: none.
    public var compressions: [OTLPSignal: Compression] = [:]

    /// A PEM file of the certificates an https collector's must chain to, in place of the system's: a private CA.
    /// Environment: `OTEL_EXPORTER_OTLP_CERTIFICATE`. Default: the system's.
    public var trustedCertificates: String?

    /// Request body compression.
    public enum Compression: String, Sendable {
        case none, gzip
    }

    /// Creates the defaults: nothing to send to yet, and `service.name` set to `serviceName`.
    public init(serviceName: String) {
        self.serviceName = serviceName
    }

    /// The protocol for `signal`.
    public func wireProtocol(for signal: OTLPSignal) -> WireProtocol { protocols[signal] ?? .protobuf }

    /// The compression for `signal`.
    public func compression(for signal: OTLPSignal) -> Compression { compressions[signal] ?? .none }

    /// The request timeout for `signal`.
    public func timeout(for signal: OTLPSignal) -> Duration { timeouts[signal] ?? .seconds(10) }

    /// How long a record of `signal` may wait for its batch to fill.
    public func scheduleDelay(for signal: OTLPSignal) -> Duration { scheduleDelays[signal] ?? .seconds(1) }

    /// Where `signal` goes over gRPC: the endpoint's scheme, host and port (4317 when it has none), and the path of
    /// the signal's `Export` method. `nil` when the signal has no endpoint.
    package func grpcURL(for signal: OTLPSignal) -> URL? {
        guard let endpoint = endpoints[signal],
            var components = URLComponents(url: endpoint, resolvingAgainstBaseURL: false)
        else { return nil }
        components.port = components.port ?? 4317
        components.percentEncodedPath = signal.grpcMethodPath
        components.percentEncodedQuery = nil
        components.fragment = nil
        return components.url
    }

    /// A tag of where `signal` is sent, named in its spooled requests: a request waits for a run that sends to the
    /// same collector the same way, never goes to another one that shares the spool. The FNV-1a hash of the URL's
    /// scheme, host, port and path, and of the protocol: its query and user info, which may hold a secret, are left
    /// out.
    package func destinationTag(for signal: OTLPSignal) -> String {
        let wire = wireProtocol(for: signal)
        let url = wire == .grpc ? grpcURL(for: signal) : endpoints[signal]
        var place = [
            url?.scheme?.lowercased() ?? "", url?.host?.lowercased() ?? "", url?.port.map(String.init) ?? "",
            url?.path ?? "",
        ]
        if wire == .grpc { place.append("grpc") }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in place.joined(separator: " ").utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// Whether anything will be sent.
    public var hasEndpoint: Bool { OTLPSignal.allCases.contains(where: sends) }

    /// Whether `signal` is sent: chosen, and with an endpoint.
    public func sends(_ signal: OTLPSignal) -> Bool { signals.contains(signal) && endpoints[signal] != nil }

    /// The resource every record is of: `service.name`, then the other attributes by key.
    public var resource: OTLPResource {
        var attributes = [OTLPAttribute("service.name", .string(serviceName))]
        attributes += resourceAttributes.sorted { $0.key < $1.key }.map { OTLPAttribute($0.key, .string($0.value)) }
        return OTLPResource(attributes: attributes)
    }

    /// Sets the endpoint of every signal from a base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT` does; `source` names
    /// where it came from, for the error.
    ///
    /// - Throws: `OTLPConfigurationError` when `base` is not an http or https URL.
    public mutating func setBaseEndpoint(_ base: String, source: String = "the endpoint") throws {
        let url = try Self.url(base, source: source)
        for signal in OTLPSignal.allCases {
            // The signal's path goes after the base's own (its trailing slash dropped), before its query.
            guard var components = URLComponents(url: url, resolvingAgainstBaseURL: false) else {
                throw OTLPConfigurationError("\(source) is not an http or https URL")
            }
            let path = components.percentEncodedPath
            components.percentEncodedPath = (path.hasSuffix("/") ? String(path.dropLast()) : path) + signal.path
            guard let full = components.url else {
                throw OTLPConfigurationError("\(source) is not an http or https URL")
            }
            endpoints[signal] = full
        }
    }

    /// This configuration with what the environment sets.
    ///
    /// - Throws: `OTLPConfigurationError` naming the variable whose value cannot be used.
    public func applying(environment: [String: String]) throws -> OTLPExporterConfiguration {
        let value = { (name: String) -> String? in environment[name].flatMap { $0.trimmed().isEmpty ? nil : $0 } }
        var configuration = self
        try configuration.applySignalSettings(value)
        try configuration.applyProcessSettings(value)
        return configuration
    }

    /// The settings each signal has: the general variable's value, then the signal's own, which beats it whatever
    /// the order the variables come in, as the specification says.
    private mutating func applySignalSettings(_ value: (String) -> String?) throws {
        if let base = value("OTEL_EXPORTER_OTLP_ENDPOINT") {
            try setBaseEndpoint(base, source: "OTEL_EXPORTER_OTLP_ENDPOINT")
        }
        for signal in OTLPSignal.allCases {
            let own = "OTEL_EXPORTER_OTLP_\(signal.rawValue.uppercased())_"
            if let url = value(own + "ENDPOINT") { endpoints[signal] = try Self.url(url, source: own + "ENDPOINT") }
            for prefix in ["OTEL_EXPORTER_OTLP_", own] {
                if let name = value(prefix + "PROTOCOL") {
                    protocols[signal] = try Self.wireProtocol(name, variable: prefix + "PROTOCOL")
                }
                if let text = value(prefix + "HEADERS") {
                    headers[signal, default: [:]].merge(try Self.headers(text, variable: prefix + "HEADERS")) { $1 }
                }
                if let name = value(prefix + "COMPRESSION") {
                    compressions[signal] = try Self.compression(name, variable: prefix + "COMPRESSION")
                }
                if let text = value(prefix + "TIMEOUT") {
                    timeouts[signal] = try Self.milliseconds(text, variable: prefix + "TIMEOUT")
                }
            }
        }
    }

    /// The settings of the whole process: trust, batching and metric intervals, temporality, the resource.
    private mutating func applyProcessSettings(_ value: (String) -> String?) throws {
        if let path = value("OTEL_EXPORTER_OTLP_CERTIFICATE") {
            guard access(path, R_OK) == 0 else {
                throw OTLPConfigurationError("OTEL_EXPORTER_OTLP_CERTIFICATE names no file that can be read")
            }
            trustedCertificates = path
        }
        let scheduleDelayVariables = ["OTEL_BLRP_SCHEDULE_DELAY": OTLPSignal.logs, "OTEL_BSP_SCHEDULE_DELAY": .traces]
        for (variable, signal) in scheduleDelayVariables {
            if let text = value(variable) { scheduleDelays[signal] = try Self.milliseconds(text, variable: variable) }
        }
        if let text = value("OTEL_METRIC_EXPORT_INTERVAL") {
            metricExportInterval = try Self.milliseconds(text, variable: "OTEL_METRIC_EXPORT_INTERVAL")
        }
        switch value("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE")?.lowercased() {
        case nil: break
        case "cumulative": temporality = .cumulative
        case "delta", "lowmemory": temporality = .delta
        case let other?:
            throw OTLPConfigurationError(
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE is '\(other)': use cumulative, delta or lowmemory"
            )
        }
        if let text = value("OTEL_RESOURCE_ATTRIBUTES") {
            var attributes = try Self.keyValues(text, variable: "OTEL_RESOURCE_ATTRIBUTES")
            if let name = attributes.removeValue(forKey: "service.name") { serviceName = name }
            resourceAttributes.merge(attributes) { $1 }
        }
        if let name = value("OTEL_SERVICE_NAME") { serviceName = name }
    }

    /// Parses a wire protocol name.
    ///
    /// - Throws: `OTLPConfigurationError` for an unknown name.
    public static func wireProtocol(_ name: String, variable: String) throws -> WireProtocol {
        guard let parsed = WireProtocol(rawValue: name) else {
            throw OTLPConfigurationError("\(variable) is '\(name)': use http/protobuf, http/json or grpc")
        }
        return parsed
    }

    /// Parses `key=value,key=value` with percent-encoded values (W3C Baggage format, as the OpenTelemetry
    /// specification prescribes for headers and resource attributes).
    ///
    /// - Throws: `OTLPConfigurationError` naming `variable`, without its value (it may hold a secret).
    public static func keyValues(_ text: String, variable: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for pair in text.split(separator: ",") where !pair.trimmed().isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let key = parts.first.map { String($0.trimmed()) } ?? ""
            guard parts.count == 2, !key.isEmpty else {
                throw OTLPConfigurationError("\(variable) must be key=value pairs separated by commas")
            }
            let raw = String(parts[1].trimmed())
            result[key] = percentDecoded(raw) ?? raw
        }
        return result
    }

    /// `text` with each `%XX` turned into the byte it stands for; `nil` when a `%` starts no such pair, or the
    /// bytes are not UTF-8.
    private static func percentDecoded(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var rest = text.utf8[...]
        while let byte = rest.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard rest.count >= 2, let pair = UInt8(hexDigits: String(decoding: rest.prefix(2), as: UTF8.self))
            else { return nil }
            bytes.append(pair)
            rest = rest.dropFirst(2)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Parses headers given as `key=value,key=value` (as `keyValues`), each checked as `headerProblem` does.
    ///
    /// - Throws: `OTLPConfigurationError` naming `variable` and the problem, never a value (it may be a secret).
    public static func headers(_ text: String, variable: String) throws -> [String: String] {
        let parsed = try keyValues(text, variable: variable)
        for (name, value) in parsed.sorted(by: { $0.key < $1.key }) {
            if let problem = headerProblem(name: name, value: value) {
                throw OTLPConfigurationError("\(variable): \(problem)")
            }
        }
        return parsed
    }

    /// Why a header cannot be sent as configured, or `nil` when it can. A name must be an HTTP token (RFC 9110,
    /// section 5.6.2) and not one of the headers that frame the request, which are ours to set; a value may hold
    /// visible characters, spaces and tabs only (section 5.5): a line break would forge headers of its own.
    public static func headerProblem(name: String, value: String) -> String? {
        let tokenCharacters = Set("!#$%&'*+-.^_`|~".utf8)
        guard !name.isEmpty, name.utf8.allSatisfy({ $0.isASCIILetterOrDigit || tokenCharacters.contains($0) }) else {
            return "a header name must be letters, digits and !#$%&'*+-.^_`|~ only"
        }
        guard !reservedHeaders.contains(name.lowercased()) else {
            return "the header \(name) is set by the exporter itself and cannot be configured"
        }
        guard value.utf8.allSatisfy({ $0 == 0x09 || $0 >= 0x20 && $0 != 0x7F }) else {
            return "the value of the header \(name) holds a line break or another control character"
        }
        return nil
    }

    /// The headers that frame a request: its length, type, encoding, connection and host.
    private static let reservedHeaders: Set<String> = [
        "host", "content-length", "content-type", "content-encoding", "transfer-encoding", "connection", "keep-alive",
        "proxy-connection", "te", "trailer", "upgrade", "expect",
    ]

    /// Checks every configured header, for a configuration built in code rather than parsed.
    ///
    /// - Throws: `OTLPConfigurationError` naming the header and its signal, never its value.
    func checkHeaders() throws {
        for signal in OTLPSignal.allCases {
            for (name, value) in (headers[signal] ?? [:]).sorted(by: { $0.key < $1.key }) {
                if let problem = Self.headerProblem(name: name, value: value) {
                    throw OTLPConfigurationError("a header for \(signal.rawValue): \(problem)")
                }
            }
        }
    }

    private static func compression(_ name: String, variable: String) throws -> Compression {
        guard let parsed = Compression(rawValue: name.lowercased()) else {
            throw OTLPConfigurationError("\(variable) is '\(name)': use gzip or none")
        }
        return parsed
    }

    /// A number of milliseconds from 1 to a day: a request or an interval longer than that is a mistake.
    private static func milliseconds(_ text: String, variable: String) throws -> Duration {
        guard let value = Int(text.trimmed()), (1...86_400_000).contains(value) else {
            throw OTLPConfigurationError("\(variable) must be a number of milliseconds from 1 to 86400000 (a day)")
        }
        return .milliseconds(value)
    }

    /// The URL is not repeated in the error: its query may hold a token.
    private static func url(_ text: String, source: String) throws -> URL {
        guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil
        else {
            throw OTLPConfigurationError("\(source) is not an http or https URL")
        }
        return url
    }
}

/// A configuration value that cannot be used.
public struct OTLPConfigurationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension UInt8 {
    fileprivate var isASCIILetterOrDigit: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}
