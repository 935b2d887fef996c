package import FoundationEssentials

/// One export request: a POST of an encoded batch.
package struct HTTPRequest: Sendable {
    /// The HTTP version a request must go over.
    package enum Version: Sendable {
        /// HTTP/1.1, as OTLP/HTTP is sent.
        case http1
        /// HTTP/2 and nothing else, as gRPC needs: by prior knowledge for `http`, by ALPN for `https`.
        case http2
    }

    package var url: URL
    /// Names and values, already checked (see `OTLPExporterConfiguration.headerProblem(name:value:)`).
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]
    /// How long the whole exchange may take: connecting, sending and receiving.
    package var timeout: Duration
    package var version: Version

    package init(
        url: URL,
        headers: [(name: String, value: String)],
        body: [UInt8],
        timeout: Duration,
        version: Version = .http1
    ) {
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.version = version
    }
}

/// What became of one POST: the collector's answer, or why there was none.
package enum HTTPOutcome: Sendable, Equatable {
    /// The status, the headers and trailers (names in lower case) and the start of the body.
    case response(status: Int, headers: [String: String], body: [UInt8])
    /// No answer: no connection, a reset, a timeout, a reply that is not HTTP. Names no header and no URL.
    case failed(String)
}

/// Sends export requests. Redirects are never followed: a 3xx is the outcome, not a reason to send the batch and
/// the credentials somewhere else.
package protocol HTTPTransport: Sendable {
    /// Posts `request` and returns what came back; returns early, as a failure, when the task is cancelled.
    func post(_ request: HTTPRequest) async -> HTTPOutcome
}

/// The transport for real endpoints: our own HTTP/1.1 over sockets for `http` (it waits in `poll(2)`, costing no
/// CPU), and libcurl, loaded when first needed, where `https` needs TLS or gRPC needs HTTP/2.
package struct SystemHTTPTransport: HTTPTransport {
    private let plain = SocketHTTPTransport()
    private let curl: CurlHTTPTransport

    /// `trustedCertificates`: a PEM file that an https server's certificate must chain to, in place of the system's.
    package init(trustedCertificates: String? = nil) {
        curl = CurlHTTPTransport(trustedCertificates: trustedCertificates)
    }

    package func post(_ request: HTTPRequest) async -> HTTPOutcome {
        request.url.scheme?.lowercased() == "https" || request.version == .http2
            ? await curl.post(request) : await plain.post(request)
    }
}
