import CodexAppServer
import CodexTelemetry
import Foundation
import Testing

struct PriceTableTests {
    @Test func cachedInputIsBilledAtItsOwnPriceAndReasoningIsNotBilledTwice() {
        let price = ModelPrice(input: 1.25, cachedInput: 0.125, output: 10)
        let usage = TokenUsage(input: 1_000_000, cachedInput: 400_000, output: 100_000, reasoningOutput: 60_000)
        // 600k × 1.25 + 400k × 0.125 + 100k × 10, per million.
        #expect(abs(price.cost(of: usage) - (0.75 + 0.05 + 1.0)) < 1e-12)
    }

    @Test func snapshotSuffixesFindTheirModel() {
        #expect(PriceTable.bundled.price(of: "gpt-5-2025-08-07") == PriceTable.bundled.price(of: "gpt-5"))
        #expect(PriceTable.bundled.price(of: "gpt-5.5") != nil)
        #expect(PriceTable.bundled.price(of: "gpt-6-astra") == nil)
    }

    @Test func aFileOverridesAndExtendsTheTable() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("prices-\(UUID()).json")
        try Data(
            #"{"gpt-5": {"input": 1, "cachedInput": 0, "output": 2}, "house-model": {"input": 3, "cachedInput": 1, "output": 4}}"#
                .utf8
        ).write(to: file)
        let table = try PriceTable.bundled.overlaid(withContentsOf: file)
        #expect(table.price(of: "gpt-5") == ModelPrice(input: 1, cachedInput: 0, output: 2))
        #expect(table.price(of: "house-model") == ModelPrice(input: 3, cachedInput: 1, output: 4))
        #expect(table.price(of: "gpt-5-mini") == PriceTable.bundled.price(of: "gpt-5-mini"))
    }

    @Test func aBadFileIsAClearError() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("prices-\(UUID()).json")
        try Data(#"{"gpt-5": 3}"#.utf8).write(to: file)
        #expect(throws: PriceTableError.self) { try PriceTable.bundled.overlaid(withContentsOf: file) }
    }
}
