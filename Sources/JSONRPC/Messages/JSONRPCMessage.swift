public import JSON

/// A JSON-RPC request id. Servers may use numbers or strings; an answer must echo the id exactly as it came.
public enum JSONRPCID: Hashable, Sendable, CustomStringConvertible {
    case int(Int64)
    case string(String)

    /// Reads an id as JSON carries it: a number or a string.
    package init?(_ value: JSONValue) {
        switch value {
        case .int(let number): self = .int(number)
        case .string(let text): self = .string(text)
        default: return nil
        }
    }

    var json: JSONValue {
        switch self {
        case .int(let number): .int(number)
        case .string(let text): .string(text)
        }
    }

    public var description: String {
        switch self {
        case .int(let number): String(number)
        case .string(let text): text
        }
    }
}

/// An error object of JSON-RPC 2.0, kept as it came over the wire.
public struct JSONRPCError: Error, Sendable, Hashable {
    /// The error code; JSON-RPC reserves -32768 to -32000.
    public var code: Int64
    public var message: String
    public var data: JSONValue?

    public init(code: Int64, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    /// The request's method is not one this peer answers.
    public static func methodNotFound(_ method: String) -> JSONRPCError {
        JSONRPCError(code: -32601, message: "method not found: \(method)")
    }

    var json: JSONValue {
        var members: JSONObject = ["code": .int(code), "message": .string(message)]
        if let data { members["data"] = data }
        return .object(members)
    }
}

/// A call that expects an answer.
public struct JSONRPCRequest: Sendable, Hashable {
    public var id: JSONRPCID
    public var method: String
    public var params: JSONValue?
    /// Top-level members other than the JSON-RPC ones, such as a W3C trace context (`trace`).
    public var otherMembers: JSONObject

    public init(id: JSONRPCID, method: String, params: JSONValue? = nil, otherMembers: JSONObject = [:]) {
        self.id = id
        self.method = method
        self.params = params
        self.otherMembers = otherMembers
    }
}

/// A one-way message.
public struct JSONRPCNotification: Sendable, Hashable {
    public var method: String
    public var params: JSONValue?
    /// Top-level members other than the JSON-RPC ones, such as a server's emission timestamp.
    public var otherMembers: JSONObject

    public init(method: String, params: JSONValue? = nil, otherMembers: JSONObject = [:]) {
        self.method = method
        self.params = params
        self.otherMembers = otherMembers
    }
}

/// The answer to a request: its result or its error.
public struct JSONRPCResponse: Sendable, Hashable {
    public var id: JSONRPCID
    public var outcome: Result<JSONValue, JSONRPCError>

    public init(id: JSONRPCID, outcome: Result<JSONValue, JSONRPCError>) {
        self.id = id
        self.outcome = outcome
    }
}

/// One JSON-RPC 2.0 message. The `"jsonrpc": "2.0"` member is neither required nor written: `codex app-server`
/// omits it on the wire and ignores it when sent.
public enum JSONRPCMessage: Sendable, Hashable {
    case request(JSONRPCRequest)
    case notification(JSONRPCNotification)
    case response(JSONRPCResponse)

    /// The method of a request or notification; `nil` for a response.
    public var method: String? {
        switch self {
        case .request(let request): request.method
        case .notification(let notification): notification.method
        case .response: nil
        }
    }
}

/// Why a line is not a JSON-RPC message.
public enum JSONRPCDecodingError: Error, Sendable, Equatable {
    case invalidJSON(JSONParseError)
    case notAMessage
}

extension JSONRPCMessage {
    /// Decodes one line, parsing it once and telling the kind of message by its members: `method` and `id` make a
    /// request, `method` alone a notification, `id` with `result` or `error` a response.
    ///
    /// - Parameters:
    ///   - line: one JSON document.
    ///   - selection: the parts of the document to build (see `JSONSelection`); the JSON-RPC members it leaves
    ///     out are missing from the message.
    ///   - maximumValues: how many JSON values may be built, a bound on memory.
    /// - Throws: `JSONRPCDecodingError` when the line is not JSON or not a message of any kind.
    public init(
        decoding line: some Collection<UInt8>,
        selecting selection: JSONSelection = .everything,
        maximumValues: Int = JSONValue.defaultMaximumValues
    ) throws(JSONRPCDecodingError) {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: line, selecting: selection, maximumValues: maximumValues)
        } catch {
            throw .invalidJSON(error)
        }
        try self.init(value)
    }

    /// Interprets a parsed JSON value as a message.
    public init(_ value: JSONValue) throws(JSONRPCDecodingError) {
        guard case .object(var members) = value else { throw .notAMessage }
        let id = members["id"].flatMap(JSONRPCID.init)
        if let method = members.removeValue(forKey: "method")?.string {
            let params = members.removeValue(forKey: "params")
            members["id"] = nil
            members["jsonrpc"] = nil
            if let id {
                self = .request(JSONRPCRequest(id: id, method: method, params: params, otherMembers: members))
            } else {
                self = .notification(JSONRPCNotification(method: method, params: params, otherMembers: members))
            }
        } else if let id, let result = members["result"] {
            self = .response(JSONRPCResponse(id: id, outcome: .success(result)))
        } else if let id, let error = members["error"], let code = error["code"]?.int {
            let failure = JSONRPCError(code: code, message: error["message"]?.string ?? "", data: error["data"])
            self = .response(JSONRPCResponse(id: id, outcome: .failure(failure)))
        } else {
            throw .notAMessage
        }
    }

    /// The message as a JSON value, ready to be serialized on one line.
    public var json: JSONValue {
        switch self {
        case .request(let request):
            var members = request.otherMembers
            members["id"] = request.id.json
            members["method"] = .string(request.method)
            if let params = request.params { members["params"] = params }
            return .object(members)
        case .notification(let notification):
            var members = notification.otherMembers
            members["method"] = .string(notification.method)
            if let params = notification.params { members["params"] = params }
            return .object(members)
        case .response(let response):
            switch response.outcome {
            case .success(let result): return ["id": response.id.json, "result": result]
            case .failure(let error): return ["id": response.id.json, "error": error.json]
            }
        }
    }
}
