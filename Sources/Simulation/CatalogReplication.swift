import BazarCore
import Catalog
import TierCalls

/// The primary's side of replication (`Replicator`, `WitnessRecords`; modelled): pushes with
/// receipts and push leases (books, and the takes the backup lacks first), demotion once the
/// last lease ran out and every witness recorded it, promotion, "acknowledged through" records
/// while demoted, and the writes waiting for either before they are answered. Every push and
/// record carries the primary's term; a refusal naming a newer one makes it step down.
extension CatalogNode {
    /// Answers `message` once `seq` may be acknowledged, or 504 at the write's deadline; `fresh`:
    /// a write committed here (not a replay or a settle), noted for the checker when answered.
    func wait(_ pending: Pending, seq: Int64, fresh: Bool, _ message: Message) {
        waiters[pending.call] = Waiter(seq: seq, call: pending.call, from: pending.from, reply: message,
                                       epoch: fresh ? store.term.epoch : nil)
        after(.nanoseconds(pending.deadline - clock), "deadline #\(pending.call)") { [self] in
            guard waiters.removeValue(forKey: pending.call) != nil else { return }
            answer(pending, WriteReply(status: 504))
        }
        releaseWaiters()
    }

    func releaseWaiters() {
        let reached = inSync ? acked : witnessed
        // In call order: a dictionary's order differs from one instance to the next.
        for (call, waiter) in waiters.sorted(by: { $0.key < $1.key }) where waiter.seq <= reached {
            waiters.removeValue(forKey: call)
            if let number = waiter.reply.order?.number { acknowledgedTakes = max(acknowledgedTakes, number) }
            if let epoch = waiter.epoch, case .answer(_, let answer) = waiter.reply {
                world.history.acknowledged(epoch: epoch, by: name, order: answer.order?.number, at: world.now)
            }
            reply(waiter.from, waiter.reply)
        }
        if !inSync, !recording, waiters.values.contains(where: { $0.seq > witnessed }) { recordAcknowledged() }
    }

    /// `Replicator.mayGrantLeases`: while the backup is in sync, only within the push lease of
    /// sending a push it took (a backup running for an epoch takes none).
    var mayGrantLeases: Bool {
        guard inSync else { return true }
        guard let lastTakenSent else { return false }
        return clock < lastTakenSent + ProtocolTimes.pushLease.nanoseconds
    }

    /// `Replicator.mayServeReads`: while it may grant leases, else once an order replica
    /// confirms, after the read came, that it still holds this primary's term. With the
    /// deposed-reads hole: whenever it leads in its own eyes.
    func mayServeReads(_ done: @escaping (Bool) -> Void) {
        if mayGrantLeases || world.holes.contains(.deposedReads) { return done(true) }
        let mine = store.term
        callAll(NodeName.orders, timeout: Timeouts.peerPush, { .witnessState(call: $0) }) { replies in
            done(replies.contains { reply in
                if case .witnessStateIs(_, let state)? = reply { return state.term == mine }
                return false
            })
        }
    }

    /// Steps down when a refusal names a newer epoch; true when it did.
    func steppedDown(_ reply: Message?) -> Bool {
        guard case .stale(_, let newer)? = reply, newer.epoch > store.term.epoch else { return false }
        stepDown(to: newer)
        return true
    }

    /// `WitnessRecords.acknowledge`: every order replica records what is acknowledged without the backup.
    private func recordAcknowledged() {
        recording = true
        let through = committed
        let term = store.term
        callAll(NodeName.orders, timeout: Timeouts.peerPush, { .acknowledge(call: $0, term: term, through: through) }) { [self] replies in
            recording = false
            guard leading else { return }
            for reply in replies where steppedDown(reply) { return }
            let recorded = replies.allSatisfy { reply in
                if case .acknowledged(_, true, let held)? = reply { return held >= through }
                return false
            }
            if recorded {
                witnessed = max(witnessed, through)
                releaseWaiters()
            } else {
                after(.milliseconds(50), "record again") { [self] in releaseWaiters() }
            }
        }
    }

    func wakePush() {
        guard pushIdle != nil else { return }
        pushIdle = nil
        push()
    }

    /// One push (`Replicator.pushOnce`): the takes above the backup's last order number, then
    /// every book changed after what the backup acknowledged.
    func push() {
        guard leading else { return }
        let after = acked
        let books = store.books.values.filter { $0.version > after }.sorted { $0.id < $1.id }
        let takes = store.takes.values.filter { $0.number > backupTakes }.sorted { $0.number < $1.number }
        let upTo = store.applied
        let term = store.term
        let sent = clock
        var lease: (milliseconds: Int64, echo: Int64)?
        if inSync, !suspect, let receipt {
            lastLeaseEnd = clock + ProtocolTimes.pushLease.nanoseconds
            lease = (ProtocolTimes.pushLease.nanoseconds / 1_000_000, receipt)
        }
        call(peer, timeout: ProtocolTimes.pushTimeout,
             { .push(call: $0, term: term, after: after, upTo: upTo, books: books, takes: takes, lease: lease) }) { [self] reply in
            guard leading, !steppedDown(reply) else { return }
            if case .pushed(_, let status, let applied, let newReceipt, let heldTakes)? = reply, status != 503 {
                receipt = newReceipt
                acked = applied
                backupTakes = heldTakes
                if status == 200 {
                    suspect = false
                    lastTakenSent = sent
                    if acked >= committed && (!inSync || !promoted) {
                        inSync = true
                        releaseWaiters()
                        return recordWitness(inSync: true) { [self] stored in
                            promoted = stored > 0
                            pushLater()
                        }
                    }
                }
                releaseWaiters()
                return pushLater()
            }
            receipt = nil
            suspect = true
            guard inSync, clock >= lastLeaseEnd else { return self.after(.milliseconds(20), "push again") { [self] in push() } }
            promoted = false
            let demotedAt = committed
            recordWitness(inSync: false, acknowledged: demotedAt) { [self] stored in
                if stored == NodeName.orders.count {
                    world.log("\(name) demotes \(peer) at \(demotedAt)")
                    inSync = false
                    witnessed = max(witnessed, demotedAt)
                    releaseWaiters()
                }
                self.after(.milliseconds(20), "push again") { [self] in push() }
            }
        }
    }

    /// The next push: at once when writes wait, else after a heartbeat unless a commit wakes it.
    private func pushLater() {
        if committed > acked { return push() }
        let token = world.newCall()
        pushIdle = token
        after(ProtocolTimes.heartbeat, "heartbeat") { [self] in
            guard pushIdle == token else { return }
            pushIdle = nil
            push()
        }
    }

    /// `WitnessRecords.record`: sends the next record to every order replica; how many stored it.
    private func recordWitness(inSync: Bool, acknowledged: Int64? = nil, done: @escaping (Int) -> Void) {
        recordVersion += 1
        let version = recordVersion
        let term = store.term
        callAll(NodeName.orders, timeout: Timeouts.peerPush,
                { .witnessRecord(call: $0, term: term, version: version, inSync: inSync, acknowledged: acknowledged) }) { [self] replies in
            guard leading else { return }
            for reply in replies where steppedDown(reply) { return }
            var stored = 0
            for reply in replies {
                guard case .witnessRecorded(_, let recorded, let held)? = reply else { continue }
                if recorded { stored += 1 }
                if held >= recordVersion { recordVersion = held + 1 }
            }
            done(stored)
        }
    }
}

extension Message {
    /// The order a write's or a settle's answer names.
    var order: OrderRecord? {
        switch self {
        case .answer(_, let answer): answer.order
        case .settled(_, _, _, let order): order
        default: nil
        }
    }
}
