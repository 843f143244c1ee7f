import BazarCore

/// A broken promise: which one (API.md's consistency promises), and what shows it.
public struct Violation: CustomStringConvertible, Sendable {
    public let promise: String
    public let detail: String
    /// The known gap (docs/simulation.md) this falls under, if any: reported, not failed (unless strict).
    public let knownGap: String?

    public var description: String { "\(promise): \(detail)" + (knownGap.map { " [known gap: \($0)]" } ?? "") }
}

/// Judges a run's history and final state against API.md's promises.
struct Checker {
    let history: History
    let final: FinalState

    func violations() -> [Violation] {
        // A disk lost in a run with a failover: the deposed primary empties its store to rejoin,
        // and the witnesses count the backup out of sync from the new epoch on with nothing
        // acknowledged recorded, so until the backup has caught up the new primary's store is the
        // only copy (a candidate's disk lost while its request for the epoch is on its way is the
        // only copy too), and once it is lost StartDecision may lead on what is left.
        let lostAfterFailover = !final.diskLosses.isEmpty && !final.grants.isEmpty
        return judged().map { violation in
            // What a lost copy explains: data lost or given again, not a stack left with no primary.
            let dataLost = !["7 liveness", "7 failover", "7 fencing", "7 one primary"].contains { violation.promise.hasPrefix($0) }
            guard lostAfterFailover, dataLost, violation.knownGap == nil else { return violation }
            return Violation(promise: violation.promise, detail: violation.detail,
                             knownGap: "a disk lost in a run with a failover: the deposed primary's store was emptied, the other may be the only copy")
        }
    }

    private func judged() -> [Violation] {
        var found: [Violation] = []
        func fail(_ promise: String, _ detail: String, knownGap: String? = nil) {
            found.append(Violation(promise: promise, detail: detail, knownGap: knownGap))
        }
        let diskLost = !final.diskLosses.isEmpty
        let operations = history.operations
        let answered = operations.filter { $0.reply != nil }
        let leads = final.leaders.first.map { "\($0)" } ?? "the primary"
        // Versions a primary committed that its epoch's successor never had (never acknowledged).
        let voided = Set(history.commits.values.joined().filter(history.isVoid).map { [Int64($0.book), $0.version] })

        // One version, one book: two replicas (or one before and after a crash) that agree on a
        // book's version agree on the book; a version seen with two contents was rolled back.
        var seen: [[Int64]: BookState] = [:]
        var observations = answered.compactMap { op in op.reply?.book.map { ($0, "\(op)") } }
        if !final.leaders.isEmpty { observations += final.primaryBooks.map { ($0, "\(leads) at the end") } }
        for (book, source) in observations {
            let key = [Int64(book.id), book.version]
            if let other = seen[key], other != book {
                fail("2/4 no acknowledged write rolled back", "\(other) and \(book) (\(source)) share a version",
                     knownGap: voided.contains(key) ? "a primary answers reads of writes it committed before its backup has them; "
                         + "replaced before it had, its successor gives their versions to other writes" : nil)
            } else {
                seen[key] = book
            }
        }

        // Read after acknowledged write.
        let acknowledged = answered.filter { op in
            if case .read = op.kind { return false }
            return op.reply?.status == 200 && op.reply?.book != nil
        }
        for read in answered {
            guard case .read(let id) = read.kind, read.reply?.status == 200, let book = read.reply?.book else { continue }
            for write in acknowledged where write.kind.book == id && write.completed! < read.invoked {
                if book.version < write.reply!.book!.version {
                    fail("2 read after acknowledged write", "\(read) began after \(write)")
                }
            }
        }

        // A retried key answers its first outcome; order numbers are never given twice.
        var ordersByKey: [String: Int64] = [:]
        var keysByNumber: [Int64: String] = [:]
        for op in answered {
            guard case .purchase(_, let key, _) = op.kind, op.reply?.status == 200, let order = op.reply?.order else { continue }
            if let first = ordersByKey[key], first != order.number {
                fail("retry answers the first outcome", "key \(key) answered orders \(first) and \(order.number): \(op)")
            }
            ordersByKey[key] = order.number
            if let other = keysByNumber[order.number], other != key {
                fail("6 no order number given twice", "order \(order.number) given to keys \(other) and \(key)")
            }
            keysByNumber[order.number] = key
        }
        for op in answered {
            guard case .purchase(_, let key, true) = op.kind, let status = op.reply?.status, [409, 503].contains(status),
                  let bought = history.operations.first(where: { other in
                      if case .purchase(_, key, _) = other.kind, other.reply?.status == 200,
                         let done = other.completed, done < op.invoked { return true }
                      return false
                  }) else { continue }
            fail("retry answers the first outcome", "\(op) after \(bought)",
                 knownGap: settledByADeposedPrimary(key) ? Self.unreplicatedSettles : nil)
        }

        // 503 means nothing was applied: by no try of that request, ever, and under a client's
        // key by no earlier request's try committed before this one began (one committed while
        // it ran is concurrent with it: the settle behind the 503 came first, and a retry under
        // the key answers that order).
        for op in answered where op.reply?.status == 503 {
            let key: String
            switch op.kind {
            case .purchase(_, let purchaseKey, _): key = purchaseKey
            case .update(_, _, let updateKey): key = updateKey
            case .read: continue
            }
            guard let commit = history.firstCommit(key) else { continue }
            let byThisRequest = WriteIdentity.lineage(of: commit.attempt).first == op.request
            guard byThisRequest || commit.at < op.invoked else { continue }
            let forgotten = final.diskLosses.contains { commit.at < $0 && $0 < op.completed! }
            let (first, last) = (min(commit.at, op.invoked), max(commit.at, op.completed!))
            let failedOver = (final.grants.values + history.promotions).contains { first < $0 && $0 < last }
            var gap: String?
            if forgotten { gap = "the primary's keys are lost with its disk, a settle then finds none" }
            let epochAtStart = 1 + Int64(final.grants.values.filter { $0 < op.invoked }.count)
            if settledByADeposedPrimary(key) || failedOver && (!op.kind.isPurchase || commit.epoch > epochAtStart) {
                gap = Self.unreplicatedSettles
            }
            fail("503 means nothing applied", "\(op) was committed at \(World.seconds(commit.at)) by \(commit.attempt) in epoch \(commit.epoch)",
                 knownGap: gap)
        }

        failover { fail($0, $1) }

        // At the end, with a primary leading: no oversell, nothing acknowledged lost, convergence.
        guard !final.leaders.isEmpty else {
            // A replica that cannot show it holds every acknowledged write never leads (promise 6).
            if !(diskLost || final.lostForGood != nil) || !final.backupOutOfSync {
                var gap: String?
                if final.refusedAfterAFailover {
                    gap = "a restarted primary counts an 'acknowledged through' a deposed primary recorded at one witness "
                        + "by a demotion that never completed, and refuses to lead for good"
                }
                if final.grantUnheard {
                    gap = "a replica granted an epoch died before hearing it, and the witness that granted it did not answer "
                        + "when it started again (or granted it only then): it stays a backup of the older epoch, its peer a "
                        + "backup of the newer"
                }
                fail("7 liveness", "no catalog replica leads after the quiet period", knownGap: gap)
            }
            return found
        }
        let books = Dictionary(uniqueKeysWithValues: final.primaryBooks.map { ($0.id, $0) })
        var allOrders: [Int64: OrderRecord] = [:]
        for order in final.takes + final.orderReplicas.flatMap({ $0 }) {
            if let other = allOrders[order.number], other != order {
                fail("6 no order number given twice", "\(other) and \(order)")
            }
            allOrders[order.number] = order
        }
        let takenKeys = Set(final.takes.map(\.key))
        // Takes the final primary holds though every commit of theirs was lost with its epoch.
        let revived = final.takes.filter { take in history.commits[take.key].map { $0.allSatisfy(history.isVoid) } ?? false }
        for (id, stock) in final.initialStock.sorted(by: { $0.key < $1.key }) {
            let sold = final.takes.filter { $0.book == id }.count
            let drop = stock - (books[id]?.stock ?? stock)
            if drop != sold {
                var gap: String?
                if diskLost {
                    gap = "after the primary's disk is lost its books come back from the backup and its takes from the order replicas that answer, which need not agree"
                }
                if revived.contains(where: { $0.book == id }) {
                    gap = "a restarted primary counts every take in its store acknowledged and serves it to the order replicas' "
                        + "catch-up; one its backup never had reaches a backup that wins the next epoch without its stock change"
                }
                fail("1 no oversell", "book \(id): stock dropped by \(drop), \(sold) orders taken", knownGap: gap)
            }
            if (books[id]?.stock ?? 0) < 0 { fail("1 no oversell", "book \(id) stock below 0") }
        }
        for write in acknowledged {
            let acked = write.reply!.book!
            if let book = books[acked.id], book.version < acked.version {
                fail("4 durability", "\(write) but \(leads) ends at \(book)")
            }
            if case .purchase(_, let key, _) = write.kind, let order = write.reply?.order {
                if !takenKeys.contains(key) || allOrders[order.number] == nil {
                    fail("4 durability", "\(write) but the order is gone")
                }
                if !final.orderReplicas.contains(where: { $0.contains(order) }) {
                    fail("an order answered 200 is held by an order replica", "\(write)")
                }
            }
        }
        if let backup = final.backup, backup.applied != final.primaryApplied || backup.books != final.primaryBooks {
            fail("3 convergence", "\(leads) applied \(final.primaryApplied) \(final.primaryBooks), its backup applied \(backup.applied) \(backup.books)")
        }
        // Each order replica holds every take the primary acknowledged (the takes it serves to a
        // replica catching up) and none it lacks; a take never acknowledged may be missing.
        let taken = Set(final.takes.map(\.number))
        let served = taken.filter { $0 <= final.acknowledgedTakes }
        for (index, orders) in final.orderReplicas.enumerated() {
            let held = Set(orders.map(\.number))
            if !served.isSubset(of: held) || !held.isSubset(of: taken) {
                fail("3 convergence", "order-\(index + 1) holds \(held.sorted()), \(leads) took \(taken.sorted()), acknowledged through \(final.acknowledgedTakes)")
            }
        }
        return found
    }
}
