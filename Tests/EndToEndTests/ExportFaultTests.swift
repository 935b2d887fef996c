import Foundation
import JSONRPC
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `codex-telemetry replay` exporting through faults: a collector that redirects, throttles or never answers, and
/// a spool that is full, unsafe, or has things planted in it. Nothing may be lost without being reported, nothing
/// may reach an origin not chosen, and no file the spool did not write may be read.
@Suite(.serialized)
struct ExportFaultTests {
    static let session = OTLPExportTests.session

    func replay(
        to port: Int,
        spool: URL,
        _ extra: [String] = [],
        environment: [String: String] = [:]
    ) async throws -> CommandOutcome {
        // A run that must end by itself (its flush is bounded): one that does not is killed, and fails.
        try await TestTools.runCLI(
            ["replay", Self.session, "--otlp-endpoint", "http://127.0.0.1:\(port)", "--spool-dir", spool.path] + extra,
            environment: environment,
            within: TestTools.patience
        )
    }

    static func files(in directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { !$0.hasPrefix(".") }
    }

    @Test(arguments: [301, 307, 308])
    func aRedirectIsNeverFollowedAndItsBatchesStayInTheSpool(status: Int) async throws {
        let elsewhere = try await StandInCollector(respond: "200")
        let collector = try await StandInCollector(
            respond: "\(status)",
            location: "http://127.0.0.1:\(elsewhere.port)/v1/logs"
        )
        defer {
            Task {
                await collector.stop()
                await elsewhere.stop()
            }
        }
        let spool = try TestTools.makeTemporaryDirectory("spool")
        let outcome = try await replay(
            to: collector.port,
            spool: spool,
            ["--otlp-header", "authorization=Bearer k-77"]
        )
        // Kept, not lost: the next run (pointed at the right place) sends them.
        #expect(outcome.status == .exited(0))
        #expect(outcome.stderr.contains("redirect (HTTP \(status)), which is never followed"))
        #expect(outcome.stderr.contains("not yet sent: \(OTLPExportTests.counted())"))
        #expect(collector.requests.count == 3)
        #expect(elsewhere.requests.isEmpty)
        #expect(try Self.files(in: spool).count == 3)
    }

    @Test func aRetryAfterOfZeroIsNoRequestStorm() async throws {
        let collector = try await StandInCollector(respond: "503", retryAfter: 0)
        defer { Task { await collector.stop() } }
        let outcome = try await replay(
            to: collector.port,
            spool: try TestTools.makeTemporaryDirectory("spool"),
            ["--flush-timeout", "2"]
        )
        #expect(outcome.status == .exited(0))
        #expect(outcome.stderr.contains("not yet sent (last attempt: HTTP 503)"))
        // At the half-second floor, a handful in two seconds; it used to be thousands a second.
        #expect(collector.requests.count <= 12, "\(collector.requests.count) requests")
    }

    /// Waiting four seconds on a collector that never answers: CPU near zero (URLSession spun about one core).
    @Test func waitingOnASilentCollectorCostsNoCPU() async throws {
        let collector = try await StandInCollector(respond: "hang")
        defer { Task { await collector.stop() } }
        let spool = try TestTools.makeTemporaryDirectory("spool")
        let run = try await TestTools.runCLIMeasuringResources(
            [
                "replay", Self.session, "--otlp-endpoint", "http://127.0.0.1:\(collector.port)", "--spool-dir",
                spool.path, "--flush-timeout", "4",
            ],
            environment: ["OTEL_EXPORTER_OTLP_TIMEOUT": "1500"]
        )
        #expect(run.status == 0)
        #expect(run.stderr.contains("no answer within the timeout"))
        #expect(run.cpuSeconds < 1.0, "\(run.cpuSeconds) s of CPU while waiting 4 s")
    }

    @Test(arguments: [
        (
            ["--otlp-header", "content-length=5"], [:],
            "--otlp-header: the header content-length is set by the exporter"
        ),
        (["--otlp-header", "bad name=x"], [:], "--otlp-header: a header name must be"),
        ([], ["OTEL_EXPORTER_OTLP_HEADERS": "x-key=k%0AInjected: yes"], "OTEL_EXPORTER_OTLP_HEADERS: the value of"),
    ])
    func headersThatCannotBeSentAreUsageErrors(
        arguments: [String],
        environment: [String: String],
        message: String
    ) async throws {
        let outcome = try await replay(
            to: freePort(),
            spool: try TestTools.makeTemporaryDirectory("spool"),
            arguments,
            environment: environment
        )
        #expect(outcome.status == .exited(64))
        #expect(outcome.stderr.contains(message))
        #expect(!outcome.stderr.contains("Injected"))
    }

    @Test func aSpoolWritableByOthersOrALinkIsRefused() async throws {
        let collector = try await StandInCollector(respond: "200")
        defer { Task { await collector.stop() } }
        let open = try TestTools.makeTemporaryDirectory("spool")
        chmod(open.path, 0o777)
        let refused = try await replay(to: collector.port, spool: open)
        #expect(refused.status == .exited(1))
        #expect(refused.stderr.contains("the spool directory \(open.path) is writable by others"))

        let link = try TestTools.makeTemporaryDirectory("link").appendingPathComponent("spool")
        try FileManager.default.createSymbolicLink(
            atPath: link.path,
            withDestinationPath: try TestTools.makeTemporaryDirectory("target").path
        )
        let linked = try await replay(to: collector.port, spool: link)
        #expect(linked.status == .exited(1))
        #expect(linked.stderr.contains("is a symbolic link"))
        #expect(collector.requests.isEmpty)
    }

    /// A link, a FIFO and another user's file, each named as a request of ours: never read, never sent, never
    /// waited on; counted, and left where they are.
    @Test func entriesPlantedInTheSpoolAreLeftAloneAndCounted() async throws {
        let collector = try await StandInCollector(respond: "200")
        defer { Task { await collector.stop() } }
        let spool = try TestTools.makeTemporaryDirectory("spool")
        chmod(spool.path, 0o700)
        let secret = try TestTools.makeTemporaryDirectory("secret").appendingPathComponent("key")
        try Data("\(TestTools.contentMarker)_planted_secret".utf8).write(to: secret)
        let link = "00000000000000000001-1-000001-logs-1.pb"
        try FileManager.default.createSymbolicLink(
            atPath: spool.appendingPathComponent(link).path,
            withDestinationPath: secret.path
        )
        #expect(mkfifo(spool.appendingPathComponent("00000000000000000002-1-000002-logs-1.pb").path, 0o600) == 0)
        var planted = 2
        if geteuid() == 0 {
            let foreign = spool.appendingPathComponent("00000000000000000003-1-000003-traces-1.json")
            try Data("{}".utf8).write(to: foreign)
            chown(foreign.path, 65534, 65534)
            planted += 1
        }
        let outcome = try await replay(to: collector.port, spool: spool)
        #expect(outcome.status == .exited(0))
        #expect(collector.itemsByPath == OTLPExportTests.everything)
        #expect(!String(decoding: try collector.receivedBytes(), as: UTF8.self).contains("planted"))
        #expect(outcome.stderr.contains("\(planted) entries in the spool are not a request of ours"))
        #expect(try Self.files(in: spool).count == planted)
    }

    /// A spool on a full file system (a tiny tmpfs when root may mount one, else a directory it may not write):
    /// every batch is still delivered, from memory, and the command says why.
    @Test func aSpoolThatCannotBeWrittenStillDelivers() async throws {
        let collector = try await StandInCollector(respond: "200")
        defer { Task { await collector.stop() } }
        let full = try await FullSpool()
        defer { full.remove() }
        let outcome = try await replay(to: collector.port, spool: full.spool)
        #expect(outcome.status == .exited(0))
        #expect(collector.itemsByPath == OTLPExportTests.everything)
        #expect(outcome.stderr.contains("cannot write to the spool: \(full.reason); batches were sent from memory"))
        #expect(outcome.stderr.contains("exported \(OTLPExportTests.counted())"))
    }

    @Test func withNoSpoolAndNoCollectorWhatIsLostIsSaidAndTheExitIsNotZero() async throws {
        let full = try await FullSpool()
        defer { full.remove() }
        let outcome = try await replay(to: freePort(), spool: full.spool, ["--flush-timeout", "1"])
        #expect(outcome.status == .exited(74))
        #expect(
            outcome.stderr.contains(
                "not delivered from memory before the end: \(OTLPExportTests.counted())"
            )
        )
        #expect(outcome.stderr.contains("telemetry lost: \(OTLPExportTests.counted())"))
    }
}

/// A spool directory that cannot be written: on a full 64 KiB tmpfs when running as root (who ignores permission
/// bits), else a directory of mode 0500.
struct FullSpool {
    let spool: URL
    /// The `strerror` a write meets.
    let reason: String
    private let mount: URL?

    init() async throws {
        let folder = try TestTools.makeTemporaryDirectory("full")
        guard geteuid() == 0 else {
            spool = folder
            chmod(folder.path, 0o500)
            reason = "Permission denied"
            mount = nil
            return
        }
        let (status, _) = try await TestTools.output(
            of: "mount",
            ["-t", "tmpfs", "-o", "size=64k", "tmpfs", folder.path]
        )
        guard status == .exited(0) else { throw MissingTool(name: "a tmpfs mount (root could not mount one here)") }
        mount = folder
        spool = folder.appendingPathComponent("spool")
        try FileManager.default.createDirectory(at: spool, withIntermediateDirectories: false)
        chmod(spool.path, 0o700)
        // Fill what is left.
        let filler = open(folder.appendingPathComponent("filler").path, O_WRONLY | O_CREAT, 0o600)
        let block = [UInt8](repeating: 0, count: 4096)
        while block.withUnsafeBytes({ write(filler, $0.baseAddress, $0.count) }) > 0 {}
        close(filler)
        reason = "No space left on device"
    }

    func remove() {
        if let mount { _ = umount2(mount.path, Int32(MNT_DETACH)) } else { chmod(spool.path, 0o700) }
    }
}
