public import FoundationEssentials
public import JSON
import Synchronization

/// A JSON-RPC 2.0 peer speaking JSONL over a child process's stdin and stdout.
///
/// Our requests wait for their answers in a table; the peer's own requests are answered by a handler, each in a
/// task of its own, so a slow answer never holds up reading. Every inbound line is also shown to an observer, in
/// order, before it is acted on.
public final class JSONRPCConnection: Sendable {
    /// Answers a request the peer sends us.
    public typealias RequestHandler = @Sendable (JSONRPCRequest) async -> Result<JSONValue, JSONRPCError>

    /// One line as it arrived, with its decoding (`nil` when the line is not a JSON-RPC message).
    public struct InboundLine: Sendable {
        public var bytes: [UInt8]
        public var message: JSONRPCMessage?
        public var receivedAt: Date
    }

    /// How long `run` waits for the child to exit once its stdout has closed.
    public static let exitGrace = Duration.seconds(5)

    private let process: ChildProcess
    private let sent: (@Sendable ([UInt8]) -> Void)?
    private let state = Mutex(State())

    private struct State: ~Copyable {
        var nextID: Int64 = 1
        var pending: [JSONRPCID: CheckedContinuation<JSONValue, any Error>] = [:]
        var closedReason: String?
        var undecodableLineCount = 0
    }

    /// Wraps a running child; call `run(handler:observer:)` to start reading.
    ///
    /// - Parameters:
    ///   - process: the child to talk to, with its stdin and stdout.
    ///   - sent: sees each line we send (without its newline), in order, as it is queued.
    package init(process: ChildProcess, sent: (@Sendable ([UInt8]) -> Void)? = nil) {
        self.process = process
        self.sent = sent
    }

    private func send(_ message: JSONRPCMessage) {
        let line = message.json.serialized()
        sent?(line)
        process.send(line: line)
    }

    /// How many inbound lines were not JSON-RPC messages (they are skipped).
    public var undecodableLineCount: Int { state.withLock { $0.undecodableLineCount } }

    /// Sends a request and waits for its answer.
    ///
    /// - Throws: `JSONRPCConnectionError` with code `.serverError` carrying the peer's error object, or
    ///   `.connectionClosed` when the child ends first, or `CancellationError` when the calling task is cancelled.
    public func request(
        _ method: String,
        params: JSONValue? = nil,
        otherMembers: JSONObject = [:]
    ) async throws -> JSONValue {
        let id = state.withLock { state -> JSONRPCID in
            defer { state.nextID += 1 }
            return .int(state.nextID)
        }
        let message = JSONRPCMessage.request(
            JSONRPCRequest(id: id, method: method, params: params, otherMembers: otherMembers)
        )
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let closedReason = state.withLock { state -> String? in
                    if let reason = state.closedReason { return reason }
                    if Task.isCancelled { return nil }
                    state.pending[id] = continuation
                    return nil
                }
                if let closedReason {
                    continuation.resume(throwing: JSONRPCConnectionError(.connectionClosed, method, closedReason))
                } else if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    send(message)
                }
            }
        } onCancel: {
            state.withLock { $0.pending.removeValue(forKey: id) }?.resume(throwing: CancellationError())
        }
    }

    /// Sends a notification.
    public func notify(_ method: String, params: JSONValue? = nil) {
        send(.notification(JSONRPCNotification(method: method, params: params)))
    }

    /// Reads until the child closes its stdout: routes answers to our requests, has `handler` answer the peer's
    /// requests, and shows every line to `observer`. When the stream ends, every request still waiting fails with
    /// `.connectionClosed`, and so does every later one; this returns once the child has exited, or at most
    /// `exitGrace` after its stdout closed (a child that closes its output and lives on is over as a peer).
    public func run(handler: @escaping RequestHandler, observer: (@Sendable (InboundLine) -> Void)? = nil) async {
        await withDiscardingTaskGroup { group in
            for await bytes in process.lines {
                let message = try? JSONRPCMessage(decoding: bytes)
                observer?(InboundLine(bytes: bytes, message: message, receivedAt: Date()))
                switch message {
                case .response(let response):
                    let waiter = state.withLock { $0.pending.removeValue(forKey: response.id) }
                    switch response.outcome {
                    case .success(let result): waiter?.resume(returning: result)
                    case .failure(let error):
                        waiter?.resume(throwing: JSONRPCConnectionError(.serverError, error))
                    }
                case .request(let request):
                    group.addTask {
                        let outcome = await handler(request)
                        self.send(.response(JSONRPCResponse(id: request.id, outcome: outcome)))
                    }
                case .notification:
                    break
                case nil:
                    state.withLock { $0.undecodableLineCount += 1 }
                }
            }
            group.cancelAll()
        }
        // Stdout closes as the child exits: wait a little for its status to say how it ended, unless told to stop.
        let termination = Task.isCancelled ? process.termination : await process.waitForExit(within: Self.exitGrace)
        let ending = termination.map { "the server \($0)" } ?? "the server closed its output but did not exit"
        let reason = ending + process.stderrExcerpt
        let waiters = state.withLock { state in
            state.closedReason = reason
            defer { state.pending = [:] }
            return state.pending.values
        }
        for waiter in waiters {
            waiter.resume(throwing: JSONRPCConnectionError(.connectionClosed, nil, reason))
        }
    }
}

/// A request that did not get a result.
public struct JSONRPCConnectionError: Error, Sendable, CustomStringConvertible {
    /// A kind of failure, stable across releases; new kinds may be added.
    public struct Code: Hashable, Sendable {
        private let name: String
        /// The peer answered with an error object: see `serverError`.
        public static let serverError = Code(name: "serverError")
        /// The peer went away before answering.
        public static let connectionClosed = Code(name: "connectionClosed")
        /// The peer did not answer in time.
        public static let timedOut = Code(name: "timedOut")
    }

    public var code: Code
    public var message: String
    /// The peer's error object, for `.serverError`.
    public var serverError: JSONRPCError?

    init(_ code: Code, _ error: JSONRPCError) {
        self.code = code
        self.message = "the server answered with error \(error.code): \(error.message)"
        self.serverError = error
    }

    /// Creates an error of `code` for `method` (when one request is concerned) with an explanation.
    public init(_ code: Code, _ method: String?, _ reason: String) {
        self.code = code
        self.message = method.map { "\($0) failed: \(reason)" } ?? reason
        self.serverError = nil
    }

    public var description: String { message }
}
