import Foundation

/// Generated inputs shaped like real ones: most bytes are content (deltas, command output, messages) that the
/// telemetry never reads.
enum Inputs {
    /// An app-server capture: per turn, 200 message deltas, three commands with their output deltas and a few
    /// kilobytes of aggregated output, usage after each command.
    static func capture(megabytes: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(megabytes << 20 + (1 << 20))
        func line(_ text: String) {
            bytes.append(contentsOf: text.utf8)
            bytes.append(0x0A)
        }
        let output = String(repeating: "output line of a command, as long as some real ones are\\n", count: 64)
        let thread = "01a1fd2b-8f93-7031-a39d-9a260bc6174e"
        line(
            #"{"id":2,"result":{"thread":{"id":"\#(thread)","forkedFromId":null},"model":"gpt-5.5","modelProvider":"openai"}}"#
        )
        var turn = 0
        var total = 0
        var time = 1_795_248_852_000
        while bytes.count < megabytes << 20 {
            turn += 1
            time += 1000
            let turnID = "turn-\(turn)"
            line(
                #"{"method":"turn/started","params":{"threadId":"\#(thread)","turn":{"id":"\#(turnID)","items":[],"status":"inProgress"}},"emittedAtMs":\#(time)}"#
            )
            for chunk in 0..<200 {
                line(
                    #"{"method":"item/agentMessage/delta","params":{"threadId":"\#(thread)","turnId":"\#(turnID)","itemId":"msg","delta":"some words of the answer, chunk \#(chunk) "},"emittedAtMs":\#(time)}"#
                )
            }
            for call in 0..<3 {
                let item = "call_\(turn)_\(call)"
                line(
                    #"{"method":"item/started","params":{"item":{"type":"commandExecution","id":"\#(item)","command":"make test","status":"inProgress"},"threadId":"\#(thread)","turnId":"\#(turnID)","startedAtMs":\#(time)},"emittedAtMs":\#(time)}"#
                )
                for _ in 0..<40 {
                    line(
                        #"{"method":"item/commandExecution/outputDelta","params":{"threadId":"\#(thread)","turnId":"\#(turnID)","itemId":"\#(item)","delta":"a line of output from the build\n"},"emittedAtMs":\#(time)}"#
                    )
                }
                line(
                    #"{"method":"item/completed","params":{"item":{"type":"commandExecution","id":"\#(item)","command":"make test","status":"completed","aggregatedOutput":"\#(output)","exitCode":0,"durationMs":40},"threadId":"\#(thread)","turnId":"\#(turnID)","completedAtMs":\#(time + 40)},"emittedAtMs":\#(time + 40)}"#
                )
                total += 1000
                line(
                    #"{"method":"thread/tokenUsage/updated","params":{"threadId":"\#(thread)","turnId":"\#(turnID)","tokenUsage":{"total":{"totalTokens":\#(total),"inputTokens":\#(total),"cachedInputTokens":\#(total / 2),"outputTokens":\#(total / 10),"reasoningOutputTokens":\#(total / 20)},"last":{"totalTokens":1000,"inputTokens":1000,"cachedInputTokens":500,"outputTokens":100,"reasoningOutputTokens":50}}},"emittedAtMs":\#(time + 50)}"#
                )
            }
            line(
                #"{"method":"turn/completed","params":{"threadId":"\#(thread)","turn":{"id":"\#(turnID)","items":[],"status":"completed","durationMs":900}},"emittedAtMs":\#(time + 900)}"#
            )
        }
        return bytes
    }

    /// One rollout file of `turns` turns, as Codex 0.163 writes them: the conversation (prompts, answers,
    /// reasoning, tool calls and their outputs of a few kilobytes) between the records the telemetry reads.
    static func rollout(session: Int, turns: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        func record(_ seconds: Int, _ type: String, _ payload: String) {
            let stamp = String(
                format: "2026-11-%02dT%02d:%02d:%02d.000Z",
                1 + session % 28,
                seconds / 3600 % 24,
                seconds / 60 % 60,
                seconds % 60
            )
            bytes.append(contentsOf: #"{"timestamp":"\#(stamp)","type":"\#(type)","payload":\#(payload)}"#.utf8)
            bytes.append(0x0A)
        }
        let id = String(format: "01a1fd2b-%04x-7031-a39d-9a260bc6174e", session % 65536)
        let text = String(repeating: "words of a prompt, an answer or a summary of reasoning; ", count: 24)
        let output = String(repeating: "output line of a command, as long as some real ones are\\n", count: 48)
        record(
            0,
            "session_meta",
            #"{"id":"\#(id)","cwd":"/work","originator":"codex_cli_rs","model_provider":"openai","base_instructions":{"text":"\#(text)\#(text)"}}"#
        )
        var total = 0
        for turn in 0..<turns {
            let turnID = String(
                format: "01a1fd2c-%04x-7%03x-a%03x-9a260bc6174e",
                session % 65536,
                turn % 4096,
                turn / 4096 % 4096
            )
            let start = 60 * turn
            record(start, "event_msg", #"{"type":"task_started","turn_id":"\#(turnID)","model_context_window":258400}"#)
            record(
                start,
                "turn_context",
                #"{"turn_id":"\#(turnID)","cwd":"/work","model":"gpt-5.5","effort":"medium","summary":"auto"}"#
            )
            record(
                start,
                "response_item",
                #"{"type":"message","role":"user","content":[{"type":"input_text","text":"\#(text)"}]}"#
            )
            record(start, "event_msg", #"{"type":"user_message","message":"\#(text)","images":[]}"#)
            for call in 0..<3 {
                let callID = "call_\(turn)_\(call)"
                record(
                    start + call * 10,
                    "response_item",
                    #"{"type":"reasoning","summary":[{"type":"summary_text","text":"\#(text)"}],"encrypted_content":null}"#
                )
                record(
                    start + call * 10,
                    "response_item",
                    #"{"type":"function_call","name":"exec_command","arguments":"{\"cmd\":\"make test\"}","call_id":"\#(callID)"}"#
                )
                total += 1000
                record(
                    start + call * 10 + 1,
                    "event_msg",
                    #"{"type":"token_count","info":{"total_token_usage":{"input_tokens":\#(total),"cached_input_tokens":\#(total / 2),"output_tokens":\#(total / 10),"reasoning_output_tokens":\#(total / 20),"total_tokens":\#(total + total / 10)},"last_token_usage":{"input_tokens":1000,"cached_input_tokens":500,"output_tokens":100,"reasoning_output_tokens":50,"total_tokens":1100},"model_context_window":258400},"rate_limits":null}"#
                )
                record(
                    start + call * 10 + 5,
                    "response_item",
                    #"{"type":"function_call_output","call_id":"\#(callID)","output":"Chunk ID: 1\nWall time: 0.0515 seconds\nProcess exited with code 0\nOutput:\n\#(output)"}"#
                )
            }
            record(start + 40, "event_msg", #"{"type":"agent_message","message":"\#(text)"}"#)
            record(
                start + 40,
                "response_item",
                #"{"type":"message","role":"assistant","content":[{"type":"output_text","text":"\#(text)"}]}"#
            )
            record(
                start + 41,
                "event_msg",
                #"{"type":"task_complete","turn_id":"\#(turnID)","last_agent_message":"\#(text)"}"#
            )
        }
        return bytes
    }

    /// A tree of `files` rollouts under `root/2026/11/DD/`, of about `megabytes` in all.
    static func writeRolloutTree(at root: URL, files: Int, megabytes: Int) throws -> Int {
        let perFile = rollout(session: 0, turns: 1).count
        let turns = max(1, (megabytes << 20) / max(1, files) / perFile)
        var written = 0
        for session in 0..<files {
            let day = root.appendingPathComponent(String(format: "2026/11/%02d", 1 + session % 28))
            try FileManager.default.createDirectory(at: day, withIntermediateDirectories: true)
            let bytes = rollout(session: session, turns: turns)
            try Data(bytes).write(to: day.appendingPathComponent("rollout-\(session).jsonl"))
            written += bytes.count
        }
        return written
    }
}
