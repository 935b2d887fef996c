/// A name Codex gives a state or a class: kept as it came, so that one a later release adds passes through, and
/// written as a literal where we compare with one we know.
public protocol CodexName: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral where RawValue == String {
    init(rawValue: String)
}

extension CodexName {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
}

/// How a turn ended, or that it runs, in Codex's words; a status a later release adds passes through as it came.
public struct TurnStatus: CodexName {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public static let inProgress: Self = "inProgress"
    public static let completed: Self = "completed"
    public static let failed: Self = "failed"
    public static let interrupted: Self = "interrupted"
}

/// Where a tool item stands, in Codex's words; a status a later release adds passes through as it came.
public struct ItemStatus: CodexName {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public static let inProgress: Self = "inProgress"
    public static let completed: Self = "completed"
    public static let failed: Self = "failed"
    /// The user (or the client's policy) refused it.
    public static let declined: Self = "declined"
}

/// The class of an error: the name of its `codexErrorInfo` variant (`internalServerError`,
/// `httpConnectionFailed`, …). An error's message is never read, so this is all that can be told of it.
public struct ErrorClass: CodexName {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    /// The class of an error that named none.
    public static let other: Self = "other"
}

/// The hooks Codex runs, as `hook/started` and `hook/completed` describe them: only what names the hook and how
/// its run went. A run's id and output, and its handler's path, hold paths and text and are never read.
public struct HookRun: Sendable, Hashable {
    /// The lifecycle event the hook ran for: `preToolUse`, `stop`, `sessionStart`, …
    public var eventName: String
    /// `command`, `prompt`, `agent` or `mcpTool`.
    public var handlerType: String?
    /// Which configuration it came from: `user`, `project`, `plugin`, `mdm`, …
    public var source: String?
    /// `running`, `completed`, `failed`, `blocked` or `stopped`.
    public var status: String
    public var durationMilliseconds: Int64?

    public init(
        eventName: String,
        handlerType: String? = nil,
        source: String? = nil,
        status: String,
        durationMilliseconds: Int64? = nil
    ) {
        self.eventName = eventName
        self.handlerType = handlerType
        self.source = source
        self.status = status
        self.durationMilliseconds = durationMilliseconds
    }
}
