/// What the clients did and saw, with simulated times: the checker's input. The simulator also
/// notes, as an all-seeing observer, when the primary committed a write under each key (the
/// real chaos checker learns it from the stores; here it is exact).
final class History {
    enum Kind: CustomStringConvertible {
        /// A purchase under `key` (the client's when `clientKey`, else the one the stack made).
        case purchase(book: Int, key: String, clientKey: Bool)
        /// An admin update setting a price no other update sets, under the key the front made.
        case update(book: Int, price: Int, key: String)
        case read(book: Int)

        var isPurchase: Bool {
            if case .purchase = self { return true }
            return false
        }

        var book: Int {
            switch self {
            case .purchase(let book, _, _), .update(let book, _, _), .read(let book): book
            }
        }

        var description: String {
            switch self {
            case .purchase(let book, let key, let clientKey): "purchase book \(book) key \(key)\(clientKey ? "" : " (made by the stack)")"
            case .update(let book, let price, let key): "update book \(book) price \(price) key \(key)"
            case .read(let book): "read book \(book)"
            }
        }
    }

    struct Operation: CustomStringConvertible {
        let client: Int
        let kind: Kind
        /// The request id nginx gave it: the front's attempt, the root of every try made for it.
        let request: String
        let invoked: Int64
        var completed: Int64?
        /// The answer; nil when none came (the front died with it).
        var reply: WriteReply?

        var description: String {
            "client-\(client) \(kind) [\(World.seconds(invoked)) – \(completed.map(World.seconds) ?? "…")] → \(reply?.description ?? "no answer")"
        }
    }

    /// A write a primary committed: when, under which attempt, in which epoch, as which version
    /// of its book.
    struct Commit {
        let at: Int64
        let attempt: String
        let epoch: Int64
        let book: Int
        let version: Int64
    }

    /// A write a primary answered 200 having committed it (not a replay or a settle).
    struct Acknowledgement {
        let epoch: Int64
        let by: NodeName
        let order: Int64?
        let at: Int64
    }

    private(set) var operations: [Operation] = []
    /// Every commit under each key, in order.
    private(set) var commits: [String: [Commit]] = [:]
    private(set) var acknowledgements: [Acknowledgement] = []
    /// The keys a deposed primary refused or settled as not applied, from its own store, after a
    /// newer epoch was granted.
    var answeredWhileDeposed: Set<String> = []
    /// The `applied` of each epoch's primary when it won the epoch: a write committed in the
    /// epoch before with a higher sequence number was never on it, and never acknowledged.
    private(set) var heldAtPromotion: [Int64: Int64] = [:]
    /// When a replica became the primary of an epoch it was granted.
    private(set) var promotions: [Int64] = []

    func invoke(client: Int, _ kind: Kind, request: String, at time: Int64) -> Int {
        operations.append(Operation(client: client, kind: kind, request: request, invoked: time))
        return operations.count - 1
    }

    func complete(_ index: Int, _ reply: WriteReply?, at time: Int64) {
        operations[index].completed = time
        operations[index].reply = reply
    }

    func committed(key: String, _ commit: Commit) {
        commits[key, default: []].append(commit)
    }

    func acknowledged(epoch: Int64, by: NodeName, order: Int64?, at time: Int64) {
        acknowledgements.append(Acknowledgement(epoch: epoch, by: by, order: order, at: time))
    }

    func promoted(epoch: Int64, holding applied: Int64, at time: Int64) {
        if heldAtPromotion[epoch] == nil { heldAtPromotion[epoch] = applied }
        promotions.append(time)
    }

    /// Whether `commit` was lost with its epoch: its primary was replaced by one that never had it.
    func isVoid(_ commit: Commit) -> Bool {
        heldAtPromotion[commit.epoch + 1].map { commit.version > $0 } ?? false
    }

    /// The first commit under `key` that its epoch's successor holds (or of the epoch still current).
    func firstCommit(_ key: String) -> Commit? {
        commits[key]?.first { !isVoid($0) }
    }
}

/// What the replicas hold at the end of a run, after a quiet period.
struct FinalState {
    /// The catalog replicas that lead at the end (one, unless something is wrong).
    var leaders: [NodeName]
    /// The leader's store (the first leader's, when more than one lead).
    var primaryBooks: [BookState]
    var primaryApplied: Int64
    var takes: [OrderRecord]
    /// The leader's takes up to this number are acknowledged (served to order replicas).
    var acknowledgedTakes: Int64
    /// The other catalog replica's, unless it was lost for good.
    var backup: (books: [BookState], applied: Int64)?
    var orderReplicas: [[OrderRecord]]
    var initialStock: [Int: Int]
    /// When a catalog replica lost its disk (some known gaps need one).
    var diskLosses: [Int64]
    /// The primary lost for good, when, and whether its backup was in sync then (promise 7
    /// promises a new primary only then); the clients probing for writes from then on.
    var lostForGood: (name: NodeName, at: Int64, backupInSync: Bool)?
    var probes: Set<Int>
    /// When each epoch after the first was first granted.
    var grants: [Int64: Int64]
    /// Whether the witnesses' newest record counts the backup out of sync (no new primary may be granted).
    var backupOutOfSync: Bool
    /// Whether a primary refused to lead in a run with a failover.
    var refusedAfterAFailover: Bool
    /// Whether a replica never heard of an epoch granted to it (its witness did not answer its
    /// start, or granted it after it had started again).
    var grantUnheard: Bool
    /// The longest a write may wait to be acknowledged after the primary is lost for good.
    var failoverBound: Int64
}
