import CivilTime
import FoundationEssentials
import JSON
import OTLP

/// What became of one export request, as the exporter acts on it. Everything the collector said is untrusted: a
/// count is clamped to the batch, a wait to a bound, a message stripped of control characters.
enum Delivery: Equatable, Sendable {
    /// Taken; the collector may have rejected some items (partial success) and said why.
    case accepted(rejected: Int, message: String?)
    /// Not taken this time, worth retrying: 429, 502, 503, 504, or no answer (OTLP specification, "Retryable
    /// Response Codes" and "OTLP/HTTP Throttling"). `retryAfter` is the collector's `Retry-After`, if any.
    case retryable(reason: String, retryAfter: Duration?)
    /// Refused for good (another 4xx, a 5xx or a gRPC status the specification does not retry): the batch is
    /// dropped. `reason` names the status: `HTTP 400`, `gRPC INVALID_ARGUMENT`.
    case refused(reason: String)
    /// A redirect, never followed: it would send the batch, and the credentials with it, somewhere not chosen.
    case redirected(status: Int)

    /// Reads a transport outcome for a batch of `itemCount` items sent as `wireProtocol`, at wall-clock `now`.
    init(_ outcome: HTTPOutcome, itemCount: Int, wireProtocol: OTLPExporterConfiguration.WireProtocol, now: Date) {
        switch outcome {
        case .failed(let reason):
            self = .retryable(reason: reason, retryAfter: nil)
        case .response(let status, let headers, let body):
            switch status {
            case 200..<300:
                let partial = PartialSuccess(body: body, wireProtocol: wireProtocol)
                self = .accepted(
                    rejected: Int(min(max(partial.rejected, 0), Int64(itemCount))),
                    message: partial.message
                )
            case 300..<400:
                self = .redirected(status: status)
            case 429, 502, 503, 504:
                self = .retryable(
                    reason: "HTTP \(status)",
                    retryAfter: headers["retry-after"].flatMap { Self.retryAfter($0, now: now) }
                )
            default:
                self = .refused(reason: "HTTP \(status)")
            }
        }
    }

    /// `Retry-After` as delay-seconds or an HTTP date, in any of the three forms RFC 9110 (section 5.6.7) says a
    /// recipient must accept; `nil` when it is neither. A date in the past is no wait at all.
    static func retryAfter(_ value: String, now: Date) -> Duration? {
        let text = String(value.trimmed())
        if !text.isEmpty, text.count <= 10, text.utf8.allSatisfy(isDigit), let seconds = Int(text) {
            return .seconds(seconds)
        }
        guard let date = httpDate(text) else { return nil }
        return .milliseconds(Int64(max(0, min(Double(date) - now.timeIntervalSince1970, 86_400)) * 1000))
    }

    /// An HTTP date in any of its three forms (IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850
    /// `Sunday, 06-Nov-94 08:49:37 GMT`, asctime `Sun Nov  6 08:49:37 1994`), as seconds since 1970; `nil` when it
    /// is none of them. The day's name is not checked against the date.
    private static func httpDate(_ text: String) -> Int64? {
        let words = text.split { $0 == " " || $0 == "," || $0 == "-" }
        let (day, month, year, time): (Substring, Substring, Substring, Substring)
        switch words.count {
        case 6 where words[5] == "GMT": (day, month, year, time) = (words[1], words[2], words[3], words[4])
        case 5: (day, month, year, time) = (words[2], words[1], words[4], words[3])
        default: return nil
        }
        let clock = time.split(separator: ":", omittingEmptySubsequences: false)
        let numbers = [day, year] + clock
        guard clock.count == 3, numbers.allSatisfy({ !$0.isEmpty && $0.count <= 4 && $0.utf8.allSatisfy(isDigit) }),
            let monthIndex = Self.months.firstIndex(of: month), let dayOfMonth = Int(day),
            (1...31).contains(dayOfMonth),
            var fullYear = Int(year), year.count == 2 || year.count == 4,
            let hour = Int(clock[0]), let minute = Int(clock[1]), let second = Int(clock[2]),
            (0..<24).contains(hour), (0..<60).contains(minute), (0...60).contains(second)
        else { return nil }
        // RFC 850's two-digit years, read with C's pivot: 00 to 69 are this century's, 70 to 99 the last's.
        if year.count == 2 { fullYear += fullYear < 70 ? 2000 : 1900 }
        let days = Int(
            CivilDate(year: Int64(fullYear), month: Int64(monthIndex + 1), day: Int64(dayOfMonth)).daysSince1970
        )
        return Int64(days * 86_400 + hour * 3_600 + minute * 60 + second)
    }

    /// An ASCII digit: `Int(_:)` also takes a sign, which no field of a `Retry-After` has.
    private static func isDigit(_ byte: UInt8) -> Bool { (48...57).contains(byte) }

    private static let months: [Substring] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
}

/// The `partial_success` of an `Export…ServiceResponse`: how many items the collector refused, and why.
struct PartialSuccess {
    var rejected: Int64 = 0
    var message: String?

    private static let selection = JSONSelection.members([
        "partialSuccess": .members([
            "rejectedLogRecords": .everything, "rejectedSpans": .everything, "rejectedDataPoints": .everything,
            "errorMessage": .everything,
        ])
    ])

    init(body: [UInt8], wireProtocol: OTLPExporterConfiguration.WireProtocol) {
        switch wireProtocol {
        case .protobuf, .grpc:
            // Export…ServiceResponse { partial_success = 1 { rejected_… = 1 (int64); error_message = 2 } }
            guard let inner = ProtobufReader.lengthDelimitedField(1, in: body[...]) else { return }
            rejected = ProtobufReader.varintField(1, in: inner).map { Int64(bitPattern: $0) } ?? 0
            message = ProtobufReader.lengthDelimitedField(2, in: inner).map { String(decoding: $0, as: UTF8.self) }
        case .json:
            guard let response = try? JSONValue(parsing: body, selecting: Self.selection, maximumValues: 64),
                let partial = response["partialSuccess"]
            else { return }
            // int64 members are strings in OTLP/JSON (proto3 JSON mapping), numbers from lenient writers.
            for key in ["rejectedLogRecords", "rejectedSpans", "rejectedDataPoints"] {
                if let value = partial[key]?.int ?? partial[key]?.string.flatMap({ Int64($0) }) { rejected = value }
            }
            message = partial["errorMessage"]?.string
        }
        message = message.map(Self.printable).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The message as it may be shown on a terminal: no control characters (an escape sequence from a collector
    /// must not reach the user's terminal), at most 200 characters.
    static func printable(_ text: String) -> String {
        let scalars = text.unicodeScalars.filter { !$0.properties.generalCategory.isControl }.prefix(200)
        return String(String.UnicodeScalarView(scalars))
    }
}

extension Unicode.GeneralCategory {
    fileprivate var isControl: Bool { self == .control || self == .format }
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

    /// Every occurrence of a repeated field, in order.
    static func lengthDelimitedFields(_ wanted: Int, in bytes: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var found: [ArraySlice<UInt8>] = []
        walk(bytes) { field, wireType, value in
            if field == wanted, wireType == 2, case .bytes(let slice) = value { found.append(slice) }
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
            let field = Int(truncatingIfNeeded: tag >> 3)
            switch tag & 7 {
            case 0:
                guard let number = varint() else { return }
                visit(field, 0, .number(number))
            case 1:
                guard bytes.endIndex - index >= 8 else { return }
                index += 8
            case 2:
                guard let length = varint(), length <= UInt64(bytes.endIndex - index) else { return }
                let end = index + Int(length)
                visit(field, 2, .bytes(bytes[index..<end]))
                index = end
            case 5:
                guard bytes.endIndex - index >= 4 else { return }
                index += 4
            default:
                return
            }
        }
    }
}
