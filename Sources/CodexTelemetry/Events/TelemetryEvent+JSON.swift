import JSON
import JSONRPC

extension TelemetryEvent {
    /// The event as one line of JSON: `{"name":…,"startTimeUnixNano":…,"endTimeUnixNano":…,"attributes":{…}}`,
    /// attributes in key order.
    public var jsonLine: String {
        var output: [UInt8] = []
        writeJSON(to: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// Appends `jsonLine`'s bytes (without a newline) to `output`: for a writer of many events, no `String` each.
    public func writeJSON(to output: inout [UInt8]) {
        output.append(contentsOf: #"{"name":"#.utf8)
        JSONValue.writeString(name.rawValue, to: &output)
        output.append(contentsOf: #","startTimeUnixNano":"#.utf8)
        JSONValue.writeInteger(startTimeUnixNano, to: &output)
        output.append(contentsOf: #","endTimeUnixNano":"#.utf8)
        JSONValue.writeInteger(endTimeUnixNano, to: &output)
        output.append(contentsOf: #","attributes":{"#.utf8)
        for (position, attribute) in attributes.enumerated() {
            if position > 0 { output.append(UInt8(ascii: ",")) }
            output.append(contentsOf: attribute.key.jsonMemberPrefix)
            switch attribute.value {
            case .string(let text): JSONValue.writeString(text, to: &output)
            case .int(let number): JSONValue.writeInteger(number, to: &output)
            case .double(let number): JSONValue.double(number).write(to: &output)
            }
        }
        output.append(contentsOf: "}}".utf8)
    }
}

extension TelemetryAttribute.Key {
    /// The key as it opens a member of a JSON object, `"name":`, worked out once per key (by its case number, as
    /// `rank` is).
    fileprivate var jsonMemberPrefix: [UInt8] { Self.jsonMemberPrefixes[Int(unsafeBitCast(self, to: UInt8.self))] }

    private static let jsonMemberPrefixes: [[UInt8]] = allCases.map { key in
        var prefix: [UInt8] = []
        JSONValue.writeString(key.rawValue, to: &prefix)
        return prefix + [UInt8(ascii: ":")]
    }
}
