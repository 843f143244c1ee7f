import Basics
/// One page of a list (`?after=N&limit=M`): the items numbered above `after`, at most `limit`.
public struct Page: Sendable, Equatable {
    /// Items numbered above this one (0: from the start).
    public var after: Int64
    /// The most items answered.
    public var limit: Int

    /// The largest `limit` a client may ask for.
    public static let maximumLimit = 1000
    /// The `limit` when none is given.
    public static let defaultLimit = 100

    /// A page from its parts.
    public init(after: Int64 = 0, limit: Int = Page.defaultLimit) {
        self.after = after
        self.limit = limit
    }

    /// Reads `after` (a non-negative decimal integer, default 0) and `limit` (1 to
    /// `maximumLimit`, default `defaultLimit`) from a raw query string; other names are ignored.
    public init(query: String) throws(APIError) {
        self.init()
        if let text = PathParsing.queryValue(query, "after") {
            guard let value = Self.decimal(text) else {
                throw .badRequest("after must be a non-negative decimal integer that fits in 64 bits.")
            }
            after = value
        }
        if let text = PathParsing.queryValue(query, "limit") {
            guard let value = Self.decimal(text), (1...Int64(Self.maximumLimit)).contains(value) else {
                throw .badRequest("limit must be an integer from 1 to \(Self.maximumLimit).")
            }
            limit = Int(value)
        }
    }

    /// The query string that asks for this page.
    public var query: String { "after=\(after)&limit=\(limit)" }

    /// The `next` member of a page's answer: the last item's number when more follow, else null.
    /// `items` are the numbers found when asking for `limit + 1` items.
    public func next(numbers: [Int64]) -> JSON {
        numbers.count > limit ? .int(numbers[limit - 1]) : .null
    }

    private static func decimal(_ text: Substring) -> Int64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return Int64(text)
    }
}
