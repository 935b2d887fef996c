/// The head of an HTTP/1.x request to the scrape endpoint, read from bytes that anything on the port may send:
/// bounded, and read only as far as the blank line that ends it. Only the request line matters; the headers are
/// passed over.
public enum ScrapeRequest: Equatable, Sendable {
    /// The head has not ended yet: read more, within the limit.
    case incomplete
    /// A request for `path` (its query left out) with `method`.
    case request(method: String, path: String)
    /// Not a request we can answer: its status and reason.
    case refused(status: Int, reason: String)

    /// The most a head may take, the request line and headers together.
    public static let maximumHeadBytes = 8 << 10

    /// Reads a request head from the first bytes of a connection.
    public static func parse(_ bytes: some Collection<UInt8>) -> ScrapeRequest {
        guard let end = headEnd(bytes) else {
            return bytes.count >= maximumHeadBytes
                ? .refused(status: 431, reason: "Request Header Fields Too Large")
                : .incomplete
        }
        let line = bytes.prefix(end).prefix { $0 != 0x0D && $0 != 0x0A }
        let words = line.split(separator: 0x20, omittingEmptySubsequences: false)
        guard words.count == 3, words.allSatisfy({ !$0.isEmpty }),
            words[2].elementsEqual("HTTP/1.1".utf8) || words[2].elementsEqual("HTTP/1.0".utf8),
            let method = token(words[0]), let target = target(words[1])
        else { return .refused(status: 400, reason: "Bad Request") }
        return .request(method: method, path: target)
    }

    /// Where the head ends (its blank line: CRLF CRLF, or LF LF), within the limit.
    private static func headEnd(_ bytes: some Collection<UInt8>) -> Int? {
        // 1: a line has just ended; 2: and a CR follows it.
        var state = 0
        for (offset, byte) in bytes.prefix(maximumHeadBytes).enumerated() {
            switch (byte, state) {
            case (0x0A, 1), (0x0A, 2): return offset + 1
            case (0x0A, _): state = 1
            case (0x0D, 1): state = 2
            default: state = 0
            }
        }
        return nil
    }

    /// A method: letters only (`GET`, `HEAD`, …).
    private static func token(_ word: some Collection<UInt8>) -> String? {
        guard word.count <= 16, word.allSatisfy({ (0x41...0x5A).contains($0) }) else { return nil }
        return String(decoding: word, as: UTF8.self)
    }

    /// An origin-form target's path, without its query: visible ASCII only, starting with `/`.
    private static func target(_ word: some Collection<UInt8>) -> String? {
        guard word.first == UInt8(ascii: "/"), word.allSatisfy({ (0x21...0x7E).contains($0) }) else { return nil }
        return String(decoding: word.prefix { $0 != UInt8(ascii: "?") }, as: UTF8.self)
    }
}
