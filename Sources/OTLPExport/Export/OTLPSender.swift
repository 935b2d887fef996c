import FoundationEssentials
import OTLP

/// One encoded batch, as the exporter hands it to a sender: how it travels is the sender's.
struct ExportRequest: Sendable {
    var body: [UInt8]
    var signal: OTLPSignal
    var wireProtocol: OTLPExporterConfiguration.WireProtocol
    var itemCount: Int
}

/// Delivers export requests over one wire and says what became of each. The exporter keeps the batches, the
/// spool, the retries and the accounts; a new wire is one new sender.
protocol OTLPSender: Sendable {
    func send(_ request: ExportRequest) async -> Delivery
}

/// OTLP/HTTP: a POST for each request, compressed and with the configured headers, through an HTTP transport (our
/// own HTTP/1.1 over sockets, or libcurl for `https`); the answer read as the specification says.
struct HTTPSender: OTLPSender {
    let configuration: OTLPExporterConfiguration
    let transport: any HTTPTransport
    /// Wall-clock time, to read a `Retry-After` date.
    let clock: any ExportClock

    func send(_ request: ExportRequest) async -> Delivery {
        let signal = request.signal
        let contentType = request.wireProtocol == .json ? "application/json" : "application/x-protobuf"
        var headers: [(name: String, value: String)] = [("Content-Type", contentType)]
        var payload = request.body
        if configuration.compression(for: signal) == .gzip {
            payload = Gzip.compress(request.body)
            headers.append(("Content-Encoding", "gzip"))
        }
        headers += configuration.configuredHeaders(for: signal)
        // Only the signals with an endpoint are sent (the exporter looks first); one without is not taken.
        guard let url = configuration.endpoints[signal] else { return .refused(reason: "no endpoint") }
        let post = HTTPRequest(url: url, headers: headers, body: payload, timeout: configuration.timeout(for: signal))
        return Delivery(
            await transport.post(post),
            itemCount: request.itemCount,
            wireProtocol: request.wireProtocol,
            now: clock.date
        )
    }
}

extension OTLPExporterConfiguration {
    /// The headers configured for `signal` (an API key, say), names in lower case and in order, with our
    /// `user-agent` unless one of them is it: what every wire sends beside its own framing.
    func configuredHeaders(for signal: OTLPSignal) -> [(name: String, value: String)] {
        let configured = (headers[signal] ?? [:]).map { (name: $0.key.lowercased(), value: $0.value) }
            .sorted { $0.name < $1.name }
        let agent =
            configured.contains { $0.name == "user-agent" } ? [] : [(name: "user-agent", value: "codex-telemetry")]
        return agent + configured
    }
}
