import CodexAppServer
import CodexTelemetry
import Foundation
import JSON
import JSONRPC
import TestSupport
import Testing

/// Every kind Codex's vocabulary declares, held to what it declares of it, live and in rollouts; and every kind of
/// the pinned schema declared. A kind added to the table without its reading, or read without being declared, fails
/// here.
struct VocabularyTests {
    /// A live session in which one item of `kind` runs, as app-server stdout (a capture).
    static func liveEvents(_ kind: String, tool: String? = "probeTool") -> [TelemetryEvent] {
        let item =
            #""id":"i1","type":"\#(kind)","status":"completed","kind":"started","agentThreadId":"t2""#
            + (tool.map { #","tool":"\#($0)","server":"probe_server""# } ?? "")
        let params = #""threadId":"t1","turnId":"u1""#
        let capture = [
            #"{"method":"thread/started","params":{"thread":{"id":"t1","modelProvider":"openai"}}}"#,
            #"{"method":"turn/started","params":{"threadId":"t1","turn":{"id":"u1","status":"inProgress"}}}"#,
            #"{"method":"item/started","params":{\#(params),"item":{\#(item)}}}"#,
            #"{"method":"item/completed","params":{\#(params),"item":{\#(item)}}}"#,
            #"{"method":"turn/completed","params":{"threadId":"t1","turn":{"id":"u1","status":"completed"}}}"#,
        ]
        return replay(capture)
    }

    /// A rollout whose one turn holds `records`.
    static func rolloutEvents(_ records: [String]) -> [TelemetryEvent] {
        let time = #"{"timestamp":"2026-11-21T08:14:19.200Z","#
        return replay(
            [
                #"{"timestamp":"2026-11-21T08:14:19.000Z","type":"session_meta","payload":{"id":"t1","model_provider":"openai"}}"#,
                #"{"timestamp":"2026-11-21T08:14:19.100Z","type":"event_msg","payload":{"type":"task_started","turn_id":"u1"}}"#,
            ] + records.map { time + $0 } + [
                #"{"timestamp":"2026-11-21T08:14:20.000Z","type":"event_msg","payload":{"type":"task_complete","turn_id":"u1"}}"#
            ]
        )
    }

    static func replay(_ lines: [String]) -> [TelemetryEvent] {
        var replay = SessionReplay()
        let events = Array(lines.map { $0 + "\n" }.joined().utf8).withUnsafeBytes { replay.replay(file: $0) }
        #expect(replay.counts.skipped == 0 && replay.counts.unknownKinds == 0, "\(replay.counts)")
        return events
    }

    /// `commandExecution` as a rollout's `item_completed` spells it: `CommandExecution`.
    static func rolloutSpelling(_ kind: String) -> String { kind.prefix(1).uppercased() + kind.dropFirst() }

    @Test(arguments: CodexVocabulary.items)
    func everyItemKindIsReadLiveAndFromRolloutsAsDeclared(_ kind: CodexVocabulary.ItemKind) throws {
        let live = Self.liveEvents(kind.name)
        let completed =
            #""type":"event_msg","payload":{"type":"item_completed","turn_id":"u1","started_at_ms":1795248859150,"item":{"id":"i1","type":"\#(Self.rolloutSpelling(kind.name))","tool":"probeTool","status":"completed"}}}"#
        let rollout = Self.rolloutEvents([completed])
        for events in [live, rollout] {
            let tools = events.filter { $0.name == .toolCall }
            let compactions = events.filter { $0.name == .compaction }
            switch kind.role {
            case .tool(let name, let namedByItem):
                try #require(tools.count == 1, "\(kind.name): \(events.map(\.name))")
                #expect(tools[0][.toolKind] == .string(kind.name))
                #expect(tools[0][.toolName] == .string(namedByItem ? "probeTool" : name))
                #expect(SessionTelemetry.toolKinds.contains(kind.name))
            case .compaction:
                #expect(compactions.count == 1 && tools.isEmpty, "\(kind.name): \(events.map(\.name))")
            case .subAgent, .notRead, .prompt, .modelOutput:
                #expect(tools.isEmpty && compactions.isEmpty, "\(kind.name): \(events.map(\.name))")
                #expect(!SessionTelemetry.toolKinds.contains(kind.name))
            }
            #expect(events.last?.name == .turn)
        }
    }

    /// A sub-agent's start is read for the thread it spawns, and nothing else.
    @Test func aSubAgentsStartNamesTheThreadItSpawns() throws {
        let line =
            #"{"method":"item/started","params":{"threadId":"t1","turnId":"u1","item":{"id":"i1","type":"\#(CodexVocabulary.subAgentActivity)","kind":"started","agentThreadId":"t2"}}}"#
        let message = try JSONRPCMessage(decoding: Array(line.utf8))
        guard case .itemStarted(_, _, let item, _) = AppServerMessage(message) else {
            Issue.record("not decoded as an item's start")
            return
        }
        #expect(item.spawnedThreadIDs == ["t2"])
    }

    /// Each function a rollout's conversation calls a declared tool by stands for that tool, as the app-server
    /// reports it.
    @Test(arguments: CodexVocabulary.items.flatMap { kind in kind.rolloutFunctions.map { (kind.name, $0) } })
    func everyRolloutFunctionIsItsTool(kind: String, function: String) throws {
        let events = Self.rolloutEvents([
            #""type":"response_item","payload":{"type":"function_call","name":"\#(function)","arguments":"ZQXMARK","call_id":"c1"}}"#,
            #""type":"response_item","payload":{"type":"function_call_output","call_id":"c1","output":"ZQXMARK"}}"#,
        ])
        let tool = try #require(events.first { $0.name == .toolCall })
        #expect(tool[.toolKind] == .string(kind))
        #expect(!events.map(\.jsonLine).joined().contains("ZQXMARK"))
    }

    @Test(arguments: CodexVocabulary.functionsNotReported.sorted())
    func aFunctionDeclaredNotReportedIsNoToolCall(function: String) {
        let events = Self.rolloutEvents([
            #""type":"response_item","payload":{"type":"function_call","name":"\#(function)","arguments":"ZQXMARK","call_id":"c1"}}"#,
            #""type":"response_item","payload":{"type":"function_call_output","call_id":"c1","output":"ZQXMARK"}}"#,
        ])
        #expect(events.map(\.name) == [.turn])
    }

    /// Each record kind is read the way it is declared: by the scanner, by the parser, or passed over by its first
    /// bytes (never parsed); and a kind not declared is read whole and counted.
    @Test(arguments: CodexVocabulary.records)
    func everyRecordKindIsReadAsDeclared(_ kind: CodexVocabulary.RecordKind) {
        let payload = kind.payloadType.map { #"{"type":"\#($0)","turn_id":"u1"}"# } ?? #"{"turn_id":"u1"}"#
        let line = #"{"timestamp":"2026-11-21T08:14:19.200Z","type":"\#(kind.type)","payload":\#(payload)}"#
        Array(line.utf8).withUnsafeBytes { bytes in
            let read = SessionReplay.read(bytes)
            switch kind.reading {
            case .scanned:
                #expect(RolloutRecord(scanning: bytes) != nil, "\(line)")
            case .parsed:
                #expect(RolloutRecord(scanning: bytes) == nil && RolloutRecord(parsing: bytes) != nil, "\(line)")
            case .notRead where kind.payloadType != nil:
                guard case .rolloutRecordPassedOver = read else {
                    Issue.record("not passed over by its first bytes: \(line)")
                    return
                }
            case .notRead:
                #expect(Self.rolloutEvents([String(line.dropFirst(40))]).map(\.name) == [.turn])
            }
        }
    }

    /// What the pinned Codex writes (each record numbered: `"ordinal":N` after its time, since 0.163) is passed over
    /// by its first bytes wherever its kind is declared not read, as older releases' records are.
    @Test func theRecordsOfARealRolloutThatStandForNothingArePassedOverUnparsed() throws {
        let folder = TestTools.packageRoot.appendingPathComponent("protocol/rollouts/codex-\(TestTools.pinnedRelease)")
        var passedOver = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasSuffix(".jsonl") {
            let data = try Data(contentsOf: folder.appendingPathComponent(name))
            for line in data.split(separator: 0x0A) {
                let record = try JSONSerialization.jsonObject(with: line) as? [String: Any]
                let type = try #require(record?["type"] as? String)
                let payloadType = (record?["payload"] as? [String: Any])?["type"] as? String
                let reading = CodexVocabulary.reading(type: type, payloadType: payloadType)
                #expect(reading != nil, "\(type) \(payloadType ?? "")")
                guard reading == .notRead else { continue }
                Array(line).withUnsafeBytes { bytes in
                    if case .rolloutRecordPassedOver = SessionReplay.read(bytes) {
                        passedOver += 1
                    } else {
                        Issue.record("parsed: \(type) \(payloadType ?? "")")
                    }
                }
            }
        }
        #expect(passedOver > 50)
    }

    @Test func aRecordOfAKindNotDeclaredIsReadWholeAndCounted() {
        var replay = SessionReplay()
        let lines = [
            #"{"timestamp":"2026-11-21T08:14:19.000Z","type":"event_msg","payload":{"type":"a_kind_from_the_future","text":"ZQXMARK"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.000Z","type":"a_record_from_the_future","payload":{"text":"ZQXMARK"}}"#,
            #"{"timestamp":"2026-11-21T08:14:19.000Z","type":"response_item","payload":{"type":"message","text":"ZQXMARK"}}"#,
        ]
        Array(lines[0].utf8).withUnsafeBytes { bytes in
            if case .rolloutRecordPassedOver = SessionReplay.read(bytes) { Issue.record("passed over unread") }
        }
        let events = Array(lines.map { $0 + "\n" }.joined().utf8).withUnsafeBytes { replay.replay(file: $0) }
        #expect(events.isEmpty)
        #expect(replay.counts.unknownKinds == 2)
        #expect(replay.counts.passedOver == 3)
    }

    /// The kinds of the pinned schema: every thread item type and conversation record type is declared, read or
    /// not.
    @Test func everyKindOfThePinnedSchemaIsDeclared() throws {
        let file = TestTools.packageRoot.appendingPathComponent(
            "protocol/schema/codex-\(TestTools.pinnedRelease)/codex_app_server_protocol.v2.schemas.json"
        )
        let schema = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any]
        let definitions = schema?["definitions"] as? [String: Any]
        func types(of definition: String) -> [String] {
            let union = definitions?[definition] as? [String: Any]
            return (union?["oneOf"] as? [[String: Any]] ?? []).flatMap { variant in
                let type = (variant["properties"] as? [String: Any])?["type"] as? [String: Any]
                return type?["enum"] as? [String] ?? []
            }
        }
        let items = types(of: "ThreadItem")
        let records = types(of: "ResponseItem")
        #expect(items.count > 10 && records.count > 10)
        for item in items { #expect(CodexVocabulary.item(named: item) != nil, "thread item \(item)") }
        for record in records {
            #expect(
                CodexVocabulary.reading(type: CodexVocabulary.responseItem, payloadType: record) != nil,
                "conversation record \(record)"
            )
        }
    }
}
