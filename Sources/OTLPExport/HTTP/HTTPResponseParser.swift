import FoundationEssentials
import OTLP

/// Reads an HTTP/1.1 response (RFC 9112) from bytes as they arrive, keeping no more than a bounded head and body:
/// a collector is outside our control, and a hostile or broken one must not make us buffer without end.
///
/// Interim responses (1xx) are passed over. The body is delimited by `Content-Length`, by chunked transfer coding,
/// or by the connection closing. Past `maximumBodyLength` the rest of a body is not kept, and the response counts
/// as complete: an export response is a few bytes of partial success, and its status is what matters.
struct HTTPResponseParser {
    static let maximumHeadLength = 64 << 10
    static let maximumBodyLength = 64 << 10

    /// A whole response.
    struct Response: Equatable, Sendable {
        var status: Int
        /// Header names in lower case; a repeated header keeps its last value.
        var headers: [String: String]
        var body: [UInt8]
    }

    enum Progress: Equatable {
        case needMore
        case complete(Response)
        case malformed(String)
    }

    private var buffer: [UInt8] = []
    private var head: (status: Int, headers: [String: String])?

    /// Takes the next bytes of the connection.
    mutating func feed(_ bytes: some Collection<UInt8>) -> Progress {
        buffer += bytes
        return parse(closed: false)
    }

    /// The connection closed: a response delimited by the close is complete; anything else was cut off.
    mutating func finish() -> Progress {
        switch parse(closed: true) {
        case .needMore: .malformed("the connection closed before the response ended")
        case let other: other
        }
    }

    private mutating func parse(closed: Bool) -> Progress {
        while head == nil {
            guard let end = Self.find([0x0D, 0x0A, 0x0D, 0x0A], in: buffer[...]) else {
                return buffer.count > Self.maximumHeadLength ? .malformed("the response head is too large") : .needMore
            }
            guard end <= Self.maximumHeadLength, let parsed = Self.parseHead(buffer[..<end]) else {
                return .malformed("the response head is not HTTP/1.1")
            }
            buffer.removeFirst(end + 4)
            // An interim response (100 Continue, 103 Early Hints) precedes the real one.
            if (100..<200).contains(parsed.status) { continue }
            head = parsed
        }
        guard let (status, headers) = head else { return .needMore }
        func response(_ body: some Sequence<UInt8>) -> Progress {
            .complete(Response(status: status, headers: headers, body: Array(body)))
        }
        if status == 204 || status == 304 { return response([]) }
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            let (body, ended) = Self.dechunk(buffer[...])
            guard let body else { return .malformed("the chunked body is malformed") }
            if ended || body.count >= Self.maximumBodyLength { return response(body.prefix(Self.maximumBodyLength)) }
            return closed ? .malformed("the connection closed inside a chunked body") : .needMore
        }
        if let text = headers["content-length"] {
            guard let length = Int(text), length >= 0 else { return .malformed("the Content-Length is not a number") }
            let wanted = min(length, Self.maximumBodyLength)
            if buffer.count >= wanted { return response(buffer.prefix(wanted)) }
            return closed ? .malformed("the connection closed before the body ended") : .needMore
        }
        // Delimited by the close.
        if buffer.count >= Self.maximumBodyLength { return response(buffer.prefix(Self.maximumBodyLength)) }
        return closed ? response(buffer) : .needMore
    }

    private static func parseHead(_ bytes: ArraySlice<UInt8>) -> (status: Int, headers: [String: String])? {
        let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
        }
        guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1.") else { return nil }
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[1].count == 3, let status = Int(parts[1]), (100...599).contains(status) else {
            return nil
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() where !line.isEmpty {
            guard let (name, value) = header(in: line) else { return nil }
            headers[name] = value
        }
        return (status, headers)
    }

    /// A header line's name, in lower case, and its value, without the white space around it (nor the line's
    /// end); `nil` for a line with no colon.
    static func header(in line: String) -> (name: String, value: String)? {
        guard let colon = line.firstIndex(of: ":") else { return nil }
        return (
            line[..<colon].lowercased(),
            String(line[line.index(after: colon)...].trimmed { $0 == " " || $0 == "\t" || $0.isNewline })
        )
    }

    /// The body of a chunked transfer coding as far as it has arrived, and whether it has ended; `nil` when it is
    /// not chunked coding. Chunk extensions and trailers are ignored.
    private static func dechunk(_ bytes: ArraySlice<UInt8>) -> (body: [UInt8]?, ended: Bool) {
        var body: [UInt8] = []
        var index = bytes.startIndex
        while true {
            guard let lineEnd = find([0x0D, 0x0A], in: bytes[index...]) else { return (body, false) }
            let sizeField = bytes[index..<lineEnd].prefix { $0 != UInt8(ascii: ";") }
            let sizeText = String(decoding: sizeField, as: UTF8.self).trimmed { $0 == " " || $0 == "\t" }
            guard sizeText.count <= 15, let digits = UInt64(hexDigits: sizeText) else { return (nil, false) }
            let size = Int(digits)
            index = lineEnd + 2
            // The last chunk, then trailers (if any) and an empty line.
            if size == 0 { return (body, find([0x0D, 0x0A, 0x0D, 0x0A], in: bytes[(index - 2)...]) != nil) }
            let available = min(size, bytes.endIndex - index)
            body += bytes[index..<index + available]
            guard available == size, bytes.endIndex - index >= size + 2 else { return (body, false) }
            index += size + 2
            if body.count >= maximumBodyLength { return (body, false) }
        }
    }

    /// Where `pattern` first begins in `bytes`.
    private static func find(_ pattern: [UInt8], in bytes: ArraySlice<UInt8>) -> Int? {
        guard bytes.count >= pattern.count else { return nil }
        var index = bytes.startIndex
        while index <= bytes.endIndex - pattern.count {
            if bytes[index] == pattern[0], bytes[index..<index + pattern.count].elementsEqual(pattern) { return index }
            index += 1
        }
        return nil
    }
}
