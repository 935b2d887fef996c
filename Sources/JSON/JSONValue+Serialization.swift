extension JSONValue {
    /// The compact UTF-8 encoding of this value, with object members in sorted order so output is reproducible.
    public func serialized() -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(128)
        write(to: &output)
        return output
    }

    /// Appends the compact encoding of this value to `output`.
    public func write(to output: inout [UInt8]) {
        switch self {
        case .null: output.append(contentsOf: "null".utf8)
        case .bool(let value): output.append(contentsOf: (value ? "true" : "false").utf8)
        case .int(let value): Self.writeInteger(value, to: &output)
        case .double(let value):
            // JSON has no NaN or infinity; such a value is written as null rather than as invalid JSON.
            output.append(contentsOf: (value.isFinite ? "\(value)" : "null").utf8)
        case .string(let value): Self.writeString(value, to: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                element.write(to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            for (position, key) in members.keys.sorted().enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                Self.writeString(key, to: &output)
                output.append(UInt8(ascii: ":"))
                members[key]!.write(to: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    /// This value written as a person writes a configuration file: members in the order they came, each member
    /// and element on a line of its own, indented by two spaces a level.
    package func indented() -> [UInt8] {
        var output: [UInt8] = []
        writeIndented(to: &output, depth: 0)
        return output
    }

    private func writeIndented(to output: inout [UInt8], depth: Int) {
        let children: [(key: String?, value: JSONValue)]
        let brackets: (open: String, close: String)
        switch self {
        case .array(let elements) where !elements.isEmpty:
            children = elements.map { (nil, $0) }
            brackets = ("[", "]")
        case .object(let members) where !members.isEmpty:
            children = members.map { ($0.key, $0.value) }
            brackets = ("{", "}")
        default:
            write(to: &output)
            return
        }
        output.append(contentsOf: brackets.open.utf8)
        for (position, child) in children.enumerated() {
            output.append(contentsOf: (position > 0 ? ",\n" : "\n").utf8)
            output.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * (depth + 1)))
            if let key = child.key {
                Self.writeString(key, to: &output)
                output.append(contentsOf: ": ".utf8)
            }
            child.value.writeIndented(to: &output, depth: depth + 1)
        }
        output.append(UInt8(ascii: "\n"))
        output.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * depth))
        output.append(contentsOf: brackets.close.utf8)
    }

    /// Appends the digits of an integer, written in place: no `String` for each of the many counts and times a
    /// writer of telemetry puts out.
    package static func writeInteger(_ value: Int64, to output: inout [UInt8]) {
        if value < 0 { output.append(UInt8(ascii: "-")) }
        writeInteger(value.magnitude, to: &output)
    }

    /// Appends the digits of an unsigned integer. Concrete, not generic: a generic one, called from another module,
    /// does its arithmetic through protocol witnesses, at a fifth of the speed.
    package static func writeInteger(_ value: UInt64, to output: inout [UInt8]) {
        // The 20 digits of the largest, written from the end.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var position = buffer.count
            var rest = value
            repeat {
                position -= 1
                buffer[position] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
            } while rest > 0
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[position...]))
        }
    }

    /// Appends `text` as a JSON string literal, escaping what RFC 8259 section 7 requires.
    public static func writeString(_ text: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        // Nearly every string we write (ids, names, enums) needs no escape: it is copied whole.
        let plain = text.utf8.withContiguousStorageIfAvailable { bytes in
            guard !bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
                return false
            }
            output.append(contentsOf: bytes)
            return true
        }
        if plain == true {
            output.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): output.append(contentsOf: #"\\"#.utf8)
            case 0x0A: output.append(contentsOf: #"\n"#.utf8)
            case 0x0D: output.append(contentsOf: #"\r"#.utf8)
            case 0x09: output.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                output.append(contentsOf: #"\u00"#.utf8)
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0x0F)])
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
