import Foundation
import Testing

@testable import OTLP
@testable import OTLPExport

/// Responses as a collector may send them, whole or in pieces, well-formed or not.
struct HTTPResponseParserTests {
    /// Feeds `text` a few bytes at a time, as a slow connection would, then closes.
    static func parse(_ text: String, piece: Int = 3) -> HTTPResponseParser.Progress {
        var parser = HTTPResponseParser()
        let bytes = Array(text.utf8)
        for start in stride(from: 0, to: bytes.count, by: piece) {
            let progress = parser.feed(bytes[start..<min(start + piece, bytes.count)])
            if progress != .needMore { return progress }
        }
        return parser.finish()
    }

    static func response(_ status: Int, _ headers: [String: String], _ body: String) -> HTTPResponseParser.Progress {
        .complete(HTTPResponseParser.Response(status: status, headers: headers, body: Array(body.utf8)))
    }

    @Test func aBodyIsDelimitedByItsLengthByChunksOrByTheClose() {
        #expect(
            Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello and more")
                == Self.response(200, ["content-length": "5"], "hello")
        )
        #expect(
            Self.parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n")
                == Self.response(200, ["transfer-encoding": "chunked"], "hello")
        )
        #expect(
            Self.parse("HTTP/1.0 503 Busy\r\nRetry-After:  7 \r\n\r\nlater")
                == Self.response(503, ["retry-after": "7"], "later")
        )
    }

    @Test func interimResponsesArePassedOver() {
        #expect(
            Self.parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nX: y\r\n\r\n")
                == Self.response(204, ["x": "y"], "")
        )
    }

    @Test(arguments: [
        "", "SMTP ready\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        // A size that is not hexadecimal digits alone: a sign would pass `Int(_:radix:)`.
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nabc\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n0\r\n\r\n",
    ])
    func whatIsNotAWholeResponseIsMalformed(text: String) {
        guard case .malformed = Self.parse(text) else {
            Issue.record("accepted \(text.debugDescription)")
            return
        }
    }

    /// A head that never ends, or a body that goes on, is not buffered past the bounds.
    @Test func headsAndBodiesAreBounded() {
        var parser = HTTPResponseParser()
        var progress = HTTPResponseParser.Progress.needMore
        for _ in 0..<100 where progress == .needMore {
            progress = parser.feed(Array("X-Filler: \(String(repeating: "a", count: 1000))\r\n".utf8))
        }
        #expect(
            progress == .malformed("the response head is not HTTP/1.1")
                || progress == .malformed("the response head is too large")
        )
        let huge = "HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n" + String(repeating: "b", count: 70_000)
        guard case .complete(let response) = Self.parse(huge, piece: 4096) else {
            Issue.record("a body past the bound is cut, not refused")
            return
        }
        #expect(response.body.count == HTTPResponseParser.maximumBodyLength)
    }

    @Test(arguments: [
        ("0", Duration.zero), ("120", .seconds(120)), ("Wed, 18 Nov 2026 11:06:47 GMT", .seconds(7)),
        ("Wednesday, 18-Nov-26 11:06:47 GMT", .seconds(7)), ("Wed Nov 18 11:06:47 2026", .seconds(7)),
        ("Sun, 06 Nov 1994 08:49:37 GMT", .zero),
    ])
    func retryAfterIsReadInEveryForm(header: String, wait: Duration) {
        #expect(Delivery.retryAfter(header, now: Date(timeIntervalSince1970: 1_795_000_000)) == wait)
    }

    @Test(arguments: [
        "-1", "+5", "soon", "99999999999", "", "Wed, +8 Nov 2026 11:06:47 GMT", "Wed Nov 18 11:+6:47 2026",
    ])
    func anUnreadableRetryAfterIsNone(header: String) {
        #expect(Delivery.retryAfter(header, now: Date(timeIntervalSince1970: 1_795_000_000)) == nil)
    }
}
