public import CodexAppServer
import FoundationEssentials
import SaturatingArithmetic

/// USD prices per million tokens for a model.
public struct ModelPrice: Sendable, Hashable, Codable {
    public var input: Double
    public var cachedInput: Double
    public var output: Double
    /// The price of input written to the provider's prompt cache, for providers that bill it apart; without it,
    /// that input is billed as input.
    public var cacheWriteInput: Double?

    public init(input: Double, cachedInput: Double, output: Double, cacheWriteInput: Double? = nil) {
        self.input = input
        self.cachedInput = cachedInput
        self.output = output
        self.cacheWriteInput = cacheWriteInput
    }

    /// The cost of a call: cached input at the cached price, cache writes at their price if the model has one,
    /// the rest of the input at the input price, and output (which includes reasoning, never billed twice) at the
    /// output price.
    public func cost(of usage: TokenUsage) -> Double {
        let cached = max(0, usage.cachedInput)
        let written = cacheWriteInput == nil ? 0 : max(0, usage.cacheWriteInput)
        let uncached = Double(max(0, usage.input.subtractingSaturated(cached).subtractingSaturated(written)))
        let inputCost = uncached * input + Double(cached) * cachedInput + Double(written) * (cacheWriteInput ?? 0)
        return (inputCost + Double(max(0, usage.output)) * output) / 1_000_000
    }

    /// The highest price believed, in USD per million tokens: far above any published one, and low enough that
    /// no believable token count makes an absurd cost.
    public static let maximum: Double = 10_000

    /// Whether every price is a number from zero to `maximum`.
    var isBelievable: Bool {
        [input, cachedInput, output, cacheWriteInput ?? 0].allSatisfy { $0.isFinite && (0...Self.maximum).contains($0) }
    }
}

/// Prices by model name. A model that is not in the table has no cost: never a made-up one.
public struct PriceTable: Sendable, Hashable {
    public var prices: [String: ModelPrice]

    public init(prices: [String: ModelPrice]) {
        self.prices = prices
    }

    /// The price of `model`, also found under its name without a `-YYYY-MM-DD` snapshot suffix.
    public func price(of model: String) -> ModelPrice? {
        if let price = prices[model] { return price }
        let parts = model.split(separator: "-")
        if parts.count > 3, parts.suffix(3).allSatisfy({ $0.allSatisfy(\.isNumber) }) {
            return prices[parts.dropLast(3).joined(separator: "-")]
        }
        return nil
    }

    /// This table with the entries of a JSON file laid over it: `{"model": {"input": 1.25, "cachedInput": 0.125,
    /// "output": 10}, …}` (and `"cacheWriteInput"` where the provider bills cache writes), USD per million tokens.
    ///
    /// - Parameters:
    ///   - contents: the file's bytes.
    ///   - name: the file's name, for the error.
    /// - Throws: an error naming the file when it is not of that shape, or a price is negative, not a number, or
    ///   above `ModelPrice.maximum`.
    public func overlaid(with contents: [UInt8], from name: String) throws -> PriceTable {
        let overrides: [String: ModelPrice]
        do {
            overrides = try JSONDecoder().decode([String: ModelPrice].self, from: Data(contents))
        } catch {
            throw PriceTableError(message: "cannot read prices from \(name): \(error)")
        }
        if let model = overrides.keys.sorted().first(where: { !overrides[$0]!.isBelievable }) {
            throw PriceTableError(
                message:
                    "the price of \(model) in \(name) must be from 0 to \(Int(ModelPrice.maximum)) USD per million tokens"
            )
        }
        return PriceTable(prices: prices.merging(overrides) { _, override in override })
    }

    /// OpenAI's published standard-tier API prices, as of 2026-11. Long-context, batch and priority tiers are
    /// not modelled; override with a file when your contract differs.
    public static let bundled = PriceTable(prices: [
        "gpt-5.5": ModelPrice(input: 5.00, cachedInput: 0.50, output: 30.00),
        "gpt-5.2": ModelPrice(input: 1.75, cachedInput: 0.175, output: 14.00),
        "gpt-5.2-codex": ModelPrice(input: 1.75, cachedInput: 0.175, output: 14.00),
        "gpt-5.1": ModelPrice(input: 1.25, cachedInput: 0.125, output: 10.00),
        "gpt-5.1-codex": ModelPrice(input: 1.25, cachedInput: 0.125, output: 10.00),
        "gpt-5.1-codex-max": ModelPrice(input: 1.25, cachedInput: 0.125, output: 10.00),
        "gpt-5.1-codex-mini": ModelPrice(input: 0.25, cachedInput: 0.025, output: 2.00),
        "gpt-5": ModelPrice(input: 1.25, cachedInput: 0.125, output: 10.00),
        "gpt-5-codex": ModelPrice(input: 1.25, cachedInput: 0.125, output: 10.00),
        "gpt-5-mini": ModelPrice(input: 0.25, cachedInput: 0.025, output: 2.00),
        "gpt-5-nano": ModelPrice(input: 0.05, cachedInput: 0.005, output: 0.40),
        "gpt-4.1": ModelPrice(input: 2.00, cachedInput: 0.50, output: 8.00),
        "gpt-4.1-mini": ModelPrice(input: 0.40, cachedInput: 0.10, output: 1.60),
        "gpt-4.1-nano": ModelPrice(input: 0.10, cachedInput: 0.025, output: 0.40),
        "gpt-4o": ModelPrice(input: 2.50, cachedInput: 1.25, output: 10.00),
        "gpt-4o-mini": ModelPrice(input: 0.15, cachedInput: 0.075, output: 0.60),
        "o3": ModelPrice(input: 2.00, cachedInput: 0.50, output: 8.00),
        "o4-mini": ModelPrice(input: 1.10, cachedInput: 0.275, output: 4.40),
        "codex-mini-latest": ModelPrice(input: 1.50, cachedInput: 0.375, output: 6.00),
    ])
}

/// A price file that could not be used.
public struct PriceTableError: Error, Sendable, CustomStringConvertible {
    /// What is wrong with the file, naming it.
    public var message: String
    public var description: String { message }
}
