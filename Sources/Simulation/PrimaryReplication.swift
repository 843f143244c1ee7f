import Catalog
import TierCalls

/// The primary's side of replication (`Replicator`, `WitnessRecords`; modelled): pushes with
/// receipts and push leases, demotion once the last lease ran out and every witness recorded
/// it, promotion, "acknowledged through" records while demoted, and the writes waiting for
/// either before they are answered.
extension PrimaryNode {
    /// Answers `message` once `seq` may be acknowledged, or 504 at the write's deadline.
    func wait(_ pending: Pending, seq: Int64, _ message: Message) {
        waiters[pending.call] = Waiter(seq: seq, call: pending.call, from: pending.from, reply: message)
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
            reply(waiter.from, waiter.reply)
        }
        if !inSync, !recording, waiters.values.contains(where: { $0.seq > witnessed }) { recordAcknowledged() }
    }

    /// `WitnessRecords.acknowledge`: every order replica records what is acknowledged without the backup.
    private func recordAcknowledged() {
        recording = true
        let through = committed
        callAll(NodeName.orders, timeout: Timeouts.peerPush, { .acknowledge(call: $0, through: through) }) { [self] replies in
            recording = false
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

    /// One push (`Replicator.pushOnce`): every book changed after what the backup acknowledged.
    func push() {
        guard leading else { return }
        let after = acked
        let books = store.books.values.filter { $0.version > after }.sorted { $0.id < $1.id }
        let upTo = store.applied
        var lease: (milliseconds: Int64, echo: Int64)?
        if inSync, !suspect, let receipt {
            lastLeaseEnd = clock + ProtocolTimes.pushLease.nanoseconds
            lease = (ProtocolTimes.pushLease.nanoseconds / 1_000_000, receipt)
        }
        call(.backup, timeout: ProtocolTimes.pushTimeout, { .push(call: $0, after: after, upTo: upTo, books: books, lease: lease) }) { [self] reply in
            guard leading else { return }
            if case .pushed(_, let status, let applied, let newReceipt)? = reply {
                receipt = newReceipt
                acked = applied
                if status == 200 {
                    suspect = false
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
                    world.log("catalog-1 demotes catalog-2 at \(demotedAt)")
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
        callAll(NodeName.orders, timeout: Timeouts.peerPush,
                { .witnessRecord(call: $0, version: version, inSync: inSync, acknowledged: acknowledged) }) { [self] replies in
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
