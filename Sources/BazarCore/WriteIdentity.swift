/// How a write is named between the tiers: its key (for a purchase, the idempotency key it
/// runs under; for an update, one the front makes up) and the attempt (one try of the write:
/// a retry under the same key is a new attempt). The catalog primary settles a write by key
/// and refuses, for good, an attempt it settled as not applied, and every attempt made under it.
///
/// Attempts form a tree. The front is given nginx's request id (hex, no `.`); each tier names
/// its own tries of the attempt it was given as siblings under it, `<attempt>.<tier>.<n>`
/// (`tryName`), and passes a try on as the attempt the next tier is given. So a caller that
/// settles the attempt it gave fences every try a tier further in made under it (one that may
/// still be on its way), while a tier that settles its own try `n` fences only that try's
/// subtree, and its try `n + 1` stays free.
public enum WriteIdentity {
    /// The internal header carrying the key.
    public static let keyHeader = "X-Bazar-Key"
    /// The internal header carrying the attempt.
    public static let attemptHeader = "X-Bazar-Attempt"
    /// The header marking an error answered before any tier acted on the request (nginx's own,
    /// when no byte reached the tier; a tier's, for a request not meant for it): nothing was applied.
    public static let notSentHeader = "X-Bazar-Not-Sent"

    /// How long, at least, the catalog primary remembers the outcome under a key after the
    /// write committed, on its own monotonic clock (whatever the number of writes since).
    public static let keyRetention: Duration = .seconds(600)

    /// How long after sending a write, on the caller's own monotonic clock, a settle that says
    /// "not applied" is still believed: `keyRetention` less a margin for the two clocks' rates.
    /// The primary commits a write after it was sent, so while less than this has passed on the
    /// caller's clock, less than `keyRetention` has passed on the primary's since the commit,
    /// and a key it applied is still remembered. Later, the outcome is unknown.
    public static let settleTrustedFor: Duration = keyRetention - .seconds(60)

    /// Both headers.
    public static func headers(key: String, attempt: String) -> [(String, String)] {
        [(keyHeader, key), (attemptHeader, attempt)]
    }

    /// The name of try `number` (1, 2, …) that `tier` makes of the `attempt` it was given.
    public static func tryName(_ number: Int, of attempt: String, by tier: String) -> String {
        "\(attempt).\(tier).\(number)"
    }

    /// `attempt` and every attempt it was made under, outermost first: `a.front.1` is
    /// `["a", "a.front", "a.front.1"]`.
    public static func lineage(of attempt: String) -> [String] {
        var lineage: [String] = []
        for (index, character) in zip(attempt.indices, attempt) where character == "." {
            lineage.append(String(attempt[..<index]))
        }
        return lineage + [attempt]
    }

    /// Whether an arriving `attempt` must be refused: it, or an attempt it was made under, was
    /// settled as not applied (`isAborted`).
    public static func isFenced<Failure: Error>(_ attempt: String,
                                                aborted isAborted: (String) throws(Failure) -> Bool) throws(Failure) -> Bool {
        for settled in lineage(of: attempt) where try isAborted(settled) { return true }
        return false
    }
}
