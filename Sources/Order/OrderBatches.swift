/// Group commit on an order replica, decided: the orders of concurrent purchases are recorded
/// in one SQLite transaction and pushed to the peer in one call (`OrderCommits` runs it, with
/// the threads, the store and HTTP; this value only decides), and their takes go to the catalog
/// primary in one call (`TakeBatches`).
///
/// A purchase joins with its order. When no batch is running it leads one at once, holding its
/// own order; else it waits, and when the running batch finishes, the purchases waiting make
/// the next batch (oldest first, at most `maximumCount` orders and `budget` bytes of push),
/// which the first of them leads. So one batch runs at a time, and the orders that arrive
/// while it runs go together in the next.
struct OrderBatches<Member> {
    /// The most orders one batch holds.
    static var maximumCount: Int { 256 }
    /// The most bytes of orders one push carries (nginx and the peer take bodies up to 64 KiB).
    static var budget: Int { 60_000 }

    private var waiting: [(member: Member, bytes: Int)] = []
    /// Whether a batch is running.
    private(set) var running = false
    /// How many purchases wait for the running batch to finish.
    var waitingCount: Int { waiting.count }

    /// A purchase joins with its order, `bytes` of push: the batch it leads now (holding it),
    /// or nil: it waits for a running batch to finish.
    mutating func join(_ member: Member, bytes: Int) -> [Member]? {
        waiting.append((member, bytes))
        return running ? nil : next()
    }

    /// A waiting purchase leaves (it waited long enough and goes alone): whether it was still
    /// waiting; false when a batch already holds it.
    mutating func leave(_ member: Member) -> Bool where Member: AnyObject {
        guard let index = waiting.firstIndex(where: { $0.member === member }) else { return false }
        waiting.remove(at: index)
        return true
    }

    /// The running batch finished: the next one, led by its first member, or nil when no
    /// purchase waits.
    mutating func finish() -> [Member]? {
        running = false
        return next()
    }

    /// The purchases waiting, oldest first, up to the batch's limits (always at least one).
    private mutating func next() -> [Member]? {
        guard !waiting.isEmpty else { return nil }
        var count = 0
        var bytes = 0
        while count < waiting.count, count < Self.maximumCount, count == 0 || bytes + waiting[count].bytes <= Self.budget {
            bytes += waiting[count].bytes
            count += 1
        }
        let batch = waiting.prefix(count).map(\.member)
        waiting.removeFirst(count)
        running = true
        return batch
    }
}
