import DescriptorIO
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Opening a file beneath a folder held open: whatever is done to the names on the way, a link never leads out.
struct OpenBeneathTests {
    @Test func aFileBeneathOpensAndALinkOnTheWayOrAtTheEndDoesNot() throws {
        let folder = try TestTools.makeTemporaryDirectory("beneath")
        let root = folder.appendingPathComponent("root")
        let elsewhere = folder.appendingPathComponent("elsewhere")
        for day in [root.appendingPathComponent("2026/12/05"), elsewhere] {
            try FileManager.default.createDirectory(at: day, withIntermediateDirectories: true)
            try Data("{}\n".utf8).write(to: day.appendingPathComponent("rollout.jsonl"))
        }
        let directory = open(root.path, O_RDONLY | O_DIRECTORY)
        defer { close(directory) }

        let file = openBeneath(directory, "2026/12/05/rollout.jsonl", flags: O_RDONLY)
        #expect(file >= 0)
        close(file)

        // A folder on the way swapped for a link to another that holds the same name.
        #expect(rename(root.appendingPathComponent("2026/12").path, folder.appendingPathComponent("away").path) == 0)
        #expect(symlink(folder.path, root.appendingPathComponent("2026/12").path) == 0)
        try FileManager.default.createDirectory(
            at: folder.appendingPathComponent("05"),
            withIntermediateDirectories: true
        )
        try Data("{}\n".utf8).write(to: folder.appendingPathComponent("05/rollout.jsonl"))
        #expect(openBeneath(directory, "2026/12/05/rollout.jsonl", flags: O_RDONLY) == -1)
        #expect([ELOOP, ENOTDIR].contains(errno))

        // The file itself a link.
        #expect(
            symlink(
                elsewhere.appendingPathComponent("rollout.jsonl").path,
                root.appendingPathComponent("link.jsonl").path
            ) == 0
        )
        #expect(openBeneath(directory, "link.jsonl", flags: O_RDONLY) == -1)

        // Names that climb out are refused, whatever is there.
        for climbing in ["../elsewhere/rollout.jsonl", "2026/../../elsewhere/rollout.jsonl", "./2026"] {
            #expect(openBeneath(directory, climbing, flags: O_RDONLY) == -1, "\(climbing)")
        }
    }
}
