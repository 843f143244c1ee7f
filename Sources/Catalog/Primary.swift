import BazarCore
import FastCGI
import Foundation
import Store
import Synchronization

/// The catalog primary's writes. One lock orders them: each gets the next sequence number,
/// the front drops what it cached of the book, the store commits it, memory follows; then,
/// outside the lock, the answer waits for the backup's acknowledgement.
final class Primary: Sendable {
    private let name: String
    private let store: Mutex<CatalogStore>
    private let memory: CatalogMemory
    private let invalidator: Invalidator
    let replicator: Replicator

    init(name: String, store: sending CatalogStore, memory: CatalogMemory, invalidator: Invalidator, replicator: Replicator) {
        self.name = name
        self.store = Mutex(store)
        self.memory = memory
        self.invalidator = invalidator
        self.replicator = replicator
    }

    /// Takes one copy of a book for an order under `key` (a repeated key answers the first order).
    func take(_ id: Int64, key: String) -> Response {
        let outcome = Result { () throws(APIError) -> (Order, Book, Bool) in
            try store.withLock { store throws(APIError) in
                if let earlier = try guarded({ try store.take(key: key) }) {
                    guard earlier.bookID == id else {
                        throw .badRequest("This Idempotency-Key was already used to buy book \(earlier.bookID).")
                    }
                    guard let current = memory.book(id).0 else { throw .notFound("No book has id \(id).") }
                    return (earlier, current, true)
                }
                guard let book = memory.book(id).0 else { throw .notFound("No book has id \(id).") }
                guard book.stock > 0 else { throw .outOfStock("No copy of book \(id) is left.") }
                let seq = memory.applied + 1
                try invalidator.invalidate(book: id, seq: seq)
                let createdAt = Date().formatted(.iso8601)
                guard let order = try guarded({ try store.take(bookID: id, key: key, seq: seq, createdAt: createdAt) }) else {
                    throw .outOfStock("No copy of book \(id) is left.")
                }
                var after = book
                after.stock -= 1
                after.version = seq
                memory.apply([after], applied: seq)
                replicator.committed(seq)
                return (order, after, false)
            }
        }
        switch outcome {
        case .failure(let error): return error.response(headers: upstream)
        case .success(let (order, book, replayed)):
            replicator.waitReplicated(book.version)
            let body = JSON.object([("order", order.internalJSON), ("book", book.json), ("replayed", .bool(replayed))])
            return .json(200, body, headers: upstream)
        }
    }

    /// Applies an admin update to a book.
    func update(_ id: Int64, _ update: BookUpdate) -> Response {
        let outcome = Result { () throws(APIError) -> Book in
            try store.withLock { store throws(APIError) in
                guard let book = memory.book(id).0 else { throw .notFound("No book has id \(id).") }
                var after = try update.applied(to: book)
                let seq = memory.applied + 1
                after.version = seq
                try invalidator.invalidate(book: id, seq: seq)
                try guarded { try store.apply([after], applied: seq) }
                memory.apply([after], applied: seq)
                replicator.committed(seq)
                return after
            }
        }
        switch outcome {
        case .failure(let error): return error.response(headers: upstream)
        case .success(let book):
            replicator.waitReplicated(book.version)
            return .json(200, book.json, headers: upstream)
        }
    }

    /// Orders taken after `number`, for an order replica catching up.
    func takes(after number: Int64) -> Response {
        do {
            let orders = try store.withLock { try $0.takes(after: number, limit: 1000) }
            return .json(200, .object([("orders", .array(orders.map(\.internalJSON)))]), headers: upstream)
        } catch {
            return APIError.unavailable("The catalog store failed: \(error)").response(headers: upstream)
        }
    }

    private var upstream: [(String, String)] { [("X-Upstream", name)] }
}

/// Runs a store call, turning a storage failure into `503 unavailable`.
func guarded<T>(_ body: () throws -> T) throws(APIError) -> T {
    do {
        return try body()
    } catch {
        Log.info("store error: \(error)")
        throw .unavailable("The store failed: the write was not applied.")
    }
}
