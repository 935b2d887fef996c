import DescriptorIO
import JSON

#if canImport(Glibc)
import Glibc
#endif

/// What a rollout's first line, its `session_meta`, says of the session beyond what telemetry reads: its id, and
/// the folder it ran in. Read for local reports only: a session found twice counts once, and `--by project` names
/// where work happened. The folder never reaches an event.
package struct SessionHeader: Sendable {
    package var sessionID: String?
    package var workingDirectory: String?

    /// A `session_meta` line carries Codex's instructions; past this, a first line is not one.
    static let maximumLength = 4 << 20

    private static let selection = JSONSelection.members([
        "type": .everything, "payload": .members(["id": .head(256), "cwd": .head(4096)]),
    ])

    /// The session id a rollout's name ends with (`rollout-2026-12-05T03-38-32-<id>.jsonl`, as Codex names them and
    /// keeps them when it archives one): known without opening the file. `nil` for any other name.
    package static func sessionID(inFileName path: String) -> String? {
        // Byte by byte: it runs for every file of a report, thousands of them.
        let bytes = Array(path.utf8)
        let name = bytes[((bytes.lastIndex(of: UInt8(ascii: "/")) ?? -1) + 1)...]
        guard name.starts(with: "rollout-".utf8), name.count >= 8 + 36 + 6, name.suffix(6).elementsEqual(".jsonl".utf8)
        else { return nil }
        let id = name.dropLast(6).suffix(36)
        let dashes = [8, 13, 18, 23].map { id.startIndex + $0 }
        let isID = id.indices.allSatisfy { index in
            dashes.contains(index) ? id[index] == UInt8(ascii: "-") : id[index].isHexDigit
        }
        return isID ? String(decoding: id, as: UTF8.self) : nil
    }

    /// The header of the file at `path`; empty for a capture, a recording, or a file that cannot be read.
    package init(path: String) {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        defer { if descriptor >= 0 { close(descriptor) } }
        guard descriptor >= 0, case .whole(let line) = Self.firstLine(of: descriptor, atMost: Self.maximumLength) else {
            self.init(firstLine: [])
            return
        }
        self.init(firstLine: line)
    }

    /// A file's first line, read from its start whatever its offset.
    package enum FirstLine {
        /// The line, without its newline.
        case whole([UInt8])
        /// No newline yet: the line is still being written, or the file is empty.
        case unfinished
        /// No newline within the bound.
        case tooLong
    }

    /// Reads the first line of an open file, up to `limit` bytes.
    package static func firstLine(of descriptor: Int32, atMost limit: Int) -> FirstLine {
        var line: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while line.count < limit {
            let count = chunk.withUnsafeMutableBytes {
                readSome(descriptor, into: $0.baseAddress, count: $0.count, at: line.count)
            }
            guard count > 0 else { return .unfinished }
            if let newline = chunk[..<count].firstIndex(of: 0x0A) { return .whole(line + chunk[..<newline]) }
            line += chunk[..<count]
        }
        return .tooLong
    }

    init(firstLine: [UInt8]) {
        guard let record = try? JSONValue(parsing: firstLine, selecting: Self.selection, maximumValues: 16),
            record["type"]?.string == "session_meta"
        else { return }
        sessionID = record["payload"]?["id"]?.string.flatMap { $0.isEmpty ? nil : $0 }
        workingDirectory = record["payload"]?["cwd"]?.string.flatMap { $0.hasPrefix("/") ? $0 : nil }
    }

    /// The project a session worked on: the name of the git repository its folder is in, when that folder is on
    /// this machine and in one, else the folder's own name. Only a name, never a path, and nothing a terminal
    /// would act on.
    package var projectName: String? {
        guard let folder = workingDirectory else { return nil }
        var components = folder.split(separator: "/").map(String.init)
        guard let own = components.last else { return nil }
        // Only looked at, never read or followed: does an ancestor hold a `.git` (a folder, or a worktree's file)?
        while !components.isEmpty {
            var status = stat()
            if lstat("/" + components.joined(separator: "/") + "/.git", &status) == 0 {
                return Self.printable(components.last!)
            }
            components.removeLast()
        }
        return Self.printable(own)
    }

    private static func printable(_ name: String) -> String {
        String(
            String.UnicodeScalarView(name.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.prefix(100))
        )
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
    }
}
