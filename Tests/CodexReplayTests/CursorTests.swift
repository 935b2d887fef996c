import DescriptorIO
import Testing

@testable import CodexReplay

/// The cursor's memory of where each session was read: what a restart goes on from.
struct CursorTests {
    static func position(inode: UInt64, offset: Int, session: String = "session-a") -> Cursor.Position {
        Cursor.Position(
            identity: FileIdentity(device: 1, inode: inode),
            path: "/sessions/rollout-\(inode).jsonl",
            offset: offset,
            openTurns: false,
            session: session,
            check: 42
        )
    }

    /// A session known in two files read to different lengths (a copy caught half written, and the file it copies),
    /// recorded in either order: a third file of the session goes on from the one read further, so nothing it holds
    /// is read, and exported, twice.
    @Test(arguments: [true, false])
    func aSessionInTwoFilesGoesOnFromTheOneReadFurthest(shorterFirst: Bool) {
        let (shorter, longer) = (Self.position(inode: 1, offset: 500), Self.position(inode: 2, offset: 1_000))
        var cursor = Cursor()
        for position in shorterFirst ? [shorter, longer] : [longer, shorter] { cursor.record(position) }
        #expect(cursor.furthestPosition(ofSession: "session-a") == longer)
        // Read on, the shorter file stays behind the longer.
        cursor.record(Self.position(inode: 1, offset: 800))
        #expect(cursor.furthestPosition(ofSession: "session-a")?.offset == 1_000)
    }
}
