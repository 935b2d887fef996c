import SaturatingArithmetic

/// Token counts as Codex reports them. `input` includes `cachedInput` (read from the provider's prompt cache) and
/// `cacheWriteInput` (written to it); `output` includes `reasoningOutput`.
public struct TokenUsage: Sendable, Hashable {
    public var input: Int64
    public var cachedInput: Int64
    public var cacheWriteInput: Int64
    public var output: Int64
    public var reasoningOutput: Int64

    public init(
        input: Int64 = 0,
        cachedInput: Int64 = 0,
        cacheWriteInput: Int64 = 0,
        output: Int64 = 0,
        reasoningOutput: Int64 = 0
    ) {
        self.input = input
        self.cachedInput = cachedInput
        self.cacheWriteInput = cacheWriteInput
        self.output = output
        self.reasoningOutput = reasoningOutput
    }

    public static let zero = TokenUsage()

    /// The usage added between two cumulative snapshots. Counts come from outside: each difference saturates
    /// rather than trapping.
    public static func - (later: TokenUsage, earlier: TokenUsage) -> TokenUsage {
        TokenUsage(
            input: later.input.subtractingSaturated(earlier.input),
            cachedInput: later.cachedInput.subtractingSaturated(earlier.cachedInput),
            cacheWriteInput: later.cacheWriteInput.subtractingSaturated(earlier.cacheWriteInput),
            output: later.output.subtractingSaturated(earlier.output),
            reasoningOutput: later.reasoningOutput.subtractingSaturated(earlier.reasoningOutput)
        )
    }

    /// The sum of two usages, each count saturating rather than trapping.
    public static func + (left: TokenUsage, right: TokenUsage) -> TokenUsage {
        TokenUsage(
            input: left.input.addingSaturated(right.input),
            cachedInput: left.cachedInput.addingSaturated(right.cachedInput),
            cacheWriteInput: left.cacheWriteInput.addingSaturated(right.cacheWriteInput),
            output: left.output.addingSaturated(right.output),
            reasoningOutput: left.reasoningOutput.addingSaturated(right.reasoningOutput)
        )
    }

    /// Whether no count went down: a later cumulative snapshot must dominate an earlier one.
    public func dominates(_ earlier: TokenUsage) -> Bool {
        input >= earlier.input && cachedInput >= earlier.cachedInput && cacheWriteInput >= earlier.cacheWriteInput
            && output >= earlier.output && reasoningOutput >= earlier.reasoningOutput
    }
}
