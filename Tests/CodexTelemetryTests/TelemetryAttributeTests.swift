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

    /// Adding a key is a decision about what leaves the machine: it must be made here, on purpose.
    @Test func theAllowlistIsExactlyTheDocumentedKeys() {
        let documented: Set<String> = [
            "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.conversation.id",
            "codex.turn.id", "gen_ai.usage.input_tokens", "gen_ai.usage.cache_read.input_tokens",
            "gen_ai.usage.output_tokens", "gen_ai.usage.reasoning.output_tokens", "codex.cost.usd",
            "gen_ai.tool.call.id", "codex.tool.kind", "gen_ai.tool.name", "codex.tool.status", "process.exit.code",
            "codex.turn.status", "error.type", "codex.turn.llm_calls", "codex.turn.tool_calls", "codex.duration_ms",
            "event.name", "gen_ai.agent.name", "gen_ai.token.type",
        ]
        #expect(Set(TelemetryAttribute.Key.allCases.map(\.rawValue)) == documented)
    }
}
