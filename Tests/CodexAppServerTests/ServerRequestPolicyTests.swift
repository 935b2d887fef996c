import CodexAppServer
import JSON
import JSONRPC
import Testing

struct ServerRequestPolicyTests {
    static let declines: [(String, JSONValue)] = [
        ("item/commandExecution/requestApproval", ["decision": "decline"]),
        ("item/fileChange/requestApproval", ["decision": "decline"]),
        ("item/permissions/requestApproval", ["permissions": [:]]),
        ("mcpServer/elicitation/request", ["action": "decline"]),
        ("execCommandApproval", ["decision": "denied"]),
        ("applyPatchApproval", ["decision": "denied"]),
    ]

    @Test(arguments: declines)
    func everyApprovalIsDeclined(method: String, answer: JSONValue) async {
        let outcome = await ServerRequestPolicy.declineApprovals.answer(JSONRPCRequest(id: .int(0), method: method))
        #expect(outcome == .success(answer))
    }

    @Test func anUnknownRequestGetsAMethodNotFoundErrorNotSilence() async {
        let outcome = await ServerRequestPolicy.declineApprovals.answer(
            JSONRPCRequest(id: .int(4), method: "item/tool/call")
        )
        guard case .failure(let error) = outcome else {
            Issue.record("answered with a result")
            return
        }
        #expect(error.code == -32601)
    }
}
