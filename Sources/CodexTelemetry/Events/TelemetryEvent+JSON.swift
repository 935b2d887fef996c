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
        output.append(
            contentsOf:
                #","startTimeUnixNano":\#(startTimeUnixNano),"endTimeUnixNano":\#(endTimeUnixNano),"attributes":{"#.utf8
        )
        for (position, attribute) in attributes.enumerated() {
            if position > 0 { output.append(UInt8(ascii: ",")) }
            JSONValue.writeString(attribute.key.rawValue, to: &output)
            output.append(UInt8(ascii: ":"))
            switch attribute.value {
            case .string(let text): JSONValue.string(text).write(to: &output)
            case .int(let number): JSONValue.int(number).write(to: &output)
            case .double(let number): JSONValue.double(number).write(to: &output)
            }
        }
        output.append(contentsOf: "}}".utf8)
    }
}
