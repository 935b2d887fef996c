import CodexAppServer
import JSON
import JSONRPC
import Testing

/// Diffs and commands read where they are decoded: what leaves is counts, a language from a table, a class.
struct FileChangeSummaryTests {
    /// An update's unified diff: only the lines of its hunks count, by their first byte, for as many lines as each
    /// hunk's header says; a removed line that reads like a header (`--- x`, `-- note`) is a removed line.
    @Test func aUnifiedDiffCountsTheLinesOfItsHunks() throws {
        let diff = """
            --- a/ZQXMARK.swift
            +++ b/ZQXMARK.swift
            @@ -1,4 +1,4 @@
             let a = 1
            --- ZQXMARK a removed line that reads like a header
            -let b = 2
            +let b = 3
            +++ ZQXMARK an added line that reads like one
             let c = 4
            @@ -10 +10,2 @@
            -x
            +y
            +z
            \\ No newline at end of file
            """
        let change: JSONValue = [
            "path": "/w/ZQXMARK/Sources/Main.swift", "kind": ["type": "update", "move_path": nil],
            "diff": .string(diff),
        ]
        let summary = try #require(FileChangeSummary(appServerChanges: [change]))
        #expect(summary == FileChangeSummary(files: 1, linesAdded: 4, linesRemoved: 3, language: "swift"))
    }

    /// An empty file written to: its hunk starts at line 0 on the old side (`@@ -0,0 +1,2 @@`).
    @Test func anEmptyFileWrittenToCountsItsNewLines() throws {
        let change: JSONValue = [
            "path": "ZQXMARK.md", "kind": ["type": "update", "move_path": nil],
            "diff": "--- a/ZQXMARK.md\n+++ b/ZQXMARK.md\n@@ -0,0 +1,2 @@\n+ZQXMARK one\n+ZQXMARK two\n",
        ]
        let summary = try #require(FileChangeSummary(appServerChanges: [change]))
        #expect(summary == FileChangeSummary(files: 1, linesAdded: 2, linesRemoved: 0, language: "markdown"))
    }

    /// A new file's lines are its content's; a deleted one's, its content's; a last line without a newline counts.
    @Test(arguments: [("a\nb\nc\n", 3), ("a\nb\nc", 3), ("", 0), ("\n", 1), ("one", 1)])
    func addedAndDeletedFilesCountTheirContentsLines(content: String, lines: Int64) throws {
        let added = try #require(
            FileChangeSummary(appServerChanges: [["path": "n.py", "kind": ["type": "add"], "diff": .string(content)]])
        )
        #expect(added.linesAdded == lines && added.linesRemoved == 0 && added.files == 1)
        let deleted = try #require(
            FileChangeSummary(rolloutChanges: ["old.py": ["type": "delete", "content": .string(content)]])
        )
        #expect(deleted.linesRemoved == lines && deleted.linesAdded == 0 && deleted.files == 1)
    }

    /// A rollout's changes, keyed by path: an update's `unified_diff`; a moved file counts its lines changed.
    @Test func aRolloutsChangesAreCountedAsTheAppServersAre() throws {
        let changes: JSONValue = [
            "/w/ZQXMARK/a.ts": ["type": "add", "content": "1\n2\n"],
            "/w/ZQXMARK/b.ts": [
                "type": "update", "unified_diff": "@@ -1,2 +1,2 @@\n-old\n+new\n same\n",
                "move_path": "/w/ZQXMARK/c.ts",
            ],
        ]
        let summary = try #require(FileChangeSummary(rolloutChanges: changes))
        #expect(summary == FileChangeSummary(files: 2, linesAdded: 3, linesRemoved: 1, language: "typescript"))
    }

    /// An `apply_patch` call's text, as older rollouts hold it alone: files added, updated (and moved) and deleted.
    /// A deleted file's lines are not in the patch: it counts as a file.
    @Test func aPatchsTextIsCountedFileByFile() throws {
        let patch = """
            *** Begin Patch
            *** Add File: ZQXMARK/new.go
            +package main
            +
            +func main() {}
            *** Update File: ZQXMARK/old.go
            *** Move to: ZQXMARK/moved.go
            @@ func f()
            -\treturn 1
            +\treturn 2
            *** End of File
            *** Delete File: ZQXMARK/gone.go
            *** End Patch
            """
        let summary = try #require(FileChangeSummary(patch: patch))
        #expect(summary == FileChangeSummary(files: 3, linesAdded: 4, linesRemoved: 1, language: "go"))
        #expect(FileChangeSummary(patch: "ZQXMARK not a patch") == nil)
    }

    @Test(arguments: [
        ("Sources/App/Main.swift", "swift"), ("a/B.TSX", "typescript"), ("x/Dockerfile", "dockerfile"),
        ("notes", "other"), (".gitignore", "other"), ("dir.d/file", "other"), ("lib.rs", "rust"),
        ("ZQXMARK.unknownext", "other"),
    ])
    func aFilesLanguageComesFromAClosedTable(path: String, language: String) {
        #expect(Language.of(path: path) == language)
    }

    /// Files of several languages make a patch `mixed`.
    @Test func aPatchOfSeveralLanguagesIsMixed() throws {
        let summary = try #require(FileChangeSummary(patch: "*** Add File: a.py\n+x\n*** Add File: b.rb\n+y\n"))
        #expect(summary.language == "mixed" && summary.files == 2 && summary.linesAdded == 2)
    }
}

struct CodeActionsTests {
    static let commandLines: [(String, CodeActions)] = [
        ("/bin/bash -lc 'git commit -m \"ZQXMARK fix\"'", CodeActions.commit),
        ("git -C /w/ZQXMARK commit -am msg", .commit),
        ("git -c user.name=ZQXMARK --no-pager commit --amend --no-edit", .commit),
        ("/bin/bash -lc \"git add -A && git commit -m 'ZQXMARK'\"", .commit),
        ("FOO=1 sudo git commit -m x", .commit),
        ("cd /w && git add . && git commit -m x && gh pr create --title t --body ZQXMARK", [.commit, .pullRequest]),
        ("/bin/zsh -lc 'glab mr create --fill'", .mergeRequest),
        ("sh -c \"bash -lc 'git commit -m x'\"", .commit),
        ("gh pr new -f", .pullRequest),
        // Whose success the exit status does not imply.
        ("git commit -m x; echo ZQXMARK", []),
        ("git commit -m x || true", []),
        ("git commit -m x | tee log", []),
        // Not a commit, a pull request or a merge request.
        ("git commit --dry-run", []), ("git commit-tree abc", []), ("git log --grep commit", []),
        ("echo \"git commit -m x\"", []), ("gh pr list", []), ("glab mr view 3", []), ("git ci -m x", []),
        // Not followed.
        ("echo $(git commit -m x)", []), ("(git commit -m x)", []), ("git commit -F - <<EOF\nZQXMARK\nEOF", []),
        ("/bin/bash -lc 'git commit -m \"unclosed", []),
    ]

    @Test(arguments: commandLines)
    func aCommandLineIsClassifiedByWhatItRuns(line: String, actions: CodeActions) {
        #expect(CodeActions(commandLine: line) == actions, "\(line)")
    }

    @Test func aCommandGivenAsItsWordsIsClassifiedAlike() {
        #expect(CodeActions(arguments: ["/bin/bash", "-lc", "git commit -m 'ZQXMARK'"]) == .commit)
        #expect(CodeActions(arguments: ["git", "commit", "-m", "ZQXMARK"]) == .commit)
        #expect(CodeActions(arguments: ["gh", "pr", "create"]) == .pullRequest)
        #expect(CodeActions(arguments: []) == [])
    }

    @Test func mcpToolsOfGitHubAndGitLabMakeCommitsAndRequests() {
        #expect(CodeActions(mcpServer: "github", tool: "create_pull_request") == .pullRequest)
        #expect(CodeActions(mcpServer: "GitHub-Enterprise", tool: "push_files") == .commit)
        #expect(CodeActions(mcpServer: "gitlab", tool: "create_merge_request") == .mergeRequest)
        #expect(CodeActions(mcpServer: "github", tool: "list_issues") == [])
        #expect(CodeActions(mcpServer: "docs", tool: "create_pull_request") == [])
    }

    /// An item decoded from the wire carries the class and the counts, and nothing else of its command or diff.
    @Test func aDecodedItemCarriesOnlyTheClassAndTheCounts() throws {
        let line = #"""
            {"method":"item/completed","params":{"threadId":"t","turnId":"u","item":{"type":"commandExecution","id":"c","command":"/bin/bash -lc 'git commit -m ZQXMARK'","cwd":"/ZQXMARK","status":"completed","exitCode":0,"aggregatedOutput":"ZQXMARK"}}}
            """#
        let message = try JSONRPCMessage(
            decoding: Array(line.utf8),
            selecting: AppServerMessage.selection,
            maximumValues: AppServerMessage.maximumSelectedValues
        )
        guard case .itemCompleted(_, _, let item, _) = AppServerMessage(message) else {
            Issue.record("not an item's completion")
            return
        }
        #expect(item.codeActions == .commit)
        #expect(!"\(item)".contains("ZQXMARK"))
    }
}
