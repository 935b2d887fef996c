import Synchronization

/// Exports log records, spans and metrics over OTLP/HTTP without ever losing what it was given.
///
/// `enqueue` only appends to memory, so exporting never slows the caller. A batcher encodes full (or old enough)
/// batches and writes them to the spool; a sender posts spooled requests, oldest first (from earlier runs too),
/// retrying with exponential backoff and jitter, honouring `Retry-After`. A request is removed from the spool only
/// once the collector has taken it or refused it for good; so memory holds one batch at most, and what cannot be
/// sent before the end waits in the spool for the next run.
public final class OTLPExporter: Sendable {
    /// How records are grouped into requests.
    public struct Batching: Sendable {
        /// Records per request. Default: 512.
        public var maximumSize: Int
        /// How long a record may wait for its batch to fill. Default: 1 second.
        public var maximumDelay: Duration

        public init(maximumSize: Int = 512, maximumDelay: Duration = .seconds(1)) {
            self.maximumSize = maximumSize
            self.maximumDelay = maximumDelay
        }
    }

    /// How the exporter waits between attempts.
    public struct Backoff: Sendable {
        public var initial: Duration
        public var maximum: Duration

        public init(initial: Duration = .milliseconds(500), maximum: Duration = .seconds(5)) {
            self.initial = initial
            self.maximum = maximum
        }
    }

    private let configuration: OTLPExporterConfiguration
    private let resource: OTLPResource
    private let scope: OTLPScope
    private let spool: DiskSpool
    private let batching: Batching
    private let backoff: Backoff
    private let sender = HTTPSender()
    private let state = Mutex(State())
    private let batchReady = Doorbell()
    private let spoolChanged = Doorbell()

    private enum Worker {
        case batcher, sender, deadline
    }

    private struct State {
        var logs: [OTLPLogRecord] = []
        var spans: [OTLPSpan] = []
        var oldestPending: ContinuousClock.Instant?
        var finishing = false
        var batcherDone = false
        var report = ExportReport()
    }

    private init(
        configuration: OTLPExporterConfiguration,
        resource: OTLPResource,
        scope: OTLPScope,
        spool: DiskSpool,
        batching: Batching,
        backoff: Backoff
    ) {
        self.configuration = configuration
        self.resource = resource
        self.scope = scope
        self.spool = spool
        self.batching = batching
        self.backoff = backoff
    }

    /// Runs `body` with an exporter, then flushes, whether `body` returned or threw: everything given is spooled,
    /// and sending goes on until the spool is empty or `flushTimeout` has passed. What is left stays in the spool
    /// for the next run.
    ///
    /// - Returns: what `body` returned, and a report of what was sent, refused and left.
    /// - Throws: what `body` throws, after the flush (the report is then lost to the caller, not the data).
    public static func withExporter<Result: Sendable>(
        configuration: OTLPExporterConfiguration,
        scope: OTLPScope,
        spool: DiskSpool,
        flushTimeout: Duration,
        batching: Batching = Batching(),
        backoff: Backoff = Backoff(),
        _ body: (OTLPExporter) async throws -> Result
    ) async throws -> (Result, ExportReport) {
        var attributes = [OTLPAttribute("service.name", .string(configuration.serviceName))]
        attributes += configuration.resourceAttributes.sorted { $0.key < $1.key }.map {
            OTLPAttribute($0.key, .string($0.value))
        }
        let exporter = OTLPExporter(
            configuration: configuration,
            resource: OTLPResource(attributes: attributes),
            scope: scope,
            spool: spool,
            batching: batching,
            backoff: backoff
        )
        return try await withThrowingTaskGroup(of: Worker.self, returning: (Result, ExportReport).self) { group in
            group.addTask {
                await exporter.runBatcher()
                return .batcher
            }
            group.addTask {
                await exporter.runSender()
                return .sender
            }
            // Whatever happened in `body`, what it handed over is flushed: a failure is when telemetry matters most.
            let outcome: Swift.Result<Result, any Error>
            do {
                outcome = .success(try await body(exporter))
            } catch {
                outcome = .failure(error)
            }
            exporter.state.withLock { $0.finishing = true }
            exporter.batchReady.ring()
            // What is in memory reaches the spool whatever the deadline (the sender cannot end before it does):
            // the deadline bounds sending, never keeping.
            while let worker = try? await group.next(), worker != .batcher {}
            group.addTask {
                try? await Task.sleep(for: flushTimeout)
                return .deadline
            }
            // Flushed when the sender has emptied the spool (it ends only then), or out of time.
            _ = try? await group.next()
            group.cancelAll()
            return (try outcome.get(), exporter.finalReport())
        }
    }

    /// Adds a log record; it leaves in the next logs batch.
    public func enqueue(_ record: OTLPLogRecord) {
        add { $0.logs.append(record) }
    }

    /// Adds a span; it leaves in the next traces batch.
    public func enqueue(_ span: OTLPSpan) {
        add { $0.spans.append(span) }
    }

    /// Sends a collection of metrics as a request of its own: collections are few and small, and each is a
    /// snapshot in time that should not wait for, or merge with, the next.
    public func enqueue(_ metrics: [OTLPMetric]) {
        guard !metrics.isEmpty else { return }
        spoolBatch(.metrics(metrics))
        spoolChanged.ring()
    }

    private func add(_ change: (inout State) -> Void) {
        let (full, overflow) = state.withLock { state -> (Bool, [OTLPBatch]) in
            change(&state)
            if state.oldestPending == nil { state.oldestPending = .now }
            // A producer far faster than the batcher (a replay, never a live session) spools a batch itself, so
            // memory stays bounded.
            let limit = 4 * batching.maximumSize
            var overflow: [OTLPBatch] = []
            if state.logs.count >= limit {
                overflow.append(.logs(Array(state.logs.prefix(batching.maximumSize))))
                state.logs.removeFirst(batching.maximumSize)
            }
            if state.spans.count >= limit {
                overflow.append(.traces(Array(state.spans.prefix(batching.maximumSize))))
                state.spans.removeFirst(batching.maximumSize)
            }
            let full = state.logs.count >= batching.maximumSize || state.spans.count >= batching.maximumSize
            return (full, overflow)
        }
        for batch in overflow { spoolBatch(batch) }
        if !overflow.isEmpty { spoolChanged.ring() }
        if full { batchReady.ring() }
    }

    // MARK: - Batcher: memory to spool

    private func runBatcher() async {
        while !Task.isCancelled {
            let (batches, finishing, wait) = state.withLock { state -> ([OTLPBatch], Bool, Duration?) in
                let due = state.oldestPending.map { ContinuousClock.now - $0 >= batching.maximumDelay } ?? false
                let full = state.logs.count >= batching.maximumSize || state.spans.count >= batching.maximumSize
                guard due || full || state.finishing else {
                    return ([], false, state.oldestPending.map { batching.maximumDelay - (ContinuousClock.now - $0) })
                }
                var batches: [OTLPBatch] = []
                for chunk in state.logs.chunked(batching.maximumSize) { batches.append(.logs(chunk)) }
                for chunk in state.spans.chunked(batching.maximumSize) { batches.append(.traces(chunk)) }
                state.logs = []
                state.spans = []
                state.oldestPending = nil
                return (batches, state.finishing, nil)
            }
            for batch in batches { spoolBatch(batch) }
            if !batches.isEmpty { spoolChanged.ring() }
            if finishing {
                state.withLock { $0.batcherDone = true }
                spoolChanged.ring()
                return
            }
            if batches.isEmpty { await batchReady.wait(upTo: wait ?? .seconds(3600)) }
        }
    }

    /// Every batch passes here, so this is where a signal that is not exported is dropped.
    private func spoolBatch(_ batch: OTLPBatch) {
        guard configuration.signals.contains(batch.signal) else { return }
        let wireProtocol = configuration.wireProtocol(for: batch.signal)
        let body =
            wireProtocol == .protobuf
            ? batch.protobuf(resource: resource, scope: scope) : batch.json(resource: resource, scope: scope)
        do {
            let dropped = try spool.write(
                body,
                signal: batch.signal,
                wireProtocol: wireProtocol,
                itemCount: batch.itemCount
            )
            state.withLock { $0.report.droppedBySpoolLimit += dropped }
        } catch {
            state.withLock { $0.report.unspooled[batch.signal, default: 0] += batch.itemCount }
        }
    }

    // MARK: - Sender: spool to collector

    private func runSender() async {
        var failures = 0
        while !Task.isCancelled {
            let pending = spool.entries().filter {
                configuration.endpoints[$0.signal] != nil && configuration.signals.contains($0.signal)
            }
            if pending.isEmpty {
                if state.withLock({ $0.batcherDone }) { return }
                await spoolChanged.wait(upTo: .seconds(3600))
                continue
            }
            var attempted = false
            for entry in pending {
                guard !Task.isCancelled, let claim = spool.claim(entry) else { continue }
                attempted = true
                guard let body = claim.read() else {
                    claim.finish(remove: false)
                    continue
                }
                let outcome = await sender.send(
                    body,
                    to: configuration.endpoints[entry.signal]!,
                    wireProtocol: entry.wireProtocol,
                    compression: configuration.compression(for: entry.signal),
                    headers: configuration.headers[entry.signal] ?? [:],
                    timeout: configuration.timeout(for: entry.signal)
                )
                switch outcome {
                case .accepted(let rejected, let message):
                    claim.finish(remove: true)
                    failures = 0
                    state.withLock { state in
                        state.report.sent[entry.signal, default: 0] += entry.itemCount - Int(rejected)
                        state.report.requests += 1
                        if rejected > 0 {
                            state.report.partiallyRejected[entry.signal, default: 0] += Int(rejected)
                            if let message { state.report.collectorMessages.insert(message) }
                        }
                    }
                case .refused(let status):
                    claim.finish(remove: true)
                    state.withLock { state in
                        state.report.refused[entry.signal, default: 0] += entry.itemCount
                        state.report.refusalStatuses.insert(status)
                    }
                case .retryable(let reason, let retryAfter):
                    claim.finish(remove: false)
                    failures += 1
                    state.withLock { state in
                        state.report.retries += 1
                        state.report.lastRetryReason = reason
                    }
                    try? await Task.sleep(for: retryAfter ?? delay(afterFailures: failures))
                }
                if case .retryable = outcome { break }
            }
            // Everything pending is being sent by another process sharing the spool: look again shortly.
            if !attempted { await spoolChanged.wait(upTo: .seconds(1)) }
        }
    }

    /// Exponential backoff with full jitter: a random wait up to `initial × 2^(failures-1)`, capped.
    private func delay(afterFailures failures: Int) -> Duration {
        let ceiling = min(backoff.maximum, backoff.initial * (1 << min(failures - 1, 20)))
        return ceiling * Double.random(in: 0.5...1.0)
    }

    private func finalReport() -> ExportReport {
        var report = state.withLock { $0.report }
        for entry in spool.entries() where configuration.endpoints[entry.signal] != nil {
            report.leftInSpool[entry.signal, default: 0] += entry.itemCount
            report.leftInSpoolBytes += entry.size
        }
        return report
    }
}

/// What an exporter did: counts of items (log records, spans, metric points) by signal.
public struct ExportReport: Sendable, Hashable {
    public var sent: [OTLPSignal: Int] = [:]
    /// Items the collector refused for good (a 4xx other than 429).
    public var refused: [OTLPSignal: Int] = [:]
    public var refusalStatuses: Set<Int> = []
    /// Items a collector accepted the request of but rejected (partial success).
    public var partiallyRejected: [OTLPSignal: Int] = [:]
    public var collectorMessages: Set<String> = []
    /// Items still waiting in the spool, for the next run.
    public var leftInSpool: [OTLPSignal: Int] = [:]
    public var leftInSpoolBytes = 0
    /// Items dropped because the spool was full.
    public var droppedBySpoolLimit = 0
    /// Items that could not be written to the spool (a full disk).
    public var unspooled: [OTLPSignal: Int] = [:]
    public var requests = 0
    public var retries = 0
    public var lastRetryReason: String?

    public init() {}
}

/// Wakes one waiter; a ring with nobody waiting is kept for the next wait.
final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.rung = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns when rung, after `limit`, or when the task is cancelled.
    func wait(upTo limit: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForRing() }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForRing() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Bool in
                    if state.rung || Task.isCancelled {
                        state.rung = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }?.resume()
        }
    }
}

extension Array {
    fileprivate func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
