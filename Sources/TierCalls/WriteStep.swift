import InternalHTTP

/// What a caller of a write does next with the answer to its call: the one write-outcome policy,
/// followed by the front for purchases, updates and additions and by the order replicas for
/// takes (nginx's own part, whether the front got the request at all, is the template's
/// `$bazar_unsent` map; see docs/write-outcomes.md).
public enum WriteStep: Sendable {
    /// Pass the tier's own answer on.
    case passOn(InternalResponse)
    /// Answer `503`: this try surely did nothing and no earlier try can have done anything.
    case refuse
    /// Ask the catalog primary's settle for the outcome: the answer was lost, or (`byEarlierTry`)
    /// this try did nothing but an earlier try under the client's own key may have applied the
    /// write, and a retry must report it, not hide it behind a 503.
    case settle(byEarlierTry: Bool)

    /// The step after `answer`; `earlierTriesPossible` when the key is the client's own
    /// `Idempotency-Key`, under which earlier tries may have run (the caller that answers the
    /// client decides; an order replica leaves it to the front).
    public init(_ answer: WriteAnswer, earlierTriesPossible: Bool) {
        switch answer {
        case .decided(let response) where response.status == 503 && earlierTriesPossible:
            self = .settle(byEarlierTry: true)
        case .decided(let response):
            self = .passOn(response)
        case .notApplied:
            self = earlierTriesPossible ? .settle(byEarlierTry: true) : .refuse
        case .unknown:
            self = .settle(byEarlierTry: false)
        }
    }
}
