import CodexAppServer
import Foundation
import JSONRPC
import TestSupport
import Testing

struct AppServerMessageTests {
    /// Decodes a line, and checks on the way that the selection a replay parses with reads it the same.
    func decode(_ text: String) throws -> AppServerMessage {
        let full = AppServerMessage(try JSONRPCMessage(decoding: Array(text.utf8)))
        let selected = AppServerMessage(
            try JSONRPCMessage(decoding: Array(text.utf8), selecting: AppServerMessage.selection, maximumValues: 4096)
        )
        #expect(selected == full, "the selection reads \(text) differently")
        return full
    }

    /// Every line of the recorded sessions, and a line for every field decoding reads, decode the same with the
    /// selection as without it: the selection leaves out nothing the telemetry uses.
    @Test func theSelectionKeepsEverythingDecodingReads() throws {
        let folder = TestTools.packageRoot.appendingPathComponent("protocol/sessions")
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            for line in try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8).split(
                separator: "\n"
            ) {
                _ = try decode(String(line))
            }
        }
        let lines = [
            #"{"method":"thread/started","params":{"thread":{"id":"th","model":"m","modelProvider":"p","forkedFromId":"pa","cwd":"/x"}},"emittedAtMs":5}"#,
            #"{"method":"thread/settings/updated","params":{"threadId":"th","threadSettings":{"model":"m2","cwd":"/x"}}}"#,
            #"{"method":"model/rerouted","params":{"threadId":"th","turnId":"tu","fromModel":"a","toModel":"b"}}"#,
            #"{"method":"turn/started","params":{"threadId":"th","turn":{"id":"tu","status":"inProgress","startedAt":1795249371}}}"#,
            #"{"method":"turn/completed","params":{"threadId":"th","turn":{"id":"tu","status":"failed","completedAt":1795249372,"durationMs":900,"error":{"codexErrorInfo":{"httpConnectionFailed":{"httpStatusCode":502}}}}}}"#,
            #"{"method":"item/completed","params":{"threadId":"th","turnId":"tu","completedAtMs":7,"item":{"id":"i","type":"mcpToolCall","tool":"t","server":"s","status":"completed","exitCode":1,"durationMs":3}}}"#,
            #"{"id":3,"result":{"thread":{"id":"th","forkedFromId":"pa"},"model":"m","modelProvider":"p"}}"#,
        ]
        for line in lines { #expect(try decode(line) != .other, "\(line)") }
    }

    @Test func aCommandItemKeepsItsDimensionsAndNothingElse() throws {
        let line =
            #"{"method":"item/completed","params":{"item":{"type":"commandExecution","id":"call_1","command":"echo ZQXMARK","cwd":"/ZQXMARK","aggregatedOutput":"ZQXMARK","status":"failed","exitCode":3,"durationMs":12},"threadId":"th","turnId":"tu","completedAtMs":1000},"emittedAtMs":1001}"#
        let expected = ItemInfo(
            id: "call_1",
            type: "commandExecution",
            status: "failed",
            exitCode: 3,
            durationMilliseconds: 12
        )
        #expect(
            try decode(line)
                == .itemCompleted(threadID: "th", turnID: "tu", item: expected, completedAtMilliseconds: 1000)
        )
        #expect(!String(describing: try decode(line)).contains("ZQXMARK"))
    }

    @Test func anMCPToolKeepsItsToolAndServerNamesButNotItsArguments() throws {
        let line =
            #"{"method":"item/started","params":{"item":{"type":"mcpToolCall","id":"m1","server":"docs","tool":"search","arguments":{"q":"ZQXMARK"},"status":"inProgress"},"threadId":"th","turnId":"tu","startedAtMs":5}}"#
        guard case .itemStarted(_, _, let item, let startedAt) = try decode(line) else {
            Issue.record("not an item start")
            return
        }
        #expect(item.toolName == "search")
        #expect(item.toolServer == "docs")
        #expect(startedAt == 5)
        #expect(!String(describing: item).contains("ZQXMARK"))
    }

    @Test func anUnknownItemTypeStillDecodesItsIdentity() throws {
        let line =
            #"{"method":"item/completed","params":{"item":{"type":"hologram","id":"h1","novel":{"x":1}},"threadId":"th","turnId":"tu"}}"#
        #expect(
            try decode(line)
                == .itemCompleted(
                    threadID: "th",
                    turnID: "tu",
                    item: ItemInfo(id: "h1", type: "hologram"),
                    completedAtMilliseconds: nil
                )
        )
    }

    @Test(arguments: [
        #"{"method":"thread/realtime/started","params":{"threadId":"th"}}"#,
        #"{"method":"item/completed","params":{"threadId":"th","turnId":"tu"}}"#,
        #"{"method":"thread/tokenUsage/updated","params":{"threadId":"th","turnId":"tu","tokenUsage":{"total":{}}}}"#,
        #"{"method":"item/commandExecution/requestApproval","id":0,"params":{"command":"ZQXMARK"}}"#,
        #"{"id":9,"result":{"turn":{"id":"tu"}}}"#,
        #"{"id":9,"error":{"code":-32600,"message":"ZQXMARK"}}"#,
    ])
    func unknownOrIncompleteMessagesAreOther(text: String) throws {
        #expect(try decode(text) == .other)
    }

    @Test func threadStartResultsAndForksCarryModelProviderAndParent() throws {
        let start =
            #"{"id":2,"result":{"thread":{"id":"th","cwd":"/ZQXMARK","forkedFromId":"parent"},"model":"gpt-5.5","modelProvider":"openai"}}"#
        #expect(
            try decode(start)
                == .threadOpened(ThreadInfo(id: "th", model: "gpt-5.5", provider: "openai", forkedFromID: "parent"))
        )
    }

    @Test func tokenUsageReadsBothSnapshots() throws {
        let line =
            #"{"method":"thread/tokenUsage/updated","params":{"threadId":"th","turnId":"tu","tokenUsage":{"total":{"totalTokens":30,"inputTokens":20,"cachedInputTokens":5,"outputTokens":10,"reasoningOutputTokens":4},"last":{"totalTokens":3,"inputTokens":2,"cachedInputTokens":0,"outputTokens":1,"reasoningOutputTokens":0},"modelContextWindow":1000}}}"#
        #expect(
            try decode(line)
                == .tokenUsageUpdated(
                    threadID: "th",
                    turnID: "tu",
                    total: TokenUsage(input: 20, cachedInput: 5, output: 10, reasoningOutput: 4),
                    last: TokenUsage(input: 2, cachedInput: 0, output: 1, reasoningOutput: 0),
                    context: ContextUsage(tokens: 3, window: 1000)
                )
        )
    }

    @Test func threadsSayWhereTheyComeFrom() throws {
        let spawned =
            #"{"method":"thread/started","params":{"thread":{"id":"child","parentThreadId":"root","agentRole":"explorer","agentNickname":"ZQXMARK","reasoningEffort":"high","projectId":"p1","source":{"subAgent":{"thread_spawn":{"parent_thread_id":"root","depth":2,"agent_nickname":"ZQXMARK","agent_role":"explorer"}}}}}}"#
        #expect(
            try decode(spawned)
                == .threadOpened(
                    ThreadInfo(
                        id: "child",
                        source: .subAgent(.threadSpawn),
                        parentThreadID: "root",
                        agentRole: "explorer",
                        agentDepth: 2,
                        reasoningEffort: "high",
                        projectID: "p1"
                    )
                )
        )
        let sources: [(String, SessionSource)] = [
            (#""vscode""#, .vscode), (#""appServer""#, .appServer), (#""somethingNew""#, .unknown),
            (#"{"custom":"ZQXMARK"}"#, .custom), (#"{"subAgent":"review"}"#, .subAgent(.review)),
            (#"{"subAgent":"memory_consolidation"}"#, .subAgent(.memoryConsolidation)),
            (#"{"subAgent":{"other":"ZQXMARK"}}"#, .subAgent(.other)),
        ]
        for (source, expected) in sources {
            let line = #"{"method":"thread/started","params":{"thread":{"id":"t","source":\#(source)}}}"#
            guard case .threadOpened(let thread) = try decode(line) else {
                Issue.record("not a thread")
                continue
            }
            #expect(thread.source == expected, "\(source)")
        }
    }

    /// A spawn is told by the collaboration call's receivers (multi-agent v1) or by a sub-agent's start
    /// (multi-agent v2); other collaboration calls spawn nothing.
    @Test func spawnedThreadsComeFromSpawnCallsAndSubAgentStarts() throws {
        let spawn =
            #"{"method":"item/completed","params":{"threadId":"root","turnId":"u","item":{"type":"collabAgentToolCall","id":"c","tool":"spawnAgent","status":"completed","senderThreadId":"root","receiverThreadIds":["child"],"prompt":"ZQXMARK"}}}"#
        let wait =
            #"{"method":"item/completed","params":{"threadId":"root","turnId":"u","item":{"type":"collabAgentToolCall","id":"w","tool":"wait","status":"completed","senderThreadId":"root","receiverThreadIds":["child"]}}}"#
        let started =
            #"{"method":"item/started","params":{"threadId":"root","turnId":"u","item":{"type":"subAgentActivity","id":"call_1","kind":"started","agentThreadId":"child","agentPath":"/root/ZQXMARK"}}}"#
        func spawned(_ line: String) throws -> [String] {
            switch try decode(line) {
            case .itemCompleted(_, _, let item, _), .itemStarted(_, _, let item, _): item.spawnedThreadIDs
            default: []
            }
        }
        #expect(try spawned(spawn) == ["child"])
        #expect(try spawned(wait) == [])
        #expect(try spawned(started) == ["child"])
    }

    @Test func rateLimitsReadEachWindow() throws {
        let line =
            #"{"method":"account/rateLimits/updated","params":{"rateLimits":{"limitId":"codex","limitName":"ZQXMARK","planType":"pro","primary":{"usedPercent":42,"windowDurationMins":300,"resetsAt":1795340000},"secondary":null,"credits":null}}}"#
        #expect(
            try decode(line)
                == .rateLimitsUpdated(
                    RateLimits(
                        limitID: "codex",
                        planType: "pro",
                        windows: [
                            RateLimits.Window(
                                name: "primary",
                                usedPercent: 42,
                                durationMinutes: 300,
                                resetsAt: 1_795_340_000
                            )
                        ]
                    )
                )
        )
    }

    /// An approval request names its item and request id, and its answer the same id, whatever the approval is
    /// for; the command, its folder and the reason are never read.
    @Test func approvalsAreMatchedByRequestID() throws {
        let request = try decode(
            #"{"method":"item/fileChange/requestApproval","id":"r7","params":{"threadId":"th","turnId":"tu","itemId":"p1","startedAtMs":1795249375524,"reason":"ZQXMARK","grantRoot":"/ZQXMARK"}}"#
        )
        #expect(
            request
                == .approvalRequested(
                    threadID: "th",
                    turnID: "tu",
                    itemID: "p1",
                    requestID: .string("r7"),
                    requestedAtMilliseconds: 1_795_249_375_524
                )
        )
        #expect(request.payloadTimeMilliseconds == 1_795_249_375_524)
        let resolved = try decode(
            #"{"method":"serverRequest/resolved","params":{"threadId":"th","requestId":"r7"},"emittedAtMs":1795249375526}"#
        )
        #expect(resolved == .serverRequestResolved(threadID: "th", requestID: .string("r7")))
        // Any other request of the server's is not an approval.
        let question = try decode(
            #"{"method":"item/tool/requestUserInput","id":1,"params":{"threadId":"th","turnId":"tu","itemId":"q"}}"#
        )
        #expect(question == .other)
    }

    /// A hook's run gives its event, handler type, source, status and duration; its id and source path (which
    /// hold paths), its status message and its output entries are never read.
    @Test func hookRunsKeepTheirNameAndStatusOnly() throws {
        let line =
            #"{"method":"hook/completed","params":{"threadId":"th","turnId":"tu","run":{"id":"pre-tool-use:0:/ZQXMARK/hooks.json:c1","eventName":"preToolUse","handlerType":"command","executionMode":"sync","scope":"turn","sourcePath":"/ZQXMARK/hooks.json","source":"user","displayOrder":0,"status":"blocked","statusMessage":"ZQXMARK","startedAt":1795337560,"completedAt":1795337560,"durationMs":5,"entries":[{"kind":"feedback","text":"ZQXMARK"}]}},"emittedAtMs":1795337560717}"#
        let run = HookRun(
            eventName: "preToolUse",
            handlerType: "command",
            source: "user",
            status: "blocked",
            durationMilliseconds: 5
        )
        #expect(try decode(line) == .hookCompleted(threadID: "th", turnID: "tu", run: run))
        let threadHook = line.replacingOccurrences(of: #""turnId":"tu","#, with: #""turnId":null,"#)
        #expect(try decode(threadHook) == .hookCompleted(threadID: "th", turnID: nil, run: run))
    }

    @Test func errorsAreClassifiedByCodexErrorInfoNeverByMessage() throws {
        let simple =
            #"{"method":"turn/completed","params":{"threadId":"th","turn":{"id":"tu","items":[],"status":"failed","error":{"message":"ZQXMARK","codexErrorInfo":"contextWindowExceeded"}}}}"#
        guard case .turnCompleted(_, let turn) = try decode(simple) else {
            Issue.record("not a turn end")
            return
        }
        #expect(turn.errorClass == "contextWindowExceeded")
        let structured =
            #"{"method":"error","params":{"threadId":"th","turnId":"tu","willRetry":false,"error":{"message":"ZQXMARK","codexErrorInfo":{"httpConnectionFailed":{"httpStatusCode":502}}}}}"#
        #expect(
            try decode(structured)
                == .error(threadID: "th", turnID: "tu", errorClass: "httpConnectionFailed", willRetry: false)
        )
    }

    /// A line is passed over by its leading method alone only when that method is one not followed; whatever
    /// cannot be told so is left to the parser.
    @Test func linesArePassedOverByTheirLeadingMethodWithoutParsing() {
        func mayBeFollowed(_ text: String) -> Bool {
            Array(text.utf8).withUnsafeBytes { AppServerMessage.mayBeFollowed($0) }
        }
        #expect(!mayBeFollowed(#"{"method":"item/agentMessage/delta","params":{"delta":"x"#))
        #expect(!mayBeFollowed(#"{"method":"item/completedX","params":{}}"#))
        #expect(mayBeFollowed(#"{"method":"item/completed","params":{}}"#))
        #expect(mayBeFollowed(#"{"method":"item/commandExecution/requestApproval","id":0,"params":{}}"#))
        #expect(mayBeFollowed(#"{"id":1,"method":"x"}"#))
        #expect(mayBeFollowed(#"{"method":"unterminated"#))
        #expect(mayBeFollowed(#"{"method":"item\/completed","params":{}}"#))
        #expect(mayBeFollowed(#"{"method":""#))
    }
}
