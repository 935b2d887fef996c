import Foundation
import SaturatingArithmetic

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// HTTP through URLSession, for `https`: TLS is the one thing worth its weight here. Redirects are refused (the
/// 3xx is the outcome), cookies and caches are off, and the response body is cut to a bound.
final class URLSessionHTTPTransport: HTTPTransport {
    private let session: URLSession

    init() {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieStorage = nil
        configuration.urlCache = nil
        session = URLSession(configuration: configuration, delegate: RedirectRefusal(), delegateQueue: nil)
    }

    deinit { session.invalidateAndCancel() }

    func post(_ request: HTTPRequest) async -> HTTPOutcome {
        var urlRequest = URLRequest(url: request.url)
        urlRequest.httpMethod = "POST"
        urlRequest.timeoutInterval = Double(request.timeout.wholeMilliseconds) / 1000
        for (name, value) in request.headers { urlRequest.setValue(value, forHTTPHeaderField: name) }
        let (data, response, error) = await upload(urlRequest, request.body)
        guard let data, let response = response as? HTTPURLResponse, error == nil else {
            // The description names no header and no URL.
            return .failed((error as? URLError).map { "\($0.code)" } ?? "connection failed")
        }
        var headers: [String: String] = [:]
        for case (let name as String, let value as String) in response.allHeaderFields {
            headers[name.lowercased()] = value
        }
        return .response(
            status: response.statusCode,
            headers: headers,
            body: Array(data.prefix(HTTPResponseParser.maximumBodyLength))
        )
    }

    /// Uploads with the completion-handler API, not `URLSession.upload(for:from:)`: on Linux, cancelling a task
    /// awaiting that async API while its request fails deadlocks (the task-cancellation lock is held while
    /// `URLSessionTask.cancel()` waits on the session's queue, where the failure waits for that lock). Here the
    /// cancellation is handed to another queue instead.
    private func upload(_ request: URLRequest, _ payload: [UInt8]) async -> (Data?, URLResponse?, (any Error)?) {
        let running = RunningTask()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let task = session.uploadTask(with: request, from: Data(payload)) { data, response, error in
                    continuation.resume(returning: (data, response, error))
                }
                running.set(task)
                task.resume()
                if Task.isCancelled { running.cancelElsewhere() }
            }
        } onCancel: {
            running.cancelElsewhere()
        }
    }
}

/// Answers every redirect with "do not follow": the response itself is then the outcome.
private final class RedirectRefusal: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession,
        task: URLSessionTask,
        willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest,
        completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}

/// The upload in flight, for a cancellation that may come from any thread.
private final class RunningTask: @unchecked Sendable {
    private let lock = NSLock()
    private var task: URLSessionTask?

    func set(_ task: URLSessionTask) {
        lock.withLock { self.task = task }
    }

    func cancelElsewhere() {
        guard let task = lock.withLock({ self.task }) else { return }
        DispatchQueue.global().async { task.cancel() }
    }
}
