import BazarCore
import Synchronization

/// The read leases the primary grants the fronts. A front serves cache hits, and fills its
/// cache, only while it holds a lease; the primary tells every front holding one to drop what a
/// write changes before it applies the write. A front it cannot tell is *suspended* (no renewal)
/// until its lease has run out by the primary's clock, then dropped: by then it serves nothing
/// from its cache, and the next lease it gets is *fresh* (it empties its cache first).
///
/// Each lease has a random id, which a renewal names: a front whose last grant never reached it
/// (the answer lost in a partition) still holds the cache of its previous lease, which writes
/// made since may have skipped, so it gets a fresh lease rather than a renewal of one it never
/// got.
///
/// Deadlines are on this host's monotonic clock from the moment a grant is answered; a front
/// counts its lease from the moment it asked, so its lease always ends first.
package final class FrontLeases: Sendable {
    /// How long a lease lasts.
    package static let duration: Duration = .milliseconds(1_000)

    /// A lease granted: its id, whether it is fresh (the front must empty its cache first) and
    /// the newest sequence number announced so far (the front refuses fills older than it).
    struct Grant: Equatable {
        let lease: Int64
        let fresh: Bool
        let announced: Int64
    }

    private struct Holder {
        var until: Int64
        var lease: Int64
        var suspended = false
    }

    private struct State {
        var holders: [String: Holder] = [:]
        /// The newest sequence number a batch has announced (planned), committed or not.
        var announced: Int64
    }

    private let state: Mutex<State>
    /// Before this, a lease granted by this primary's previous run may still be in force.
    private let graceEnd: Int64

    /// Leases of a primary whose writes so far reach `applied`, which waits `grace` (a lease's
    /// duration: its previous run's leases) before its first write.
    init(applied: Int64, grace: Duration = duration) {
        state = Mutex(State(announced: applied))
        graceEnd = Monotonic.now() + grace.nanoseconds
    }

    /// A lease for `front`: the renewal of `held` (the id of the lease the front holds, nil for
    /// none) while that lease is in force, else a fresh one. Nil for a suspended front.
    func grant(_ front: String, renewing held: Int64?) -> Grant? {
        state.withLock { state in
            let now = Monotonic.now()
            if let holder = state.holders[front] {
                if holder.suspended { return nil }
                if holder.until > now, holder.lease == held {
                    state.holders[front]?.until = now + Self.duration.nanoseconds
                    return Grant(lease: holder.lease, fresh: false, announced: state.announced)
                }
            }
            let lease = Int64.random(in: 1...Int64.max)
            state.holders[front] = Holder(until: now + Self.duration.nanoseconds, lease: lease)
            return Grant(lease: lease, fresh: true, announced: state.announced)
        }
    }

    /// Records a batch's last sequence number before its invalidations go out, and returns the
    /// fronts to tell (those holding a lease now; a front granted one later learns `seq` with it).
    func announce(_ seq: Int64) -> [String] {
        state.withLock { state in
            state.announced = max(state.announced, seq)
            let now = Monotonic.now()
            return state.holders.filter { $0.value.until > now }.map(\.key).sorted()
        }
    }

    /// Stops renewing a front that could not be told of a write and returns when its lease has
    /// run out (it then serves nothing it cached); it is dropped.
    func waitOut(_ front: String) {
        let until = state.withLock { state -> Int64 in
            state.holders[front]?.suspended = true
            return state.holders[front]?.until ?? 0
        }
        while Monotonic.now() < until { Monotonic.sleep(nanoseconds: until - Monotonic.now()) }
        // Dropped only while still suspended: a fresh lease granted meanwhile stays.
        state.withLock { state in
            if state.holders[front]?.suspended == true { state.holders.removeValue(forKey: front) }
        }
    }

    /// Waits until no lease granted by an earlier run of this primary can be in force.
    func waitForGrace() {
        while Monotonic.now() < graceEnd { Monotonic.sleep(nanoseconds: graceEnd - Monotonic.now()) }
    }
}
