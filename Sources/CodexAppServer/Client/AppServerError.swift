public import JSONRPC

/// A failure to run or talk to `codex app-server`. A turn that ends `failed` is an outcome, not this error.
public struct AppServerError: Error, Sendable, CustomStringConvertible {
    /// A kind of failure, stable across releases; new kinds may be added.
    public struct Code: Hashable, Sendable {
        private let name: String
        /// Codex could not be started: check the executable path or `CODEX_BIN`.
        public static let launchFailed = Code(name: "launchFailed")
        /// Codex started but did not answer `initialize` in time or refused it.
        public static let handshakeFailed = Code(name: "handshakeFailed")
        /// Codex exited (crashed, was killed, or rejected its configuration) while we waited.
        public static let serverExited = Code(name: "serverExited")
        /// Codex answered a request with a JSON-RPC error: see `serverError`.
        public static let requestFailed = Code(name: "requestFailed")
        /// Codex answered in a shape we cannot use.
        public static let unexpectedResponse = Code(name: "unexpectedResponse")
        /// Codex did not answer in time.
        public static let timedOut = Code(name: "timedOut")
    }

    public var code: Code
    /// What happened and what to check.
    public var message: String
    /// The JSON-RPC error Codex answered with, for `.requestFailed`.
    public var serverError: JSONRPCError?
    /// The end of Codex's stderr when it exited, introduced for appending; "" if none. It is Codex's own log and
    /// may quote the session: show it to a person, never export it.
    public var stderrExcerpt: String

    init(_ code: Code, _ message: String, stderrExcerpt: String = "") {
        self.code = code
        self.message = message
        self.stderrExcerpt = stderrExcerpt
    }

    init(_ error: JSONRPCConnectionError) {
        switch error.code {
        case .serverError: code = .requestFailed
        case .timedOut: code = .timedOut
        default: code = .serverExited
        }
        message = error.message
        serverError = error.serverError
        stderrExcerpt = ""
    }

    public var description: String { message + stderrExcerpt }
}
