#if canImport(Glibc)
import Glibc
#endif

/// The arguments of one subcommand, taken in order: options (`--name value` or `--name=value`) and positionals.
struct ArgumentList {
    private var remaining: [String]

    init(_ arguments: [String]) {
        remaining = arguments
    }

    mutating func popSubcommand() -> String? {
        remaining.isEmpty ? nil : remaining.removeFirst()
    }

    /// Takes the next argument if it is one of `names`, a subcommand's own subcommand.
    mutating func popSubcommand(ifOneOf names: Set<String>) -> String? {
        guard let first = remaining.first, names.contains(first) else { return nil }
        return remaining.removeFirst()
    }

    /// Splits the arguments into options and positionals, checking each option against `known`; `flags` are the
    /// options that take no value.
    ///
    /// - Throws: `HelpRequest` for `--help`; `UsageError` for an unknown option or one missing its value.
    mutating func parse(options known: Set<String>, flags: Set<String> = [], usage: String) throws -> ParsedArguments {
        var parsed = ParsedArguments()
        var onlyPositionals = false
        while !remaining.isEmpty {
            let argument = remaining.removeFirst()
            if onlyPositionals || !argument.hasPrefix("-") || argument == "-" {
                parsed.positionals.append(argument)
                continue
            }
            if argument == "--" {
                onlyPositionals = true
                continue
            }
            if argument == "--help" || argument == "-h" { throw HelpRequest(text: usage) }
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            let name = parts[0]
            guard known.contains(name) else { throw UsageError("unknown option '\(name)'", usage: usage) }
            if flags.contains(name) {
                parsed.values[name, default: []].append("")
            } else if parts.count == 2 {
                parsed.values[name, default: []].append(parts[1])
            } else if !remaining.isEmpty {
                parsed.values[name, default: []].append(remaining.removeFirst())
            } else {
                throw UsageError("option '\(name)' needs a value", usage: usage)
            }
        }
        return parsed
    }
}

/// Options and positionals of one subcommand. An option may be given more than once.
struct ParsedArguments {
    var values: [String: [String]] = [:]
    var positionals: [String] = []

    /// The last value given for `option`: a later flag overrides an earlier one.
    subscript(option: String) -> String? { values[option]?.last }

    /// Every value given for a repeatable option, in order.
    func all(_ option: String) -> [String] { values[option] ?? [] }
}

/// The command line is wrong: exit 64 with the usage.
struct UsageError: Error {
    var message: String
    var usage: String

    init(_ message: String, usage: String) {
        self.message = message
        self.usage = usage
    }
}

/// `--help` was asked for: print the text and exit 0.
struct HelpRequest: Error {
    var text: String
}

/// Writes a line to stderr.
func printError(_ text: String) {
    let line = Array((text + "\n").utf8)
    _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
