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

    @Test func theAllowlistIsExactlyTheDocumentedKeys() {
        #expect(TelemetryAttribute.Key.allCases.count == 23)
        #expect(
            TelemetryAttribute.Key.allCases.allSatisfy {
                $0.rawValue.hasPrefix("gen_ai.") || $0.rawValue.hasPrefix("codex.") || $0 == .errorType
                    || $0 == .processExitCode
            }
        )
    }
}
