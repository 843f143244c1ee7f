import BazarCore
import Foundation
import HTTPMessages
import Store
import Synchronization

/// The catalog primary's writes, committed in batches by one writer thread (group commit).
///
/// Request threads queue their write and wait. The writer takes everything queued, decides
/// each write against the books as the batch leaves them (a take needs a copy left; a repeated
/// idempotency key answers the first order), gives each accepted write the next sequence
/// number, tells the front to drop the books with one message, commits the batch in one
/// transaction, and updates memory. Each request then waits, outside any lock, for the backup
/// to acknowledge its write.
final class Primary: @unchecked Sendable {
    private let name: String
    private let store: Mutex<CatalogStore>
    private let memory: CatalogMemory
    private let invalidator: Invalidator
    let replicator: Replicator
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var queue: [PendingWrite] = []

    /// What a request asked for.
    enum Write: Sendable {
        case take(Int64, key: String)
        case update(Int64, BookUpdate)
    }

    /// A write as committed: the book after it, and for a take its order.
    struct Written {
        var book: Book
        var order: Order?
        var replayed: Bool
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
    func take(_ id: Int64, key: String) -> Response {
        respond(to: .take(id, key: key)) { written in
            .object([("order", written.order?.internalJSON ?? .null), ("book", written.book.json),
                     ("replayed", .bool(written.replayed))])
        }
    }

    /// Applies an admin update to a book.
    func update(_ id: Int64, _ update: BookUpdate) -> Response {
        respond(to: .update(id, update)) { $0.book.json }
    }

    /// Orders taken after `number`, for an order replica catching up.
    func takes(after number: Int64) throws(APIError) -> Response {
        let orders = try APIError.unavailableOnFailure("the takes could not be read") {
            try store.withLock { try $0.takes(after: number, limit: Order.takesPageSize) }
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
            replicator.waitReplicated(written.book.version)
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
                try invalidator.invalidate(plan.announcements)
                orders = try APIError.unavailableOnFailure("the write was not applied") {
                    try store.commit(plan.writes, applied: plan.seq)
                }
                memory.apply(Array(plan.books.values), applied: plan.seq)
                replicator.committed(plan.seq)
            }
            return planned.map { result in
                result.map { Written(book: $0.book, order: $0.takeIndex.map { orders[$0] } ?? $0.order, replayed: $0.replayed) }
            }
        } catch {
            return planned.map { $0.flatMap { _ in .failure(error) } }
        }
    }

    private var upstream: [(String, String)] { Response.upstream(name) }
}

/// The writes of one batch as decided against the books the batch leaves behind.
private struct BatchPlan {
    /// One write's planned result.
    struct Planned {
        var book: Book
        var order: Order?
        var replayed = false
        /// For a new take: its position among the batch's takes (its order comes from the commit).
        var takeIndex: Int?
    }

    let memory: CatalogMemory
    let createdAt = Date().formatted(.iso8601)
    /// The sequence number of the batch's last write.
    private(set) var seq: Int64
    /// Every book the batch changes, as it leaves it.
    private(set) var books: [Int64: Book] = [:]
    /// What the front must drop before the commit: each changed book and its write's number.
    private(set) var announcements: [(book: Int64, seq: Int64)] = []
    /// The store writes, in decision order.
    private(set) var writes: [CatalogStore.Write] = []
    private var takeCount = 0
    private var keysTaken: [String: (bookID: Int64, takeIndex: Int)] = [:]

    init(memory: CatalogMemory) {
        self.memory = memory
        seq = memory.applied
    }

    mutating func add(_ write: Primary.Write, store: CatalogStore) throws(APIError) -> Planned {
        switch write {
        case .take(let id, let key):
            if let earlier = keysTaken[key] {
                guard earlier.bookID == id else { throw keyReused(earlier.bookID) }
                return Planned(book: try book(id), replayed: true, takeIndex: earlier.takeIndex)
            }
            if let earlier = try APIError.unavailableOnFailure("the write was not applied", { try store.order(takenUnder: key) }) {
                guard earlier.bookID == id else { throw keyReused(earlier.bookID) }
                return Planned(book: try book(id), order: earlier, replayed: true)
            }
            var current = try book(id)
            guard current.stock > 0 else { throw .outOfStock("No copy of book \(id) is left.") }
            current.stock -= 1
            keep(&current)
            writes.append(.take(bookID: id, key: key, seq: seq, createdAt: createdAt))
            keysTaken[key] = (id, takeCount)
            takeCount += 1
            return Planned(book: current, takeIndex: takeCount - 1)
        case .update(let id, let update):
            var changed = try update.applied(to: try book(id))
            keep(&changed)
            writes.append(.set(changed))
            return Planned(book: changed)
        }
    }

    private func book(_ id: Int64) throws(APIError) -> Book {
        guard let book = books[id] ?? memory.book(id).0 else { throw .notFound("No book has id \(id).") }
        return book
    }

    /// Gives a changed book the next sequence number and records it.
    private mutating func keep(_ book: inout Book) {
        seq += 1
        book.version = seq
        books[book.id] = book
        announcements.append((book.id, seq))
    }

    private func keyReused(_ bookID: Int64) -> APIError {
        .badRequest("This Idempotency-Key was already used to buy book \(bookID).")
    }
}
