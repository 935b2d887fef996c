/// Method names of the app-server protocol that this package sends, reads or deliberately avoids.
public enum AppServerMethod {
    package static let initialize = "initialize"
    package static let initialized = "initialized"
    package static let threadStart = "thread/start"
    package static let threadResume = "thread/resume"
    package static let threadFork = "thread/fork"
    package static let threadCompactStart = "thread/compact/start"
    package static let threadArchive = "thread/archive"
    package static let threadUnarchive = "thread/unarchive"
    package static let turnStart = "turn/start"
    package static let turnInterrupt = "turn/interrupt"
    package static let hooksList = "hooks/list"
    package static let configBatchWrite = "config/batchWrite"

    package static let threadStarted = "thread/started"
    package static let threadSettingsUpdated = "thread/settings/updated"
    package static let threadTokenUsageUpdated = "thread/tokenUsage/updated"
    package static let turnStarted = "turn/started"
    package static let turnCompleted = "turn/completed"
    package static let itemStarted = "item/started"
    package static let itemCompleted = "item/completed"
    package static let modelRerouted = "model/rerouted"
    package static let error = "error"
    package static let accountRateLimitsUpdated = "account/rateLimits/updated"
    package static let serverRequestResolved = "serverRequest/resolved"
    package static let hookCompleted = "hook/completed"

    /// The server's requests for approval of a tool item, each naming its thread, turn and item.
    package static let approvalRequests: Set<String> = [
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
