/// Which thread spawned which, and from where: enough to put a sub-agent's turns under the call that started it
/// and to add a run's cost up to the thread at its root.
///
/// It outlives a file of a replay, since a sub-agent's rollout is a file of its own (a follower that reads files
/// one by one hands it from file to file, and keeps it with its cursor), and it is bounded: past
/// `SessionLimits.maximumThreads` children, the quarter learned first are forgotten (their turns then count as
/// their parent's children, not their root's).
package struct AgentTree: Sendable, Equatable {
    /// Where a thread was spawned: its parent thread and, when known, the parent's turn and tool call.
    package struct Spawn: Sendable, Hashable {
        package var parentThreadID: String
        package var turnID: String?
        package var callID: String?

        package init(parentThreadID: String, turnID: String? = nil, callID: String? = nil) {
            self.parentThreadID = parentThreadID
            self.turnID = turnID
            self.callID = callID
        }
    }

    private var spawns: [String: Spawn] = [:]
    private var learned: [String] = []

    package init() {}

    /// Every spawn known, in the order the children were first learned: recording them in that order into an
    /// empty tree gives this one.
    package var entries: [(child: String, spawn: Spawn)] {
        learned.compactMap { child in spawns[child].map { (child, $0) } }
    }

    /// Records that `child` was spawned as `spawn` says; what an earlier report knew and this one does not is
    /// kept. A thread cannot be its own ancestor: a report that would make a cycle is ignored.
    package mutating func record(child: String, _ spawn: Spawn) {
        guard root(of: spawn.parentThreadID) != child else { return }
        if let known = spawns[child] {
            guard known.parentThreadID == spawn.parentThreadID else { return }
            spawns[child] = Spawn(
                parentThreadID: known.parentThreadID,
                turnID: spawn.turnID ?? known.turnID,
                callID: spawn.callID ?? known.callID
            )
            return
        }
        if spawns.count >= SessionLimits.maximumThreads {
            for forgotten in learned.prefix(learned.count / 4) { spawns[forgotten] = nil }
            learned.removeFirst(learned.count / 4)
        }
        spawns[child] = spawn
        learned.append(child)
    }

    func spawn(of thread: String) -> Spawn? { spawns[thread] }

    /// The thread at the top of `thread`'s tree (itself, for a thread nobody spawned).
    func root(of thread: String) -> String { ancestry(of: thread).root }

    /// How many spawns separate `thread` from its root.
    func depth(of thread: String) -> Int64 { Int64(ancestry(of: thread).depth) }

    private func ancestry(of thread: String) -> (root: String, depth: Int) {
        var current = thread
        var depth = 0
        // Records never make a cycle; the bound only guards the walk.
        while depth < SessionLimits.maximumAgentDepth, let parent = spawns[current]?.parentThreadID {
            current = parent
            depth += 1
        }
        return (current, depth)
    }
}
