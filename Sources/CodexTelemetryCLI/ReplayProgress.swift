import CodexTelemetry
import DescriptorIO

#if canImport(Glibc)
import Glibc
#endif

/// How far a long replay has got, on one line of stderr redrawn a few times a second: files, megabytes, rate,
/// turns and the time left. Only when stderr is a terminal; a log or a pipe gets nothing.
struct ReplayProgress {
    private let totalFiles: Int
    private let totalBytes: Int
    private let enabled: Bool
    private let started = ContinuousClock.now
    private var lastDrawn = ContinuousClock.now
    private var files = 0
    private var bytes = 0
    private var turns = 0
    private var drawn = false

    init(files: Int, bytes: Int, enabled: Bool = isatty(STDERR_FILENO) == 1) {
        totalFiles = files
        totalBytes = bytes
        self.enabled = enabled
    }

    mutating func read(_ count: Int) {
        bytes += count
        draw()
    }

    mutating func finishedFile() {
        files += 1
        draw()
    }

    mutating func count(_ event: TelemetryEvent) {
        if event.name == .turn { turns += 1 }
    }

    /// Takes the line away, so what follows on stderr starts clean.
    mutating func clear() {
        guard drawn else { return }
        _ = Array("\r\u{1B}[K".utf8).withUnsafeBytes { writeAll($0, to: STDERR_FILENO) }
        drawn = false
    }

    private mutating func draw() {
        guard enabled, ContinuousClock.now - lastDrawn >= .milliseconds(200) else { return }
        lastDrawn = .now
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Double(bytes) / seconds : 0
        // Sizes come from the files' status: a slow start against a huge sparse file could exceed any Int.
        let left = rate > 0 ? Int(min((Double(max(0, totalBytes - bytes)) / rate).rounded(.up), 1e9)) : nil
        let eta = left.map { $0 >= 60 ? "\($0 / 60) min \($0 % 60) s" : "\($0) s" } ?? "…"
        let line =
            "\r\u{1B}[Kreplay: \(files)/\(totalFiles) files, \(bytes / 1_000_000)/\(totalBytes / 1_000_000) MB, "
            + "\(Int(rate / 1_000_000)) MB/s, \(turns) turns, \(eta) left"
        _ = Array(line.utf8).withUnsafeBytes { writeAll($0, to: STDERR_FILENO) }
        drawn = true
    }
}
