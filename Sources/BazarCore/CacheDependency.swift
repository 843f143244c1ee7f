/// What a cached read depends on, so that a write can drop it: a book (its `/info`, and every
/// search page listing it) or a topic (every page of its search, which a new book changes).
public enum CacheDependency: Hashable, Sendable {
    /// A book, by id.
    case book(Int64)
    /// A topic in its canonical form (`Topic.canonical`).
    case topic(String)
}
