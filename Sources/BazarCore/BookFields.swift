import Basics
/// The rules a book's fields follow, whichever write sets them (an admin update, a new book).
public enum BookFields {
    /// The largest stock level (and stock change) a write may name.
    public static let maxStock: Int64 = 1_000_000_000_000
    /// The most characters (Unicode code points) of a title or topic.
    public static let maxTextLength = 200

    /// The lowest price: one cent (a smaller number is a typo, or `5e-324`).
    public static let minPrice = 0.01
    /// The highest price.
    public static let maxPrice = 1_000_000_000.0

    /// A price: a finite number from `minPrice` to `maxPrice`, both included.
    public static func price(_ value: JSON) throws(APIError) -> Double {
        guard let price = value.doubleValue, (minPrice...maxPrice).contains(price) else {
            throw .badRequest("price must be a number from 0.01 to 1000000000.")
        }
        return price
    }

    /// A stock level: an integer from 0 to `maxStock`.
    public static func stock(_ value: JSON) throws(APIError) -> Int64 {
        guard let stock = value.int64Value, (0...maxStock).contains(stock) else {
            throw .badRequest("stock must be an integer from 0 to \(maxStock).")
        }
        return stock
    }

    /// A title or topic (`name` says which): a string of 1 to `maxTextLength` characters
    /// (Unicode code points), each of them `isPrintable`, neither the first nor the last a space.
    public static func text(_ value: JSON, _ name: String) throws(APIError) -> String {
        guard let text = value.stringValue else { throw .badRequest("\(name) must be a string.") }
        let scalars = text.unicodeScalars
        guard (1...maxTextLength).contains(scalars.count), let first = scalars.first, let last = scalars.last else {
            throw .badRequest("\(name) must be 1 to \(maxTextLength) characters long (it has \(scalars.count)).")
        }
        if let unprintable = scalars.first(where: { !isPrintable($0) }) {
            throw .badRequest("\(name) must be printable; it holds \(codePoint(unprintable)), a control, format, "
                              + "line-separator, private-use, unassigned or surrogate code point.")
        }
        guard !isSpace(first), !isSpace(last) else { throw .badRequest("\(name) must not begin or end with a space.") }
        return text
    }

    /// Whether a scalar is printable: a letter, mark, number, punctuation, symbol or space
    /// separator (Unicode general categories L*, M*, N*, P*, S*, Zs). Not: controls (Cc),
    /// format characters (Cf: U+200B zero-width space, U+202E and the other bidi controls,
    /// U+00AD soft hyphen), surrogates (Cs), private use (Co), unassigned code points and
    /// noncharacters (Cn: U+FFFE), line and paragraph separators (Zl, Zp).
    public static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator: false
        default: true
        }
    }

    /// Whether a scalar is a space separator (Zs: U+0020, U+00A0, U+3000, ...).
    static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .spaceSeparator
    }

    /// `U+200B`, as Unicode writes a code point.
    static func codePoint(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
