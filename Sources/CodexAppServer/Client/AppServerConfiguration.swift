public import FoundationEssentials
public import JSONRPC

/// How to launch and talk to `codex app-server`.
public struct AppServerConfiguration: Sendable {
    /// The Codex executable: a path, or a name looked up on `PATH`.
    /// Environment: `CODEX_BIN`. Default: `codex`.
    public var executable: String
    /// Codex configuration overrides, each `key=value` (TOML value), passed as `-c key=value`.
    public var configOverrides: [String]
    /// Codex's working directory. Default: ours.
    public var workingDirectory: String?
    /// Codex's whole environment. Default: ours.
    public var environment: [String: String]
    /// How long the `initialize` handshake may take. Default: 30 seconds.
    public var handshakeTimeout: Duration
    /// Notifications this connection asks not to receive. Default: the content-streaming deltas, which telemetry
    /// never needs.
    public var optOutNotificationMethods: [String]
    /// How server requests are answered. Default: decline approvals, refuse anything else.
    public var serverRequestPolicy: ServerRequestPolicy
    /// Sees every line Codex writes, in order, as it arrives: for telemetry, recordings and tests.
    public var observer: (@Sendable (JSONRPCConnection.InboundLine) -> Void)?
    /// Sees every line we send Codex, in order: for recordings.
    public var outboundObserver: (@Sendable ([UInt8]) -> Void)?

    /// Creates a configuration; every parameter has the default documented on its property.
    public init(
        executable: String = "codex",
        configOverrides: [String] = [],
        workingDirectory: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        handshakeTimeout: Duration = .seconds(30),
        optOutNotificationMethods: [String] = AppServerMethod.contentStreamingNotifications,
        serverRequestPolicy: ServerRequestPolicy = .declineApprovals,
        observer: (@Sendable (JSONRPCConnection.InboundLine) -> Void)? = nil
    ) {
        self.executable = executable
        self.configOverrides = configOverrides
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.handshakeTimeout = handshakeTimeout
        self.optOutNotificationMethods = optOutNotificationMethods
        self.serverRequestPolicy = serverRequestPolicy
        self.observer = observer
    }

    /// This configuration with the settings the environment gives (`CODEX_BIN`).
    public func applying(environment variables: [String: String]) -> AppServerConfiguration {
        var configuration = self
        if let executable = variables["CODEX_BIN"], !executable.isEmpty { configuration.executable = executable }
        return configuration
    }

    var arguments: [String] {
        ["app-server"] + configOverrides.flatMap { ["-c", $0] }
    }
}
