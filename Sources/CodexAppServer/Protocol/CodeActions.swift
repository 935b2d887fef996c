#if canImport(Glibc)
import Glibc
#endif

/// What a tool call did to a repository, told by the command it ran or the MCP tool it called: a commit, a pull
/// request, a merge request. Classified where the call is decoded, so that only this class leaves, never the
/// command, its message or its arguments.
public struct CodeActions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `git commit`, or an MCP tool that commits (GitHub's and GitLab's `push_files`, `create_or_update_file`).
    public static let commit = CodeActions(rawValue: 1)
    /// `gh pr create`, or GitHub's MCP `create_pull_request`.
    public static let pullRequest = CodeActions(rawValue: 2)
    /// `glab mr create`, or GitLab's MCP `create_merge_request`.
    public static let mergeRequest = CodeActions(rawValue: 4)
}

extension CodeActions {
    /// What a command line does, as the app-server reports it (`/bin/bash -lc 'git add -A && git commit -m …'`):
    /// read as a POSIX shell reads a list of commands.
    ///
    /// Recognised: `git commit` (after `git`'s own options: `-C DIR`, `-c KEY=VALUE`, `--git-dir=…`, …; not with
    /// `--dry-run`), `gh pr create` and `glab mr create` (or `new`), each after variable assignments and `env`,
    /// `command`, `time`, `sudo`, `nohup`, `exec`, in the script of a `sh`, `bash`, `zsh`, `dash` or `ksh` `-c` (or
    /// `-lc`), in a list. As a list's success is its last command's, only the commands whose success that implies
    /// count: the last, and those joined to it by `&&` (`git add -A && git commit -m x`; not `git commit -m x; ls`,
    /// nor `git commit -m x || true`, nor a pipe's first command). Not recognised: `$(…)` and backquotes,
    /// subshells, here-documents, `if` and loops, functions and aliases (`git ci`), scripts that commit, `eval`,
    /// `xargs`.
    public init(commandLine: String) {
        self = Self.mayName(commandLine) ? Self.ofScript(commandLine, depth: 0) : []
    }

    /// What a command given as its words does (a rollout's `["/bin/bash", "-lc", "…"]`), as `init(commandLine:)`.
    public init(arguments: [String]) {
        self = arguments.contains(where: Self.mayName) ? Self.ofCommand(arguments[...], depth: 0) : []
    }

    /// Whether `text` holds `gh`, `git` or `gla` (of `glab`) anywhere: most commands do not, and are not read
    /// further.
    private static func mayName(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            guard var at = bytes.baseAddress, bytes.count > 1 else { return false }
            let end = at + bytes.count
            // From one `g` to the next, as memchr finds them.
            while let found = memchr(at, Int32(UInt8(ascii: "g")), end - at - 1) {
                let g = UnsafePointer(found.assumingMemoryBound(to: UInt8.self))
                switch (g[1], g + 2 < end ? g[2] : 0) {
                case (UInt8(ascii: "h"), _), (UInt8(ascii: "i"), UInt8(ascii: "t")),
                    (UInt8(ascii: "l"), UInt8(ascii: "a")):
                    return true
                default:
                    at = g + 1
                }
            }
            return false
        }
    }

    /// How deep shell wrappers are unwrapped (`bash -lc "sh -c '…'"`).
    private static let maximumDepth = 4

    private static func ofScript(_ script: String, depth: Int) -> CodeActions {
        guard depth < maximumDepth, let list = ShellWords.list(script), let last = list.last else { return [] }
        var actions = ofCommand(last.words[...], depth: depth)
        // Before the last, those joined to the next by `&&`, back to the first that is not.
        for command in list.dropLast().reversed() {
            guard command.separator == "&&" else { break }
            actions.formUnion(ofCommand(command.words[...], depth: depth))
        }
        return actions
    }

    private static func ofCommand(_ words: ArraySlice<String>, depth: Int) -> CodeActions {
        var words = words
        while let first = words.first, isAssignment(first) || prefixes.contains(baseName(first)) {
            words = words.dropFirst()
        }
        guard let program = words.first.map(baseName) else { return [] }
        let rest = words.dropFirst()
        switch program {
        case "sh", "bash", "zsh", "dash", "ksh":
            // A wrapper's script: the word after its first option with a `c` in it (`-c`, `-lc`).
            guard let flag = rest.firstIndex(where: { $0.hasPrefix("-") && !$0.hasPrefix("--") && $0.contains("c") }),
                flag + 1 < rest.endIndex
            else { return [] }
            return ofScript(rest[flag + 1], depth: depth + 1)
        case "git":
            var index = rest.startIndex
            while index < rest.endIndex, rest[index].hasPrefix("-") {
                index += gitOptionsWithValue.contains(rest[index]) ? 2 : 1
            }
            guard index < rest.endIndex, rest[index] == "commit" else { return [] }
            return rest[index...].contains("--dry-run") ? [] : .commit
        case "gh":
            return subcommands(rest).starts(with: ["pr", "create"]) || subcommands(rest).starts(with: ["pr", "new"])
                ? .pullRequest : []
        case "glab":
            return subcommands(rest).starts(with: ["mr", "create"]) || subcommands(rest).starts(with: ["mr", "new"])
                ? .mergeRequest : []
        default:
            return []
        }
    }

    /// Commands that run the command after them.
    private static let prefixes: Set<String> = ["env", "command", "time", "sudo", "nohup", "exec"]
    /// `git`'s options before its subcommand that take the next word as their value.
    private static let gitOptionsWithValue: Set<String> = ["-C", "-c", "--git-dir", "--work-tree", "--namespace"]

    private static func isAssignment(_ word: String) -> Bool {
        guard let equals = word.firstIndex(of: "="), equals != word.startIndex else { return false }
        return word[..<equals].allSatisfy { $0 == "_" || $0.isASCII && ($0.isLetter || $0.isNumber) }
    }

    private static func subcommands(_ words: ArraySlice<String>) -> [String] {
        words.filter { !$0.hasPrefix("-") }
    }

    private static func baseName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    /// What an MCP tool does, by the server it is on and its name: the tools of GitHub's and GitLab's MCP servers
    /// (any server whose name holds `github` or `gitlab`) that make a commit, a pull request or a merge request.
    /// Any other tool is none of these.
    public init(mcpServer server: String?, tool: String?) {
        let server = server?.lowercased() ?? ""
        let tools = server.contains("github") ? Self.gitHubTools : server.contains("gitlab") ? Self.gitLabTools : [:]
        self = tool.flatMap { tools[$0] } ?? []
    }

    /// GitHub's MCP server (github/github-mcp-server).
    static let gitHubTools: [String: CodeActions] = [
        "create_pull_request": .pullRequest, "push_files": .commit, "create_or_update_file": .commit,
        "delete_file": .commit,
    ]
    /// GitLab's MCP server.
    static let gitLabTools: [String: CodeActions] = [
        "create_merge_request": .mergeRequest, "push_files": .commit, "create_or_update_file": .commit,
    ]
}

/// A command line as a POSIX shell splits it into a list of simple commands and their words, quotes and
/// backslashes undone. Only what classifying a command needs: no expansion; what it does not follow (`$(…)`,
/// backquotes, subshells, here-documents) makes it read nothing.
package enum ShellWords {
    /// The most bytes of a command line read: a commit is told by its first words, and a longer line is not read.
    package static let maximumLength = 64 << 10

    /// The list's simple commands, each with the operator that follows it (`&&`, `||`, `;`, `|`; a newline or a
    /// lone `&` as `;`), the last with none; `nil` when the line is not one this reads.
    static func list(_ text: String) -> [(words: [String], separator: String?)]? {
        guard text.utf8.count <= maximumLength else { return nil }
        let bytes = Array(text.utf8)
        var commands: [(words: [String], separator: String?)] = []
        var words: [String] = []
        var word: [UInt8] = []
        var inWord = false
        var index = 0
        func endWord() {
            if inWord { words.append(String(decoding: word, as: UTF8.self)) }
            word = []
            inWord = false
        }
        func endCommand(_ separator: String) {
            endWord()
            if !words.isEmpty { commands.append((words, separator)) }
            words = []
        }
        func next(_ byte: UInt8) -> Bool { index + 1 < bytes.count && bytes[index + 1] == byte }
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "'"):
                guard let close = bytes[(index + 1)...].firstIndex(of: UInt8(ascii: "'")) else { return nil }
                word += bytes[(index + 1)..<close]
                inWord = true
                index = close
            case UInt8(ascii: "\""):
                index += 1
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                    if bytes[index] == UInt8(ascii: "`") || bytes[index] == UInt8(ascii: "$") && next(UInt8(ascii: "("))
                    {
                        return nil
                    }
                    if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count,
                        Self.escapedInDoubleQuotes.contains(bytes[index + 1])
                    {
                        index += 1
                    }
                    word.append(bytes[index])
                    index += 1
                }
                guard index < bytes.count else { return nil }
                inWord = true
            case UInt8(ascii: "\\"):
                // A backslash keeps the next byte as it is; before a newline, it joins two lines.
                if index + 1 < bytes.count, bytes[index + 1] != 0x0A {
                    word.append(bytes[index + 1])
                    inWord = true
                }
                index += 1
            case UInt8(ascii: "`"), UInt8(ascii: "("), UInt8(ascii: ")"):
                return nil
            case UInt8(ascii: "$") where next(UInt8(ascii: "(")):
                return nil
            case UInt8(ascii: "<") where next(UInt8(ascii: "<")):
                return nil
            case UInt8(ascii: "&") where next(UInt8(ascii: "&")):
                endCommand("&&")
                index += 1
            case UInt8(ascii: "|") where next(UInt8(ascii: "|")):
                endCommand("||")
                index += 1
            case UInt8(ascii: "|"):
                endCommand("|")
            case UInt8(ascii: ";"), UInt8(ascii: "&"), 0x0A:
                endCommand(";")
            case UInt8(ascii: " "), UInt8(ascii: "\t"), 0x0D:
                endWord()
            case UInt8(ascii: "#") where !inWord:
                // A comment, to the end of its line.
                while index + 1 < bytes.count, bytes[index + 1] != 0x0A { index += 1 }
            default:
                word.append(byte)
                inWord = true
            }
            index += 1
        }
        endCommand(";")
        guard !commands.isEmpty else { return [] }
        commands[commands.count - 1].separator = nil
        return commands
    }

    /// What a backslash escapes inside double quotes; before anything else, it stays.
    private static let escapedInDoubleQuotes: Set<UInt8> = [
        UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "$"), UInt8(ascii: "`"),
    ]
}
