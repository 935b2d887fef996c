import CodexTelemetry
import Testing

struct TelemetryAttributeTests {
    @Test(arguments: [
        "gpt-5.5", "01a1fd2b-8f93-7031-a39d-9a260bc6174e", "call_cmd_1", "internalServerError", "mcp__docs__search",
    ])
    func identifiersPass(text: String) {
        #expect(TelemetryAttribute.Value.dimension(text) == .string(text))
    }

    @Test(arguments: ["echo hello", "line\nbreak", "\"quoted\"", "", String(repeating: "a", count: 257), "naïve"])
    func freeTextNeverPasses(text: String) {
        #expect(TelemetryAttribute.Value.dimension(text) == .string("invalid"))
    }

    /// Every byte: only letters, digits and `. _ - : / @ + =` may appear in a dimension.
    @Test func eachByteIsAllowedInADimensionOnlyIfListed() {
        let listed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:/@+=".utf8)
        for byte in UInt8.min...UInt8.max {
            let text = String(decoding: [UInt8(ascii: "a"), byte, UInt8(ascii: "b")], as: UTF8.self)
            let passes = TelemetryAttribute.Value.dimension(text) == .string(text)
            #expect(passes == listed.contains(byte), "byte \(byte)")
        }
    }

    /// Adding a key is a decision about what leaves the machine: it must be made here, on purpose.
    @Test func theAllowlistIsExactlyTheDocumentedKeys() {
        let documented: Set<String> = [
            "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.conversation.id",
            "codex.turn.id", "gen_ai.usage.input_tokens", "gen_ai.usage.cache_read.input_tokens",
            "gen_ai.usage.output_tokens", "gen_ai.usage.reasoning.output_tokens", "codex.cost.usd",
            "gen_ai.tool.call.id", "codex.tool.kind", "gen_ai.tool.name", "codex.tool.status", "process.exit.code",
            "codex.turn.status", "error.type", "codex.turn.llm_calls", "codex.turn.tool_calls", "codex.duration_ms",
            "event.name", "gen_ai.agent.name", "gen_ai.token.type",
            // Usage and context.
            "gen_ai.usage.cache_creation.input_tokens", "codex.context.tokens", "codex.context.window",
            "codex.context.utilization",
            // Where a thread comes from.
            "codex.session.source", "codex.agent.kind", "codex.agent.role", "codex.agent.depth",
            "codex.parent.thread.id", "codex.parent.turn.id", "codex.parent.tool_call.id", "codex.root.thread.id",
            "codex.root.turn.id", "codex.reasoning.effort", "codex.project.id", "codex.mcp.server",
            // Compactions and quotas.
            "codex.compaction.id", "codex.compaction.tokens_before", "codex.compaction.tokens_after",
            "codex.rate_limit.id", "codex.rate_limit.window", "codex.plan.type", "codex.rate_limit.used_percent",
            "codex.rate_limit.window_minutes", "codex.rate_limit.resets_at",
            // Approvals and hooks.
            "codex.approval.wait_ms", "codex.hook.event", "codex.hook.handler_type", "codex.hook.source",
            "codex.hook.status",
            // What was produced: counts of lines, files, decisions, commits and requests; a language from a table.
            "codex.lines.added", "codex.lines.removed", "codex.files.changed", "codex.file.language",
            "codex.edit.decision", "codex.commits", "codex.pull_requests", "codex.merge_requests",
            "codex.edits.accepted", "codex.edits.rejected", "codex.edits.unprompted", "codex.user.active_ms",
        ]
        #expect(Set(TelemetryAttribute.Key.allCases.map(\.rawValue)) == documented)
    }
}

struct TelemetryEventAttributeOrderTests {
    /// Attributes given in any order, keys repeated: the event holds them in the order of the keys' names, each key
    /// once, with the last value given for it.
    @Test func attributesAreInKeyOrderWithTheLastOfARepeatedKey() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(below bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        let keys = TelemetryAttribute.Key.allCases
        for _ in 0..<2000 {
            let given = (0..<next(below: 30)).map { position in
                TelemetryAttribute(key: keys[next(below: keys.count)], value: .int(Int64(position)))
            }
            var last: [TelemetryAttribute.Key: TelemetryAttribute.Value] = [:]
            for attribute in given { last[attribute.key] = attribute.value }
            let expected = last.sorted { $0.key.rawValue < $1.key.rawValue }.map {
                TelemetryAttribute(key: $0.key, value: $0.value)
            }
            let event = TelemetryEvent(name: .turn, startTimeUnixNano: 1, endTimeUnixNano: 2, attributes: given)
            #expect(event.attributes == expected)
        }
    }
}
