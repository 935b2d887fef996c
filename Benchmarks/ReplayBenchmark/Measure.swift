import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What one run of a command cost: its wall time and the most memory it held: in all, and of its own (anonymous
/// memory: heap and stacks, not the pages of the libraries it maps, which every process using them shares).
struct Run {
    var seconds: Double
    var maximumResidentKilobytes: Int
    var maximumAnonymousKilobytes: Int
}

/// Runs `arguments` (the first is the executable's path) with stdout to `/dev/null`, and measures it. Its peak
/// memory is read from `/proc` while it runs: what `wait4` reports would include this process's own peak, carried
/// over by the exec of a child spawned with a shared address space.
func measure(_ arguments: [String]) -> Run {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0)
    let argv = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    let start = ContinuousClock.now
    var pid: pid_t = 0
    guard posix_spawn(&pid, arguments[0], &actions, nil, argv, environ) == 0 else {
        fatalError("cannot run \(arguments[0])")
    }
    var status: Int32 = 0
    var peak = 0
    var anonymous = 0
    while true {
        let waited = waitpid(pid, &status, WNOHANG)
        if waited == pid { break }
        if waited < 0 && errno != EINTR { fatalError("waitpid: \(errno)") }
        let memory = residentKilobytes(of: pid)
        peak = max(peak, memory.peak)
        anonymous = max(anonymous, memory.anonymous)
        usleep(500)
    }
    let elapsed = ContinuousClock.now - start
    guard status == 0 else { fatalError("\(arguments.joined(separator: " ")) failed: status \(status)") }
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return Run(seconds: seconds, maximumResidentKilobytes: peak, maximumAnonymousKilobytes: anonymous)
}

/// Of a running process: `VmHWM`, the most memory it has held so far, and `RssAnon`, its own memory now (the
/// kernel keeps no peak of it: sampled, it is a lower bound); zeros once it is gone.
private func residentKilobytes(of pid: pid_t) -> (peak: Int, anonymous: Int) {
    let descriptor = open("/proc/\(pid)/status", O_RDONLY)
    guard descriptor >= 0 else { return (0, 0) }
    defer { close(descriptor) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = read(descriptor, &buffer, buffer.count)
    guard count > 0 else { return (0, 0) }
    let lines = String(decoding: buffer[..<count], as: UTF8.self).split(separator: "\n")
    func kilobytes(_ field: String) -> Int {
        guard let line = lines.first(where: { $0.hasPrefix(field) }) else { return 0 }
        return Int(line.dropFirst(field.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") ?? 0
    }
    return (kilobytes("VmHWM:"), kilobytes("RssAnon:"))
}

/// The best of `count` runs: the machine's noise only ever adds time.
func best(of count: Int, _ arguments: [String]) -> Run {
    let runs = (0..<count).map { _ in measure(arguments) }
    return Run(
        seconds: runs.map(\.seconds).min() ?? 0,
        maximumResidentKilobytes: runs.map(\.maximumResidentKilobytes).max() ?? 0,
        maximumAnonymousKilobytes: runs.map(\.maximumAnonymousKilobytes).max() ?? 0
    )
}

/// The median of `count` runs, for startup, where the spread is the point.
func median(of count: Int, _ arguments: [String]) -> Double {
    let times = (0..<count).map { _ in measure(arguments).seconds }.sorted()
    return times[times.count / 2]
}
