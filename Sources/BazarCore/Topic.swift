/// Search topics are matched ignoring case: this is the one spelling every tier keys them by.
public enum Topic {
    /// The canonical (lower-cased) form of a topic: the cache key, the catalog's index key and
    /// the `topic` echoed in a search answer.
    public static func canonical(_ topic: some StringProtocol) -> String {
        topic.lowercased()
    }
}
