#if canImport(Glibc)
import Glibc
#endif

extension ChildProcess {
    static func resolve(_ executable: String, environment: [String: String]) throws(ChildProcessError) -> String {
        if executable.contains("/") {
            guard access(executable, X_OK) == 0 else {
                throw ChildProcessError(.executableNotFound, "\(executable) is not an executable file")
            }
            return executable
        }
        let searchPath = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in searchPath.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(executable)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw ChildProcessError(.executableNotFound, "\(executable) was not found on PATH")
    }

    /// A pipe whose ends close on exec, so only the child we mean to give an end to gets it.
    static func makePipe(_ ends: inout [Int32]) -> Bool {
        guard pipe(&ends) == 0 else { return false }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        return true
    }

    /// Spawns with `posix_spawn`: no shell, a cleared signal mask and default signal dispositions (a child started
    /// from a Swift concurrency thread would otherwise inherit a mask that blocks SIGTERM), and its own process group,
    /// so a Ctrl-C at the terminal reaches us, not the child, and we decide how the child stops.
    static func spawn(
        path: String,
        configuration: Configuration,
        stdin: Int32,
        stdout: Int32,
        stderr: Int32,
        closeInChild: [Int32]
    ) throws(ChildProcessError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        // The child gets stdin, stdout and stderr and nothing else: a descriptor this process opened without
        // close-on-exec (Foundation opens files that way) would otherwise stay open in the child for its life.
        if let addCloseFrom = fileActionsAddCloseFrom {
            _ = addCloseFrom(&actions, 3)
        } else {
            for descriptor in closeInChild { posix_spawn_file_actions_addclose(&actions, descriptor) }
        }
        if let directory = configuration.workingDirectory {
            guard let addChangeDirectory = fileActionsAddChangeDirectory else {
                throw ChildProcessError(.launchFailed, "this C library cannot set a child's working directory")
            }
            _ = addChangeDirectory(&actions, directory)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes,
            Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP)
        )

        let argv = [path] + configuration.arguments
        let envp = configuration.environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        var result: Int32 = 0
        // ETXTBSY: the executable was just written, and a child forked elsewhere in this process at that moment
        // still holds it open for writing until it execs. That passes within milliseconds; retry a few times.
        for attempt in 0..<5 {
            if attempt > 0 { usleep(20_000) }
            result = withCStrings(argv) { argvPointers in
                withCStrings(envp) { envpPointers in
                    posix_spawn(&pid, path, &actions, &attributes, argvPointers, envpPointers)
                }
            }
            if result != ETXTBSY { break }
        }
        guard result == 0 else {
            throw ChildProcessError(.launchFailed, "could not start \(path): \(String(cString: strerror(result)))")
        }
        return pid
    }

    /// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34 and later) is not exported by Swift's Glibc module.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let fileActionsAddCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    /// `posix_spawn_file_actions_addchdir_np` (glibc 2.29 and later) is not exported by Swift's Glibc module.
    private typealias AddChangeDirectory =
        @convention(c) (
            UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>
        ) -> Int32
    private static let fileActionsAddChangeDirectory: AddChangeDirectory? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np")
        else { return nil }
        return unsafeBitCast(symbol, to: AddChangeDirectory.self)
    }()
}

private func withCStrings<Result>(
    _ strings: [String],
    _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> Result
) -> Result {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// Why a child could not be started.
package struct ChildProcessError: Error, Sendable, CustomStringConvertible {
    /// A kind of failure, stable across releases; new kinds may be added.
    package struct Code: Hashable, Sendable {
        private let name: String
        package static let executableNotFound = Code(name: "executableNotFound")
        package static let launchFailed = Code(name: "launchFailed")
    }

    package var code: Code
    /// What happened and what to check.
    package var message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }
}
