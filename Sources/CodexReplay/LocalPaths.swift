package import FoundationEssentials

/// Where things are on this machine unless a flag or a variable says otherwise, worked out here for every command,
/// so that the commands that share a cursor or a spool find the same one. A variable set empty counts as unset, as
/// the XDG Base Directory specification says.
package enum LocalPaths {
    /// `$XDG_STATE_HOME/codex-telemetry`, else `~/.local/state/codex-telemetry`: the cursor and the spool.
    package static func state(environment: [String: String]) -> String {
        let home = value("HOME", environment) ?? FileManager.default.temporaryDirectory.path
        return (value("XDG_STATE_HOME", environment) ?? home + "/.local/state") + "/codex-telemetry"
    }

    /// `CODEX_HOME`, else `~/.codex`.
    package static func codexHome(environment: [String: String]) -> String {
        value("CODEX_HOME", environment) ?? (value("HOME", environment) ?? "") + "/.codex"
    }

    private static func value(_ name: String, _ environment: [String: String]) -> String? {
        environment.setting(name)
    }
}

extension [String: String] {
    /// An environment variable's value, or `nil` when it is unset or set empty: set empty, a variable of ours means
    /// its default, as the XDG Base Directory specification says of its own, so that `VARIABLE= command` restores it.
    package func setting(_ name: String) -> String? {
        self[name].flatMap { $0.isEmpty ? nil : $0 }
    }
}
