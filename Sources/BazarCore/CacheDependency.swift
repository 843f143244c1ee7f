import Basics
/// What a cached read depends on, so that a write can drop it: a book (its `/info`, and every
/// search page listing it) or a topic (every page of its search, which a new book changes).
public enum CacheDependency: Hashable, Sendable {
    case book(Int64)
    /// A topic in its canonical form (`Topic.canonical`).
    case topic(String)

    /// One item of an invalidation message: `{"book": 6, "seq": 41}` or `{"topic": "…", "seq": 41}`.
    public func invalidationItem(seq: Int64) -> JSON {
        switch self {
        case .book(let id): .object([("book", .int(id)), ("seq", .int(seq))])
        case .topic(let topic): .object([("topic", .string(topic)), ("seq", .int(seq))])
        }
    }

    /// Reads an item written by `invalidationItem`: the dependency and its write's sequence number.
    public static func parseInvalidationItem(_ item: JSON) -> (CacheDependency, Int64)? {
        guard let seq = item["seq"]?.int64Value else { return nil }
        if let id = item["book"]?.int64Value { return (.book(id), seq) }
        if let topic = item["topic"]?.stringValue { return (.topic(topic), seq) }
        return nil
    }
}
