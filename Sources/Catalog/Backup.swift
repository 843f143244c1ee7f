import BazarCore
import FastCGI
import Store
import Synchronization

/// The catalog backup's side of replication: it applies the primary's pushes in order and
/// serves reads only while it holds a lease. A push from a primary that counts this backup in
/// sync carries `lease_until_ns`, a deadline on the host's monotonic clock set from the moment
/// the primary *sent* it; a push that arrives late cannot stretch it. Without a lease (after a
/// restart, or when the primary stopped counting on it) the backup answers reads 503, so nginx
/// passes them to the primary, and reports `catching_up`.
final class Backup: Sendable {
    private let store: Mutex<CatalogStore>
    private let memory: CatalogMemory
    private let leaseEnd = Atomic<Int64>(0)

    init(store: sending CatalogStore, memory: CatalogMemory) {
        self.store = Mutex(store)
        self.memory = memory
    }

    /// Whether reads may be served now.
    var leased: Bool { Monotonic.now() < leaseEnd.load(ordering: .acquiring) }

    /// Applies one push: `{"after", "up_to", "books", "lease_until_ns"?}`. 409 with this
    /// replica's `applied` when the push starts after what it holds (the primary then resends
    /// from there); no lease is taken from such a push.
    func replicate(_ body: [UInt8]) -> Response {
        guard let push = try? JSON.parse(body), let after = push["after"]?.int64Value,
              let upTo = push["up_to"]?.int64Value,
              let books = push["books"]?.arrayValue?.compactMap(Book.init(json:)),
              [nil, .null].contains(push["lease_until_ns"]) || push["lease_until_ns"]?.int64Value != nil else {
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
            if let until = push["lease_until_ns"]?.int64Value {
                leaseEnd.max(until, ordering: .releasing)
            }
            return .json(200, .object([("applied", .int(memory.applied))]))
        }
    }
}
