import CodexAppServer
import CodexTelemetry
import Testing

struct PriceTableTests {
    @Test func cachedInputIsBilledAtItsOwnPriceAndReasoningIsNotBilledTwice() {
        let price = ModelPrice(input: 1.25, cachedInput: 0.125, output: 10)
        let usage = TokenUsage(input: 1_000_000, cachedInput: 400_000, output: 100_000, reasoningOutput: 60_000)
        // 600k × 1.25 + 400k × 0.125 + 100k × 10, per million.
        #expect(abs(price.cost(of: usage) - (0.75 + 0.05 + 1.0)) < 1e-12)
    }

    /// Cache writes are billed apart only where the model has a price for them; otherwise they are input.
    @Test func cacheWritesAreBilledAtTheirPriceWhereThereIsOne() {
        let usage = TokenUsage(input: 1_000_000, cachedInput: 200_000, cacheWriteInput: 300_000, output: 0)
        let withPrice = ModelPrice(input: 3, cachedInput: 0.3, output: 15, cacheWriteInput: 3.75)
        // 500k × 3 + 200k × 0.3 + 300k × 3.75, per million.
        #expect(abs(withPrice.cost(of: usage) - (1.5 + 0.06 + 1.125)) < 1e-12)
        let without = ModelPrice(input: 3, cachedInput: 0.3, output: 15)
        // 800k × 3 + 200k × 0.3.
        #expect(abs(without.cost(of: usage) - (2.4 + 0.06)) < 1e-12)
    }

    @Test func snapshotSuffixesFindTheirModel() {
        #expect(PriceTable.bundled.price(of: "gpt-5-2025-08-07") == PriceTable.bundled.price(of: "gpt-5"))
        #expect(PriceTable.bundled.price(of: "gpt-5.5") != nil)
        #expect(PriceTable.bundled.price(of: "gpt-6-astra") == nil)
    }

    @Test func aFileOverridesAndExtendsTheTable() throws {
        let file = Array(
            #"{"gpt-5": {"input": 1, "cachedInput": 0, "output": 2}, "house-model": {"input": 3, "cachedInput": 1, "output": 4}}"#
                .utf8
        )
        let table = try PriceTable.bundled.overlaid(with: file, from: "prices.json")
        #expect(table.price(of: "gpt-5") == ModelPrice(input: 1, cachedInput: 0, output: 2))
        #expect(table.price(of: "house-model") == ModelPrice(input: 3, cachedInput: 1, output: 4))
        #expect(table.price(of: "gpt-5-mini") == PriceTable.bundled.price(of: "gpt-5-mini"))
    }

    @Test(arguments: [
        #"{"gpt-5": 3}"#, #"{"gpt-5": {"input": -1, "cachedInput": 0, "output": 2}}"#,
        #"{"gpt-5": {"input": 1e999, "cachedInput": 0, "output": 2}}"#,
        #"{"gpt-5": {"input": 1, "cachedInput": 0, "output": 20000}}"#,
    ])
    func aBadFileIsAClearError(contents: String) throws {
        #expect(throws: PriceTableError.self) {
            try PriceTable.bundled.overlaid(with: Array(contents.utf8), from: "prices.json")
        }
    }

    @Test func absurdCountsGiveNoNegativeCostAndNeverTrap() {
        let price = ModelPrice(input: 1, cachedInput: 0.5, output: 2)
        let usage = TokenUsage(input: .min, cachedInput: .max, output: -5, reasoningOutput: .min)
        #expect(price.cost(of: usage) >= 0)
    }
}
