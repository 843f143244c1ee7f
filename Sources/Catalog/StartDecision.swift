import Wire

/// What a starting primary may do, decided from what its own store holds and what its peers
/// answered (a value: no threads, clocks or HTTP; `Recovery` asks and acts).
///
/// Every acknowledged write is on the backup (while the backup was in sync, a write was
/// acknowledged only once it had it) or, while the backup was demoted, at or below the
/// `acknowledged` number the primary recorded on every witness before answering (the demotion
/// itself records what was committed then). So the highest acknowledged write is at most the
/// larger of the backup's `applied` and the witnesses' `acknowledged`, and a primary whose
/// store reaches it may lead. Without the backup's answer that bound is known only when every
/// witness answered and the newest record is a demotion (a promotion stored on a silent witness
/// would mean later writes acknowledged with the backup's help).
package struct StartDecision: Equatable {
    package enum Verdict: Equatable {
        /// The store holds every acknowledged write: lead, counting the backup in sync or not.
        case lead(backupInSync: Bool)
        /// The backup holds acknowledged writes this store lacks, through `through`: pull them.
        case pull(through: Int64)
        /// Acknowledged writes through `through` are on no peer that answered: never lead.
        case refuse(through: Int64)
        /// Too few peers answered to know what was acknowledged: ask again.
        case wait(String)
    }

    package let verdict: Verdict

    /// Decides from this store's `applied`, the number of witnesses configured, the witnesses
    /// that answered and the backup's answer (nil: it did not).
    package init(applied: Int64, witnessCount: Int, witnesses: [WitnessState], backup: BackupState?) {
        guard witnessCount > 0 else {
            // No records are kept: the primary goes on without its backup, as after a demotion.
            let through = backup?.applied ?? applied
            verdict = through <= applied ? .lead(backupInSync: false) : .pull(through: through)
            return
        }
        guard let newest = witnesses.max(by: { $0.version < $1.version }) else {
            verdict = .wait("no witness (order replica) answered")
            return
        }
        let acknowledged = witnesses.map(\.acknowledged).max() ?? 0
        let demoted = witnesses.count == witnessCount && newest.version > 0 && !newest.inSync
        let through: Int64
        if let backup {
            through = max(backup.applied, acknowledged)
        } else if demoted {
            through = acknowledged
        } else {
            verdict = .wait("the backup did not answer and the witnesses do not record it demoted")
            return
        }
        if through <= applied {
            verdict = .lead(backupInSync: !demoted)
        } else if let backup, backup.applied >= through {
            verdict = .pull(through: through)
        } else {
            verdict = .refuse(through: through)
        }
    }
}
