import Basics
import BazarCore
import Foundation
import InternalHTTP
import Wire

/// A starting primary's proof that its store holds every acknowledged write, before it leads.
///
/// Its store may be empty (the disk was replaced), another deployment's or replica's (moved
/// aside at open: `StoreIdentity`) or an older copy; nothing on this host tells. So it asks its
/// peers: the order replicas (their witness records, and what was acknowledged without the
/// backup) and the backup (its `applied`), and decides (`StartDecision`). It pulls from the
/// backup the books it lacks, copies back from the order replicas the orders it lacks (so a
/// key that bought settles as bought and no order number is given twice), and then leads.
/// When no peer holds what was acknowledged it never leads: it answers 503, `/health` reports
/// it `catching_up`, and it logs why, asking again every second.
///
/// A witness that holds a newer epoch with another primary means this replica was deposed
/// while it was away: it steps down (`CatalogTerm.stepDown`) before serving anything. A backup
/// that won an epoch (`promoted`) needs no such proof, the witness's grant was it: it copies
/// back the orders of every order replica (so order numbers go on above every order given), and
/// leads without its backup, which it catches up once it answers.
struct Recovery {
    let primary: Primary
    let client: InternalClient
    let backup: String
    let witnesses: [String]
    let term: CatalogTerm
    /// Whether this primary is a backup that won an epoch in this process.
    var promoted = false

    /// How long each peer may take to answer one question.
    static let question: Duration = .milliseconds(500)

    /// Starts the thread that recovers, then makes the primary lead.
    func start() {
        let thread = Thread { run() }
        thread.name = "recovery"
        thread.start()
    }

    private func run() {
        var said = ""
        while promoted {
            if restoreOrders(from: witnesses), lead(backupInSync: false) {
                Log.info("leading the epoch won", [("applied", "\(primary.applied)"), ("epoch", "\(term.current.epoch)")])
                return
            }
            if said.isEmpty { Log.warn("promoted: waiting for every order replica's orders before leading") }
            said = "waiting"
            Thread.sleep(forTimeInterval: 0.1)
        }
        while true {
            let applied = primary.applied
            let answers = witnesses.compactMap(askWitness)
            if let newer = answers.map(\.answer.term).max(by: { $0.epoch < $1.epoch }), newer.epoch > term.current.epoch {
                if newer.primary != term.name { term.stepDown(to: newer) }
                try? term.adopt(newer)
            }
            let decision = StartDecision(applied: applied, witnessCount: witnesses.count, witnesses: answers.map(\.answer),
                                         backup: askBackup())
            let level: Log.Level, line: String, pause: Double
            switch decision.verdict {
            case .lead(let inSync):
                if restoreOrders(from: answers.map(\.name)), lead(backupInSync: inSync) {
                    Log.info("leading: the store holds every acknowledged write",
                             [("applied", "\(primary.applied)"), ("backup_in_sync", "\(inSync)")])
                    return
                }
                (level, line, pause) = (.warn, "recovering: the order replicas' orders could not be copied", 0.2)
            case .pull(let through):
                if pull(after: applied) { continue }
                (level, line, pause) = (.warn, "recovering: the backup holds acknowledged writes through \(through) "
                                            + "that this store lacks; pulling them failed", 0.2)
            case .refuse(let through):
                (level, line, pause) = (.error, "REFUSING TO LEAD: writes through \(through) were acknowledged, this store has "
                                            + "\(applied) and no peer that answered holds them; restore this replica's store "
                                            + "or the backup's", 1)
            case .wait(let reason):
                (level, line, pause) = (.info, "recovering: \(reason)", 0.2)
            }
            if line != said {
                Log.write(level, line, [("applied", "\(applied)")])
                said = line
            }
            Thread.sleep(forTimeInterval: pause)
        }
    }

    /// Makes the primary lead once it forgot the keys of writes its store does not hold
    /// (`Primary.forgetKeysOfWritesNotHeld`), starting its replicator first; false on a store
    /// error, logged (the caller tries again).
    private func lead(backupInSync: Bool) -> Bool {
        do {
            try primary.forgetKeysOfWritesNotHeld()
        } catch {
            Log.error("store error forgetting the keys of writes this store does not hold; not leading yet", [("error", "\(error)")])
            return false
        }
        primary.replicator.start(backupInSync: backupInSync)
        primary.lead()
        return true
    }

    private func askWitness(_ name: String) -> (name: String, answer: WitnessState)? {
        ask("/\(name)/witness", WitnessState.self).map { (name, $0) }
    }

    private func askBackup() -> BackupState? {
        ask("/\(backup)/state", BackupState.self)
    }

    private func ask<Message: WireMessage>(_ path: String, _ message: Message.Type) -> Message? {
        guard let answer = try? client.send("GET", path, timeout: Self.question), answer.status == 200 else { return nil }
        return Message(body: answer.body)
    }

    /// Pulls every book the backup changed after `applied`, a page at a time, into the store;
    /// false when the backup stopped answering (what was pulled is kept: each page is newer).
    private func pull(after applied: Int64) -> Bool {
        var after = applied
        while true {
            guard let page = ask("/\(backup)/changes?after=\(after)", ChangesPage.self) else { return false }
            do {
                try primary.restore(books: page.books, applied: page.complete ? page.applied : primary.applied, orders: [])
            } catch {
                Log.error("store error while pulling books from the backup", [("error", "\(error)")])
                return false
            }
            if page.complete {
                Log.info("pulled from the backup every book this store lacked", [("from", "\(applied)"), ("applied", "\(page.applied)")])
                return true
            }
            after = page.through
        }
    }

    /// Copies into the store the orders the order replicas hold above its last one (from every
    /// replica that answered the witness question, in full); false when one fails.
    private func restoreOrders(from replicas: [String]) -> Bool {
        guard let last = try? primary.lastOrderNumber() else { return false }
        for replica in replicas {
            var page = Page(after: last, limit: Order.takesPageSize)
            while true {
                guard let orders = ask("/\(replica)/held?\(page.query)", OrderList.self)?.orders else {
                    return false
                }
                do {
                    try primary.restore(books: [], applied: primary.applied, orders: orders)
                } catch {
                    Log.error("store error while restoring orders", [("error", "\(error)")])
                    return false
                }
                guard let newest = orders.last, orders.count == page.limit else {
                    if let newest = orders.last { Log.info("restored orders from an order replica", [("replica", replica), ("through", "\(newest.number)")]) }
                    break
                }
                page = Page(after: newest.number, limit: Order.takesPageSize)
            }
        }
        return true
    }
}
