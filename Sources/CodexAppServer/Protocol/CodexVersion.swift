/// A Codex release, as its app-server names itself in `userAgent` (`codex-telemetry/0.163.0 (…)`): what differs
/// between releases is keyed on it.
public struct CodexVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var patch: Int

    public init(_ major: Int, _ minor: Int, _ patch: Int = 0) {
        (self.major, self.minor, self.patch) = (major, minor, patch)
    }

    /// Reads the version after the first `/` of a user agent; `nil` if there is none.
    public init?(userAgent: String) {
        guard let slash = userAgent.firstIndex(of: "/") else { return nil }
        let text = userAgent[userAgent.index(after: slash)...].prefix { $0.isNumber || $0 == "." }
        let parts = text.split(separator: ".").compactMap { Int($0) }
        guard parts.count == 3 else { return nil }
        self.init(parts[0], parts[1], parts[2])
    }

    /// Releases up to 0.77 read their configuration only from `config.toml`: `app-server` ignores `-c`.
    public var ignoresConfigOverrides: Bool { self < CodexVersion(0, 78) }

    public static func < (left: CodexVersion, right: CodexVersion) -> Bool {
        (left.major, left.minor, left.patch) < (right.major, right.minor, right.patch)
    }

    public var description: String { "\(major).\(minor).\(patch)" }
}
