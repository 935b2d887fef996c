import JSON
import JSONRPC
import Testing

struct JSONRPCMessageTests {
    func decode(_ text: String) throws -> JSONRPCMessage { try JSONRPCMessage(decoding: Array(text.utf8)) }

    @Test func aMethodWithAnIDIsAServerRequestWhoseIDIsKeptExactly() throws {
        #expect(
            try decode(#"{"method":"item/commandExecution/requestApproval","id":0,"params":{}}"#)
                == .request(JSONRPCRequest(id: .int(0), method: "item/commandExecution/requestApproval", params: [:]))
        )
        #expect(try decode(#"{"id":"abc","method":"x"}"#) == .request(JSONRPCRequest(id: .string("abc"), method: "x")))
    }

    @Test func aMethodAloneIsANotificationThatKeepsItsOtherMembers() throws {
        let message = try decode(#"{"method":"turn/started","params":{"a":1},"emittedAtMs":17}"#)
        #expect(
            message
                == .notification(
                    JSONRPCNotification(method: "turn/started", params: ["a": 1], otherMembers: ["emittedAtMs": 17])
                )
        )
    }

    @Test func anIDWithAResultOrAnErrorIsAResponse() throws {
        #expect(try decode(#"{"id":3,"result":{}}"#) == .response(JSONRPCResponse(id: .int(3), outcome: .success([:]))))
        let failure = JSONRPCError(code: -32001, message: "Server overloaded; retry later.")
        #expect(
            try decode(#"{"id":3,"error":{"code":-32001,"message":"Server overloaded; retry later."}}"#)
                == .response(JSONRPCResponse(id: .int(3), outcome: .failure(failure)))
        )
    }

    @Test(arguments: [#"[]"#, #"{"id":1}"#, #"{"params":{}}"#, #"{"id":1,"error":"no code"}"#, "not json"])
    func otherShapesAreNotMessages(text: String) {
        #expect(throws: JSONRPCDecodingError.self) { try decode(text) }
    }

    @Test func encodingRoundTrips() throws {
        let messages: [JSONRPCMessage] = [
            .request(JSONRPCRequest(id: .int(7), method: "turn/start", params: ["threadId": "t"])),
            .notification(JSONRPCNotification(method: "initialized", params: [:])),
            .response(JSONRPCResponse(id: .int(0), outcome: .success(["decision": "decline"]))),
            .response(JSONRPCResponse(id: .string("x"), outcome: .failure(.methodNotFound("item/tool/call")))),
        ]
        for message in messages {
            #expect(try JSONRPCMessage(decoding: message.json.serialized()) == message)
        }
    }
}
