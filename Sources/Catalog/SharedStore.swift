import Foundation
import Store

/// The replica's store behind one lock, shared by its roles: a backup promoted to primary
/// goes on with the same store in the same process.
final class SharedStore: @unchecked Sendable {
    // Recursive: a push is applied holding the lock, and the newer term it may carry is stored under it.
    private let lock = NSRecursiveLock()
    private let store: CatalogStore

    init(_ store: CatalogStore) {
        self.store = store
    }

    /// Runs `body` with the store, holding the lock.
    func withLock<T, E: Error>(_ body: (CatalogStore) throws(E) -> T) throws(E) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(store)
    }
}
