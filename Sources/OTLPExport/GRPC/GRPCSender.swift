import FoundationEssentials
import OTLP
import SaturatingArithmetic

/// OTLP/gRPC: each request is one unary `Export` call, a length-prefixed protobuf message over HTTP/2, and its
/// outcome is the `grpc-status` of the answer, read as the OTLP specification says.
struct GRPCSender: OTLPSender {
    let configuration: OTLPExporterConfiguration
    let transport: any HTTPTransport

    func send(_ request: ExportRequest) async -> Delivery {
        let signal = request.signal
        guard let url = configuration.grpcURL(for: signal) else { return .refused(reason: "no endpoint") }
        let timeout = configuration.timeout(for: signal)
        let compressed = configuration.compression(for: signal) == .gzip
        var headers: [(name: String, value: String)] = [
            ("content-type", "application/grpc"), ("te", "trailers"),
            ("grpc-timeout", "\(timeout.wholeMilliseconds)m"),
            // An answer's partial success is read only when it comes uncompressed: so it is asked for that way.
            ("grpc-accept-encoding", "identity"),
        ]
        if compressed { headers.append(("grpc-encoding", "gzip")) }
        headers += configuration.configuredHeaders(for: signal)
        let message = compressed ? Gzip.compress(request.body) : request.body
        let call = HTTPRequest(
            url: url,
            headers: headers,
            body: GRPCMessage.frame(message, compressed: compressed),
            timeout: timeout,
            version: .http2
        )
        return Delivery(grpc: await transport.post(call), itemCount: request.itemCount)
    }
}

/// The gRPC wire's message framing: a compressed flag, a 4-byte big-endian length, the message.
enum GRPCMessage {
    static func frame(_ message: [UInt8], compressed: Bool) -> [UInt8] {
        let length = UInt32(clamping: message.count)
        return [
            compressed ? 1 : 0, UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF),
            UInt8(length & 0xFF),
        ] + message
    }

    /// The first message of a body, when it is whole and uncompressed.
    static func first(in body: [UInt8]) -> ArraySlice<UInt8>? {
        guard body.count >= 5, body[0] == 0 else { return nil }
        let length = body[1...4].reduce(0) { $0 << 8 | Int($1) }
        guard length <= body.count - 5 else { return nil }
        return body[5..<5 + length]
    }
}

/// The gRPC status codes, by the names the gRPC documentation gives them.
enum GRPCStatus: Int, Sendable {
    case ok = 0
    case cancelled, unknown, invalidArgument, deadlineExceeded, notFound, alreadyExists, permissionDenied,
        resourceExhausted, failedPrecondition, aborted, outOfRange, unimplemented, internalError, unavailable,
        dataLoss, unauthenticated

    /// The status gRPC gives an answer that is not HTTP 200 and carries none ("HTTP to gRPC Status Code Mapping").
    init(httpStatus: Int) {
        switch httpStatus {
        case 400: self = .internalError
        case 401: self = .unauthenticated
        case 403: self = .permissionDenied
        case 404: self = .unimplemented
        case 429, 502, 503, 504: self = .unavailable
        default: self = .unknown
        }
    }

    /// The name as the gRPC documentation writes it: `UNAVAILABLE`, `RESOURCE_EXHAUSTED`.
    var name: String {
        switch self {
        case .ok: "OK"
        case .cancelled: "CANCELLED"
        case .unknown: "UNKNOWN"
        case .invalidArgument: "INVALID_ARGUMENT"
        case .deadlineExceeded: "DEADLINE_EXCEEDED"
        case .notFound: "NOT_FOUND"
        case .alreadyExists: "ALREADY_EXISTS"
        case .permissionDenied: "PERMISSION_DENIED"
        case .resourceExhausted: "RESOURCE_EXHAUSTED"
        case .failedPrecondition: "FAILED_PRECONDITION"
        case .aborted: "ABORTED"
        case .outOfRange: "OUT_OF_RANGE"
        case .unimplemented: "UNIMPLEMENTED"
        case .internalError: "INTERNAL"
        case .unavailable: "UNAVAILABLE"
        case .dataLoss: "DATA_LOSS"
        case .unauthenticated: "UNAUTHENTICATED"
        }
    }

    /// The codes the OTLP specification retries ("OTLP/gRPC Response"); `RESOURCE_EXHAUSTED` only when the server
    /// says, with a `RetryInfo`, that it will recover.
    var isRetryable: Bool {
        [.cancelled, .deadlineExceeded, .aborted, .outOfRange, .unavailable, .dataLoss].contains(self)
    }
}

extension Delivery {
    /// Reads the outcome of one `Export` call on a batch of `itemCount` items. No answer (a reset, a timeout, a
    /// server that is not HTTP/2) is worth another try, as `UNAVAILABLE` is.
    init(grpc outcome: HTTPOutcome, itemCount: Int) {
        switch outcome {
        case .failed(let reason): self = .retryable(reason: reason, retryAfter: nil)
        case .response(let status, let headers, let body):
            self.init(httpStatus: status, headers: headers, body: body, itemCount: itemCount)
        }
    }

    private init(httpStatus: Int, headers: [String: String], body: [UInt8], itemCount: Int) {
        let status: GRPCStatus =
            headers["grpc-status"].flatMap { Int($0) }.flatMap(GRPCStatus.init(rawValue:))
            ?? (httpStatus == 200 ? .unknown : GRPCStatus(httpStatus: httpStatus))
        let retryDelay = headers["grpc-status-details-bin"].flatMap(RetryInfo.delay(inStatusDetails:))
        switch status {
        case .ok:
            let partial = GRPCMessage.first(in: body).map { PartialSuccess(body: Array($0), wireProtocol: .grpc) }
            self = .accepted(
                rejected: Int(min(max(partial?.rejected ?? 0, 0), Int64(itemCount))),
                message: partial?.message
            )
        case _ where status.isRetryable, .resourceExhausted where retryDelay != nil:
            self = .retryable(reason: "gRPC \(status.name)", retryAfter: retryDelay)
        default:
            self = .refused(reason: "gRPC \(status.name)")
        }
    }
}

/// The wait a server asks for in a `google.rpc.RetryInfo` among the details of its status.
enum RetryInfo {
    private static let typeURL = Array("type.googleapis.com/google.rpc.RetryInfo".utf8)

    /// The `retry_delay` of the first `RetryInfo` in `grpc-status-details-bin` (a base64 `google.rpc.Status`), held
    /// to a day; `nil` when there is none.
    static func delay(inStatusDetails text: String) -> Duration? {
        // Base64 in metadata may come without its padding.
        let unpadded = String(text.trimmed())
        let padded = unpadded + String(repeating: "=", count: (4 - unpadded.count % 4) % 4)
        guard let status = Data(base64Encoded: padded).map(Array.init) else { return nil }
        // Status { code = 1; message = 2; repeated Any details = 3 }, Any { type_url = 1; value = 2 },
        // RetryInfo { Duration retry_delay = 1 }, Duration { int64 seconds = 1; int32 nanos = 2 }.
        for detail in ProtobufReader.lengthDelimitedFields(3, in: status[...])
        where ProtobufReader.lengthDelimitedField(1, in: detail).map(Array.init) == typeURL {
            guard let info = ProtobufReader.lengthDelimitedField(2, in: detail) else { return nil }
            let duration = ProtobufReader.lengthDelimitedField(1, in: info) ?? []
            let seconds = Int64(bitPattern: ProtobufReader.varintField(1, in: duration) ?? 0)
            let nanos = Int64(bitPattern: ProtobufReader.varintField(2, in: duration) ?? 0)
            guard seconds >= 0, nanos >= 0 else { return .zero }
            return min(.seconds(min(seconds, 86_400)) + .nanoseconds(min(nanos, 999_999_999)), .seconds(86_400))
        }
        return nil
    }
}
