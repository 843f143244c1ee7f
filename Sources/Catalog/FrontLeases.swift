import Basics
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

    /// A lease granted (see `LeaseTable.Grant`).
    typealias Grant = LeaseTable.Grant

    private let state: Mutex<LeaseTable>
    /// Before this, a lease granted by this primary's previous run may still be in force.
    private let graceEnd: Int64

    /// Leases of a primary whose writes so far reach `applied`, which waits `grace` (a lease's
    /// duration: its previous run's leases) before its first write.
    init(applied: Int64, grace: Duration = duration) {
        state = Mutex(LeaseTable(announced: applied, duration: Self.duration.nanoseconds))
        graceEnd = Monotonic.now() + grace.nanoseconds
    }

    /// A lease for `front`: the renewal of `held` (the id of the lease the front holds, nil for
    /// none) while that lease is in force, else a fresh one. Nil for a suspended front.
    func grant(_ front: String, renewing held: Int64?) -> Grant? {
        let fresh = Int64.random(in: 1...Int64.max)
        return state.withLock { $0.grant(front, renewing: held, now: Monotonic.now(), newLease: fresh) }
    }

    /// Records a batch's last sequence number before its invalidations go out, and returns the
    /// fronts to tell (those holding a lease now; a front granted one later learns `seq` with it).
    func announce(_ seq: Int64) -> [String] {
        state.withLock { $0.announce(seq, now: Monotonic.now()) }
    }

    /// Stops renewing a front that could not be told of a write and returns when its lease has
    /// run out (it then serves nothing it cached); it is dropped.
    func waitOut(_ front: String) {
        let until = state.withLock { $0.suspend(front) }
        while Monotonic.now() < until { Monotonic.sleep(nanoseconds: until - Monotonic.now()) }
        state.withLock { $0.dropIfSuspended(front) }
    }

    /// Waits until no lease granted by an earlier run of this primary can be in force.
    func waitForGrace() {
        while Monotonic.now() < graceEnd { Monotonic.sleep(nanoseconds: graceEnd - Monotonic.now()) }
    }
}

/// The fronts' leases as a value: who holds one until when, under which id, who is suspended,
/// and the newest write announced. No clock, lock or randomness: `FrontLeases` keeps it under
/// its lock and passes in the time (its monotonic clock) and the id a fresh lease gets; the
/// simulator (docs/simulation.md) drives it the same way.
package struct LeaseTable: Sendable {
    /// A lease granted: its id, whether it is fresh (the front must empty its cache first) and
    /// the newest sequence number announced so far (the front refuses fills older than it).
    package struct Grant: Equatable, Sendable {
        package let lease: Int64
        package let fresh: Bool
        package let announced: Int64
    }

    private struct Holder {
        var until: Int64
        var lease: Int64
        var suspended = false
    }

    private var holders: [String: Holder] = [:]
    /// The newest sequence number a batch has announced (planned), committed or not.
    package private(set) var announced: Int64
    /// How long a lease lasts, in nanoseconds.
    private let duration: Int64

    /// No lease yet; writes announced through `announced`.
    package init(announced: Int64, duration: Int64) {
        self.announced = announced
        self.duration = duration
    }

    /// A lease for `front` at `now`: the renewal of `held` while that lease is in force, else a
    /// fresh one with the id `newLease`. Nil for a suspended front.
    package mutating func grant(_ front: String, renewing held: Int64?, now: Int64, newLease: Int64) -> Grant? {
        if let holder = holders[front] {
            if holder.suspended { return nil }
            if holder.until > now, holder.lease == held {
                holders[front]?.until = now + duration
                return Grant(lease: holder.lease, fresh: false, announced: announced)
            }
        }
        holders[front] = Holder(until: now + duration, lease: newLease)
        return Grant(lease: newLease, fresh: true, announced: announced)
    }

    /// Records `seq` as announced and returns the fronts holding a lease at `now`, by name.
    package mutating func announce(_ seq: Int64, now: Int64) -> [String] {
        announced = max(announced, seq)
        return holders.filter { $0.value.until > now }.map(\.key).sorted()
    }

    /// Stops renewing `front`'s lease; when it runs out (0: no lease).
    package mutating func suspend(_ front: String) -> Int64 {
        holders[front]?.suspended = true
        return holders[front]?.until ?? 0
    }

    /// Drops `front` once its lease ran out, if it is still suspended (a fresh lease granted
    /// meanwhile stays).
    package mutating func dropIfSuspended(_ front: String) {
        if holders[front]?.suspended == true { holders.removeValue(forKey: front) }
    }
}
