import FoundationEssentials
public import OTLP
import Synchronization

/// Exports log records, spans and metrics over OTLP/HTTP, and says exactly what it could not deliver.
///
/// `enqueue` only appends to memory, so exporting never slows the caller. A batcher encodes full (or old enough)
/// batches and writes them to the spool; a sender posts spooled requests, oldest first (from earlier runs too),
/// retrying with exponential backoff and jitter, honouring `Retry-After` (never sooner than the backoff floor). A
/// request leaves the spool only once the collector has taken it or refused it for good; a redirect is neither,
/// and its signal is not sent again that run. When the spool cannot be written, a batch is held in memory (up to
/// 64 MiB) and sent from there; what is still there at the end is lost, and counted as lost.
public final class OTLPExporter: Sendable {
    /// How records are grouped into requests; how long one may wait for its batch to fill is the configuration's
    /// `scheduleDelay(for:)`.
    public struct Batching: Sendable {
        /// Records per request. Default: 512.
        public var maximumSize: Int

        /// Whether records leave only at `checkpoint`, never on their own, nor at the end.
        var atCheckpointsOnly = false

        public init(maximumSize: Int = 512) {
            self.maximumSize = maximumSize
        }

        /// Batches of `maximumSize` that leave only at `checkpoint`: for a reader that records how far it has read
        /// together with what it exported, and so must decide when records become sendable. Records it never
        /// checkpointed are not sent: it reads them again from where it recorded.
        public static func atCheckpoints(maximumSize: Int = 512) -> Batching {
            var batching = Batching(maximumSize: maximumSize)
            batching.atCheckpointsOnly = true
            return batching
        }
    }

    /// How the exporter waits between attempts.
    public struct Backoff: Sendable {
        /// The first wait, and the least any `Retry-After` can ask. Default: half a second.
        public var initial: Duration
        /// The longest wait the backoff grows to. Default: 5 seconds.
        public var maximum: Duration

        public init(initial: Duration = .milliseconds(500), maximum: Duration = .seconds(5)) {
            self.initial = initial
            self.maximum = maximum
        }

        /// The wait after `failures` failures in a row: `fraction` (the jitter, drawn by the caller) of
        /// `initial × 2^(failures-1)`, capped at `maximum`.
        package func delay(afterFailures failures: Int, fraction: Double) -> Duration {
            min(maximum, initial * (1 << min(max(failures, 1) - 1, 20))) * fraction
        }
    }

    /// The most held in memory for batches the spool would not take.
    static let maximumUnspooledBytes = 64 << 20
    /// The longest `Retry-After` honoured; the flush deadline usually ends a run sooner.
    static let longestRetryAfter = Duration.seconds(3600)

    private let configuration: OTLPExporterConfiguration
    /// Each signal's collector as its spooled requests name it, worked out once: every look at the spool asks.
    private let destinations: [OTLPSignal: String]
    private let resource: OTLPResource
    private let scope: OTLPScope
    private let spool: DiskSpool?
    private let batching: Batching
    private let backoff: Backoff
    private let http: HTTPSender
    private let grpc: GRPCSender
    private let clock: any ExportClock
    private let state = Mutex(State())
    private let batchReady = Doorbell()
    private let workWaiting = Doorbell()
    private let flushLimited = Doorbell()

    private enum Worker {
        case batcher, sender, deadline
        /// The flush was not limited after all.
        case unlimited
    }

    private struct State {
        var logs = BatchQueue<OTLPLogRecord>()
        var spans = BatchQueue<OTLPSpan>()
        var finishing = false
        var batcherDone = false
        var report = ExportReport()
        /// Batches the spool would not take, oldest first, sent from here.
        var unspooled = MemoryStore(maximumBytes: OTLPExporter.maximumUnspooledBytes)
        /// Signals whose endpoint answered with a redirect: not sent again this run.
        var redirected: Set<OTLPSignal> = []
        /// How long the flush may last at most once asked to be quick (`limitFlush`).
        var flushLimit: Duration?
        /// Full batches staged in the spool since the last checkpoint, which names them to its commit.
        var stagedSinceCheckpoint: [String] = []
    }

    /// Something to send: a batch held in memory, or a request in the spool.
    private enum Pending {
        case held(MemoryStore.Request)
        case spooled(DiskSpool.Entry)

        var signal: OTLPSignal {
            switch self {
            case .held(let batch): batch.signal
            case .spooled(let entry): entry.signal
            }
        }
    }

    private init(
        configuration: OTLPExporterConfiguration,
        scope: OTLPScope,
        spool: DiskSpool?,
        batching: Batching,
        backoff: Backoff,
        transport: any HTTPTransport,
        clock: any ExportClock
    ) {
        self.configuration = configuration
        destinations = Dictionary(
            uniqueKeysWithValues: OTLPSignal.allCases.map { ($0, configuration.destinationTag(for: $0)) }
        )
        resource = configuration.resource
        self.scope = scope
        self.spool = spool
        self.batching = batching
        self.backoff = backoff
        http = HTTPSender(configuration: configuration, transport: transport, clock: clock)
        grpc = GRPCSender(configuration: configuration, transport: transport)
        self.clock = clock
    }

    /// Runs `body` with an exporter, then flushes, whether `body` returned or threw, and even if the calling task
    /// is cancelled: everything given is spooled (or held in memory), and sending goes on until nothing is left or
    /// `flushTimeout` has passed. What is left in the spool waits for the next run.
    ///
    /// - Parameters:
    ///   - configuration: where and how to send.
    ///   - scope: the instrumentation scope of every record.
    ///   - spool: where batches wait; `nil` to hold them in memory only (what is not sent by the end is lost).
    ///   - flushTimeout: how long to keep sending once `body` has ended.
    ///   - batching: how records are grouped into requests.
    ///   - backoff: how long to wait between attempts.
    ///   - body: the work that produces the records.
    /// - Returns: what `body` returned, and a report of what was sent, refused, lost and left.
    /// - Throws: `OTLPConfigurationError` when a configured header cannot be sent; what `body` throws, after the
    ///   flush (the report is then lost to the caller, not the data).
    public static func withExporter<Result: Sendable>(
        configuration: OTLPExporterConfiguration,
        scope: OTLPScope,
        spool: DiskSpool?,
        flushTimeout: Duration,
        batching: Batching = Batching(),
        backoff: Backoff = Backoff(),
        _ body: (OTLPExporter) async throws -> Result
    ) async throws -> (Result, ExportReport) {
        try await withExporter(
            configuration: configuration,
            scope: scope,
            spool: spool,
            flushTimeout: flushTimeout,
            batching: batching,
            backoff: backoff,
            transport: SystemHTTPTransport(trustedCertificates: configuration.trustedCertificates),
            clock: SystemExportClock(),
            body
        )
    }

    /// The same, with the transport and the clock given: the seams tests use.
    package static func withExporter<Result: Sendable>(
        configuration: OTLPExporterConfiguration,
        scope: OTLPScope,
        spool: DiskSpool?,
        flushTimeout: Duration,
        batching: Batching = Batching(),
        backoff: Backoff = Backoff(),
        transport: any HTTPTransport,
        clock: any ExportClock,
        _ body: (OTLPExporter) async throws -> Result
    ) async throws -> (Result, ExportReport) {
        try configuration.checkHeaders()
        let exporter = OTLPExporter(
            configuration: configuration,
            scope: scope,
            spool: spool,
            batching: batching,
            backoff: backoff,
            transport: transport,
            clock: clock
        )
        // The workers run in a task of their own, so cancelling the caller cannot stop them from spooling what they
        // hold and flushing it (as swift-subprocess runs its teardown): the body's end is their only signal.
        let workers = Task { await exporter.runWorkers(flushTimeout: flushTimeout) }
        // Whatever happened in `body`, what it handed over is flushed: a failure is when telemetry matters most.
        let outcome: Swift.Result<Result, any Error>
        do {
            outcome = .success(try await body(exporter))
        } catch {
            outcome = .failure(error)
        }
        exporter.state.withLock { $0.finishing = true }
        exporter.batchReady.ring()
        await workers.value
        return (try outcome.get(), exporter.finalReport())
    }

    private func runWorkers(flushTimeout: Duration) async {
        await withTaskGroup(of: Worker.self) { group in
            group.addTask {
                await self.runBatcher()
                return .batcher
            }
            group.addTask {
                await self.runSender()
                return .sender
            }
            // What is in memory reaches the spool whatever the deadline (the batcher ends only when finishing, once
            // it has handed everything over): the deadline bounds sending, never keeping.
            var senderDone = false
            while let worker = await group.next() {
                if worker == .sender { senderDone = true }
                if worker == .batcher { break }
            }
            if !senderDone {
                group.addTask {
                    await self.clock.sleep(for: flushTimeout)
                    return .deadline
                }
                group.addTask {
                    await self.flushLimited.wait(upTo: flushTimeout)
                    guard let limit = self.state.withLock({ $0.flushLimit }) else { return .unlimited }
                    await self.clock.sleep(for: limit)
                    return .deadline
                }
                // Flushed when the sender has sent everything (it ends only then), or out of time.
                while await group.next() == .unlimited {}
            }
            group.cancelAll()
        }
    }

    /// Bounds the flush to `limit` from now (or from its start, if later), however long the flush timeout: for a
    /// process asked to stop, which has a moment before it is killed. What is not sent by then stays in the spool.
    public func limitFlush(to limit: Duration) {
        state.withLock { $0.flushLimit = min($0.flushLimit ?? limit, limit) }
        flushLimited.ring()
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
        keep(.metrics(metrics))
        workWaiting.ring()
    }

    /// Spools every record enqueued so far, with `metrics`, as requests that cannot be sent yet (those of full
    /// batches were staged as they filled); calls `commit` with their names; then makes them sendable. A caller that
    /// records, in `commit`, how far it has read and the names (to `DiskSpool.publish` them after a crash) neither
    /// loses nor repeats a record, wherever its process is killed. When `commit` throws, the requests stay staged (removed an hour later), and the error
    /// is rethrown. With no spool, or one that will not take them, the records are held in memory as always:
    /// exactly once then holds only while the process lives.
    public func checkpoint(including metrics: [OTLPMetric], _ commit: ([String]) throws -> Void) rethrows {
        var (batches, stagedBefore) = state.withLock { state in
            defer { state.stagedSinceCheckpoint = [] }
            return (
                state.logs.take(in: batching.maximumSize).map(OTLPBatch.logs)
                    + state.spans.take(in: batching.maximumSize).map(OTLPBatch.traces),
                state.stagedSinceCheckpoint
            )
        }
        if !metrics.isEmpty { batches.append(.metrics(metrics)) }
        let staged = stagedBefore + batches.compactMap { keep($0, staged: true) }
        try commit(staged)
        spool?.publish(staged)
        workWaiting.ring()
    }

    private func add(_ change: (inout State) -> Void) {
        let (wake, overflow) = state.withLock { state -> (Bool, [OTLPBatch]) in
            change(&state)
            // The batcher sleeps until a batch is due: the first record of a quiet spell sets when that is.
            let now = ContinuousClock.now
            let logsStarted = state.logs.markStart(at: now)
            let started = state.spans.markStart(at: now) || logsStarted
            if batching.atCheckpointsOnly {
                // Not sendable before the checkpoint, but not held in memory until then either: a full batch is
                // staged in the spool as it fills.
                var full: [OTLPBatch] = []
                if state.logs.count >= batching.maximumSize {
                    full += state.logs.take(in: batching.maximumSize).map(OTLPBatch.logs)
                }
                if state.spans.count >= batching.maximumSize {
                    full += state.spans.take(in: batching.maximumSize).map(OTLPBatch.traces)
                }
                return (false, full)
            }
            // A producer far faster than the batcher (a replay, never a live session) spools a batch itself, so
            // memory stays bounded.
            let (limit, size) = (4 * batching.maximumSize, batching.maximumSize)
            let overflow =
                [state.logs.takeOverflow(beyond: limit, size: size).map(OTLPBatch.logs)]
                + [state.spans.takeOverflow(beyond: limit, size: size).map(OTLPBatch.traces)]
            let full = state.logs.count >= size || state.spans.count >= size
            return (full || started, overflow.compactMap { $0 })
        }
        guard !batching.atCheckpointsOnly else {
            let names = overflow.compactMap { keep($0, staged: true) }
            if !names.isEmpty { state.withLock { $0.stagedSinceCheckpoint += names } }
            return
        }
        for batch in overflow { keep(batch) }
        if !overflow.isEmpty { workWaiting.ring() }
        if wake { batchReady.ring() }
    }

    // MARK: - Batcher: memory to spool

    private func runBatcher() async {
        while !Task.isCancelled {
            let (batches, finishing, wait) = state.withLock { state -> ([OTLPBatch], Bool, Duration?) in
                // Only `checkpoint` makes these records sendable.
                if batching.atCheckpointsOnly { return ([], state.finishing, nil) }
                var wait: Duration?
                let (size, all) = (batching.maximumSize, state.finishing)
                let logs = configuration.scheduleDelay(for: .logs)
                let spans = configuration.scheduleDelay(for: .traces)
                let now = ContinuousClock.now
                let batches =
                    state.logs.takeIfDue(at: now, after: logs, size: size, all: all, wait: &wait).map(OTLPBatch.logs)
                    + state.spans.takeIfDue(at: now, after: spans, size: size, all: all, wait: &wait)
                    .map(OTLPBatch.traces)
                return (batches, state.finishing, wait)
            }
            for batch in batches { keep(batch) }
            if !batches.isEmpty { workWaiting.ring() }
            if finishing {
                state.withLock { $0.batcherDone = true }
                workWaiting.ring()
                return
            }
            if batches.isEmpty { await batchReady.wait(upTo: wait ?? .seconds(3600)) }
        }
    }

    /// Encodes a batch and keeps it for sending: in the spool, or, if the spool will not take it, in memory.
    /// Every batch passes here, so this is where a signal that is not exported is dropped. Returns the name of a
    /// `staged` request in the spool.
    @discardableResult
    private func keep(_ batch: OTLPBatch, staged: Bool = false) -> String? {
        guard configuration.signals.contains(batch.signal), configuration.endpoints[batch.signal] != nil,
            let destination = destinations[batch.signal]
        else { return nil }
        let wireProtocol = configuration.wireProtocol(for: batch.signal)
        let body =
            wireProtocol == .json
            ? batch.json(resource: resource, scope: scope) : batch.protobuf(resource: resource, scope: scope)
        if let spool {
            do {
                let (dropped, name) = try spool.write(
                    body,
                    signal: batch.signal,
                    destination: destination,
                    wireProtocol: wireProtocol,
                    itemCount: batch.itemCount,
                    staged: staged
                )
                state.withLock { $0.report.droppedBySpoolLimit.merge(dropped, uniquingKeysWith: +) }
                return staged ? name : nil
            } catch {
                state.withLock { state in
                    if state.report.spoolFailure == nil { state.report.spoolFailure = error.message }
                }
            }
        }
        state.withLock { state in
            let lost = state.unspooled.hold(
                body,
                signal: batch.signal,
                wireProtocol: wireProtocol,
                itemCount: batch.itemCount
            )
            // Past the bound, the oldest held batches went: lost, and counted as lost.
            for request in lost { state.report.lostFromMemory[request.signal, default: 0] += request.itemCount }
        }
        return nil
    }

    // MARK: - Sender: spool and memory to collector

    private func runSender() async {
        var failures = 0
        while !Task.isCancelled {
            let pending = pendingWork()
            if pending.isEmpty {
                if state.withLock({ $0.batcherDone }) { return }
                await workWaiting.wait(upTo: .seconds(3600))
                continue
            }
            var attempted = false
            for item in pending {
                guard !Task.isCancelled, !state.withLock({ $0.redirected.contains(item.signal) }) else { continue }
                let delivery: Delivery
                switch item {
                case .held(let batch):
                    attempted = true
                    delivery = await send(batch.body, batch.signal, batch.wireProtocol, itemCount: batch.itemCount)
                    if delivery.isFinal { state.withLock { $0.unspooled.remove(batch.number) } }
                case .spooled(let entry):
                    guard let claim = spool?.claim(entry) else { continue }
                    attempted = true
                    guard let body = claim.read() else {
                        claim.finish(remove: false)
                        continue
                    }
                    delivery = await send(body, entry.signal, entry.wireProtocol, itemCount: entry.itemCount)
                    claim.finish(remove: delivery.isFinal)
                }
                guard case .retryable(_, let retryAfter) = delivery else {
                    failures = 0
                    continue
                }
                failures += 1
                // A collector may ask for a later retry, never a storm: its wish is held to our floor and a ceiling.
                let wait =
                    retryAfter.map { min(max($0, backoff.initial), Self.longestRetryAfter) }
                    ?? delay(afterFailures: failures)
                await clock.sleep(for: wait)
                break
            }
            // Everything pending is being sent by another process sharing the spool, or redirected: look again
            // shortly.
            if !attempted { await workWaiting.wait(upTo: .seconds(1)) }
        }
    }

    /// What there is to send, held batches first (they have nowhere else to wait), then the spool oldest first.
    private func pendingWork() -> [Pending] {
        let (held, redirected) = state.withLock { ($0.unspooled.requests, $0.redirected) }
        let spooled = (spool?.list().entries ?? []).filter {
            configuration.endpoints[$0.signal] != nil && configuration.signals.contains($0.signal)
                && $0.isFor(destinations[$0.signal])
        }
        let work = held.map(Pending.held) + spooled.map(Pending.spooled)
        return work.filter { !redirected.contains($0.signal) }
    }

    /// Sends one request and records what became of it.
    private func send(
        _ body: [UInt8],
        _ signal: OTLPSignal,
        _ wireProtocol: OTLPExporterConfiguration.WireProtocol,
        itemCount: Int
    ) async -> Delivery {
        let request = ExportRequest(body: body, signal: signal, wireProtocol: wireProtocol, itemCount: itemCount)
        let delivery = wireProtocol == .grpc ? await grpc.send(request) : await http.send(request)
        // Cut off by the flush deadline: that says nothing of the collector, and the batch stays where it was.
        if Task.isCancelled { return .retryable(reason: "cancelled", retryAfter: nil) }
        state.withLock { state in
            switch delivery {
            case .accepted(let rejected, let message):
                state.report.requests += 1
                state.report.sent[signal, default: 0] += itemCount - rejected
                if rejected > 0 {
                    state.report.partiallyRejected[signal, default: 0] += rejected
                    if let message { state.report.collectorMessages.insert(message) }
                }
            case .refused(let reason):
                state.report.requests += 1
                state.report.refused[signal, default: 0] += itemCount
                state.report.refusals.insert(reason)
            case .redirected(let status):
                state.report.requests += 1
                state.report.redirectStatuses.insert(status)
                state.redirected.insert(signal)
            case .retryable(let reason, _):
                state.report.retries += 1
                state.report.lastRetryReason = reason
            }
        }
        return delivery
    }

    /// Exponential backoff with jitter: a random wait between half and all of `initial × 2^(failures-1)`, capped.
    private func delay(afterFailures failures: Int) -> Duration {
        backoff.delay(afterFailures: failures, fraction: Double.random(in: 0.5...1.0))
    }

    private func finalReport() -> ExportReport {
        var report = state.withLock { state in
            var report = state.report
            for request in state.unspooled.requests {
                report.lostFromMemory[request.signal, default: 0] += request.itemCount
            }
            return report
        }
        if let listing = spool?.list() {
            for entry in listing.entries where configuration.endpoints[entry.signal] != nil {
                guard entry.isFor(destinations[entry.signal]) else {
                    report.requestsForOtherCollectors += 1
                    continue
                }
                report.leftInSpool[entry.signal, default: 0] += entry.itemCount
                report.leftInSpoolBytes += entry.size
            }
            report.ignoredSpoolEntries = listing.ignored
        }
        return report
    }
}

extension Delivery {
    /// Whether the batch is done with: taken, or refused for good. A retry or a redirect keeps it.
    fileprivate var isFinal: Bool {
        switch self {
        case .accepted, .refused: true
        case .retryable, .redirected: false
        }
    }
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
