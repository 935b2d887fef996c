import CodexTelemetry
import TestSupport
import Testing

/// The scanner that reads the common rollout records from their bytes against the parser: on every line it takes,
/// it reads what the parser's tree holds, whatever the layout, the values' types or damage to the line.
struct RolloutRecordTests {
    static let payloads = [
        #"{"type":"token_count","info":{"total_token_usage":{"input_tokens":1200,"cached_input_tokens":600,"output_tokens":90,"reasoning_output_tokens":30,"total_tokens":1290},"last_token_usage":{"input_tokens":200,"cached_input_tokens":100,"output_tokens":20,"reasoning_output_tokens":5,"total_tokens":220},"model_context_window":258400},"rate_limits":{"limit_id":"codex","primary":{"used_percent":12.5,"window_minutes":300,"resets_at":1795250000},"secondary":null,"plan_type":"pro"}}"#,
        #"{"type":"token_count","info":null,"rate_limits":null}"#,
        #"{"info":{"last_token_usage":{"output_tokens":2,"input_tokens":"7"},"total_token_usage":{"input_tokens":1e3,"output_tokens":-0}},"type":"token_count"}"#,
        #"{"type":"task_started","turn_id":"01a1fd2c-0000-7000-a000-9a260bc6174e","model_context_window":258400,"root_turn_id":"r1"}"#,
        #"{"type":"task_complete","turn_id":"u1","last_agent_message":"ZQXMARK","error":{"message":"ZQXMARK","codex_error_info":"context_window_exceeded"},"duration_ms":900}"#,
        #"{"type":"task_complete","turn_id":"u1","error":null,"duration_ms":9.5}"#,
        #"{"type":"turn_aborted","turn_id":"u1","reason":"interrupted","error":{"codex_error_info":{"http_error":{"status":500}}}}"#,
        #"{"turn_id":"u1","cwd":"/ZQXMARK","model":"gpt-5.5","effort":"high","summary":"auto"}"#,
        #"{"type":"function_call","name":"exec_command","arguments":"{\"cmd\":\"ZQXMARK\"}","call_id":"call_1"}"#,
        #"{"type":"custom_tool_call","status":"completed","call_id":"call_2","name":"apply_patch","input":"ZQXMARK"}"#,
        #"{"type":"local_shell_call","id":"ls_1","status":"completed","action":{"command":["ZQXMARK"]}}"#,
        #"{"type":"function_call_output","call_id":"call_1","output":"Chunk ID: 1\nWall time: 0.0515 seconds\nProcess exited with code \u0031\nOutput:\nZQXMARK \"q\" é"}"#,
        #"{"type":"custom_tool_call_output","call_id":"call_2","output":{"content":"ZQXMARK"}}"#,
        #"{"type":"web_search_call","status":"completed","action":{"type":"search","query":"ZQXMARK"}}"#,
        #"{"type":"item_completed","turn_id":"u1","item":{"type":"CommandExecution","id":"c1","status":"failed","exit_code":2}}"#,
        #"{"id":"t1","model_provider":"openai","source":{"subagent":{"thread_spawn":{"parent_thread_id":"t0","depth":1}}}}"#,
        #"{"type":"user_message","message":"ZQXMARK","images":[]}"#,
        #"{"type":"function_call","name":"exec_command","call_id":["ZQXMARK"],"call_id":"later"}"#,
        #"{"type":"function_call","name":null,"call_id":7,"id":"fc_1"}"#,
        #"{"t\u0079pe":"function_call","call_id":"escaped"}"#,
        #"{"type":"function_call","item":{"id":"x"},"call_id":"c"}"#,
        #"{"type":"token_count","info":[1,2],"rate_limits":[{"limit_id":"ZQXMARK"}]}"#,
        #"{ "type" : "token_count" , "info" : { "total_token_usage" : { "input_tokens" : 5 , "output_tokens" : 1 } } }"#,
        #"{"type":"token_count","info":{"model_context_window":1000,"total_token_usage":{"input_tokens":5,"output_tokens":1}},"info":{"last_token_usage":{"input_tokens":5,"output_tokens":1}}}"#,
        #"{"type":"function_call_output","call_id":"long","output":"\#(String(repeating: "Wall time: 1 seconds\nZQXMARK ", count: 40))Process exited with code 3"}"#,
    ]
    static let types = ["event_msg", "response_item", "turn_context", "session_meta", "compacted"]

    static func line(_ random: inout SeededRandom) -> String {
        let payload = payloads[random.next(below: payloads.count)]
        let type = types[random.next(below: types.count)]
        let stamp = ["\"2026-11-21T08:14:19.100Z\"", "\"2026-11-21T08:14:19+02:00\"", "\"soon\"", "17", "null"]
        let members = [
            #""timestamp":\#(stamp[random.next(below: 4) == 0 ? random.next(below: stamp.count) : 0])"#,
            #""type":"\#(type)""#, #""payload":\#(payload)"#,
        ]
        var ordered = members
        if random.next(below: 3) == 0 { ordered.swapAt(0, 2) }
        if random.next(below: 5) == 0 { ordered.append(#""payload":\#(payloads[random.next(below: payloads.count)])"#) }
        if random.next(below: 5) == 0 { ordered.insert(#""extra":{"payload":"ZQXMARK"}"#, at: 1) }
        return "{" + ordered.joined(separator: ",") + "}"
    }

    static func expectAlike(_ line: [UInt8]) -> Bool {
        line.withUnsafeBytes { bytes in
            guard let scanned = RolloutRecord(scanning: bytes) else { return false }
            #expect(scanned == RolloutRecord(parsing: bytes), "\(String(decoding: line, as: UTF8.self))")
            return true
        }
    }

    @Test func generatedRecordsAreReadAlikeByTheScannerAndTheParser() {
        var random = SeededRandom(seed: 41)
        var scanned = 0
        for _ in 0..<10000 where Self.expectAlike(Array(Self.line(&random).utf8)) { scanned += 1 }
        // Many records are ones the scanner takes: the comparison is not vacuous.
        #expect(scanned > 1500)
    }

    @Test func damagedRecordsAreReadAlikeByTheScannerAndTheParser() {
        var random = SeededRandom(seed: 43)
        let replacements = Array(#"{}[]",:\u0 "#.utf8) + [0x01, 0xFF, UInt8(ascii: "e"), UInt8(ascii: "7")]
        var scanned = 0
        for _ in 0..<20000 {
            var line = Array(Self.line(&random).utf8)
            for _ in 0..<(1 + random.next(below: 2)) {
                if random.next(below: 3) == 0 {
                    line = Array(line.prefix(random.next(below: line.count)))
                } else if !line.isEmpty {
                    line[random.next(below: line.count)] = replacements[random.next(below: replacements.count)]
                }
            }
            if Self.expectAlike(line) { scanned += 1 }
        }
        #expect(scanned > 600)
    }
}
