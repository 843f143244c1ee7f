/// Parsing of the parts of a request path.
public enum PathParsing {
    /// The path split on `/`, without the empty leading segment: `/info/6` → `["info", "6"]`.
    /// Nil for a path that does not start with `/` or holds anything but printable ASCII.
    public static func segments(_ path: String) -> [Substring]? {
        guard path.utf8.first == UInt8(ascii: "/"),
              path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return path.utf8.dropFirst().isEmpty ? [] : path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
    }

    /// A book id or order number: a positive decimal integer that fits in 64 bits.
    public static func positiveID(_ text: Substring) throws(APIError) -> Int64 {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let value = Int64(text), value > 0 else {
            throw .badRequest("The id must be a positive decimal integer that fits in 64 bits.")
        }
        return value
    }

    /// Percent-decodes a path segment into UTF-8 text without control characters; with
    /// `plusAsSpace`, a `+` is a space (as HTML forms and `quote_plus` send it) and `%2B` a plus.
    public static func decodeSegment(_ text: Substring, plusAsSpace: Bool = false) throws(APIError) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if plusAsSpace, byte == UInt8(ascii: "+") { bytes.append(UInt8(ascii: " ")); continue }
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                throw .badRequest("The path holds a malformed percent escape.")
            }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw .badRequest("The path is not valid UTF-8 once percent-decoded.")
        }
        guard !decoded.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw .badRequest("The path holds a control character.")
        }
        return decoded
    }

    /// Percent-encodes text for use as one path segment (unreserved characters stay as they are).
    public static func encodeSegment(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
            }
        }
        return out
    }

    /// The value of `name` in a raw query string (`a=1&b=2`), not decoded.
    public static func queryValue(_ query: String, _ name: String) -> Substring? {
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.count == 2, parts[0] == name { return parts[1] }
        }
        return nil
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
