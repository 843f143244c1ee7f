/// `--name value` command-line flags, checked against the flags a program knows.
public struct Flags: Sendable {
    private var values: [String: String] = [:]

    /// Parses `--key value` pairs. A flag the program does not know, a flag given twice, a flag
    /// without a value or a stray word is an error that names it.
    public init(_ arguments: [String], known: [String]) throws(FlagError) {
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            guard word.hasPrefix("--"), word.count > 2 else { throw FlagError("unexpected argument '\(word)'") }
            let name = String(word.dropFirst(2))
            guard known.contains(name) else {
                throw FlagError("unknown flag \(word) (known: \(known.sorted().map { "--" + $0 }.joined(separator: ", ")))")
            }
            guard values[name] == nil else { throw FlagError("\(word) is given twice") }
            guard index + 1 < arguments.count else { throw FlagError("\(word) needs a value") }
            values[name] = arguments[index + 1]
            index += 2
        }
    }

    /// A string flag, or the default; required when there is no default.
    public func string(_ name: String, default fallback: String? = nil) throws(FlagError) -> String {
        guard let value = values[name] ?? fallback else { throw FlagError("--\(name) is required") }
        return value
    }

    /// A comma-separated list flag (`a,b`), or the default.
    public func list(_ name: String, default fallback: [String]) throws(FlagError) -> [String] {
        guard let text = values[name] else { return fallback }
        let items = text.split(separator: ",").map(String.init)
        guard !items.isEmpty else { throw FlagError("--\(name) must name at least one item") }
        return items
    }

    /// A flag that must be one of `choices`; required when there is no default.
    public func choice(_ name: String, _ choices: [String], default fallback: String? = nil) throws(FlagError) -> String {
        let value = try string(name, default: fallback)
        guard choices.contains(value) else {
            throw FlagError("--\(name) must be one of \(choices.joined(separator: ", ")) (got '\(value)')")
        }
        return value
    }

    /// An integer flag within a range, or the default.
    public func int(_ name: String, default fallback: Int, in range: ClosedRange<Int> = 0...Int.max) throws(FlagError) -> Int {
        guard let text = values[name] else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw FlagError("--\(name) must be an integer in \(range.lowerBound)...\(range.upperBound) (got '\(text)')")
        }
        return value
    }
}

/// A bad command line.
public struct FlagError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, naming the flag.
    public let message: String

    /// An error with its message.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
