import DescriptorIO
import FoundationEssentials
import SaturatingArithmetic
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// HTTPS and HTTP/2 through the system's libcurl, loaded the first time either is needed: TLS and HTTP/2 are the
/// things worth a library here, and a run that exports over plain HTTP/1.1, or not at all, neither loads it nor
/// needs it to be installed. Plain http is spoken only as HTTP/2, redirects are not followed (the 3xx is the
/// outcome), the response is kept within the bounds of `HTTPResponseParser`, and a cancelled request ends at once.
struct CurlHTTPTransport: HTTPTransport {
    /// A PEM file of the certificates a server's must chain to, in place of the system's.
    let trustedCertificates: String?
    private let connections = ConnectionCache()

    init(trustedCertificates: String?) {
        self.trustedCertificates = trustedCertificates
    }

    func post(_ request: HTTPRequest) async -> HTTPOutcome {
        guard let curl = Libcurl.shared else {
            return .failed("https and gRPC need libcurl (libcurl.so.4), which cannot be loaded")
        }
        let transfer = Transfer(curl: curl, connections: connections)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                detachThread {
                    continuation.resume(returning: transfer.run(request, trustedCertificates: trustedCertificates))
                }
            }
        } onCancel: {
            transfer.cancel()
        }
    }
}

/// One easy handle and one multi handle for every transfer of a transport, so that the next https request to the
/// same collector goes over the last one's connection, and its TLS session, rather than a handshake per batch.
/// Transfers take them one at a time (the exporter sends one request at a time anyway); the multi handle may be
/// woken from any thread.
private final class ConnectionCache: @unchecked Sendable {
    struct Handles {
        var curl: Libcurl
        var easy: Libcurl.Handle
        var multi: Libcurl.Handle
    }

    private let handles = Mutex<Handles?>(nil)
    private let turn = Mutex(())

    /// The handles, made at their first use.
    func handles(_ curl: Libcurl) -> Handles? {
        handles.withLock { handles in
            if handles == nil, let easy = curl.easyInit() {
                if let multi = curl.multiInit() {
                    handles = Handles(curl: curl, easy: easy, multi: multi)
                } else {
                    curl.easyCleanup(easy)
                }
            }
            return handles
        }
    }

    /// Runs `body` while no other transfer uses the handles.
    func oneAtATime<Result>(_ body: () -> Result) -> Result {
        turn.withLock { _ in body() }
    }

    deinit {
        guard let handles = handles.withLock({ $0 }) else { return }
        _ = handles.curl.multiCleanup(handles.multi)
        handles.curl.easyCleanup(handles.easy)
    }
}

/// The functions of libcurl we call, found in the library at run time.
private struct Libcurl: @unchecked Sendable {
    typealias Handle = OpaquePointer

    let easyInit: @convention(c) () -> Handle?
    let easyCleanup: @convention(c) (Handle?) -> Void
    let easyReset: @convention(c) (Handle?) -> Void
    let easyGetInfo: @convention(c) (Handle?, Int32, UnsafeMutableRawPointer?) -> Int32
    let easyError: @convention(c) (Int32) -> UnsafePointer<CChar>?
    let multiInit: @convention(c) () -> Handle?
    let multiCleanup: @convention(c) (Handle?) -> Int32
    let multiAdd: @convention(c) (Handle?, Handle?) -> Int32
    let multiRemove: @convention(c) (Handle?, Handle?) -> Int32
    let multiPerform: @convention(c) (Handle?, UnsafeMutablePointer<Int32>?) -> Int32
    let multiPoll:
        @convention(c) (Handle?, UnsafeMutableRawPointer?, UInt32, Int32, UnsafeMutablePointer<Int32>?) -> Int32
    let multiWakeup: @convention(c) (Handle?) -> Int32
    let multiInfoRead: @convention(c) (Handle?, UnsafeMutablePointer<Int32>?) -> UnsafeRawPointer?
    let listAppend: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> OpaquePointer?
    let listFree: @convention(c) (OpaquePointer?) -> Void
    /// `curl_easy_setopt` is variadic: its last argument is a `long`, a pointer or a `curl_off_t` by option, which
    /// the platform C calling conventions (System V x86-64, AArch64) pass alike to a variadic and a fixed prototype.
    private let setOption: UnsafeMutableRawPointer
    private let globalInit: @convention(c) (Int) -> Int32

    /// The library, loaded and initialised once, or `nil` when it is not installed or lacks a function we call
    /// (`curl_multi_wakeup` came with 7.68, in 2020).
    static let shared: Libcurl? = {
        guard let library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL), let curl = Libcurl(library),
            curl.globalInit(3) == 0  // CURL_GLOBAL_ALL
        else { return nil }
        return curl
    }()

    private struct MissingFunction: Error {}

    private init?(_ library: UnsafeMutableRawPointer) {
        func function<F>(_ name: String) throws(MissingFunction) -> F {
            guard let address = dlsym(library, name) else { throw MissingFunction() }
            return unsafeBitCast(address, to: F.self)
        }
        do {
            globalInit = try function("curl_global_init")
            easyInit = try function("curl_easy_init")
            easyCleanup = try function("curl_easy_cleanup")
            easyReset = try function("curl_easy_reset")
            easyGetInfo = try function("curl_easy_getinfo")
            easyError = try function("curl_easy_strerror")
            multiInit = try function("curl_multi_init")
            multiCleanup = try function("curl_multi_cleanup")
            multiAdd = try function("curl_multi_add_handle")
            multiRemove = try function("curl_multi_remove_handle")
            multiPerform = try function("curl_multi_perform")
            multiPoll = try function("curl_multi_poll")
            multiWakeup = try function("curl_multi_wakeup")
            multiInfoRead = try function("curl_multi_info_read")
            listAppend = try function("curl_slist_append")
            listFree = try function("curl_slist_free_all")
            setOption = try function("curl_easy_setopt")
        } catch {
            return nil
        }
    }

    /// Options and the numbers `curl.h` gives them (type base plus index).
    enum Option: Int32 {
        case writeData = 10001
        case url = 10002
        case postFields = 10015
        case httpHeader = 10023
        case headerData = 10029
        case trustedCertificates = 10065
        case writeFunction = 20011
        case headerFunction = 20079
        case post = 47
        case followLocation = 52
        case httpVersion = 84
        case freshConnect = 74
        case forbidReuse = 75
        case noSignal = 99
        case protocols = 181
        case timeoutMilliseconds = 155
        case postFieldSize = 30120
    }

    func set(_ handle: Handle, _ option: Option, _ value: Int) -> Bool {
        typealias SetLong = @convention(c) (Handle?, Int32, Int) -> Int32
        return unsafeBitCast(setOption, to: SetLong.self)(handle, option.rawValue, value) == 0
    }

    func set(_ handle: Handle, _ option: Option, _ value: UnsafeRawPointer?) -> Bool {
        typealias SetPointer = @convention(c) (Handle?, Int32, UnsafeRawPointer?) -> Int32
        return unsafeBitCast(setOption, to: SetPointer.self)(handle, option.rawValue, value) == 0
    }

    func set(_ handle: Handle, _ option: Option, offset value: Int64) -> Bool {
        typealias SetOffset = @convention(c) (Handle?, Int32, Int64) -> Int32
        return unsafeBitCast(setOption, to: SetOffset.self)(handle, option.rawValue, value) == 0
    }

    func describe(_ code: Int32) -> String {
        easyError(code).map { String(cString: $0) } ?? "libcurl error \(code)"
    }
}

/// One POST on the transport's handles, driven by its multi handle so that `cancel` can wake its wait from any
/// thread, and the connection outlives it.
private final class Transfer: @unchecked Sendable {
    private let curl: Libcurl
    private let connections: ConnectionCache
    private let cancelled = Atomic(false)
    /// What the callbacks collect, on the thread of `run` only.
    private var headers: [String: String] = [:]
    private var headBytes = 0
    private var body: [UInt8] = []

    init(curl: Libcurl, connections: ConnectionCache) {
        self.curl = curl
        self.connections = connections
    }

    func cancel() {
        cancelled.store(true, ordering: .releasing)
        _ = connections.handles(curl).map { curl.multiWakeup($0.multi) }
    }

    func run(_ request: HTTPRequest, trustedCertificates: String?) -> HTTPOutcome {
        guard let handles = connections.handles(curl) else { return .failed("libcurl cannot start a transfer") }
        var list: OpaquePointer?
        for header in request.headers + [("Expect", "")] {
            list = curl.listAppend(list, "\(header.name): \(header.value)")
        }
        defer { curl.listFree(list) }
        return connections.oneAtATime {
            // Cancelled while another transfer had the handles: nothing is sent.
            if cancelled.load(ordering: .acquiring) { return .failed("cancelled") }
            // Every option is set anew: what the last request set (its body, headers, callbacks) must not carry over.
            curl.easyReset(handles.easy)
            // libcurl copies the strings it is given, not the body: that is read in place while the request runs.
            return request.body.withUnsafeBytes { body in
                guard
                    configure(
                        handles.easy,
                        request,
                        body: body,
                        headers: list,
                        trustedCertificates: trustedCertificates
                    )
                else { return .failed("libcurl refused an option") }
                defer { _ = curl.multiRemove(handles.multi, handles.easy) }
                return perform(handles, http2: request.version == .http2)
            }
        }
    }

    private func configure(
        _ easy: Libcurl.Handle,
        _ request: HTTPRequest,
        body: UnsafeRawBufferPointer,
        headers: OpaquePointer?,
        trustedCertificates: String?
    ) -> Bool {
        let context = UnsafeRawPointer(Unmanaged.passUnretained(self).toOpaque())
        // HTTP/2 by prior knowledge over http, and as the only protocol ALPN may settle on over https (`perform`
        // refuses an answer in another version). Plain HTTP/1.1 is never libcurl's to speak.
        let http2 = request.version == .http2
        let settings = [
            curl.set(easy, .protocols, http2 ? 3 : 2),  // CURLPROTO_HTTP | CURLPROTO_HTTPS, or CURLPROTO_HTTPS
            // CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE for http, CURL_HTTP_VERSION_2TLS for https.
            http2 ? curl.set(easy, .httpVersion, request.url.scheme?.lowercased() == "http" ? 5 : 4) : true,
            // libcurl 7.88 (Debian 12's) fails the second request on a reused HTTP/2 connection ("Error in the HTTP2
            // framing layer", the curl tool too): a connection per gRPC call there.
            http2 ? curl.set(easy, .freshConnect, 1) && curl.set(easy, .forbidReuse, 1) : true,
            curl.set(easy, .followLocation, 0), curl.set(easy, .noSignal, 1), curl.set(easy, .post, 1),
            curl.set(easy, .postFields, body.baseAddress ?? UnsafeRawPointer(bitPattern: 1)),
            curl.set(easy, .postFieldSize, offset: Int64(body.count)),
            curl.set(easy, .httpHeader, headers.map(UnsafeRawPointer.init)),
            curl.set(easy, .timeoutMilliseconds, Int(request.timeout.wholeMilliseconds)),
            curl.set(easy, .writeFunction, unsafeBitCast(Self.receiveBody, to: UnsafeRawPointer.self)),
            curl.set(easy, .writeData, context),
            curl.set(easy, .headerFunction, unsafeBitCast(Self.receiveHeader, to: UnsafeRawPointer.self)),
            curl.set(easy, .headerData, context),
            request.url.absoluteString.withCString { curl.set(easy, .url, $0) },
            trustedCertificates.map { path in path.withCString { curl.set(easy, .trustedCertificates, $0) } } ?? true,
        ]
        return !settings.contains(false)
    }

    /// Runs the transfer to its end, waiting in libcurl's poll, which `cancel` wakes.
    private func perform(_ handles: ConnectionCache.Handles, http2: Bool) -> HTTPOutcome {
        let (handle, easy) = (handles.multi, handles.easy)
        guard curl.multiAdd(handle, easy) == 0 else { return .failed("libcurl cannot start a transfer") }
        var running: Int32 = 1
        while true {
            guard curl.multiPerform(handle, &running) == 0 else { return .failed("libcurl failed") }
            if running == 0 { break }
            if cancelled.load(ordering: .acquiring) { return .failed("cancelled") }
            guard curl.multiPoll(handle, nil, 0, 1000, nil) == 0 else { return .failed("libcurl failed") }
        }
        var left: Int32 = 0
        guard let message = curl.multiInfoRead(handle, &left) else { return .failed("libcurl gave no result") }
        // A CURLMsg: the kind of message (an int), the easy handle, then the result code (in a pointer-sized union).
        let result = message.load(fromByteOffset: 2 * MemoryLayout<UnsafeRawPointer>.stride, as: Int32.self)
        guard result == 0 else { return .failed(curl.describe(result)) }
        var status = 0
        let responseCode: Int32 = 0x20_0002  // CURLINFO_RESPONSE_CODE, a long
        guard curl.easyGetInfo(easy, responseCode, &status) == 0 else { return .failed("libcurl gave no status") }
        var version = 0
        let httpVersion: Int32 = 0x20_002E  // CURLINFO_HTTP_VERSION, a long: 3 is HTTP/2
        if http2, curl.easyGetInfo(easy, httpVersion, &version) != 0 || version != 3 {
            return .failed("the collector does not speak HTTP/2")
        }
        return .response(status: status, headers: headers, body: body)
    }

    /// What libcurl calls with each piece of the body, and with each line of the head.
    private typealias Receiver =
        @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int

    private static let receiveBody: Receiver = { bytes, size, count, context in
        receive(bytes, size, count, context) { $0.takeBody($1) }
    }

    private static let receiveHeader: Receiver = { bytes, size, count, context in
        receive(bytes, size, count, context) { $0.takeHeaderLine($1) }
    }

    /// Hands what libcurl passed a receiver to the transfer it was set up for, and answers libcurl as it expects:
    /// the number of bytes taken, all of them or 0 to end the transfer.
    private static func receive(
        _ bytes: UnsafeMutablePointer<CChar>?,
        _ size: Int,
        _ count: Int,
        _ context: UnsafeMutableRawPointer?,
        _ take: (Transfer, UnsafeRawBufferPointer) -> Bool
    ) -> Int {
        let (length, overflow) = size.multipliedReportingOverflow(by: count)
        guard !overflow, let bytes, let context else { return 0 }
        let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
        return take(transfer, UnsafeRawBufferPointer(start: bytes, count: length)) ? length : 0
    }

    /// Keeps the start of the body, up to the bound, and lets the rest go by.
    private func takeBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        body.append(contentsOf: bytes.prefix(max(0, HTTPResponseParser.maximumBodyLength - body.count)))
        return true
    }

    /// Keeps the headers of the last response, and its trailers (HTTP/2 hands them here too), names in lower case; a
    /// head past the bound ends the transfer.
    private func takeHeaderLine(_ bytes: UnsafeRawBufferPointer) -> Bool {
        headBytes = headBytes.addingSaturated(bytes.count)
        guard headBytes <= HTTPResponseParser.maximumHeadLength else { return false }
        let line = String(decoding: bytes, as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            headers = [:]  // a new response: after a proxy's CONNECT, or an interim 1xx
        } else if let (name, value) = HTTPResponseParser.header(in: line) {
            headers[name] = value
        }
        return true
    }
}
