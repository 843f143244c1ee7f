import BazarCore
import Catalog
import Wire

/// A catalog replica's terms (`CatalogTerm`, `Backup.runForEpoch`, `Recovery`; modelled): what
/// it learns from the witnesses at start, running for the next epoch and becoming its primary
/// in the same process, and stepping down when a newer epoch has another primary.
extension CatalogNode {
    /// `CatalogTerm.learnAtStart`: asks the witnesses for their term before serving anything.
    /// A newer epoch granted to this replica makes it that epoch's primary; a newer epoch of
    /// another primary, when its store says it leads, makes it start as a backup with its store
    /// emptied. (With the lost-grant hole, only a replica whose store says it leads asks.)
    func learnAtStart() {
        guard store.term.primary == name.description || !world.holes.contains(.lostGrant) else { return start() }
        callAll(NodeName.orders, timeout: ProtocolTimes.question, { .witnessState(call: $0) }) { [self] replies in
            let held = replies.compactMap { reply -> Term? in
                if case .witnessStateIs(_, let state)? = reply { return state.term }
                return nil
            }
            if let newer = held.max(by: { $0.epoch < $1.epoch }), newer.epoch > store.term.epoch {
                if newer.primary == name.description {
                    world.log("\(name) learns at start that the witnesses granted it \(newer)")
                    store.term = newer
                    world.history.promoted(epoch: newer.epoch, holding: store.applied, at: world.now)
                } else if store.term.primary == name.description {
                    world.log("\(name) learns at start that \(newer) leads: starting as a backup with an empty store")
                    store = Store(books: initialBooks, term: newer)
                }
            }
            // An observer's note: a witness that did not answer holds a newer epoch granted to this replica.
            let witnesses = world.nodes.compactMap { $0 as? OrderNode }
            if witnesses.contains(where: { $0.term.primary == name.description && $0.term.epoch > store.term.epoch }) {
                world.grantUnheard = true
            }
            start()
        }
    }

    /// Acts as the primary (recovering first) or the backup of the term it knows.
    private func start() {
        if store.term.primary == name.description {
            role = .primary
            recover()
        } else {
            role = .backup
            watch()
        }
    }

    /// Stores a newer term (an older one changes nothing).
    func adopt(_ newer: Term) {
        if newer.epoch > store.term.epoch { store.term = newer }
    }

    /// `CatalogTerm.stepDown`: a primary that learned a newer epoch stores it, empties its store
    /// (what it holds that the new primary lacks was never acknowledged) and exits; the
    /// supervisor starts it again, as the backup.
    func stepDown(to newer: Term) {
        world.log("\(name) steps down: \(newer) leads")
        store = Store(books: initialBooks, term: newer)
        world.exit(name)
    }

    /// `Backup.runForEpoch`: stops taking pushes, then asks each witness in turn for the next
    /// epoch (`EpochRequest`, answered by the real `WitnessGrant`); the first grant makes it the
    /// primary, else it takes pushes again and watches on.
    func runForEpoch() {
        let request = EpochRequest(candidate: name.description, leaving: store.term)
        running = true
        let stopped = clock
        world.log("\(name) runs for epoch \(request.asked.epoch) (applied \(store.applied))")
        ask(Array(NodeName.orders), request, stopped: stopped)
    }

    private func ask(_ witnesses: [NodeName], _ request: EpochRequest, stopped: Int64) {
        guard let witness = witnesses.first else {
            running = false
            return watch()
        }
        call(witness, timeout: .milliseconds(500), { .epochRequest(call: $0, request) }) { [self] reply in
            switch reply {
            case .epochAnswer(_, let answer)? where answer.granted && answer.term == request.asked:
                running = false
                adopt(answer.term)
                promote(stopped: stopped)
            case .stale(_, let newer)?:
                adopt(newer)
                ask(Array(witnesses.dropFirst()), request, stopped: stopped)
            default:
                ask(Array(witnesses.dropFirst()), request, stopped: stopped)
            }
        }
    }

    /// Becomes the primary of the epoch won, in this process (`Recovery` with `promoted`): copies
    /// back the orders of every order replica (all must answer), then leads with its backup out
    /// of sync, its first write after `Candidacy.leaseWait` (the old primary's front leases).
    private func promote(stopped: Int64) {
        world.log("\(name) won \(store.term): becoming the primary")
        world.history.promoted(epoch: store.term.epoch, holding: store.applied, at: world.now)
        forgetVolatileState()
        role = .primary
        restoreEveryReplica(stopped: stopped)
    }

    private func restoreEveryReplica(stopped: Int64) {
        restoreOrders(from: NodeName.orders) { [self] restored in
            guard restored else { return after(.milliseconds(100), "restore orders") { [self] in restoreEveryReplica(stopped: stopped) } }
            let wait = Candidacy.leaseWait(stoppedAt: stopped, now: clock)
            lead(backupInSync: false, graceEnd: clock + wait.nanoseconds)
        }
    }
}
