/// How a write is named between the tiers: its key (for a purchase, the idempotency key it
/// runs under; for an update, one the front makes up) and the attempt (one try of the write:
/// a retry under the same key is a new attempt). The catalog primary settles a write by key
/// and refuses, for good, an attempt it settled as not applied.
public enum WriteIdentity {
    /// The internal header carrying the key.
    public static let keyHeader = "X-Bazar-Key"
    /// The internal header carrying the attempt.
    public static let attemptHeader = "X-Bazar-Attempt"
    /// The header marking an error answered before any tier acted on the request (nginx's own,
    /// when no byte reached the tier; a tier's, for a request not meant for it): nothing was applied.
    public static let notSentHeader = "X-Bazar-Not-Sent"

    /// Both headers.
    public static func headers(key: String, attempt: String) -> [(String, String)] {
        [(keyHeader, key), (attemptHeader, attempt)]
    }
}
