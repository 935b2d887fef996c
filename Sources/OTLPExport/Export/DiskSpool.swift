import DescriptorIO
public import FoundationEssentials
import OTLP
import SaturatingArithmetic
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Encoded export requests on disk, waiting to be sent: write-ahead, so a batch survives a collector that is down,
/// a failed request, and this process being killed.
///
/// One file per request, named so that names sort oldest first; created 0600, written under a temporary name and
/// renamed, so a reader never sees half a file. A sender claims a file with `flock`, so two processes sharing the
/// spool never send the same request; a claim ends with its process. The spool is bounded: past `maximumBytes`, the
/// oldest files are dropped and counted. No headers are ever written here.
///
/// The directory is trusted only if it is the user's own: not a link, owned by this user, writable by nobody else.
/// It is held open, and every file is reached through it, never through a path; a file is opened without following
/// a link, and only a regular file of ours (by name, owner and a single link) is ever read.
public final class DiskSpool: Sendable {
    /// One spooled request.
    struct Entry: Sendable, Hashable {
        var name: String
        var signal: OTLPSignal
        /// Where it is to be sent (`OTLPExporterConfiguration.destinationTag(for:)`); `nil` in the names of
        /// releases that did not record it, whose requests any run sends.
        var destination: String?
        var wireProtocol: OTLPExporterConfiguration.WireProtocol
        var itemCount: Int
        var size: Int

        /// Whether a run whose collector for this signal has the tag `destination` is one to send this request.
        func isFor(_ destination: String?) -> Bool {
            self.destination == nil || self.destination == destination
        }
    }

    /// The spool's files of ours, oldest first, and how many other entries were passed over.
    struct Listing {
        var entries: [Entry] = []
        /// Entries that are not requests this spool wrote: links, pipes, other users' files, stray names.
        var ignored = 0
    }

    /// Where the spool is.
    public let directory: URL
    /// How large the spool may grow, in bytes.
    public let maximumBytes: Int
    /// The bound the command and the harness open their spools with: 256 MiB.
    public static let standardMaximumBytes = 256 << 20
    private let descriptor: Int32
    private let sequence = Mutex(0)

    /// The largest request file read back: far beyond any batch written.
    static let maximumRequestBytes = 64 << 20
    /// The most items a request file may claim to hold.
    private static let maximumItemCount = 1 << 20

    /// Opens the spool at `directory`, creating it (and any missing parent) with mode 0700.
    ///
    /// - Parameters:
    ///   - directory: the spool's directory.
    ///   - maximumBytes: how large the spool may grow; past it, the oldest requests are dropped.
    /// - Throws: `SpoolError` with code `.insecure` when the directory is a link, not a directory, someone else's, or
    ///   writable by group or others; `.unavailable` when it cannot be created or opened.
    public init(directory: URL, maximumBytes: Int) throws(SpoolError) {
        self.directory = directory
        self.maximumBytes = maximumBytes
        let path = directory.path
        guard makeDirectories(path) else {
            throw SpoolError(.unavailable, "cannot create the spool directory \(path): \(Self.errorText)")
        }
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            let failure = errno
            // A link to a directory fails as "not a directory" under O_DIRECTORY: say which it is.
            var link = stat()
            let isLink = lstat(path, &link) == 0 && link.st_mode & S_IFMT == S_IFLNK
            switch failure {
            case ELOOP,
                ENOTDIR where isLink:
                throw SpoolError(.insecure, "the spool directory \(path) is a symbolic link")
            case ENOTDIR: throw SpoolError(.insecure, "the spool directory \(path) is not a directory")
            default:
                throw SpoolError(
                    .unavailable,
                    "cannot open the spool directory \(path): \(String(cString: strerror(failure)))"
                )
            }
        }
        var status = stat()
        fstat(descriptor, &status)
        if let problem = ownershipProblem(owner: status.st_uid, mode: status.st_mode) {
            close(descriptor)
            throw SpoolError(
                .insecure,
                "the spool directory \(path) \(problem): make it yours, 0700, or choose another"
            )
        }
        self.descriptor = descriptor
        removeStaleTemporaryFiles()
    }

    deinit { close(descriptor) }

    /// Writes a request; returns the items of older requests dropped to stay within the bound, and its name. A
    /// `staged` request is not sent until `publish` is given its name: a caller records it first, with what the
    /// request stands for, so that a crash between the two neither loses nor repeats it.
    ///
    /// - Throws: `SpoolError` with code `.unavailable` when the file cannot be written (a full or read-only disk):
    ///   the caller keeps the batch in memory instead.
    @discardableResult
    func write(
        _ body: [UInt8],
        signal: OTLPSignal,
        destination: String,
        wireProtocol: OTLPExporterConfiguration.WireProtocol,
        itemCount: Int,
        staged: Bool = false
    ) throws(SpoolError) -> (dropped: [OTLPSignal: Int], name: String) {
        // Name: time, process, sequence, signal, destination, item count, protocol: sortable, unique,
        // self-describing.
        let now = UInt64(saturating: Date().timeIntervalSince1970 * 1e9)
        let number = sequence.withLock { number in
            defer { number += 1 }
            return number
        }
        let name =
            "\(now.zeroPadded(20))-\(getpid())-\((number % 1_000_000).zeroPadded(6))-\(signal.rawValue)-"
            + "\(destination)-\(itemCount).\(Self.fileExtension(wireProtocol))"
        let temporary = ".\(name).tmp"
        let file = openat(descriptor, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard file >= 0 else { throw SpoolError(.unavailable, "cannot write to the spool: \(Self.errorText)") }
        // A staged request is on disk before the caller records it (and stops reading it again): synced, and so is
        // the directory that names it, or a power cut could leave a record of a request that is not there.
        let written = body.withUnsafeBytes { writeAll($0, to: file) } && (!staged || fsync(file) == 0)
        let failure = Self.errorText
        guard close(file) == 0, written,
            renameat(descriptor, temporary, descriptor, staged ? Self.stagedPrefix + name : name) == 0,
            !staged || fsync(descriptor) == 0
        else {
            let reason = written ? Self.errorText : failure
            unlinkat(descriptor, temporary, 0)
            throw SpoolError(.unavailable, "cannot write to the spool: \(reason)")
        }
        return (staged ? [:] : enforceLimit(), name)
    }

    /// How a staged request is named until it is published: hidden, so neither listed nor sent.
    private static let stagedPrefix = ".staged-"

    /// Makes staged requests sendable; a name already published (or never staged) is passed over.
    public func publish(_ names: [String]) {
        // Names come from the caller's records: only one this spool could have written is used.
        for name in names where Self.request(named: name) != nil {
            renameat(descriptor, Self.stagedPrefix + name, descriptor, name)
        }
        if !names.isEmpty { _ = enforceLimit() }
    }

    /// Removes staged requests that a process killed before it recorded them left behind: those over an hour old,
    /// as a live process records and publishes its own within its commit.
    public func removeAbandonedStagedRequests() {
        let hourAgo = time(nil) - 3600
        for name in entryNames(ofDirectory: descriptor) ?? [] where name.hasPrefix(Self.stagedPrefix) {
            var status = stat()
            guard fstatat(descriptor, name, &status, AT_SYMLINK_NOFOLLOW) == 0, status.st_mode & S_IFMT == S_IFREG,
                status.st_mtim.tv_sec < hourAgo
            else { continue }
            unlinkat(descriptor, name, 0)
        }
    }

    /// The spooled requests, oldest first, and the count of entries that are not ours.
    func list() -> Listing {
        var listing = Listing()
        // Hidden names are requests being written (ours, or another run's).
        for name in (entryNames(ofDirectory: descriptor) ?? []).filter({ !$0.hasPrefix(".") }).sorted() {
            if let entry = ownRequest(named: name) {
                listing.entries.append(entry)
            } else {
                listing.ignored += 1
            }
        }
        return listing
    }

    /// The request a name stands for, if the name is one this spool writes and the file is a regular file of ours.
    private func ownRequest(named name: String) -> Entry? {
        guard let request = Self.request(named: name) else { return nil }
        var status = stat()
        guard fstatat(descriptor, name, &status, AT_SYMLINK_NOFOLLOW) == 0, Self.isOwnRequest(status) else {
            return nil
        }
        return Entry(
            name: name,
            signal: request.signal,
            destination: request.destination,
            wireProtocol: request.wireProtocol,
            itemCount: request.itemCount,
            size: Int(status.st_size)
        )
    }

    /// What a name says of its request, if it is a name this spool writes.
    private static func request(
        named name: String
    ) -> (
        signal: OTLPSignal, destination: String?, wireProtocol: OTLPExporterConfiguration.WireProtocol, itemCount: Int
    )? {
        var parts = name.split(separator: "-", omittingEmptySubsequences: false)
        // Six parts, or five in the names of releases before the destination was recorded.
        let destination = parts.count == 6 ? parts.remove(at: 4) : nil
        guard parts.count == 5, parts[0].count == 20, parts[0].allSatisfy(\.isASCIIDigit),
            parts[1].allSatisfy(\.isASCIIDigit), parts[2].count == 6, parts[2].allSatisfy(\.isASCIIDigit),
            let signal = OTLPSignal(rawValue: String(parts[3])),
            destination.map({ $0.count == 16 && $0.allSatisfy(\.isHexDigit) }) ?? true
        else { return nil }
        let tail = parts[4].split(separator: ".", omittingEmptySubsequences: false)
        guard tail.count == 2, tail[0].count <= 7, tail[0].allSatisfy(\.isASCIIDigit), let count = Int(tail[0]),
            count <= maximumItemCount,
            let wireProtocol = OTLPExporterConfiguration.WireProtocol.allCases.first(where: {
                fileExtension($0) == tail[1]
            })
        else { return nil }
        return (signal, destination.map(String.init), wireProtocol, count)
    }

    /// A request's file extension says how it is sent: its encoding, and for gRPC its wire.
    private static func fileExtension(_ wireProtocol: OTLPExporterConfiguration.WireProtocol) -> String {
        switch wireProtocol {
        case .protobuf: "pb"
        case .json: "json"
        case .grpc: "grpc"
        }
    }

    /// A regular file of this user's, with one link (as written here), of a size this spool writes.
    private static func isOwnRequest(_ status: stat) -> Bool {
        status.st_mode & S_IFMT == S_IFREG && status.st_uid == geteuid() && status.st_nlink == 1
            && status.st_size <= maximumRequestBytes
    }

    /// Claims an entry for sending; `nil` if another sender holds it, it has gone, or it is no longer a file of ours.
    func claim(_ entry: Entry) -> Claim? {
        let file = openat(descriptor, entry.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard file >= 0 else { return nil }
        var status = stat()
        // Still ours once open, claimed by nobody else, and not removed by its sender meanwhile (no link left).
        guard fstat(file, &status) == 0, Self.isOwnRequest(status), flock(file, LOCK_EX | LOCK_NB) == 0,
            fstat(file, &status) == 0, status.st_nlink == 1
        else {
            close(file)
            return nil
        }
        return Claim(entry: entry, file: file, spool: self)
    }

    /// A claimed entry: read it, then `finish` it, removing it if it was sent or refused.
    final class Claim: Sendable {
        let entry: Entry
        private let file: Int32
        private let spool: DiskSpool

        init(entry: Entry, file: Int32, spool: DiskSpool) {
            self.entry = entry
            self.file = file
            self.spool = spool
        }

        /// The request's bytes, read through the claimed descriptor; `nil` if they cannot be read.
        func read() -> [UInt8]? {
            try? readAll(file, atMost: DiskSpool.maximumRequestBytes)
        }

        func finish(remove: Bool) {
            if remove { unlinkat(spool.descriptor, entry.name, 0) }
            close(file)
        }
    }

    /// Drops the oldest requests while the spool is over its bound; returns their items by signal.
    private func enforceLimit() -> [OTLPSignal: Int] {
        var all = list().entries
        var total = all.map(\.size).saturatedSum()
        var dropped: [OTLPSignal: Int] = [:]
        while total > maximumBytes, all.count > 1 {
            let oldest = all.removeFirst()
            total -= oldest.size
            // One being sent by someone else will leave soon.
            guard let claim = claim(oldest) else { continue }
            claim.finish(remove: true)
            dropped[oldest.signal, default: 0] += oldest.itemCount
        }
        return dropped
    }

    /// Removes what a run killed while writing left behind: temporary files over an hour old.
    private func removeStaleTemporaryFiles() {
        let hourAgo = time(nil) - 3600
        for name in entryNames(ofDirectory: descriptor) ?? [] {
            var status = stat()
            guard name.hasPrefix("."), name.hasSuffix(".tmp"),
                fstatat(descriptor, name, &status, AT_SYMLINK_NOFOLLOW) == 0, status.st_mode & S_IFMT == S_IFREG,
                status.st_mtim.tv_sec < hourAgo
            else { continue }
            unlinkat(descriptor, name, 0)
        }
    }

    private static var errorText: String { String(cString: strerror(errno)) }
}

/// Why a spool cannot be used.
public struct SpoolError: Error, Sendable, CustomStringConvertible {
    /// A kind of failure, stable across releases; new kinds may be added.
    public struct Code: Hashable, Sendable {
        private let name: String
        /// The directory is not safe to use: a link, not a directory, someone else's, or writable by others. Refused:
        /// fix it or choose another.
        public static let insecure = Code(name: "insecure")
        /// The directory or a file in it cannot be created or written: the exporter sends from memory instead.
        public static let unavailable = Code(name: "unavailable")
    }

    public var code: Code
    /// What is wrong, naming the directory.
    public var message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
