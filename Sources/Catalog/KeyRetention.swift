import Basics
import BazarCore

/// When the catalog primary may forget the keys of admin updates (the only keys it forgets):
/// a key is kept until it is both `countHorizon` writes old and `WriteIdentity.keyRetention`
/// old on the primary's monotonic clock, so a caller's settle, which it believes only within
/// `WriteIdentity.settleTrustedFor` of sending the write on its own clock, always finds a key
/// that was applied. Memory stays bounded: the update rate times the retention, plus the horizon.
///
/// The primary notes, after committing, which sequence number it has committed through and
/// when (at most one checkpoint a second): every key up to that number committed no later.
/// A key committed before this process started counts as committed at its start.
package struct KeyRetention {
    /// How many writes an update key is kept for, at least, unless `--update-key-horizon` says.
    package static let defaultCountHorizon: Int64 = 100_000
    /// How many writes an update key is kept for, at least.
    let countHorizon: Int64
    /// How long an update key is kept for, at least, in nanoseconds.
    let age: Int64
    private var checkpoints: [(seq: Int64, at: Int64)]
    private var forgottenBelow: Int64 = 1   // sequence numbers start at 1

    /// The retention of a primary that starts at `applied`, `now`.
    package init(applied: Int64, now: Int64, countHorizon: Int64, age: Duration = WriteIdentity.keyRetention) {
        self.countHorizon = countHorizon
        self.age = age.nanoseconds
        checkpoints = [(applied, now)]
    }

    /// Notes that every write up to `seq` is committed, `now`.
    package mutating func committed(through seq: Int64, now: Int64) {
        guard let last = checkpoints.last, seq > last.seq, now - last.at >= 1_000_000_000 else { return }
        checkpoints.append((seq, now))
    }

    /// The sequence number below which update keys may now be forgotten, given the newest
    /// committed one; nil when no more may be than last time.
    package mutating func forgettable(newest: Int64, now: Int64) -> Int64? {
        guard let old = checkpoints.lastIndex(where: { now - $0.at >= age }) else { return nil }
        let floor = min(checkpoints[old].seq + 1, newest - countHorizon)
        checkpoints.removeFirst(old)
        guard floor > forgottenBelow else { return nil }
        forgottenBelow = floor
        return floor
    }
}
