import BazarCore
import Order
import TierCalls
import Wire

/// order-1 and order-2: a witness of the backup (`Witness`, modelled, its store's "newer version
/// wins" rule included) holding the catalog's term (every record judged by the real `TermFence`,
/// epochs granted by the real `WitnessGrant`), and purchases (`Purchases`: takes named by the real
/// `WriteIdentity.tryName`, a `FastRetry`, a lost take settled and believed by the real
/// `Settlement.decided`), recording orders, pushing them to the peer and catching up from the
/// primary's takes every second.
final class OrderNode: Node {
    /// The store.
    private(set) var orders: [Int64: OrderRecord] = [:]
    private(set) var record: (version: Int64, inSync: Bool) = (0, true)
    private var acknowledgedThrough: Int64 = 0
    /// The catalog's newest term this witness knows (none until the first primary's record).
    private(set) var term = Term.none

    // Volatile.
    private var standInUntil: Int64 = 0

    private var peer: NodeName { name == .order1 ? .order2 : .order1 }

    override func boot() {
        catchUp()
    }

    override func crash(loseDisk: Bool) {
        super.crash(loseDisk: loseDisk)
        standInUntil = 0
    }

    override func handle(_ message: Message, from: Address) {
        switch message {
        case .witnessRecord(let call, let term, let version, let inSync, let acknowledged):
            if let refusal = fence(term, call: call) { return reply(from, refusal) }
            if !inSync && clock < standInUntil {
                return reply(from, .witnessRecorded(call: call, recorded: false, version: record.version))
            }
            let stored = version > record.version
            if stored {
                record = (version, inSync)
                if !inSync, let acknowledged { acknowledgedThrough = max(acknowledgedThrough, acknowledged) }
            }
            reply(from, .witnessRecorded(call: call, recorded: stored, version: record.version))
        case .acknowledge(let call, let term, let through):
            if let refusal = fence(term, call: call) { return reply(from, refusal) }
            guard clock >= standInUntil else { return reply(from, .acknowledged(call: call, ok: false, through: acknowledgedThrough)) }
            acknowledgedThrough = max(acknowledgedThrough, through)
            reply(from, .acknowledged(call: call, ok: true, through: acknowledgedThrough))
        case .witnessState(let call):
            reply(from, .witnessStateIs(call: call, WitnessState(version: record.version, inSync: record.inSync,
                                                                  acknowledged: acknowledgedThrough, term: term)))
        case .standIn(let call, let term):
            if let refusal = fence(term, call: call) { return reply(from, refusal) }
            guard record.inSync else { return reply(from, .standInAnswer(call: call, inSync: false, milliseconds: 0)) }
            standInUntil = max(standInUntil, clock + WitnessTimes.standInLease.nanoseconds)
            reply(from, .standInAnswer(call: call, inSync: true, milliseconds: WitnessTimes.standInLease.nanoseconds / 1_000_000))
        case .epochRequest(let call, let request):
            switch WitnessGrant(held: term, recordInSync: record.inSync, request: request).verdict {
            case .grant(let granted):
                adopt(granted)
                world.log("\(name) grants \(granted)")
                world.granted(epoch: granted.epoch)
                // An observer's note: a candidate that restarted since it asked never hears this grant.
                if let candidate = NodeName.catalogs.first(where: { $0.description == granted.primary }),
                   world.isUp(candidate), (world.node(candidate) as? CatalogNode)?.running == false {
                    world.grantUnheard = true
                }
                reply(from, .epochAnswer(call: call, .grant(granted)))
            case .repeatGrant(let granted):
                reply(from, .epochAnswer(call: call, .grant(granted)))
            case .stale(let newer):
                reply(from, .stale(call: call, known: newer))
            case .refuse(let reason):
                reply(from, .epochAnswer(call: call, .refusal(reason, holding: term)))
            }
        case .held(let call, let after):
            reply(from, .orders(call: call, orders.values.filter { $0.number > after }.sorted { $0.number < $1.number }))
        case .replicate(let call, let pushed):
            for order in pushed where orders[order.number] == nil { orders[order.number] = order }
            reply(from, .replicated(call: call))
        case .buy(let call, let book, let key, let attempt):
            buy(book, key: key, attempt: attempt) { [self] answer in reply(from, .answer(call: call, answer)) }
        default:
            break
        }
    }

    /// `Witness.fence` with the real `TermFence`: the refusal of an older term, or nil to go on
    /// (a newer one adopted first).
    private func fence(_ incoming: Term, call: Int) -> Message? {
        switch TermFence(known: term, incoming: incoming) {
        case .accept: return nil
        case .adopt(let newer):
            adopt(newer)
            return nil
        case .refuse(let known): return .stale(call: call, known: known)
        }
    }

    /// `OrderStore.adopt`: a newer term, with the newest record then counting the backup out of
    /// sync (the new epoch's primary starts without its backup).
    private func adopt(_ newer: Term) {
        guard newer.epoch > term.epoch else { return }
        term = newer
        record.inSync = false
    }

    /// `Purchases.buy` with `FastRetry.write`: a first take that failed fast and surely was not
    /// applied is tried once more as the next sibling try.
    private func buy(_ book: Int, key: String, attempt: String, answer: @escaping (WriteReply) -> Void) {
        let start = clock
        take(book, key: key, attempt: WriteIdentity.tryName(1, of: attempt, by: name.description)) { [self] first, notApplied in
            guard notApplied, clock - start <= FastRetry.window.nanoseconds else { return answer(first) }
            take(book, key: key, attempt: WriteIdentity.tryName(2, of: attempt, by: name.description)) { second, _ in answer(second) }
        }
    }

    private func take(_ book: Int, key: String, attempt: String, done: @escaping (WriteReply, Bool) -> Void) {
        let sent = clock
        callPrimary(timeout: Timeouts.primaryWrite, { .take(call: $0, book: book, key: key, attempt: attempt) }) { [self] reply in
            switch reply {
            case .answer(_, let answer)? where answer.status == 200:
                bought(answer, done: done)
            case .answer(_, let answer)? where answer.status != 504:
                done(answer, false)
            case .refused?:
                done(WriteReply(status: 503), true)
            default:
                settle(book, key: key, attempt: attempt, sent: sent, done: done)
            }
        }
    }

    /// A take whose answer was lost, settled with the primary.
    private func settle(_ book: Int, key: String, attempt: String, sent: Int64, done: @escaping (WriteReply, Bool) -> Void) {
        callPrimary(timeout: Timeouts.settle, { .settle(call: $0, book: book, key: key, attempt: attempt) }) { [self] reply in
            switch settlement(reply, sent: sent) {
            case .applied:
                guard case .settled(_, _, let settledBook, let order?)? = reply else { return done(WriteReply(status: 504), false) }
                bought(WriteReply(status: 200, book: settledBook, order: order), done: done)
            case .notApplied:
                done(WriteReply(status: 503), true)
            case .unknown:
                done(WriteReply(status: 504), false)
            }
        }
    }

    /// Records the order, pushes it to the peer, answers it.
    private func bought(_ answer: WriteReply, done: @escaping (WriteReply, Bool) -> Void) {
        guard let order = answer.order else { return done(WriteReply(status: 504), false) }
        if orders[order.number] == nil { orders[order.number] = order }
        call(peer, timeout: Timeouts.peerPush, { .replicate(call: $0, [order]) }) { _ in done(answer, false) }
    }

    /// Every order number up to this one is held (`OrderBook.heldThrough`).
    private var heldThrough: Int64 {
        var number: Int64 = 0
        while orders[number + 1] != nil { number += 1 }
        return number
    }

    /// `CatchUp`: the primary's takes above `heldThrough`, every second (0.2 s after a failure).
    private func catchUp(after pause: Duration = .seconds(1)) {
        after(pause, "catch up") { [self] in
            callPrimary(timeout: Timeouts.read, { [self] in .takes(call: $0, after: heldThrough) }) { [self] reply in
                guard case .orders(_, let taken?)? = reply else { return catchUp(after: .milliseconds(200)) }
                for order in taken where orders[order.number] == nil { orders[order.number] = order }
                catchUp()
            }
        }
    }
}

extension Node {
    /// What a caller makes of a settle's reply, sent `sent` on its clock: the real
    /// `Settlement.decided` (or, with the retry-after-settle hole, "not applied" believed forever).
    func settlement(_ reply: Message?, sent: Int64) -> Settlement {
        guard case .settled(_, let applied, _, _)? = reply else { return .unknown }
        if world.holes.contains(.retryAfterSettle) { return applied ? .applied(SettleAnswer(applied: true)) : .notApplied }
        return Settlement.decided(SettleAnswer(applied: applied), sentFor: clock - sent)
    }
}
