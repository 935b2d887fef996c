import JSONRPC
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Servers the tests start (rotel, the stand-ins) are killed when the test process exits, whichever way a test
/// ended: a `defer { Task { … } }` may not get to run.
enum ProcessReaper {
    private static let tracked = Mutex<[pid_t]>([])
    private static let registered: Void = {
        atexit {
            for pid in ProcessReaper.tracked.withLock({ $0 }) { kill(pid, SIGKILL) }
        }
    }()

    static func track(_ process: ChildProcess) {
        _ = registered
        tracked.withLock { $0.append(process.pid) }
    }
}
