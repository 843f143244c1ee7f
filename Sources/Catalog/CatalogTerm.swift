import Basics
import BazarCore
import Foundation
import InternalHTTP
import Store
import Synchronization
import Wire

/// The newest term this replica knows, kept in its store (a newer one is stored before it is
/// acted on), and what the replica does when it learns that another replica leads a newer epoch
/// while it acts as primary: it steps down (`stepDown`).
final class CatalogTerm: Sendable {
    /// This replica's name.
    let name: String
    private let store: SharedStore
    private let term: Mutex<Term>
    private let handover = Mutex(Handover.none)

    /// Where a hand-over of the primary role (`Primary.handOver`) stands.
    enum Handover: Sendable {
        case none, running, done
    }

    /// The stored term, or else `first` (the flags' epoch 1).
    init(name: String, store: SharedStore, first: Term) throws {
        self.name = name
        self.store = store
        term = Mutex(try store.withLock { try $0.term() } ?? first)
    }

    /// The newest term known.
    var current: Term { term.withLock { $0 } }

    /// Whether this replica is the primary of the newest term known.
    var leads: Bool { current.primary == name }

    /// Judges a message's term (`TermFence`), storing a newer one first; a store error refuses it.
    func judge(_ incoming: Term) -> TermFence {
        let fence = TermFence(known: current, incoming: incoming)
        if case .adopt(let newer) = fence {
            do {
                try adopt(newer)
            } catch {
                Log.error("store error adopting a newer term", [("error", "\(error)")])
                return .refuse(current)
            }
        }
        return fence
    }

    /// Stores `newer` and makes it the current term (an older one changes nothing).
    func adopt(_ newer: Term) throws {
        try store.withLock { try $0.adopt(newer) }
        term.withLock { if newer.epoch > $0.epoch { $0 = newer } }
    }

    /// Asks the witnesses (`GET /order-N/witness`) for their term before this replica serves
    /// anything (one that does not answer is asked again by `Recovery` before it leads). A newer epoch
    /// granted to this replica (it ran for it, and died before it heard the grant) makes it that
    /// epoch's primary: it held every acknowledged write when granted, and waiting as a backup
    /// of the epoch before would leave the stack with no primary (the old primary steps down
    /// for the newer epoch). A newer epoch of another primary, when this store says it leads,
    /// makes it start as a backup with an empty store.
    func learnAtStart(witnesses: [String], client: InternalClient) throws {
        let held = witnesses.compactMap { witness -> Term? in
            guard let answer = try? client.send("GET", "/\(witness)/witness", timeout: Recovery.question), answer.status == 200 else { return nil }
            return WitnessState(body: answer.body)?.term
        }
        guard let newer = held.max(by: { $0.epoch < $1.epoch }), newer.epoch > current.epoch else { return }
        if newer.primary == name {
            Log.warn("the witnesses granted this replica a newer epoch: starting as its primary", [("epoch", "\(newer.epoch)")])
            try store.withLock { try $0.adopt(newer) }
        } else if leads {
            Log.warn("a newer epoch leads: starting as a backup with an empty store", [("epoch", "\(newer.epoch)"), ("primary", newer.primary)])
            try store.withLock { try $0.stepDown(to: newer) }
        } else {
            return
        }
        term.withLock { $0 = newer }
    }

    /// Records how a hand-over of the primary role stands.
    func handingOver(_ state: Handover) {
        handover.withLock { $0 = state }
    }

    /// A primary that learned that `newer` is current: stores it, empties its store (whatever it
    /// holds that the new primary lacks was never acknowledged) and exits, so that the
    /// supervisor starts it again as a backup that takes a full copy from the new primary.
    /// During a hand-over the newer term is the one handed over: the thread waits, and the
    /// hand-over ends the process with the store kept (or, when it failed, the step down goes on).
    func stepDown(to newer: Term) -> Never {
        while handover.withLock({ $0 }) != .none { Thread.sleep(forTimeInterval: 0.05) }
        Log.warn("a newer epoch leads: stepping down to rejoin as a backup", [("epoch", "\(newer.epoch)"), ("primary", newer.primary)])
        do {
            try store.withLock { try $0.stepDown(to: newer) }
        } catch {
            Log.error("store error stepping down; exiting all the same", [("error", "\(error)")])
        }
        exit(0)
    }
}
