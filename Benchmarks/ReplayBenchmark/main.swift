// Backfill speed, in one run on inputs shaped as Codex writes them (the rollouts derived from the real 0.163's, see
// `Inputs.RealRollouts`): `.build/release/ReplayBenchmark [MB]` after
// `swift build -c release --static-swift-stdlib --product codex-telemetry` and the same for `--product ReplayBenchmark`
// (or `swift build -c release`, for the dynamically linked build).
// Prints figures; asserts nothing. For a capture, a tree of rollout files and a single rollout twice as large, it
// gives our MB/s next to the same run's `wc -l` (the floor: reading and splitting lines), and our peak memory; then
// the in-process rates (the capture, and the tree on one thread), the startup time of `replay` on the bundled
// session, and the OTLP encoding rates. The `codex-telemetry` it runs is the one built next to it.
// `ReplayBenchmark --write DIR [MB]` only writes the inputs (DIR/capture.jsonl, DIR/sessions/), for
// `scripts/compare-peers`.
import CodexTelemetry
import Foundation

var arguments = Array(CommandLine.arguments.dropFirst())
let writeOnly = arguments.first == "--write" && arguments.count >= 2
let outputFolder = writeOnly ? arguments[1] : nil
if writeOnly { arguments.removeFirst(2) }
let megabytes = arguments.first.flatMap(Int.init) ?? 256
let tool = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    .appendingPathComponent("codex-telemetry").path
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
let scratch =
    outputFolder.map(URL.init(fileURLWithPath:))
    ?? FileManager.default.temporaryDirectory.appendingPathComponent("replay-benchmark-\(getpid())")
try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
defer { if !writeOnly { try? FileManager.default.removeItem(at: scratch) } }

if writeOnly {
    try Data(Inputs.capture(megabytes: megabytes)).write(to: scratch.appendingPathComponent("capture.jsonl"))
    _ = try Inputs.RealRollouts(root: root).writeTree(
        at: scratch.appendingPathComponent("sessions"),
        megabytes: megabytes
    )
    exit(0)
}

func report(_ name: String, bytes: Int, ours: Run, floor: Run) {
    let size = Double(bytes) / 1e6
    print(
        String(
            format: "%@: %.0f MB; codex-telemetry replay --format json %.0f MB/s, %.1f MiB peak (%.1f MiB its own); "
                + "wc -l %.0f MB/s (we run at %.2f× the floor)",
            name,
            size,
            size / ours.seconds,
            Double(ours.maximumResidentKilobytes) / 1024,
            Double(ours.maximumAnonymousKilobytes) / 1024,
            size / floor.seconds,
            floor.seconds / ours.seconds
        )
    )
}

// A capture, read from the page cache (each is run once before it is timed).
let capture = Inputs.capture(megabytes: megabytes)
let captureFile = scratch.appendingPathComponent("capture.jsonl")
try Data(capture).write(to: captureFile)
for arguments in [["/usr/bin/wc", "-l", captureFile.path], [tool, "replay", captureFile.path, "--format", "json"]] {
    _ = measure(arguments)
}
report(
    "capture",
    bytes: capture.count,
    ours: best(of: 3, [tool, "replay", captureFile.path, "--format", "json"]),
    floor: best(of: 3, ["/usr/bin/wc", "-l", captureFile.path])
)

// A tree of rollout files as Codex 0.163 writes them.
let realRollouts = try Inputs.RealRollouts(root: root)
let tree = scratch.appendingPathComponent("sessions")
let treeBytes = try realRollouts.writeTree(at: tree, megabytes: megabytes)
print(
    String(
        format: "rollouts: derived from the real Codex 0.163's; item_completed records are %.0f%% of their bytes",
        100 * Inputs.RealRollouts.itemCompletedShare(of: realRollouts.file(0))
    )
)
let files =
    FileManager.default.enumerator(atPath: tree.path)?.compactMap { $0 as? String }
    .filter { $0.hasSuffix(".jsonl") }.map { tree.appendingPathComponent($0).path } ?? []
_ = measure(["/usr/bin/wc", "-l"] + files)
_ = measure([tool, "replay", tree.path, "--format", "json"])
report(
    "rollout tree (\(files.count) files)",
    bytes: treeBytes,
    ours: best(of: 3, [tool, "replay", tree.path, "--format", "json"]),
    floor: best(of: 3, ["/usr/bin/wc", "-l"] + files)
)

// One long session in a single rollout file, twice the size: memory must not grow with a file.
let turnBytes = realRollouts.file(0, repeats: 2).count - realRollouts.file(0, repeats: 1).count
let single = scratch.appendingPathComponent("single-rollout.jsonl")
let singleBytes = try {
    let bytes = realRollouts.file(0, repeats: max(1, (2 * megabytes << 20) / turnBytes))
    try Data(bytes).write(to: single)
    return bytes.count
}()
_ = measure([tool, "replay", single.path, "--format", "json"])
report(
    "single rollout",
    bytes: singleBytes,
    ours: best(of: 2, [tool, "replay", single.path, "--format", "json"]),
    floor: best(of: 2, ["/usr/bin/wc", "-l", single.path])
)
try FileManager.default.removeItem(at: single)

// The core alone, in this process: no file reading, no output.
let clock = ContinuousClock()
var replay = SessionReplay()
var eventCount = 0
let elapsed = clock.measure {
    capture.withUnsafeBytes { bytes in
        var offset = 0
        while offset < bytes.count {
            let chunk = UnsafeRawBufferPointer(rebasing: bytes[offset..<min(bytes.count, offset + (1 << 20))])
            eventCount += replay.consume(chunk).count
            offset += chunk.count
        }
    }
    eventCount += replay.finishFile().count
}
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print(
    String(
        format: "core (SessionReplay, in process): %.0f MB/s, %.0f lines/s, %d events",
        Double(capture.count) / 1e6 / seconds,
        Double(replay.counts.lines) / seconds,
        eventCount
    )
)

// The core on the tree's rollout files, read beforehand, on one thread: what each of the two workers can give.
let treeContents = try files.sorted().map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
var treeReplay = SessionReplay()
var treeEvents = 0
let treeElapsed = clock.measure {
    for content in treeContents { treeEvents += content.withUnsafeBytes { treeReplay.replay(file: $0).count } }
}
let treeSeconds = Double(treeElapsed.components.seconds) + Double(treeElapsed.components.attoseconds) / 1e18
print(
    String(
        format: "core on the rollout tree (in process, one thread): %.0f MB/s, %.0f ns an event, %d events",
        Double(treeContents.reduce(0) { $0 + $1.count }) / 1e6 / treeSeconds,
        treeSeconds * 1e9 / Double(max(treeEvents, 1)),
        treeEvents
    )
)

// Startup: the bundled session, summary to stdout.
let bundled = root.appendingPathComponent("protocol/sessions/codex-0.163.0-scenarios.jsonl").path
print(
    String(
        format: "startup: replay of the bundled session, median of 21: %.1f ms",
        1000 * median(of: 21, [tool, "replay", bundled])
    )
)

try printEncodingRates(count: 200_000, root: root)
