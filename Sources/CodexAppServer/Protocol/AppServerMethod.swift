/// Method names of the app-server protocol that this package sends, reads or deliberately avoids.
public enum AppServerMethod {
    public static let initialize = "initialize"
    public static let initialized = "initialized"
    public static let threadStart = "thread/start"
    public static let threadResume = "thread/resume"
    public static let threadFork = "thread/fork"
    public static let threadCompactStart = "thread/compact/start"
    public static let threadArchive = "thread/archive"
    public static let threadUnarchive = "thread/unarchive"
    public static let turnStart = "turn/start"
    public static let turnInterrupt = "turn/interrupt"
    public static let hooksList = "hooks/list"
    public static let configBatchWrite = "config/batchWrite"

    public static let threadStarted = "thread/started"
    public static let threadSettingsUpdated = "thread/settings/updated"
    public static let threadTokenUsageUpdated = "thread/tokenUsage/updated"
    public static let turnStarted = "turn/started"
    public static let turnCompleted = "turn/completed"
    public static let itemStarted = "item/started"
    public static let itemCompleted = "item/completed"
    public static let modelRerouted = "model/rerouted"
    public static let error = "error"
    public static let accountRateLimitsUpdated = "account/rateLimits/updated"
    public static let serverRequestResolved = "serverRequest/resolved"
    public static let hookCompleted = "hook/completed"

    /// The server's requests for approval of a tool item, each naming its thread, turn and item.
    public static let approvalRequests: Set<String> = [
        "item/commandExecution/requestApproval", "item/fileChange/requestApproval", "item/permissions/requestApproval",
    ]

    /// The notifications whose only purpose is to stream content: message text, reasoning, command output, diffs
    /// and plans. A connection that needs telemetry alone opts out of them, so that content never reaches it.
    public static let contentStreamingNotifications: [String] = [
        "item/agentMessage/delta",
        "item/plan/delta",
        "item/reasoning/summaryTextDelta",
        "item/reasoning/summaryPartAdded",
        "item/reasoning/textDelta",
        "item/commandExecution/outputDelta",
        "item/commandExecution/terminalInteraction",
        "item/fileChange/outputDelta",
        "item/fileChange/patchUpdated",
        "command/exec/outputDelta",
        "process/outputDelta",
        "turn/diff/updated",
        "turn/plan/updated",
    ]
}
