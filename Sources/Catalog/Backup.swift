import BazarCore
import FastCGI
import Store
import Synchronization

/// The catalog backup's side of replication: it applies the primary's pushes in order and
/// serves reads only while it holds a lease, granted by a push that found it in sync. Without
/// a lease (after a restart, or when the primary stopped reaching it) it answers reads 503,
/// so nginx passes them to the primary, and reports `catching_up`.
final class Backup: Sendable {
    private let store: Mutex<CatalogStore>
    private let memory: CatalogMemory
    private let leaseEnd = Mutex<ContinuousClock.Instant?>(nil)

    init(store: sending CatalogStore, memory: CatalogMemory) {
        self.store = Mutex(store)
        self.memory = memory
    }

    /// Whether reads may be served now.
    var leased: Bool {
        leaseEnd.withLock { end in end.map { ContinuousClock.now < $0 } ?? false }
    }

    /// Applies one push: `{"after", "up_to", "in_sync", "books"}`. 409 with this replica's
    /// `applied` when the push starts after what it holds (the primary then resends from there).
    func replicate(_ body: [UInt8], receivedAt: ContinuousClock.Instant) -> Response {
        guard let push = try? JSON.parse(body), let after = push["after"]?.int64Value,
              let upTo = push["up_to"]?.int64Value, let inSync = push["in_sync"]?.boolValue,
              let books = push["books"]?.arrayValue?.compactMap(Book.init(json:)) else {
            return APIError.badRequest("Malformed replication push.").response()
        }
        return store.withLock { store in
            let applied = memory.applied
            guard after <= applied else {
                return .json(409, .object([("applied", .int(applied))]))
            }
            if upTo > applied {
                do {
                    try store.apply(books, applied: upTo)
                } catch {
                    Log.info("store error applying push up to \(upTo): \(error)")
                    return APIError.unavailable("The backup store failed.").response()
                }
                memory.apply(books, applied: upTo)
            }
            if inSync { leaseEnd.withLock { $0 = receivedAt + Replicator.lease } }
            return .json(200, .object([("applied", .int(memory.applied))]))
        }
    }
}
