import Basics
import BazarCore
import Foundation
import InternalHTTP
import Synchronization
import TierCalls
import Wire

/// The front's read lease from the catalog primary: the front serves cache hits and fills its
/// cache only while it holds one, because only then does the primary tell it of every write
/// before applying it (or wait the lease out). A fresh lease (the first, one after the primary
/// gave up on this front, or one after a grant whose answer was lost) empties the cache first
/// and sets the floor below which no fill is taken. A renewal names the lease it renews. The
/// lease is counted from the moment it was asked for, so it ends before the primary's count
/// of it.
final class ReadLease: Sendable {
    /// How often the lease is renewed (several times per lease).
    static let renewal: Duration = .milliseconds(200)

    private let name: String
    private let primary: PrimaryCalls
    private let cache: ResponseCache<CacheEntry>
    private let until = Atomic<Int64>(0)
    /// The id of the lease held last (0: none yet); only the renewal thread uses it.
    private let lease = Atomic<Int64>(0)

    /// The lease of the front called `name` (its internal destination, e.g. `front`).
    init(name: String, primary: PrimaryCalls, cache: ResponseCache<CacheEntry>) {
        self.name = name
        self.primary = primary
        self.cache = cache
    }

    /// Whether a lease is in force now.
    var held: Bool { Monotonic.now() < until.load(ordering: .acquiring) }

    /// Starts renewing, after one renewal period (so the invalidation socket listens first).
    func start() {
        let thread = Thread { [self] in
            while true {
                Monotonic.sleep(nanoseconds: Self.renewal.nanoseconds)
                renew()
            }
        }
        thread.name = "read-lease"
        thread.start()
    }

    /// Asks for the lease once (the renewal thread calls it every `renewal`).
    func renew() {
        let asked = Monotonic.now()
        let held = lease.load(ordering: .relaxed)
        let route = "/lease/\(name)" + (held == 0 ? "" : "?lease=\(held)")
        guard let answer = try? primary.send("POST", route, timeout: Self.renewal * 2, resendable: true),
              answer.status == 200, let grant = LeaseGrant(body: answer.body) else { return }
        if grant.fresh { cache.reset(floor: grant.announced) }
        lease.store(grant.lease, ordering: .relaxed)
        until.store(asked + grant.milliseconds * 1_000_000, ordering: .releasing)
    }
}
