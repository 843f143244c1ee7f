/// The request headers that decide how a cacheable read is answered: `If-None-Match`
/// (RFC 9110 §13.1.2) and `Cache-Control: no-cache` (RFC 9111 §5.2.1.4).
public enum Conditions {
    /// Whether an `If-None-Match` value names the current entity tag `etag` (quotes included,
    /// e.g. `"41"`) by weak comparison, as RFC 9110 asks for GET and HEAD: `*`, or a list of
    /// tags of which one, `W/` aside, is the same. A value that is not such a list never matches
    /// (the condition is ignored and the full answer sent).
    public static func noneMatch(_ header: String?, current etag: String) -> Bool {
        guard let header else { return false }
        var rest = Substring(header)
        var matched = false
        while true {
            rest = rest.drop { $0 == " " || $0 == "\t" || $0 == "," }
            if rest.isEmpty { return matched }
            if rest.first == "*" {
                matched = true
                rest = rest.dropFirst()
            } else {
                if rest.hasPrefix("W/") { rest = rest.dropFirst(2) }
                guard rest.first == "\"", let close = rest.dropFirst().firstIndex(of: "\"") else { return false }
                if rest[...close] == etag { matched = true }
                rest = rest[rest.index(after: close)...]
            }
            rest = rest.drop { $0 == " " || $0 == "\t" }
            guard rest.isEmpty || rest.first == "," else { return false }
        }
    }

    /// Whether a `Cache-Control` value holds the `no-cache` directive (names ignore case).
    public static func noCache(_ header: String?) -> Bool {
        guard let header else { return false }
        return header.split(separator: ",").contains { directive in
            var name = directive.prefix { $0 != "=" }
            while name.first == " " || name.first == "\t" { name = name.dropFirst() }
            while name.last == " " || name.last == "\t" { name = name.dropLast() }
            return name.lowercased() == "no-cache"
        }
    }
}
