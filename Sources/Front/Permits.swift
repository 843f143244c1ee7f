import BazarCore
import Synchronization

/// A fixed number of permits, taken without ever waiting. The front holds one while a read
/// waits on another tier (a cache miss, `/health`): a slow or hung catalog then holds at most
/// that many of the read socket's threads, and the others stay free for cache hits.
final class Permits: Sendable {
    private let available: Atomic<Int>

    /// `count` permits.
    init(_ count: Int) {
        available = Atomic(count)
    }

    /// Runs `body` holding a permit; when none is left, throws `429 too_many_requests` at once.
    func withPermit<T>(_ body: () throws(APIError) -> T) throws(APIError) -> T {
        guard available.subtract(1, ordering: .acquiring).newValue >= 0 else {
            available.add(1, ordering: .relaxed)
            throw .tooManyRequests("Too many requests are waiting on the other tiers; retry in a moment.")
        }
        defer { available.add(1, ordering: .releasing) }
        return try body()
    }
}
