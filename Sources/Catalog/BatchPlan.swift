import BazarCore
import Foundation
import Store

/// The writes of one batch as decided against the books the batch leaves behind.
struct BatchPlan {
    /// One write's planned result.
    struct Planned {
        /// The books the write leaves behind: one for a take, an update or a settle of either;
        /// those added for an addition (none for a settled addition that was not applied).
        var books: [Book]
        var order: Order?
        var replayed = false
        /// For a settle: whether the settled write was applied.
        var applied = true
        /// For a settle that was not applied: the sequence number of the abort that fences it.
        var fence: Int64?
        /// For a new take: its position among the batch's takes (its order comes from the commit).
        var takeIndex: Int?
    }

    let memory: CatalogMemory
    let createdAt = Date().formatted(.iso8601)
    /// The sequence number of the batch's last write.
    private(set) var seq: Int64
    /// Every book the batch changes or adds, as it leaves it.
    private(set) var books: [Int64: Book] = [:]
    /// What the front must drop before the commit: each changed book (or, for a new book, its
    /// topic's search) and the newest write's number.
    private(set) var announcements: [CacheDependency: Int64] = [:]
    /// The store writes, in decision order.
    private(set) var writes: [CatalogStore.Write] = []
    private var largestID: Int64
    private var takeCount = 0
    private var keysTaken: [String: (bookID: Int64, takeIndex: Int)] = [:]
    private var keysUpdated: [String: Int64] = [:]
    private var keysAdded: [String: [Int64]] = [:]
    private var attemptsAborted: Set<String> = []

    init(memory: CatalogMemory) {
        self.memory = memory
        seq = memory.applied
        largestID = memory.largestID
    }

    mutating func add(_ write: Primary.Write, store: CatalogStore) throws(APIError) -> Planned {
        switch write {
        case .take(let id, let key, let attempt):
            try refuseAborted(attempt, store: store)
            if let earlier = keysTaken[key] {
                guard earlier.bookID == id else { throw keyReused(earlier.bookID) }
                return Planned(books: [try book(id)], replayed: true, takeIndex: earlier.takeIndex)
            }
            if let earlier = try lookUp({ try store.order(takenUnder: key) }) {
                guard earlier.bookID == id else { throw keyReused(earlier.bookID) }
                return Planned(books: [try book(id)], order: earlier, replayed: true)
            }
            var current = try book(id)
            guard current.stock > 0 else { throw .outOfStock("No copy of book \(id) is left.") }
            current.stock -= 1
            keep(&current, announcing: .book(id))
            writes.append(.take(bookID: id, key: key, seq: seq, createdAt: createdAt))
            keysTaken[key] = (id, takeCount)
            takeCount += 1
            return Planned(books: [current], takeIndex: takeCount - 1)
        case .update(let id, let update, let key, let attempt):
            try refuseAborted(attempt, store: store)
            // Applied before under its key (a request nginx passed on from a dying primary):
            // the book as it is, nothing applied again.
            if try updated(id, under: key, store: store) { return Planned(books: [try book(id)], replayed: true) }
            var changed = try update.applied(to: try book(id))
            keep(&changed, announcing: .book(id))
            writes.append(.set(changed, key: key))
            keysUpdated[key] = id
            return Planned(books: [changed])
        case .add(let newBooks, let key, let attempt):
            try refuseAborted(attempt, store: store)
            if let earlier = try booksAdded(under: key, store: store) {
                guard earlier.map(\.title) == newBooks.entries.map(\.title), earlier.map(\.topic) == newBooks.entries.map(\.topic) else {
                    throw .badRequest("This Idempotency-Key was already used to add other books.")
                }
                return Planned(books: earlier, replayed: true)
            }
            let added = newBooks.entries.map { entry in
                largestID += 1
                var book = entry.book(id: largestID, version: 0)
                keep(&book, announcing: .topic(Topic.canonical(book.topic)))
                writes.append(.add(book, key: key))
                return book
            }
            keysAdded[key] = added.map(\.id)
            return Planned(books: added)
        case .settle(let id, let key, let attempt):
            let current = try book(id)
            if let earlier = keysTaken[key], earlier.bookID == id {
                return Planned(books: [current], takeIndex: earlier.takeIndex)
            }
            if let earlier = try lookUp({ try store.order(takenUnder: key) }), earlier.bookID == id {
                return Planned(books: [current], order: earlier)
            }
            if try updated(id, under: key, store: store) { return Planned(books: [current]) }
            return Planned(books: [current], applied: false, fence: abort(attempt))
        case .settleAddition(let key, let attempt):
            if let added = try booksAdded(under: key, store: store) { return Planned(books: added) }
            return Planned(books: [], applied: false, fence: abort(attempt))
        }
    }

    /// Refuses an attempt settled as not applied, or made under one (`WriteIdentity.isFenced`).
    private func refuseAborted(_ attempt: String, store: CatalogStore) throws(APIError) {
        let fenced = try WriteIdentity.isFenced(attempt) { (settled) throws(APIError) -> Bool in
            if attemptsAborted.contains(settled) { return true }
            return try lookUp { try store.isAborted(attempt: settled) }
        }
        if fenced { throw .attemptSettled }
    }

    /// Records that `attempt` was settled as not applied, so it, and every attempt made under
    /// it, is refused from now on: a write of its own, with the next sequence number (so that
    /// the backup is sent it, by its number, before the settle is answered). Returns the number.
    private mutating func abort(_ attempt: String) -> Int64 {
        seq += 1
        writes.append(.abort(attempt: attempt, seq: seq))
        attemptsAborted.insert(attempt)
        return seq
    }

    /// Whether an admin update of book `id` was applied under `key` (in this batch or before).
    private func updated(_ id: Int64, under key: String, store: CatalogStore) throws(APIError) -> Bool {
        if keysUpdated[key] == id { return true }
        return try lookUp { try store.book(updatedUnder: key) } == id
    }

    /// The books added under `key` (in this batch or before), as they are now; nil if none.
    private func booksAdded(under key: String, store: CatalogStore) throws(APIError) -> [Book]? {
        var ids = keysAdded[key] ?? []
        if ids.isEmpty { ids = try lookUp { try store.books(addedUnder: key) } }
        guard !ids.isEmpty else { return nil }
        var books: [Book] = []
        for id in ids { books.append(try book(id)) }
        return books
    }

    private func book(_ id: Int64) throws(APIError) -> Book {
        guard let book = books[id] ?? memory.book(id).0 else { throw .notFound("No book has id \(id).") }
        return book
    }

    /// Gives a changed book the next sequence number and records it, and what the front must drop.
    private mutating func keep(_ book: inout Book, announcing dependency: CacheDependency) {
        seq += 1
        book.version = seq
        books[book.id] = book
        announcements[dependency] = seq
    }

    private func lookUp<T>(_ body: () throws -> T) throws(APIError) -> T {
        try APIError.unavailableOnFailure("the write was not applied", body)
    }

    private func keyReused(_ bookID: Int64) -> APIError {
        .badRequest("This Idempotency-Key was already used to buy book \(bookID).")
    }
}
