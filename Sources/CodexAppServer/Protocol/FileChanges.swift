public import JSON
import SaturatingArithmetic

#if canImport(Glibc)
import Glibc
#endif

/// What a patch did to the files it touched, in counts: how many files, the lines it added and removed, and their
/// language when they share one. Read where the patch is decoded (its diffs, contents and paths), so that only these
/// counts and a name from a closed table leave: never a path, a file's name or a line of it.
public struct FileChangeSummary: Sendable, Hashable {
    public var files: Int64 = 0
    public var linesAdded: Int64 = 0
    public var linesRemoved: Int64 = 0
    /// The language of every file touched (`swift`, `python`, …, `other`), or `mixed` when they have several.
    public var language: String?

    public init(files: Int64 = 0, linesAdded: Int64 = 0, linesRemoved: Int64 = 0, language: String? = nil) {
        self.files = files
        self.linesAdded = linesAdded
        self.linesRemoved = linesRemoved
        self.language = language
    }

    /// The most files, and lines of a file, counted: a hostile patch cannot make a count overflow or a read run on.
    static let maximumFiles = 1 << 20

    /// One file's change: its language, from the extension of `path`, and its lines.
    mutating func add(path: String, added: Int64, removed: Int64) {
        guard files < Self.maximumFiles else { return }
        files += 1
        linesAdded = linesAdded.addingSaturated(added)
        linesRemoved = linesRemoved.addingSaturated(removed)
        let own = Language.of(path: path)
        language = language == nil || language == own ? own : Language.mixed
    }

    /// The `changes` of an app-server `fileChange` item: `[{"path","kind":{"type","move_path"},"diff"}]`, where
    /// `diff` is a new file's content, a deleted one's, or a unified diff of an update (a move included: its lines
    /// changed are what count, not the file moved).
    public init?(appServerChanges changes: JSONValue) {
        guard let changes = changes.array else { return nil }
        for change in changes {
            guard let path = change["path"]?.string, let kind = change["kind"]?["type"]?.string else { continue }
            let diff = change["diff"]?.string ?? ""
            switch kind {
            case "add": add(path: path, added: LineCount.lines(in: diff), removed: 0)
            case "delete": add(path: path, added: 0, removed: LineCount.lines(in: diff))
            default:
                let (added, removed) = LineCount.unifiedDiff(diff)
                add(path: path, added: added, removed: removed)
            }
        }
    }

    /// The `changes` of a rollout's `FileChange` item: `{"PATH": {"type":"add","content"} | {"type":"delete",
    /// "content"} | {"type":"update","unified_diff","move_path"}}`.
    public init?(rolloutChanges changes: JSONValue) {
        guard let changes = changes.object else { return nil }
        for (path, change) in changes {
            switch change["type"]?.string {
            case "add": add(path: path, added: LineCount.lines(in: change["content"]?.string ?? ""), removed: 0)
            case "delete": add(path: path, added: 0, removed: LineCount.lines(in: change["content"]?.string ?? ""))
            case "update":
                let (added, removed) = LineCount.unifiedDiff(change["unified_diff"]?.string ?? "")
                add(path: path, added: added, removed: removed)
            default: continue
            }
        }
    }

    /// The text of an `apply_patch` call, as older rollouts hold it alone: `*** Add File: P` and its `+` lines,
    /// `*** Update File: P` (maybe `*** Move to: Q`) and its hunks, `*** Delete File: P`. A deleted file's lines are
    /// not in the patch: it counts as a file, with no lines removed.
    public init?(patch: String) {
        var current: (path: String, added: Int64, removed: Int64)?
        var found = false
        LineCount.forEachLine(of: patch) { line in
            if line.first == UInt8(ascii: "*"),
                let marker = Self.patchMarkers.first(where: { line.starts(with: $0.utf8) })
            {
                if let file = current { add(path: file.path, added: file.added, removed: file.removed) }
                current =
                    marker == "*** End Patch"
                    ? nil : (String(decoding: line.dropFirst(marker.utf8.count), as: UTF8.self), 0, 0)
                found = found || current != nil
            } else if line.starts(with: "*** ".utf8) {
                // `*** Move to: Q` and `*** End of File`: the file goes on.
                return
            } else if var file = current {
                if line.first == UInt8(ascii: "+") { file.added += 1 }
                if line.first == UInt8(ascii: "-") { file.removed += 1 }
                current = file
            }
        }
        if let file = current { add(path: file.path, added: file.added, removed: file.removed) }
        guard found else { return nil }
    }

    private static let patchMarkers = ["*** Add File: ", "*** Update File: ", "*** Delete File: ", "*** End Patch"]
}

/// Counting lines of text, and of a unified diff.
enum LineCount {
    /// The lines of a text: its newlines, and one more for a last line without one.
    static func lines(in text: String) -> Int64 {
        var text = text
        return text.withUTF8 { bytes in
            guard let last = bytes.last else { return 0 }
            // A loop the compiler vectorizes: a file's content can be long.
            var count: Int64 = 0
            for byte in bytes { count &+= byte == 0x0A ? 1 : 0 }
            return last == 0x0A ? count : count + 1
        }
    }

    /// The lines a unified diff adds and removes: within each hunk (`@@ -a,b +c,d @@`), the lines that begin with
    /// `+` and `-`, for as many lines as the hunk's header says. Outside hunks, headers (`--- a/x`, `+++ b/x`) and
    /// anything else are passed over, so a removed line that reads `-- note` is not taken for a header.
    static func unifiedDiff(_ diff: String) -> (added: Int64, removed: Int64) {
        var added: Int64 = 0
        var removed: Int64 = 0
        var oldLeft = 0
        var newLeft = 0
        forEachLine(of: diff) { line in
            if oldLeft > 0 || newLeft > 0 {
                switch line.first {
                case UInt8(ascii: "+"):
                    added += 1
                    newLeft -= 1
                case UInt8(ascii: "-"):
                    removed += 1
                    oldLeft -= 1
                case UInt8(ascii: "\\"):
                    break
                default:
                    oldLeft -= 1
                    newLeft -= 1
                }
            } else if line.starts(with: "@@ ".utf8), let counts = hunkCounts(Substring(decoding: line, as: UTF8.self)) {
                (oldLeft, newLeft) = counts
            }
        }
        return (added, removed)
    }

    /// Calls `body` with each line of `text` (its bytes, without the newline), the last even when empty: by bytes,
    /// newline to newline as memchr finds them, for a text can be long and only ASCII marks its lines.
    static func forEachLine(of text: String, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var text = text
        text.withUTF8 { bytes in
            guard var start = bytes.baseAddress else { return body(bytes) }
            let end = start + bytes.count
            while let newline = memchr(start, 0x0A, end - start) {
                let next = UnsafePointer(newline.assumingMemoryBound(to: UInt8.self))
                body(UnsafeBufferPointer(start: start, count: next - start))
                start = next + 1
            }
            body(UnsafeBufferPointer(start: start, count: end - start))
        }
    }

    /// The old and new line counts of a hunk header, `@@ -a[,b] +c[,d] @@` (a count left out is 1).
    private static func hunkCounts(_ header: Substring) -> (Int, Int)? {
        let fields = header.split(separator: " ")
        guard fields.count >= 3, fields[1].hasPrefix("-"), fields[2].hasPrefix("+") else { return nil }
        func count(_ range: Substring) -> Int? {
            let parts = range.dropFirst().split(separator: ",", omittingEmptySubsequences: false)
            guard parts.count <= 2, let start = Int(parts[0]), start >= 0 else { return nil }
            guard parts.count == 2 else { return 1 }
            return Int(parts[1]).flatMap { (0...FileChangeSummary.maximumLines).contains($0) ? $0 : nil }
        }
        guard let old = count(fields[1]), let new = count(fields[2]) else { return nil }
        return (old, new)
    }
}

extension FileChangeSummary {
    /// The most lines a hunk header may say it holds: more than any file has.
    static let maximumLines = 1 << 30
}

/// A file's language, told by its extension through a closed table: only a name from this table leaves, never the
/// extension or the name of a file.
public enum Language {
    /// What a patch touching files of several languages is in.
    public static let mixed = "mixed"
    /// What a file whose extension is not in the table is in.
    public static let other = "other"

    /// The language of the file at `path`.
    public static func of(path: String) -> String {
        // By bytes: a path can be long, and `/` and `.` are ASCII.
        var path = path
        let (name, suffix) = path.withUTF8 { bytes in
            // A name in the table, or an extension, is in the last few bytes: a long path is not read back further.
            let tail = bytes[max(0, bytes.count - 64)...]
            let name = UnsafeBufferPointer(
                rebasing: tail[((tail.lastIndex(of: UInt8(ascii: "/")) ?? tail.startIndex - 1) + 1)...]
            )
            let dot = name.lastIndex(of: UInt8(ascii: "."))
            let suffix = dot.flatMap { $0 > name.startIndex && name.endIndex - $0 <= 12 ? $0 + 1 : nil }
            return (String(decoding: name, as: UTF8.self), suffix.map { String(decoding: name[$0...], as: UTF8.self) })
        }
        if let byName = byFileName[name] { return byName }
        return suffix.flatMap { byExtension[$0.lowercased()] } ?? other
    }

    private static let byFileName: [String: String] = [
        "Dockerfile": "dockerfile", "Makefile": "makefile", "GNUmakefile": "makefile", "CMakeLists.txt": "cmake",
        "Package.swift": "swift", "Gemfile": "ruby", "Rakefile": "ruby", "BUILD": "starlark", "BUILD.bazel": "starlark",
    ]

    /// The names of the languages are the ones dashboards use for them (GitHub Linguist's, lowercased).
    private static let byExtension: [String: String] = {
        let languages: [String: [String]] = [
            "swift": ["swift"], "python": ["py", "pyi"], "javascript": ["js", "mjs", "cjs", "jsx"],
            "typescript": ["ts", "mts", "cts", "tsx"], "go": ["go"], "rust": ["rs"], "java": ["java"],
            "kotlin": ["kt", "kts"], "c": ["c", "h"], "cpp": ["cc", "cpp", "cxx", "c++", "hpp", "hh", "hxx"],
            "csharp": ["cs"], "objective-c": ["m", "mm"], "ruby": ["rb"], "php": ["php"], "scala": ["scala"],
            "dart": ["dart"], "lua": ["lua"], "r": ["r"], "julia": ["jl"], "elixir": ["ex", "exs"],
            "erlang": ["erl", "hrl"], "haskell": ["hs"], "ocaml": ["ml", "mli"], "clojure": ["clj", "cljs"],
            "zig": ["zig"], "shell": ["sh", "bash", "zsh", "fish"], "powershell": ["ps1"], "sql": ["sql"],
            "html": ["html", "htm"], "css": ["css", "scss", "sass", "less"], "vue": ["vue"], "svelte": ["svelte"],
            "json": ["json", "jsonc"], "yaml": ["yaml", "yml"], "toml": ["toml"], "xml": ["xml"],
            "markdown": ["md", "markdown"], "text": ["txt"], "protobuf": ["proto"], "terraform": ["tf", "tfvars"],
            "graphql": ["graphql", "gql"], "groovy": ["groovy", "gradle"], "perl": ["pl", "pm"],
        ]
        return Dictionary(uniqueKeysWithValues: languages.flatMap { name, extensions in extensions.map { ($0, name) } })
    }()
}
