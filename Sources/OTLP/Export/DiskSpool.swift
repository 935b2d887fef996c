public import Foundation
import SaturatingArithmetic
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Encoded export requests on disk, waiting to be sent: write-ahead, so a batch survives a collector that is down,
/// a failed request, and this process being killed.
///
/// One file per request, named so that names sort oldest first; created 0600 in a 0700 directory, written under a
/// temporary name and renamed, so a reader never sees half a file. A sender claims a file with `flock`, so two
/// processes sharing the spool never send the same request; a claim ends with its process. The spool is bounded:
/// past `maximumBytes`, the oldest files are dropped and counted. No headers are ever written here.
public final class DiskSpool: Sendable {
    /// One spooled request.
    public struct Entry: Sendable, Hashable {
        public var url: URL
        public var signal: OTLPSignal
        public var wireProtocol: OTLPExporterConfiguration.WireProtocol
        public var itemCount: Int
        public var size: Int
    }

    public let directory: URL
    public let maximumBytes: Int
    private let sequence = Counter()

    /// Opens (creating if needed) the spool at `directory`.
    ///
    /// - Throws: `OTLPConfigurationError` when the directory cannot be created.
    public init(directory: URL, maximumBytes: Int) throws {
        self.directory = directory
        self.maximumBytes = maximumBytes
        do {
            try FileManager.default.createDirectory(
                at: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw OTLPConfigurationError(
                "cannot create the spool directory \(directory.path): \(error.localizedDescription)"
            )
        }
    }

    /// Writes a request; returns how many older files were dropped to stay within the bound.
    ///
    /// - Throws: when the file cannot be written (a full disk): the caller keeps the batch in memory instead.
    public func write(
        _ body: [UInt8],
        signal: OTLPSignal,
        wireProtocol: OTLPExporterConfiguration.WireProtocol,
        itemCount: Int
    ) throws -> Int {
        // Name: time, process, sequence, signal, protocol, item count: sortable, unique, self-describing.
        let now = UInt64(saturating: Date().timeIntervalSince1970 * 1e9)
        let format = wireProtocol == .protobuf ? "pb" : "json"
        let name = String(
            format: "%020llu-%d-%06d-\(signal.rawValue)-\(itemCount).\(format)",
            now,
            getpid(),
            sequence.next()
        )
        let temporary = directory.appendingPathComponent(".\(name).tmp")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw OTLPConfigurationError("cannot write to the spool: \(String(cString: strerror(errno)))")
        }
        let written = body.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        guard written == body.count, rename(temporary.path, directory.appendingPathComponent(name).path) == 0 else {
            unlink(temporary.path)
            throw OTLPConfigurationError("cannot write to the spool: \(String(cString: strerror(errno)))")
        }
        return enforceLimit()
    }

    /// The spooled requests, oldest first.
    public func entries() -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.sorted().compactMap { name in
            guard !name.hasPrefix(".") else { return nil }
            let parts = name.split(separator: "-")
            guard parts.count == 5, let signal = OTLPSignal(rawValue: String(parts[3])) else { return nil }
            let tail = parts[4].split(separator: ".")
            guard tail.count == 2, let count = Int(tail[0]) else { return nil }
            let url = directory.appendingPathComponent(name)
            let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
            return Entry(
                url: url,
                signal: signal,
                wireProtocol: tail[1] == "pb" ? .protobuf : .json,
                itemCount: count,
                size: size
            )
        }
    }

    /// Claims an entry for sending; `nil` if another sender holds it or it has gone.
    public func claim(_ entry: Entry) -> Claim? {
        let descriptor = open(entry.url.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0, access(entry.url.path, F_OK) == 0 else {
            close(descriptor)
            return nil
        }
        return Claim(entry: entry, descriptor: descriptor)
    }

    /// A claimed entry: read it, then `finish` it, removing it if it was sent or refused.
    public final class Claim: @unchecked Sendable {
        public let entry: Entry
        private let descriptor: Int32

        init(entry: Entry, descriptor: Int32) {
            self.entry = entry
            self.descriptor = descriptor
        }

        public func read() -> [UInt8]? {
            (try? Data(contentsOf: entry.url)).map(Array.init)
        }

        public func finish(remove: Bool) {
            if remove { unlink(entry.url.path) }
            close(descriptor)
        }
    }

    private func enforceLimit() -> Int {
        var all = entries()
        var total = all.reduce(0) { $0 + $1.size }
        var dropped = 0
        while total > maximumBytes, all.count > 1 {
            let oldest = all.removeFirst()
            if let claim = claim(oldest) {
                claim.finish(remove: true)
                total -= oldest.size
                dropped += oldest.itemCount
            } else {
                total -= oldest.size  // being sent by someone: it will leave soon
            }
        }
        return dropped
    }
}

/// A thread-safe increasing number.
final class Counter: Sendable {
    private let value = Mutex(0)

    func next() -> Int {
        value.withLock { value in
            defer { value += 1 }
            return value
        }
    }
}
