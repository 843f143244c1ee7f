import BazarCore
import Wire

/// Whether a witness grants a backup the epoch it asks for (a value: no threads, clocks or
/// HTTP; `Witness` asks its store and acts).
///
/// A witness grants epoch e+1 to a candidate only when
/// - it holds epoch e itself (it has the records of e's primary, and adopted no later epoch),
/// - the candidate is not e's primary (so two replicas never hold one epoch: the other one is
///   e's primary, which never asks),
/// - its newest witness record of epoch e counts the backup in sync: while it does, e's primary
///   acknowledges a write only once the backup has it (a demotion needs this witness's record,
///   which it refuses from now on), so the candidate holds every acknowledged write,
/// - and no stand-in lease is the reason the primary could not demote (none is checked here: a
///   stand-in only serves reads).
/// Asked again by the same candidate for the epoch it already granted it, it grants it again
/// (the answer may have been lost); every other request is refused, and one that names an
/// older epoch is refused naming the newer one (`stale`).
package struct WitnessGrant: Equatable {
    package enum Verdict: Equatable {
        /// Store `Term` (adopting it) and answer that it is granted.
        case grant(Term)
        /// Already granted to this candidate: answer so again, storing nothing.
        case repeatGrant(Term)
        /// The request names an epoch older than the one held: refuse with `stale_epoch`.
        case stale(Term)
        /// Not granted, for `reason`.
        case refuse(String)
    }

    package let verdict: Verdict

    /// Decides from the term the witness holds, whether its newest record counts the backup in
    /// sync, and the request.
    package init(held: Term, recordInSync: Bool, request: EpochRequest) {
        let asked = request.asked
        if held.epoch > asked.epoch || (held.epoch == asked.epoch && held.primary != request.candidate) {
            verdict = .stale(held)
        } else if held.epoch == asked.epoch {
            verdict = .repeatGrant(held)
        } else if held.epoch < request.leaving.epoch {
            verdict = .refuse("this witness holds epoch \(held.epoch), not \(request.leaving.epoch): it has no record of that epoch")
        } else if held.primary != request.leaving.primary {
            verdict = .refuse("epoch \(held.epoch)'s primary is \(held.primary), not \(request.leaving.primary)")
        } else if request.candidate == held.primary {
            verdict = .refuse("\(request.candidate) is already epoch \(held.epoch)'s primary")
        } else if !recordInSync {
            verdict = .refuse("the newest record does not count \(request.candidate) in sync: it may lack acknowledged writes")
        } else {
            verdict = .grant(asked)
        }
    }
}
