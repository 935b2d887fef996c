import DescriptorIO
import FoundationEssentials
import OTLP
import SaturatingArithmetic
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Plain HTTP/1.1 over a TCP socket, one connection per request (`Connection: close`), on a thread of its own.
///
/// Every wait is a `poll(2)` for the time left until the request's deadline, beside a pipe that cancellation
/// writes to: waiting for a slow or silent collector costs no CPU (URLSession on Linux keeps a core busy meanwhile),
/// a request never outlives its timeout, and a cancelled one ends at once. What the collector sends back is read
/// with bounds (`HTTPResponseParser`).
struct SocketHTTPTransport: HTTPTransport {
    func post(_ request: HTTPRequest) async -> HTTPOutcome {
        guard let wake = WakePipe() else {
            return .failed("cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                detachThread {
                    let outcome = Exchange(request: request, wake: wake.readEnd).run()
                    wake.close()
                    continuation.resume(returning: outcome)
                }
            }
        } onCancel: {
            wake.ring()
        }
    }
}

/// A pipe whose write end wakes a `poll(2)` on its read end, from any thread, until it is closed.
final class WakePipe: Sendable {
    private let ends: Mutex<(read: Int32, write: Int32)?>
    let readEnd: Int32

    init?() {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return nil }
        for end in fds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
        ends = Mutex((fds[0], fds[1]))
        readEnd = fds[0]
    }

    func ring() {
        ends.withLock { ends in
            guard let ends else { return }
            var byte: UInt8 = 1
            _ = write(ends.write, &byte, 1)
        }
    }

    func close() {
        ends.withLock { ends in
            guard let open = ends else { return }
            Glibc.close(open.read)
            Glibc.close(open.write)
            ends = nil
        }
    }
}

/// One request on one connection, blocking this thread only in `poll(2)`.
private struct Exchange {
    let request: HTTPRequest
    let wake: Int32
    let deadline: ContinuousClock.Instant

    init(request: HTTPRequest, wake: Int32) {
        self.request = request
        self.wake = wake
        deadline = .now + request.timeout
    }

    private enum Wait {
        case ready, timedOut, cancelled, failed
    }

    func run() -> HTTPOutcome {
        guard let host = request.url.host.map({ String($0.trimmed { $0 == "[" || $0 == "]" }) }), !host.isEmpty else {
            return .failed("the endpoint has no host")
        }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(request.url.port ?? 80), &hints, &found)
        guard resolved == 0, let first = found else {
            return .failed("cannot resolve the collector's host (\(String(cString: gai_strerror(resolved))))")
        }
        defer { freeaddrinfo(first) }
        var failure = "cannot connect"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let address = candidate?.pointee {
            candidate = address.ai_next
            switch connect(address) {
            case .success(let socket):
                defer { close(socket) }
                return exchange(on: socket)
            case .failure(let reason):
                failure = reason.message
                if reason.final { return .failed(failure) }
            }
        }
        return .failed(failure)
    }

    private struct ConnectFailure: Error {
        var message: String
        /// A timeout or cancellation: no other address is worth trying.
        var final = false
    }

    private func connect(_ address: addrinfo) -> Result<Int32, ConnectFailure> {
        let flags = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        let socket = Glibc.socket(address.ai_family, flags, address.ai_protocol)
        guard socket >= 0 else { return .failure(ConnectFailure(message: "cannot open a socket: \(errorText)")) }
        if Glibc.connect(socket, address.ai_addr, address.ai_addrlen) != 0 {
            guard errno == EINPROGRESS else {
                let message = "cannot connect: \(errorText)"
                close(socket)
                return .failure(ConnectFailure(message: message))
            }
            switch wait(socket, for: Int16(POLLOUT)) {
            case .timedOut:
                close(socket)
                return .failure(ConnectFailure(message: "no connection within the timeout", final: true))
            case .cancelled, .failed:
                close(socket)
                return .failure(ConnectFailure(message: "cancelled", final: true))
            case .ready:
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(socket, SOL_SOCKET, SO_ERROR, &error, &length)
                guard error == 0 else {
                    close(socket)
                    return .failure(ConnectFailure(message: "cannot connect: \(String(cString: strerror(error)))"))
                }
            }
        }
        return .success(socket)
    }

    private func exchange(on socket: Int32) -> HTTPOutcome {
        let message = head() + request.body
        var sent = 0
        while sent < message.count {
            let count = message.withUnsafeBytes {
                send(socket, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL))
            }
            if count > 0 {
                sent += count
            } else if count < 0, errno == EAGAIN || errno == EINTR {
                if let stopped = waitOrStop(socket, for: Int16(POLLOUT)) { return stopped }
            } else {
                return .failed("the connection failed while sending: \(errorText)")
            }
        }
        var parser = HTTPResponseParser()
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            let progress: HTTPResponseParser.Progress
            if count > 0 {
                progress = parser.feed(chunk[..<count])
            } else if count == 0 {
                progress = parser.finish()
            } else if errno == EAGAIN || errno == EINTR {
                if let stopped = waitOrStop(socket, for: Int16(POLLIN)) { return stopped }
                continue
            } else {
                return .failed("the connection failed while receiving: \(errorText)")
            }
            switch progress {
            case .needMore: continue
            case .complete(let response):
                return .response(status: response.status, headers: response.headers, body: response.body)
            case .malformed(let reason): return .failed(reason)
            }
        }
    }

    /// The request line and headers. The path is sent as the URL has it, percent-encoding and all.
    private func head() -> [UInt8] {
        let components = URLComponents(url: request.url, resolvingAgainstBaseURL: false)
        var target = components?.percentEncodedPath ?? "/"
        if target.isEmpty { target = "/" }
        if let query = components?.percentEncodedQuery { target += "?" + query }
        let host = request.url.host.map { $0.contains(":") && !$0.hasPrefix("[") ? "[\($0)]" : $0 } ?? ""
        var text = "POST \(target) HTTP/1.1\r\nHost: \(host)\(request.url.port.map { ":\($0)" } ?? "")\r\n"
        for (name, value) in request.headers { text += "\(name): \(value)\r\n" }
        text += "Content-Length: \(request.body.count)\r\nConnection: close\r\n\r\n"
        return Array(text.utf8)
    }

    private func waitOrStop(_ socket: Int32, for events: Int16) -> HTTPOutcome? {
        switch wait(socket, for: events) {
        case .ready: nil
        case .timedOut: .failed("no answer within the timeout")
        case .cancelled: .failed("cancelled")
        case .failed: .failed("cannot wait for the connection: \(errorText)")
        }
    }

    /// Waits until `socket` is ready for `events` (or in error, which the next call reports), the deadline
    /// passes, or a cancellation rings.
    private func wait(_ socket: Int32, for events: Int16) -> Wait {
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { return .timedOut }
            let milliseconds = Int32(clamping: left.wholeMilliseconds.addingSaturated(1))
            var descriptors = [
                pollfd(fd: socket, events: events, revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&descriptors, 2, milliseconds)
            if ready < 0 { if errno == EINTR { continue } else { return .failed } }
            if descriptors[1].revents != 0 { return .cancelled }
            if ready > 0 { return .ready }
        }
    }

    private var errorText: String { String(cString: strerror(errno)) }
}
