import BazarCore

/// A broken promise: which one (API.md's consistency promises), and what shows it.
public struct Violation: CustomStringConvertible, Sendable {
    public let promise: String
    public let detail: String
    /// The limit of docs/recovery.md this falls under, if any: reported, not failed (unless strict).
    public let knownGap: String?

    public var description: String { "\(promise): \(detail)" + (knownGap.map { " [known gap: \($0)]" } ?? "") }
}

/// Judges a run's history and final state against API.md's promises.
struct Checker {
    let history: History
    let final: FinalState

    func violations() -> [Violation] {
        var found: [Violation] = []
        func fail(_ promise: String, _ detail: String, knownGap: String? = nil) {
            found.append(Violation(promise: promise, detail: detail, knownGap: knownGap))
        }
        let diskLost = !final.primaryDiskLosses.isEmpty
        let operations = history.operations
        let answered = operations.filter { $0.reply != nil }

        // One version, one book: two replicas (or one before and after a crash) that agree on a
        // book's version agree on the book; a version seen with two contents was rolled back.
        var seen: [[Int64]: BookState] = [:]
        var observations = answered.compactMap { op in op.reply?.book.map { ($0, "\(op)") } }
        if final.primaryLeads { observations += final.primaryBooks.map { ($0, "catalog-1 at the end") } }
        for (book, source) in observations {
            let key = [Int64(book.id), book.version]
            if let other = seen[key], other != book {
                fail("2/4 no acknowledged write rolled back", "\(other) and \(book) (\(source)) share a version")
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
            fail("retry answers the first outcome", "\(op) after \(bought)")
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
            guard let commit = history.commits[key] else { continue }
            let byThisRequest = WriteIdentity.lineage(of: commit.attempt).first == op.request
            guard byThisRequest || commit.at < op.invoked else { continue }
            let forgotten = final.primaryDiskLosses.contains { commit.at < $0 && $0 < op.completed! }
            fail("503 means nothing applied", "\(op) was committed at \(World.seconds(commit.at)) by \(commit.attempt)",
                 knownGap: forgotten ? "the primary's keys are lost with its disk, a settle then finds none" : nil)
        }

        // At the end, with the primary leading: no oversell, nothing acknowledged lost, convergence.
        guard final.primaryLeads else { return found }
        let books = Dictionary(uniqueKeysWithValues: final.primaryBooks.map { ($0.id, $0) })
        var allOrders: [Int64: OrderRecord] = [:]
        for order in final.takes + final.orderReplicas.flatMap({ $0 }) {
            if let other = allOrders[order.number], other != order {
                fail("6 no order number given twice", "\(other) and \(order)")
            }
            allOrders[order.number] = order
        }
        let takenKeys = Set(final.takes.map(\.key))
        for (id, stock) in final.initialStock.sorted(by: { $0.key < $1.key }) {
            let sold = final.takes.filter { $0.book == id }.count
            let drop = stock - (books[id]?.stock ?? stock)
            if drop != sold {
                fail("1 no oversell", "book \(id): stock dropped by \(drop), \(sold) orders taken",
                     knownGap: diskLost ? "after the primary's disk is lost its books come back from the backup and its takes from the order replicas that answer, which need not agree" : nil)
            }
            if (books[id]?.stock ?? 0) < 0 { fail("1 no oversell", "book \(id) stock below 0") }
        }
        for write in acknowledged {
            let acked = write.reply!.book!
            if let book = books[acked.id], book.version < acked.version {
                fail("4 durability", "\(write) but catalog-1 ends at \(book)")
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
        if final.backupApplied != final.primaryApplied || final.backupBooks != final.primaryBooks {
            fail("3 convergence", "catalog-1 applied \(final.primaryApplied) \(final.primaryBooks), catalog-2 applied \(final.backupApplied) \(final.backupBooks)")
        }
        let taken = final.takes.map(\.number).sorted()
        for (index, orders) in final.orderReplicas.enumerated() where orders.map(\.number).sorted() != taken {
            fail("3 convergence", "order-\(index + 1) holds \(orders.map(\.number).sorted()), catalog-1 took \(taken)")
        }
        return found
    }
}
