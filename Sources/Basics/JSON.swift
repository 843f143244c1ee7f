/// A JSON value (RFC 8259) with a strict parser and a compact encoder.
///
/// Numbers keep their literal text, so a value survives a parse/encode round trip
/// byte for byte, and object members keep their order. Encoding does not use Foundation.
public enum JSON: Sendable, Equatable {
    /// The literal `null`.
    case null
    /// The literals `true` and `false`.
    case bool(Bool)
    /// A number, stored as its literal text as it appeared or will be written, e.g. `"20.0"`, `"-3"`, `"1e5"`.
    case number(String)
    /// A string.
    case string(String)
    /// An array of values.
    case array([JSON])
    /// An object, as its members in stored order.
    case object([(String, JSON)])

    /// Why and where (as a byte offset into the input) parsing failed.
    public struct ParseError: Error, Sendable, Equatable {
        /// A short description of the problem, e.g. `"duplicate key"`.
        public let message: String
        /// The byte offset in the input at which the problem was detected.
        public let offset: Int
    }

    /// Strict RFC 8259 parse of a whole document (leading/trailing whitespace allowed,
    /// anything else after the value is an error).
    ///
    /// Duplicate keys in one object, invalid UTF-8, lone surrogates and nesting of arrays
    /// and objects deeper than `maxDepth` are rejected. Runs in linear time and never traps.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 32) throws(ParseError) -> JSON {
        try bytes.withUnsafeBufferPointer { (buffer) throws(ParseError) -> JSON in
            var parser = JSONParser(bytes: buffer, maxDepth: maxDepth)
            return try parser.parseDocument()
        }
    }

    /// Strict RFC 8259 parse of a whole document given as text (its UTF-8 bytes); same rules as the `[UInt8]` overload.
    public static func parse(_ text: String, maxDepth: Int = 32) throws -> JSON {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }

    /// Serialise compactly (no spaces), keys in stored order.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        append(to: &out)
        return out
    }

    /// Append the compact serialisation of this value to `out`.
    public func append(to out: inout [UInt8]) {
        switch self {
        case .null:
            out.append(contentsOf: "null".utf8)
        case .bool(let value):
            out.append(contentsOf: (value ? "true" : "false").utf8)
        case .number(let text):
            out.append(contentsOf: text.utf8)
        case .string(let text):
            JSON.appendQuoted(text, to: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                element.append(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (position, (key, value)) in members.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                JSON.appendQuoted(key, to: &out)
                out.append(UInt8(ascii: ":"))
                value.append(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// An integer number, e.g. `.int(-3)` is `.number("-3")`.
    public static func int(_ v: Int64) -> JSON {
        .number(String(v))
    }

    /// A number from a finite `Double` (precondition), written with Swift's shortest
    /// round-trip description: integral values below 2^53 keep a `.0` (`"20.0"`),
    /// others look like `"20.5"`, `"0.1"` or `"1e-05"`.
    public static func double(_ v: Double) -> JSON {
        precondition(v.isFinite, "JSON cannot represent \(v)")
        return .number(v.description)
    }

    /// The value of the first member named `key`; nil if there is none or this is not an object.
    public subscript(key: String) -> JSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    /// The members of an object in stored order; nil for other kinds.
    public var objectMembers: [(String, JSON)]? {
        guard case .object(let members) = self else { return nil }
        return members
    }

    /// The elements of an array; nil for other kinds.
    public var arrayValue: [JSON]? {
        guard case .array(let elements) = self else { return nil }
        return elements
    }

    /// The text of a string; nil for other kinds.
    public var stringValue: String? {
        guard case .string(let text) = self else { return nil }
        return text
    }

    /// The value of a boolean; nil for other kinds.
    public var boolValue: Bool? {
        guard case .bool(let value) = self else { return nil }
        return value
    }

    /// An integer literal (no '.', 'e' or 'E') that fits in Int64; nil otherwise (so 5.0 and 1e2 are not integers).
    public var int64Value: Int64? {
        guard case .number(let text) = self else { return nil }
        return Int64(text)
    }

    /// Any number as a finite Double (nil if not a number or not finite, e.g. 1e999).
    public var doubleValue: Double? {
        guard case .number(let text) = self, let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// Structural equality: numbers compare by literal text (`1.0` is not `1`),
    /// object members compare in order.
    public static func == (lhs: JSON, rhs: JSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null):
            return true
        case (.bool(let a), .bool(let b)):
            return a == b
        case (.number(let a), .number(let b)):
            return a == b
        case (.string(let a), .string(let b)):
            return a == b
        case (.array(let a), .array(let b)):
            return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default:
            return false
        }
    }

    /// Writes `text` as a JSON string literal: `"` and `\` escaped, control characters
    /// as `\n` `\r` `\t` `\b` `\f` or `\u00XX`, everything else as raw UTF-8.
    private static func appendQuoted(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            var runStart = 0
            for (position, byte) in utf8.enumerated()
            where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<position]))
                out.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(byte)
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                default:
                    out.append(contentsOf: "u00".utf8)
                    out.append(hexDigit(byte >> 4))
                    out.append(hexDigit(byte & 0x0F))
                }
                runStart = position + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The lowercase ASCII hex digit for a nibble (0...15).
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }
}

/// Recursive-descent parser over a byte buffer. Every read is bounds-checked against
/// `bytes.count`, and arithmetic on `index` never exceeds it, so no input can trap.
private struct JSONParser {
    /// Objects with fewer members than this check for duplicate keys by linear scan.
    private static let linearKeyScanLimit = 8

    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var index = 0
    /// Reused buffer for strings containing escapes.
    var scratch: [UInt8] = []

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    mutating func parseDocument() throws(JSON.ParseError) -> JSON {
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard index == bytes.count else { throw error("unexpected trailing characters") }
        return value
    }

    // MARK: Values

    /// Parses one value; `depth` is the number of arrays and objects enclosing it.
    private mutating func parseValue(depth: Int) throws(JSON.ParseError) -> JSON {
        skipWhitespace()
        guard let byte = peek() else { throw error("unexpected end of input") }
        switch byte {
        case UInt8(ascii: "{"):
            return try parseObject(depth: depth)
        case UInt8(ascii: "["):
            return try parseArray(depth: depth)
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseNumber()
        default:
            throw error("unexpected character")
        }
    }

    private mutating func parseArray(depth: Int) throws(JSON.ParseError) -> JSON {
        guard depth < maxDepth else { throw error("nesting too deep") }
        index += 1  // "["
        var elements: [JSON] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            elements.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "]"):
                index += 1
                return .array(elements)
            default:
                throw error("expected ',' or ']'")
            }
        }
    }

    private mutating func parseObject(depth: Int) throws(JSON.ParseError) -> JSON {
        guard depth < maxDepth else { throw error("nesting too deep") }
        index += 1  // "{"
        var members: [(String, JSON)] = []
        var keySet: Set<String>?
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw error("expected string key") }
            let keyOffset = index
            let key = try parseString()
            guard JSONParser.insertKey(key, members: members, keySet: &keySet) else {
                throw JSON.ParseError(message: "duplicate key", offset: keyOffset)
            }
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else { throw error("expected ':'") }
            index += 1
            members.append((key, try parseValue(depth: depth + 1)))
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "}"):
                index += 1
                return .object(members)
            default:
                throw error("expected ',' or '}'")
            }
        }
    }

    /// Records `key` as seen; false if it already was. Small objects are scanned
    /// linearly, larger ones switch to a hash set so the whole parse stays linear.
    private static func insertKey(_ key: String, members: [(String, JSON)], keySet: inout Set<String>?) -> Bool {
        if let inserted = keySet?.insert(key).inserted { return inserted }
        if members.count < linearKeyScanLimit { return !members.contains { $0.0 == key } }
        var seen = Set(members.map(\.0))
        let inserted = seen.insert(key).inserted
        keySet = seen
        return inserted
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSON.ParseError) {
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        guard bytes.count - index >= expected.count,
              bytes[index..<(index + expected.count)].elementsEqual(expected)
        else { throw error("invalid literal") }
        index += expected.count
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, kept as literal text.
    private mutating func parseNumber() throws(JSON.ParseError) -> JSON {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        if peek() == UInt8(ascii: "0") {
            index += 1
            if let next = peek(), JSONParser.isDigit(next) { throw error("leading zero in number") }
        } else if skipDigits() == 0 {
            throw error("invalid number")
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard skipDigits() > 0 else { throw error("expected digit after '.'") }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard skipDigits() > 0 else { throw error("expected digit in exponent") }
        }
        return .number(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
    }

    /// Skips ASCII digits and returns how many there were.
    private mutating func skipDigits() -> Int {
        let start = index
        while let byte = peek(), JSONParser.isDigit(byte) { index += 1 }
        return index - start
    }

    // MARK: Strings

    /// Parses a string starting at its opening quote. Strings without escapes are
    /// decoded straight from the input; otherwise runs and escapes go through `scratch`.
    private mutating func parseString() throws(JSON.ParseError) -> String {
        let openingQuote = index
        index += 1
        var runStart = index
        var hasEscapes = false
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: "\""):
                let run = UnsafeBufferPointer(rebasing: bytes[runStart..<index])
                index += 1
                guard hasEscapes else { return String(decoding: run, as: UTF8.self) }
                scratch.append(contentsOf: run)
                return String(decoding: scratch, as: UTF8.self)
            case UInt8(ascii: "\\"):
                if !hasEscapes {
                    scratch.removeAll(keepingCapacity: true)
                    hasEscapes = true
                }
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                try parseEscape()
                runStart = index
            case 0x00..<0x20:
                throw error("control character in string")
            case 0x20..<0x80:
                index += 1
            default:
                try skipMultibyteScalar()
            }
        }
        throw JSON.ParseError(message: "unterminated string", offset: openingQuote)
    }

    /// Validates one multi-byte UTF-8 scalar at `index` (Unicode Table 3-7: no overlong
    /// forms, no surrogates, nothing above U+10FFFF) and skips it.
    private mutating func skipMultibyteScalar() throws(JSON.ParseError) {
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch bytes[index] {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80...0x9F
        case 0xF0: length = 4; secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80...0x8F
        default: throw error("invalid UTF-8")
        }
        guard bytes.count - index >= length,
              secondRange.contains(bytes[index + 1]),
              bytes[(index + 2)..<(index + length)].allSatisfy({ $0 & 0xC0 == 0x80 })
        else { throw error("invalid UTF-8") }
        index += length
    }

    /// Decodes the escape sequence at `index` (a backslash) into `scratch`.
    private mutating func parseEscape() throws(JSON.ParseError) {
        let escapeStart = index
        index += 1  // "\"
        guard let byte = peek() else { throw error("unterminated string") }
        index += 1
        let decoded: UInt8
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded = byte
        case UInt8(ascii: "b"): decoded = 0x08
        case UInt8(ascii: "f"): decoded = 0x0C
        case UInt8(ascii: "n"): decoded = 0x0A
        case UInt8(ascii: "r"): decoded = 0x0D
        case UInt8(ascii: "t"): decoded = 0x09
        case UInt8(ascii: "u"):
            try parseUnicodeEscape(escapeStart: escapeStart)
            return
        default:
            throw JSON.ParseError(message: "invalid escape", offset: escapeStart)
        }
        scratch.append(decoded)
    }

    /// Decodes the `XXXX` of a `\uXXXX` escape (and a following low surrogate escape
    /// when it is a high surrogate) into `scratch` as UTF-8.
    private mutating func parseUnicodeEscape(escapeStart: Int) throws(JSON.ParseError) {
        var value = try parseHex4()
        if (0xD800...0xDBFF).contains(value) {
            guard bytes.count - index >= 2,
                  bytes[index] == UInt8(ascii: "\\"),
                  bytes[index + 1] == UInt8(ascii: "u")
            else { throw JSON.ParseError(message: "lone surrogate", offset: escapeStart) }
            index += 2
            let low = try parseHex4()
            guard (0xDC00...0xDFFF).contains(low) else {
                throw JSON.ParseError(message: "lone surrogate", offset: escapeStart)
            }
            value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let scalar = Unicode.Scalar(value) else {
            throw JSON.ParseError(message: "lone surrogate", offset: escapeStart)
        }
        UTF8.encode(scalar) { scratch.append($0) }
    }

    private mutating func parseHex4() throws(JSON.ParseError) -> UInt32 {
        guard bytes.count - index >= 4 else { throw error("invalid \\u escape") }
        var value: UInt32 = 0
        for byte in bytes[index..<(index + 4)] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
        }
        index += 4
        return value
    }

    // MARK: Helpers

    private func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    private mutating func skipWhitespace() {
        while let byte = peek(),
              byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n")
                || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\t") {
            index += 1
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private func error(_ message: String) -> JSON.ParseError {
        JSON.ParseError(message: message, offset: index)
    }
}
