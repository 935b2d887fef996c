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

    /// Rollouts as the real Codex 0.163 writes them, derived from the files it wrote in the live tests
    /// (`protocol/rollouts/codex-0.163.0`): each file's header (`session_meta`), then its turns repeated, every line
    /// as Codex laid it out (numbered records, `world_state`, `token_usage_record`, `thread_settings_applied`,
    /// `item_completed` with whole items). Only the content grows: each content marker of a prompt, an answer, a
    /// command or its output carries a few kilobytes more, so that `item_completed` records hold about a quarter of
    /// the bytes, as they do in real use. Ids are made unique per copy and per repeated turn.
    struct RealRollouts {
        private var templates: [(head: [UInt8], body: [UInt8])] = []
        private static let contentGrowth = 4000
        private static let turnRepeats = 25

        init(root: URL) throws {
            let folder = root.appendingPathComponent("protocol/rollouts/codex-0.163.0")
            for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
            where name.hasSuffix(".jsonl") {
                let lines = try [UInt8](Data(contentsOf: folder.appendingPathComponent(name))).split(separator: 0x0A)
                let firstTurn =
                    lines.firstIndex { Self.contains(Array($0), #""type":"task_started""#) } ?? lines.endIndex
                let join = { (part: ArraySlice<ArraySlice<UInt8>>) -> [UInt8] in
                    part.flatMap { line -> [UInt8] in Array(line) + [0x0A] }
                }
                templates.append((join(lines[..<firstTurn]), Self.grown(join(lines[firstTurn...]))))
            }
        }

        /// Copy `copy` of a template, its turns repeated `repeats` times.
        func file(_ copy: Int, repeats: Int = Self.turnRepeats) -> [UInt8] {
            let template = templates[copy % templates.count]
            var bytes = Self.renamed(template.head, prefix: 0x1000_0000 + copy)
            for turn in 0..<repeats {
                bytes += Self.renamed(template.body, prefix: 0x2000_0000 + copy * 4096 + turn)
            }
            return bytes
        }

        /// A tree of such files under `tree/2026/12/DD/`, of about `megabytes` in all; returns its size.
        func writeTree(at tree: URL, megabytes: Int) throws -> Int {
            var written = 0
            var copy = 0
            while written < megabytes << 20 {
                let day = tree.appendingPathComponent(String(format: "2026/12/%02d", 1 + copy % 28))
                try FileManager.default.createDirectory(at: day, withIntermediateDirectories: true)
                let bytes = file(copy)
                try Data(bytes).write(to: day.appendingPathComponent("rollout-\(copy).jsonl"))
                written += bytes.count
                copy += 1
            }
            return written
        }

        /// The share of `bytes` in `item_completed` records.
        static func itemCompletedShare(of bytes: [UInt8]) -> Double {
            let lines = bytes.split(separator: 0x0A)
            let items = lines.filter { contains(Array($0), #""payload":{"type":"item_completed""#) }
            return Double(items.reduce(0) { $0 + $1.count + 1 }) / Double(max(bytes.count, 1))
        }

        /// Every content marker but the working folder's grown by `contentGrowth` bytes of words.
        private static func grown(_ bytes: [UInt8]) -> [UInt8] {
            let words = Array(String(repeating: "words of content as a session writes them ", count: 100).utf8)
            let filler = Array(words.prefix(contentGrowth))
            return replacing(Array("ZQXMARK_".utf8), in: bytes) { rest in
                rest.starts(with: "work".utf8) ? nil : Array("ZQXMARK_".utf8) + filler
            }
        }

        /// Every id of the live run begins `01a24448-`: given another first eight digits.
        private static func renamed(_ bytes: [UInt8], prefix: Int) -> [UInt8] {
            let replacement = Array(String(format: "%08x-", prefix).utf8)
            return replacing(Array("01a24448-".utf8), in: bytes) { _ in replacement }
        }

        /// `bytes` with each occurrence of `pattern` replaced by what `replacement` makes of the bytes after it
        /// (`nil`: left as it is).
        private static func replacing(
            _ pattern: [UInt8],
            in bytes: [UInt8],
            with replacement: (ArraySlice<UInt8>) -> [UInt8]?
        ) -> [UInt8] {
            var result: [UInt8] = []
            result.reserveCapacity(bytes.count)
            var index = 0
            while index < bytes.count {
                if bytes[index] == pattern[0], bytes[index...].starts(with: pattern),
                    let replaced = replacement(bytes[(index + pattern.count)...])
                {
                    result += replaced
                    index += pattern.count
                } else {
                    result.append(bytes[index])
                    index += 1
                }
            }
            return result
        }

        private static func contains(_ line: [UInt8], _ text: String) -> Bool {
            let needle = Array(text.utf8)
            guard line.count >= needle.count else { return false }
            return (0...(line.count - needle.count)).contains { line[$0..<$0 + needle.count].elementsEqual(needle) }
        }
    }
}
