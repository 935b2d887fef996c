public import JSON
public import JSONRPC

/// How the client answers the requests Codex sends it: approvals, user input, dynamic tool calls.
///
/// Every server request must be answered: Codex waits for the answer, and a turn with an unanswered request never
/// ends. A policy is an async function, so it may ask a person or another system; the client calls it off the
/// reading path, so a slow answer never stalls the stream.
public struct ServerRequestPolicy: Sendable {
    /// Produces the result (or JSON-RPC error) for one server request.
    public var answer: @Sendable (JSONRPCRequest) async -> Result<JSONValue, JSONRPCError>

    /// Creates a policy from an answering function.
    public init(answer: @escaping @Sendable (JSONRPCRequest) async -> Result<JSONValue, JSONRPCError>) {
        self.answer = answer
    }

    /// Declines every approval (commands, file changes, permissions, MCP elicitations) and answers any other request
    /// with a JSON-RPC "method not found" error. Safe for unattended runs: nothing is allowed that was not already.
    public static let declineApprovals = ServerRequestPolicy { request in
        if let decline = declineAnswers[request.method] { return .success(decline) }
        return .failure(.methodNotFound(request.method))
    }

    /// Accepts command and file-change approvals (once, not for the session); declines what it cannot judge
    /// (permission grants, MCP elicitations) and refuses anything else, as `declineApprovals` does.
    public static let acceptApprovals = ServerRequestPolicy { request in
        if let accept = acceptAnswers[request.method] { return .success(accept) }
        return await declineApprovals.answer(request)
    }

    static let acceptAnswers: [String: JSONValue] = [
        "item/commandExecution/requestApproval": ["decision": "accept"],
        "item/fileChange/requestApproval": ["decision": "accept"],
        "execCommandApproval": ["decision": "approved"],
        "applyPatchApproval": ["decision": "approved"],
    ]

    /// What declining looks like for each approval request of Codex 0.163 (and the v1 names older clients get).
    static let declineAnswers: [String: JSONValue] = [
        "item/commandExecution/requestApproval": ["decision": "decline"],
        "item/fileChange/requestApproval": ["decision": "decline"],
        "item/permissions/requestApproval": ["permissions": [:]],
        "mcpServer/elicitation/request": ["action": "decline"],
        "execCommandApproval": ["decision": "denied"],
        "applyPatchApproval": ["decision": "denied"],
    ]
}
