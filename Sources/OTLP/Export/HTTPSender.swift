import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What became of one export request.
enum SendOutcome: Sendable {
    /// Taken; the collector may have refused some items (partial success) and said why.
    case accepted(rejectedItems: Int64, message: String?)
    /// Not taken this time: worth retrying (429, 502, 503, 504, no connection, no answer in time).
    case retryable(reason: String, retryAfter: Duration?)
    /// Refused for good (another 4xx, or a 5xx the specification does not retry).
    case refused(status: Int)
}

/// Posts OTLP requests over HTTP.
struct HTTPSender: Sendable {
    private let session: URLSession

    init() {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieStorage = nil
        configuration.urlCache = nil
        session = URLSession(configuration: configuration)
    }

    func send(
        _ body: [UInt8],
        to url: URL,
        wireProtocol: OTLPExporterConfiguration.WireProtocol,
        compression: OTLPExporterConfiguration.Compression,
        headers: [String: String],
        timeout: Duration
    ) async -> SendOutcome {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.timeoutInterval = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.setValue(wireProtocol.contentType, forHTTPHeaderField: "Content-Type")
        let payload: [UInt8]
        switch compression {
        case .none: payload = body
        case .gzip:
            payload = Gzip.compress(body)
            request.setValue("gzip", forHTTPHeaderField: "Content-Encoding")
        }
        request.setValue("codex-telemetry", forHTTPHeaderField: "User-Agent")
        let (data, response, error) = await upload(request, payload)
        guard let data, let response, error == nil else {
            // No connection, no answer in time, a reset: all retryable (OTLP specification, "Retryable Response
            // Codes" and "OTLP/HTTP Throttling"). The description names no header.
            return .retryable(reason: (error as? URLError).map { "\($0.code)" } ?? "connection failed", retryAfter: nil)
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        switch status {
        case 200..<300:
            let partial = PartialSuccess(body: Array(data), wireProtocol: wireProtocol)
            return .accepted(rejectedItems: partial.rejected, message: partial.message)
        case 429, 502, 503, 504:
            let header = (response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Retry-After")
            return .retryable(reason: "HTTP \(status)", retryAfter: header.flatMap(Self.retryAfter))
        default:
            return .refused(status: status)
        }
    }

    /// Uploads with the completion-handler API, not `URLSession.upload(for:from:)`: on Linux, cancelling a task
    /// awaiting that async API while its request fails deadlocks (the task-cancellation lock is held while
    /// `URLSessionTask.cancel()` waits on the session's queue, where the failure waits for that lock). Here the
    /// cancellation is handed to another queue instead.
    private func upload(_ request: URLRequest, _ payload: [UInt8]) async -> (Data?, URLResponse?, (any Error)?) {
        let running = RunningTask()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let task = session.uploadTask(with: request, from: Data(payload)) { data, response, error in
                    continuation.resume(returning: (data, response, error))
                }
                running.set(task)
                task.resume()
                if Task.isCancelled { running.cancelElsewhere() }
            }
        } onCancel: {
            running.cancelElsewhere()
        }
    }

    /// `Retry-After` as delay-seconds or an HTTP date (RFC 9110, section 10.2.3).
    static func retryAfter(_ value: String) -> Duration? {
        if let seconds = Int(value.trimmingCharacters(in: .whitespaces)), seconds >= 0 { return .seconds(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .milliseconds(max(0, Int(date.timeIntervalSinceNow * 1000)))
    }
}

/// The `partial_success` of an `Export…ServiceResponse`: how many items the collector refused, and why.
struct PartialSuccess {
    var rejected: Int64 = 0
    var message: String?

    init(body: [UInt8], wireProtocol: OTLPExporterConfiguration.WireProtocol) {
        switch wireProtocol {
        case .protobuf:
            // Export…ServiceResponse { partial_success = 1 { rejected_… = 1 (int64); error_message = 2 } }
            guard let inner = ProtobufReader.lengthDelimitedField(1, in: body[...]) else { return }
            rejected = ProtobufReader.varintField(1, in: inner).map { Int64(bitPattern: $0) } ?? 0
            message = ProtobufReader.lengthDelimitedField(2, in: inner).map { String(decoding: $0, as: UTF8.self) }
        case .json:
            guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
                let partial = object["partialSuccess"] as? [String: Any]
            else { return }
            for key in ["rejectedLogRecords", "rejectedSpans", "rejectedDataPoints"] {
                if let value = partial[key] { rejected = Int64("\(value)") ?? 0 }
            }
            message = partial["errorMessage"] as? String
        }
        if message?.isEmpty == true { message = nil }
    }
}

/// Just enough protobuf reading for a response: find a top-level field, skip the rest.
enum ProtobufReader {
    static func lengthDelimitedField(_ wanted: Int, in bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        var found: ArraySlice<UInt8>?
        walk(bytes) { field, wireType, value in
            if field == wanted, wireType == 2, case .bytes(let slice) = value { found = slice }
        }
        return found
    }

    static func varintField(_ wanted: Int, in bytes: ArraySlice<UInt8>) -> UInt64? {
        var found: UInt64?
        walk(bytes) { field, wireType, value in
            if field == wanted, wireType == 0, case .number(let number) = value { found = number }
        }
        return found
    }

    private enum Value {
        case number(UInt64)
        case bytes(ArraySlice<UInt8>)
    }

    private static func walk(_ bytes: ArraySlice<UInt8>, _ visit: (Int, UInt64, Value) -> Void) {
        var index = bytes.startIndex
        func varint() -> UInt64? {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while index < bytes.endIndex, shift < 64 {
                let byte = bytes[index]
                index += 1
                result |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return result }
                shift += 7
            }
            return nil
        }
        while index < bytes.endIndex, let tag = varint() {
            let field = Int(tag >> 3)
            switch tag & 7 {
            case 0:
                guard let number = varint() else { return }
                visit(field, 0, .number(number))
            case 1:
                index += 8
            case 2:
                guard let length = varint(), length <= UInt64(bytes.endIndex - index) else { return }
                let end = index + Int(length)
                visit(field, 2, .bytes(bytes[index..<end]))
                index = end
            case 5:
                index += 4
            default:
                return
            }
        }
    }
}

/// The upload in flight, for a cancellation that may come from any thread.
private final class RunningTask: @unchecked Sendable {
    private let lock = NSLock()
    private var task: URLSessionTask?

    func set(_ task: URLSessionTask) {
        lock.withLock { self.task = task }
    }

    func cancelElsewhere() {
        guard let task = lock.withLock({ self.task }) else { return }
        DispatchQueue.global().async { task.cancel() }
    }
}
