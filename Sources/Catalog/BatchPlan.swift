import BazarCore
import Foundation
import Store

/// The writes of one batch as decided against the books the batch leaves behind.
struct BatchPlan {
    /// One write's planned result.
    struct Planned {
        var book: Book
        var order: Order?
        var replayed = false
        /// For a settle: whether the settled write was applied.
        var applied = true
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
    private var keysUpdated: [String: Int64] = [:]
    private var attemptsAborted: Set<String> = []

    init(memory: CatalogMemory) {
        self.memory = memory
        seq = memory.applied
    }

    mutating func add(_ write: Primary.Write, store: CatalogStore) throws(APIError) -> Planned {
        switch write {
        case .take(let id, let key, let attempt):
            try refuseAborted(attempt, store: store)
            if let earlier = keysTaken[key] {
                guard earlier.bookID == id else { throw keyReused(earlier.bookID) }
                return Planned(book: try book(id), replayed: true, takeIndex: earlier.takeIndex)
            }
            if let earlier = try lookUp({ try store.order(takenUnder: key) }) {
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
        case .update(let id, let update, let key, let attempt):
            try refuseAborted(attempt, store: store)
            var changed = try update.applied(to: try book(id))
            keep(&changed)
            writes.append(.set(changed, key: key))
            keysUpdated[key] = id
            return Planned(book: changed)
        case .settle(let id, let key, let attempt):
            let current = try book(id)
            if let earlier = keysTaken[key], earlier.bookID == id {
                return Planned(book: current, takeIndex: earlier.takeIndex)
            }
            if let earlier = try lookUp({ try store.order(takenUnder: key) }), earlier.bookID == id {
                return Planned(book: current, order: earlier)
            }
            let storedUpdate = try lookUp { try store.book(updatedUnder: key) }
            if keysUpdated[key] == id || storedUpdate == id {
                return Planned(book: current)
            }
            writes.append(.abort(attempt: attempt, seq: seq))
            attemptsAborted.insert(attempt)
            return Planned(book: current, applied: false)
        }
    }

    private func refuseAborted(_ attempt: String, store: CatalogStore) throws(APIError) {
        let storedAbort = try lookUp { try store.isAborted(attempt: attempt) }
        if attemptsAborted.contains(attempt) || storedAbort {
            throw .unavailable("This write attempt was settled as not applied; it never will be.")
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

    private func lookUp<T>(_ body: () throws -> T) throws(APIError) -> T {
        try APIError.unavailableOnFailure("the write was not applied", body)
    }

    private func keyReused(_ bookID: Int64) -> APIError {
        .badRequest("This Idempotency-Key was already used to buy book \(bookID).")
    }
}
