import FastCGI

/// `--name value` command-line flags.
public struct Flags: Sendable {
    private var values: [String: String] = [:]

    /// Parses `--key value` pairs; a flag without a value, or a stray word, is an error.
    public init(_ arguments: [String]) throws(FlagError) {
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            guard word.hasPrefix("--"), word.count > 2 else { throw FlagError(message: "unexpected argument \(word)") }
            guard index + 1 < arguments.count else { throw FlagError(message: "\(word) needs a value") }
            values[String(word.dropFirst(2))] = arguments[index + 1]
            index += 2
        }
    }

    /// A string flag, or the default; `required` when there is no default.
    public func string(_ name: String, default fallback: String? = nil) throws(FlagError) -> String {
        guard let value = values[name] ?? fallback else { throw FlagError(message: "--\(name) is required") }
        return value
    }

    /// An integer flag within a range, or the default.
    public func int(_ name: String, default fallback: Int, in range: ClosedRange<Int> = 0...Int.max) throws(FlagError) -> Int {
        guard let text = values[name] else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw FlagError(message: "--\(name) must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }
}

/// A bad command line.
public struct FlagError: Error, Sendable {
    /// What is wrong.
    public let message: String
}

extension Flags {
    /// `--socket PATH` to listen on a path; without it, spawn-fcgi's fd 0.
    public func listen() throws(FlagError) -> ServerOptions.Listen {
        let path = try string("socket", default: "")
        return path.isEmpty ? .inherited : .path(path)
    }
}
