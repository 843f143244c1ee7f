/// What a backup's watch of the primary decides on one look (a value: no threads, clocks or
/// HTTP; `Backup` looks and acts). A backup that is not current (no complete push since it
/// started: it cannot show it holds every acknowledged write) only watches; one the primary
/// asked to take over (`bazarctl switchover`) runs for the next epoch at once. Otherwise one
/// that holds a push lease, or whose primary answers, watches; one whose primary has been
/// silent stands in for reads, and once silent for `runAfter` it also runs. The witnesses grant
/// the epoch only when their records show it holds every acknowledged write (`WitnessGrant`).
package struct Candidacy: Equatable {
    package enum Verdict: Equatable {
        case watch, standIn, run
    }

    package let verdict: Verdict

    /// `primaryAnswered`: true as well while a lease is held; `silentFor` and `runAfter` in nanoseconds.
    package init(current: Bool, askedToTakeOver: Bool, primaryAnswered: Bool, silentFor: Int64, runAfter: Int64, hasWitnesses: Bool) {
        if !current {
            verdict = .watch
        } else if askedToTakeOver && hasWitnesses {
            verdict = .run
        } else if primaryAnswered {
            verdict = .watch
        } else if hasWitnesses && silentFor >= runAfter {
            verdict = .run
        } else {
            verdict = .standIn
        }
    }
}

extension Candidacy {
    /// How long a backup that won an epoch waits before its first write, from `now`, having
    /// stopped taking pushes at `stoppedAt` (monotonic nanoseconds): the old primary granted no
    /// front lease later than `Replicator.lease` after the last push it sent that was taken
    /// (`Replicator.mayGrantLeases`), and each lasts `FrontLeases.duration`; a margin covers the
    /// time between a grant's decision and its answer.
    package static func leaseWait(stoppedAt: Int64, now: Int64) -> Duration {
        let end = stoppedAt + (Replicator.lease + FrontLeases.duration + .milliseconds(250)).nanoseconds
        return .nanoseconds(max(0, end - now))
    }
}
