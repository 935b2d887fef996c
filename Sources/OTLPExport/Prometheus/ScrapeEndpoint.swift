import DescriptorIO
import Dispatch
import SaturatingArithmetic
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where a scraper reads metrics: `GET /metrics` on a TCP port, answered with what `body` renders at that moment.
///
/// Anything on the port is untrusted. Connections are served one at a time, on a thread of their own, each for at
/// most `connectionTimeLimit` in all (a slow or silent client is dropped, not waited on), with a request head of at
/// most `ScrapeRequest.maximumHeadBytes`; what waits meanwhile is the kernel's backlog of 16.
public final class ScrapeEndpoint: Sendable {
    /// The longest a connection is served: reading its request and writing the answer.
    public static let connectionTimeLimit = Duration.seconds(5)

    /// The port listened on (the one the system chose, for port 0).
    public let port: Int
    private let listener: Int32
    private let wake: WakePipe
    private let stopped = DispatchSemaphore(value: 0)

    /// Listens on `address`, and serves until `stop`.
    ///
    /// - Throws: `ScrapeEndpointError` when the address cannot be listened on.
    public init(
        _ address: ScrapeAddress,
        contentType: String,
        body: @escaping @Sendable () -> [UInt8]
    ) throws(ScrapeEndpointError) {
        guard let wake = WakePipe() else { throw ScrapeEndpointError("cannot create a pipe: \(errorText)") }
        let listener = try Self.listen(host: address.host, port: address.port)
        var bound = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        // An IPv4 address's port and an IPv6 one's are both at offset 2, in network order.
        port =
            named != 0
            ? address.port
            : withUnsafeBytes(of: bound) {
                Int(UInt16(bigEndian: $0.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
            }
        self.listener = listener
        self.wake = wake
        let stopped = stopped
        detachThread {
            Self.serve(listener: listener, wake: wake.readEnd, contentType: contentType, body: body)
            close(listener)
            stopped.signal()
        }
    }

    /// Stops listening, once the connection being served (if any) is done; the port is free when this returns.
    public func stop() {
        wake.ring()
        stopped.wait()
        wake.close()
    }

    private static func listen(host: String, port: Int) throws(ScrapeEndpointError) -> Int32 {
        guard (0...65535).contains(port) else { throw ScrapeEndpointError("the port must be 0 to 65535: \(port)") }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var found: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host == "localhost" ? "127.0.0.1" : host, String(port), &hints, &found)
        guard resolved == 0, let first = found else {
            throw ScrapeEndpointError("cannot resolve \(host): \(String(cString: gai_strerror(resolved)))")
        }
        defer { freeaddrinfo(first) }
        var failure = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let address = candidate?.pointee {
            candidate = address.ai_next
            let flags = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
            let socket = Glibc.socket(address.ai_family, flags, address.ai_protocol)
            guard socket >= 0 else {
                failure = errorText
                continue
            }
            var yes: Int32 = 1
            setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
            if bind(socket, address.ai_addr, address.ai_addrlen) == 0, Glibc.listen(socket, 16) == 0 {
                return socket
            }
            failure = errorText
            close(socket)
        }
        throw ScrapeEndpointError("cannot listen on \(host):\(port): \(failure)")
    }

    /// Accepts and answers connections, one at a time, until the wake pipe rings.
    private static func serve(
        listener: Int32,
        wake: Int32,
        contentType: String,
        body: @Sendable () -> [UInt8]
    ) {
        while true {
            var fds = [
                pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
            ]
            guard poll(&fds, 2, -1) >= 0 || errno == EINTR else { return }
            if fds[1].revents != 0 { return }
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
            _ = fcntl(connection, F_SETFL, fcntl(connection, F_GETFL) | O_NONBLOCK)
            var exchange = ScrapeExchange(socket: connection, wake: wake, deadline: .now + connectionTimeLimit)
            exchange.run(contentType: contentType, body: body)
            close(connection)
        }
    }
}

/// Where a scrape endpoint listens: a host name or address (`localhost` is loopback) and a port.
public struct ScrapeAddress: Sendable, Hashable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

/// Why the endpoint could not start.
public struct ScrapeEndpointError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// One connection: its request head read, and one answer written, before the deadline.
private struct ScrapeExchange {
    let socket: Int32
    let wake: Int32
    let deadline: ContinuousClock.Instant

    mutating func run(contentType: String, body: () -> [UInt8]) {
        var head: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var request = ScrapeRequest.incomplete
        while case .incomplete = request {
            let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                head += chunk[..<count]
                request = ScrapeRequest.parse(head)
            } else if count < 0, errno == EAGAIN || errno == EINTR {
                guard waits(for: Int16(POLLIN)) else { return }
            } else {
                return
            }
        }
        switch request {
        case .incomplete:
            return
        case .refused(let status, let reason):
            answer(status: status, reason: reason, body: Array("\(reason)\n".utf8))
        case .request(let method, let path):
            guard method == "GET" || method == "HEAD" else {
                return answer(status: 405, reason: "Method Not Allowed", extra: "Allow: GET, HEAD\r\n")
            }
            guard path == "/metrics" else {
                return answer(status: 404, reason: "Not Found", body: Array("Not Found\n".utf8))
            }
            let text = body()
            answer(status: 200, reason: "OK", contentType: contentType, body: text, sendingBody: method == "GET")
        }
    }

    private func answer(
        status: Int,
        reason: String,
        contentType: String = "text/plain; charset=utf-8",
        extra: String = "",
        body: [UInt8] = [],
        sendingBody: Bool = true
    ) {
        let head =
            "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
            + "\(extra)Connection: close\r\n\r\n"
        guard send(Array(head.utf8)), sendingBody else { return }
        _ = send(body)
    }

    private func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes {
                Glibc.send(socket, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL))
            }
            if count > 0 {
                sent += count
            } else if count < 0, errno == EAGAIN || errno == EINTR {
                guard waits(for: Int16(POLLOUT)) else { return false }
            } else {
                return false
            }
        }
        return true
    }

    /// Waits for the socket to be ready for `events`, until the deadline or the wake pipe: whether it is.
    private func waits(for events: Int16) -> Bool {
        let left = deadline - .now
        guard left > .zero else { return false }
        var fds = [pollfd(fd: socket, events: events, revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        guard poll(&fds, 2, Int32(clamping: max(1, left.wholeMilliseconds))) > 0, fds[1].revents == 0 else {
            return false
        }
        return true
    }
}

private var errorText: String { String(cString: strerror(errno)) }
