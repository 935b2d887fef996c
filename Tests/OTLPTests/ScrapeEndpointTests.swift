import Foundation
import OTLP
import OTLPExport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The scrape endpoint as anything on its port meets it: a scraper, a browser, a port scanner, a client that sends
/// half a request and waits.
struct ScrapeEndpointTests {
    @Test(arguments: [
        (
            "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n",
            ScrapeRequest.request(method: "GET", path: "/metrics")
        ),
        ("HEAD /metrics?x=1 HTTP/1.0\n\n", .request(method: "HEAD", path: "/metrics")),
        ("GET /metrics HTTP/1.1\r\nHost: x\r\n", .incomplete),
        ("GET /metrics HTTP/2\r\n\r\n", .refused(status: 400, reason: "Bad Request")),
        ("GET  /metrics HTTP/1.1\r\n\r\n", .refused(status: 400, reason: "Bad Request")),
        ("get /metrics HTTP/1.1\r\n\r\n", .refused(status: 400, reason: "Bad Request")),
        ("GET metrics HTTP/1.1\r\n\r\n", .refused(status: 400, reason: "Bad Request")),
        ("GET /m\u{e9}trics HTTP/1.1\r\n\r\n", .refused(status: 400, reason: "Bad Request")),
        ("\r\n\r\n", .refused(status: 400, reason: "Bad Request")),
        ("", .incomplete),
    ])
    func aRequestHeadIsReadOrRefused(head: String, expected: ScrapeRequest) {
        #expect(ScrapeRequest.parse(Array(head.utf8)) == expected)
    }

    /// A head that never ends is refused once it passes the bound, however it goes on.
    @Test func aHeadPastTheBoundIsRefused() {
        let endless = Array("GET /metrics HTTP/1.1\r\n".utf8) + Array(repeating: UInt8(ascii: "a"), count: 9000)
        #expect(ScrapeRequest.parse(endless) == .refused(status: 431, reason: "Request Header Fields Too Large"))
        #expect(ScrapeRequest.parse(endless.prefix(ScrapeRequest.maximumHeadBytes - 1)) == .incomplete)
    }

    /// A connection to `port` on loopback, `request` sent on it.
    static func send(_ request: String, port: Int) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(connected == 0)
        _ = Array(request.utf8).withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, 0) }
        return socket
    }

    /// What came back on a connection, whole, as the endpoint wrote it before closing it.
    static func answer(_ socket: Int32) -> String {
        defer { close(socket) }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            answer += buffer[..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    static func exchange(_ request: String, port: Int) throws -> String {
        answer(try send(request, port: port))
    }

    @Test func itAnswersTheScrapeAndNothingElse() throws {
        let endpoint = try ScrapeEndpoint(ScrapeAddress(host: "localhost", port: 0), contentType: "text/plain") {
            Array("up 1\n".utf8)
        }
        defer { endpoint.stop() }
        let scrape = try Self.exchange("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", port: endpoint.port)
        #expect(scrape.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(scrape.contains("Content-Length: 5\r\n") && scrape.hasSuffix("\r\n\r\nup 1\n"))
        let head = try Self.exchange("HEAD /metrics HTTP/1.1\r\n\r\n", port: endpoint.port)
        #expect(head.hasPrefix("HTTP/1.1 200 OK") && head.hasSuffix("\r\n\r\n"))
        #expect(try Self.exchange("GET / HTTP/1.1\r\n\r\n", port: endpoint.port).hasPrefix("HTTP/1.1 404"))
        #expect(try Self.exchange("POST /metrics HTTP/1.1\r\n\r\n", port: endpoint.port).hasPrefix("HTTP/1.1 405"))
        #expect(try Self.exchange("\u{16}\u{03}\u{01}junk\r\n\r\n", port: endpoint.port).hasPrefix("HTTP/1.1 400"))
    }

    /// A client that sends half a request and goes silent holds the endpoint for its time limit at most: the
    /// scrape queued behind it is answered (the test's own patience is far past the limit).
    @Test func aSilentClientIsDroppedAndTheNextOneServed() async throws {
        let endpoint = try ScrapeEndpoint(ScrapeAddress(host: "127.0.0.1", port: 0), contentType: "text/plain") {
            Array("up 1\n".utf8)
        }
        defer { endpoint.stop() }
        let silent = try Self.send("GET /metrics HTTP/1.1\r\n", port: endpoint.port)
        let port = endpoint.port
        let scrape = try await Task.detached { try Self.exchange("GET /metrics HTTP/1.1\r\n\r\n", port: port) }.value
        #expect(scrape.hasSuffix("up 1\n"))
        #expect(Self.answer(silent) == "", "dropped without an answer")
    }

    @Test func aPortInUseIsAClearError() throws {
        let first = try ScrapeEndpoint(ScrapeAddress(host: "127.0.0.1", port: 0), contentType: "text/plain") { [] }
        defer { first.stop() }
        #expect(throws: ScrapeEndpointError.self) {
            try ScrapeEndpoint(ScrapeAddress(host: "127.0.0.1", port: first.port), contentType: "text/plain") { [] }
        }
        do {
            _ = try ScrapeEndpoint(ScrapeAddress(host: "127.0.0.1", port: first.port), contentType: "text/plain") { [] }
        } catch {
            #expect("\(error)".contains("cannot listen on 127.0.0.1:\(first.port): Address already in use"))
        }
    }
}
