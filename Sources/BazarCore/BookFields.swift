/// The rules a book's fields follow, whichever write sets them (an admin update, a new book).
public enum BookFields {
    /// The largest stock level (and stock change) a write may name.
    public static let maxStock: Int64 = 1_000_000_000_000
    /// The most characters (Unicode code points) of a title or topic.
    public static let maxTextLength = 200

    /// A price: a number greater than 0 (and below 10^12).
    public static func price(_ value: JSON) throws(APIError) -> Double {
        guard let price = value.doubleValue, price > 0, price < 1e12 else {
            throw .badRequest("price must be a number greater than 0.")
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
    /// (Unicode code points), none of them a control character (U+0000–U+001F, U+007F–U+009F).
    public static func text(_ value: JSON, _ name: String) throws(APIError) -> String {
        guard let text = value.stringValue else { throw .badRequest("\(name) must be a string.") }
        let length = text.unicodeScalars.count
        guard (1...maxTextLength).contains(length) else {
            throw .badRequest("\(name) must be 1 to \(maxTextLength) characters long (it has \(length)).")
        }
        guard !text.unicodeScalars.contains(where: isControl) else {
            throw .badRequest("\(name) must not hold a control character.")
        }
        return text
    }

    /// Whether a scalar is a control character (Unicode category Cc).
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}
