import BazarCore
import Catalog
import Order
import Wire

/// A catalog replica as the backup of its term (`Backup`, modelled): applies pushes of its
/// term or a newer one (the takes first, then the books), serves reads only under a push lease
/// counted from the receipt the push echoes, or under a stand-in lease from an order replica
/// once it is current and its primary does not answer as that term's primary; and, deciding
/// with the real `Candidacy`, runs for the next epoch once the primary has been silent for
/// `Backup.failoverAfter` (CatalogTerms.swift).
extension CatalogNode {
    var readable: Bool { clock < leaseEnd || clock < standInEnd }

    /// A push (`Backup.replicate`): refused while running for the next epoch (503) or when of an
    /// older epoch (`TermFence`, real); a primary that learns a newer epoch from it steps down.
    func takePush(call: Int, from: Address, term: Term, after: Int64, upTo: Int64, books pushed: [BookState], takes: [OrderRecord],
                  lease: (milliseconds: Int64, echo: Int64)?) {
        if running { return answer(call, from, status: 503) }
        switch TermFence(known: store.term, incoming: term) {
        case .refuse(let known):
            return reply(from, .stale(call: call, known: known))
        case .adopt(let newer):
            guard role == .backup else { return stepDown(to: newer) }
            store.term = newer
        case .accept:
            guard role == .backup else { return reply(from, .stale(call: call, known: store.term)) }
        }
        guard after <= store.applied else { return answer(call, from, status: 409) }
        for order in takes where store.takes[order.key] == nil {
            store.takes[order.key] = order
            store.lastOrder = max(store.lastOrder, order.number)
        }
        if upTo > store.applied || !pushed.isEmpty {
            // `CatalogStore.apply`: a book only newer than the one stored, `applied` only up.
            for book in pushed where book.version > store.books[book.id]?.version ?? -1 { store.books[book.id] = book }
            store.applied = max(store.applied, upTo)
        }
        let page = upTo == after && !pushed.isEmpty
        if !page { current = true }
        if !page, let lease, let start = receipts.first(where: { $0.receipt == lease.echo })?.at {
            leaseEnd = max(leaseEnd, start + lease.milliseconds * 1_000_000)
        }
        answer(call, from, status: 200)
    }

    /// An answer to a push with a fresh receipt, noted with when it was made.
    private func answer(_ call: Int, _ to: Address, status: Int) {
        let receipt = Int64(bitPattern: world.random.next() | 1)
        receipts.append((receipt, clock))
        if receipts.count > 8 { receipts.removeFirst() }
        reply(to, .pushed(call: call, status: status, applied: store.applied, receipt: receipt, takes: store.lastOrder))
    }

    /// `Backup.watchPrimary`, every 100 ms: whether the primary of its term answers as that
    /// term's primary, and what `Candidacy` makes of it: watch, stand in, or stand in and run.
    func watch() {
        after(.milliseconds(100), "watch") { [self] in
            guard role == .backup, !running else { return }
            let asked = clock
            primaryAnswers { [self] answered in
                silentSince = answered ? nil : silentSince ?? asked
                let candidacy = Candidacy(current: current, askedToTakeOver: false, primaryAnswered: answered,
                                          silentFor: clock - (silentSince ?? asked),
                                          runAfter: ProtocolTimes.failoverAfter.nanoseconds, hasWitnesses: true)
                guard candidacy.verdict != .watch else { return watch() }
                askStandIn(NodeName.orders) { [self] in
                    candidacy.verdict == .run ? runForEpoch() : watch()
                }
            }
        }
    }

    /// True while a push lease is held or it is not current (`Backup` does not look then), else
    /// whether the term's primary answers that it leads that term (with the
    /// primary-answers-as-anything hole: whether it answers at all).
    private func primaryAnswers(_ done: @escaping (Bool) -> Void) {
        guard current, clock >= leaseEnd, let primary = NodeName.catalogs.first(where: { $0.description == store.term.primary }),
              primary != name else { return done(true) }
        let term = store.term
        call(primary, timeout: .milliseconds(500), { .ping(call: $0) }) { [self] reply in
            guard case .pong(_, let answeredTerm, let leads)? = reply else { return done(false) }
            done(world.holes.contains(.primaryAnswersAsAnything) || (leads && answeredTerm == term))
        }
    }

    /// Asks the order replicas in turn for a stand-in lease until one grants it.
    private func askStandIn(_ witnesses: [NodeName], then: @escaping () -> Void) {
        guard let witness = witnesses.first else { return then() }
        let asked = clock
        let term = store.term
        call(witness, timeout: .milliseconds(300), { .standIn(call: $0, term: term) }) { [self] reply in
            guard case .standInAnswer(_, true, let milliseconds)? = reply else {
                return askStandIn(Array(witnesses.dropFirst()), then: then)
            }
            standInEnd = max(standInEnd, asked + milliseconds * 1_000_000)
            then()
        }
    }
}
