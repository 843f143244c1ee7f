import BazarCore
import Foundation
import HTTPMessages
import Store
import Synchronization

/// The catalog primary's writes, committed in batches by one writer thread (group commit).
///
/// Request threads queue their write and wait. The writer takes everything queued, decides
/// each write against the books as the batch leaves them (`BatchPlan`), tells the front to
/// drop the changed books with one message, commits the batch in one transaction, and updates
/// memory. Each request then waits, outside any lock, for the backup to acknowledge its write.
///
/// Every write carries a key and an attempt id. A caller that lost track of a write (a tier
/// hung or died mid-way) settles it: a settle goes through the same queue, so it sees every
/// write committed before it, and when the key was not applied it records the attempt as
/// aborted, so that attempt is refused if it ever arrives later. Its answer is final either way.
final class Primary: @unchecked Sendable {
    private let name: String
    private let store: Mutex<CatalogStore>
    private let memory: CatalogMemory
    private let invalidator: Invalidator
    let replicator: Replicator
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var queue: [PendingWrite] = []

    /// What a request asked for. `attempt` names one try of a write (a retry has a new one).
    enum Write: Sendable {
        /// Take one copy of a book for an order under an idempotency key.
        case take(Int64, key: String, attempt: String)
        /// Apply an admin update to a book.
        case update(Int64, BookUpdate, key: String, attempt: String)
        /// Decide, for good, whether the write under `key` on a book was applied.
        case settle(Int64, key: String, attempt: String)
    }

    /// A write's result: the book as it leaves it, for a take its order, and for a settle
    /// whether the settled write was applied.
    struct Written {
        var book: Book
        var order: Order?
        var replayed = false
        var applied = true
    }

    typealias Outcome = Result<Written, APIError>

    /// A queued write and, once the writer is done with it, its outcome (guarded by `condition`).
    private final class PendingWrite: @unchecked Sendable {
        let write: Write
        var outcome: Outcome?
        init(_ write: Write) { self.write = write }
    }

    /// The largest batch the writer commits at once.
    static let maximumBatch = 256

    init(name: String, store: sending CatalogStore, memory: CatalogMemory, invalidator: Invalidator, replicator: Replicator) {
        self.name = name
        self.store = Mutex(store)
        self.memory = memory
        self.invalidator = invalidator
        self.replicator = replicator
        let writer = Thread { [self] in while true { commitNextBatch() } }
        writer.name = "writer"
        writer.start()
    }

    /// Takes one copy of a book for an order under `key` (a repeated key answers the first order).
    func take(_ id: Int64, key: String, attempt: String) -> Response {
        respond(to: .take(id, key: key, attempt: attempt)) { written in
            .object([("order", written.order?.internalJSON ?? .null), ("book", written.book.json),
                     ("replayed", .bool(written.replayed))])
        }
    }

    /// Applies an admin update to a book.
    func update(_ id: Int64, _ update: BookUpdate, key: String, attempt: String) -> Response {
        respond(to: .update(id, update, key: key, attempt: attempt)) { $0.book.json }
    }

    /// Settles the write made under `key` on book `id`: `{"applied": true, "book", "order"?}`
    /// once it is committed and replicated, or `{"applied": false}` after recording `attempt`
    /// as aborted.
    func settle(_ id: Int64, key: String, attempt: String) -> Response {
        respond(to: .settle(id, key: key, attempt: attempt)) { written in
            guard written.applied else { return .object([("applied", .bool(false))]) }
            var members: [(String, JSON)] = [("applied", .bool(true)), ("book", written.book.json)]
            if let order = written.order { members.append(("order", order.internalJSON)) }
            return .object(members)
        }
    }

    /// A read lease for a front: `{"lease_ms", "fresh", "announced"}`; 503 for a front the
    /// primary is waiting out.
    func lease(_ front: String) throws(APIError) -> Response {
        guard let grant = invalidator.leases.grant(front) else {
            throw .unavailable("\(front) missed an invalidation; its lease is being waited out.")
        }
        return .json(200, .object([("lease_ms", .int(FrontLeases.duration.nanoseconds / 1_000_000)),
                                   ("fresh", .bool(grant.fresh)), ("announced", .int(grant.announced))]), headers: upstream)
    }

    /// A page of the orders taken, for an order replica catching up.
    func takes(_ page: Page) throws(APIError) -> Response {
        let orders = try APIError.unavailableOnFailure("the takes could not be read") {
            try store.withLock { try $0.takes(after: page.after, limit: page.limit) }
        }
        return .json(200, .object([("orders", .array(orders.map(\.internalJSON)))]), headers: upstream)
    }

    /// Queues a write, waits for its batch, then for the backup; answers with `body` of the result.
    private func respond(to write: Write, _ body: (Written) -> JSON) -> Response {
        let pending = PendingWrite(write)
        let outcome = condition.withLock { () -> Outcome in
            queue.append(pending)
            condition.broadcast()
            while true {
                if let outcome = pending.outcome { return outcome }
                condition.wait()
            }
        }
        switch outcome {
        case .failure(let error):
            return error.response(headers: upstream)
        case .success(let written):
            // The book's version covers the write (a settled one too): it is the book's latest change.
            if written.applied { replicator.waitReplicated(written.book.version) }
            return .json(200, body(written), headers: upstream)
        }
    }

    private func commitNextBatch() {
        let batch = condition.withLock { () -> [PendingWrite] in
            while queue.isEmpty { condition.wait() }
            let batch = Array(queue.prefix(Self.maximumBatch))
            queue.removeFirst(batch.count)
            return batch
        }
        let outcomes = store.withLock { commit(batch, in: $0) }
        condition.withLock {
            for (pending, outcome) in zip(batch, outcomes) { pending.outcome = outcome }
            condition.broadcast()
        }
    }

    /// Decides, announces, commits and applies one batch; one outcome per write.
    private func commit(_ batch: [PendingWrite], in store: CatalogStore) -> [Outcome] {
        var plan = BatchPlan(memory: memory)
        let planned = batch.map { pending in
            Result { () throws(APIError) in try plan.add(pending.write, store: store) }
        }
        do throws(APIError) {
            var orders: [Order] = []
            if !plan.writes.isEmpty {
                if !plan.announcements.isEmpty { invalidator.invalidate(plan.announcements) }
                orders = try APIError.unavailableOnFailure("the write was not applied") {
                    try store.commit(plan.writes, applied: plan.seq)
                }
                memory.apply(Array(plan.books.values), applied: plan.seq)
                replicator.committed(plan.seq)
            }
            return planned.map { result in
                result.map { planned in
                    Written(book: planned.book, order: planned.takeIndex.map { orders[$0] } ?? planned.order,
                            replayed: planned.replayed, applied: planned.applied)
                }
            }
        } catch {
            return planned.map { $0.flatMap { _ in .failure(error) } }
        }
    }

    private var upstream: [(String, String)] { Response.upstream(name) }
}
