import BazarCore
import Catalog
import Front
import TierCalls

/// A front (`Writes`, `ReadLease`; modelled) with the real cache shard (`LRUShard`: its fill
/// floor, invalidations and fresh-lease reset are called): reads from its cache only under a
/// read lease, else from the primary and then the backup; purchases through an order replica (tries
/// by the real `WriteIdentity.tryName`, `FastRetry`), updates to the primary, a lost answer
/// settled and believed by the real `Settlement.decided`; a 503 under a client's key only once
/// the key is settled. Nothing of it survives a crash.
final class FrontNode: Node {
    private var cache = FrontNode.emptyCache
    private var leaseUntil: Int64 = 0
    private var lease: Int64 = 0

    override func boot() {
        renewLease()
    }

    override func crash(loseDisk: Bool) {
        super.crash(loseDisk: loseDisk)
        cache = Self.emptyCache
        leaseUntil = 0
        lease = 0
    }

    private var leased: Bool { clock < leaseUntil }

    private static var emptyCache: LRUShard<BookState> { LRUShard(capacity: 64) }

    private static func key(_ book: Int) -> String { "/info/\(book)" }

    /// `ReadLease.renew`, every `ReadLease.renewal`.
    private func renewLease() {
        after(.milliseconds(200), "renew lease") { [self] in
            let asked = clock
            callPrimary(timeout: .milliseconds(400), { [self] in .leaseAsk(call: $0, front: name, held: lease) }) { [self] reply in
                if case .leaseGrant(_, let id, let milliseconds, let fresh, let announced)? = reply, id != 0 {
                    if fresh { cache.reset(floor: announced) }
                    lease = id
                    leaseUntil = asked + milliseconds * 1_000_000
                }
                renewLease()
            }
        }
    }

    override func handle(_ message: Message, from: Address) {
        switch message {
        case .invalidate(let call, let book, let seq):
            _ = cache.invalidate(.book(Int64(book)), seq: seq)
            reply(from, .invalidated(call: call))
        case .read(let call, let book):
            read(book) { [self] found in reply(from, .answer(call: call, found.map { WriteReply(status: 200, book: $0) } ?? WriteReply(status: 503))) }
        case .purchase(let call, let book, let clientKey):
            let request = "r\(call)"
            purchase(book, key: clientKey ?? request, fromClient: clientKey != nil, attempt: request) { [self] answer in
                reply(from, .answer(call: call, answer))
            }
        case .update(let call, let book, let price):
            update(book, price: price, attempt: "r\(call)") { [self] answer in reply(from, .answer(call: call, answer)) }
        default:
            break
        }
    }

    // MARK: Reads

    private func read(_ book: Int, done: @escaping (BookState?) -> Void) {
        if leased, let hit = cache.lookup(Self.key(book)) { return done(hit) }
        fetch(book, from: NodeName.catalogs, done: done)
    }

    private func fetch(_ book: Int, from replicas: [NodeName], done: @escaping (BookState?) -> Void) {
        guard let replica = replicas.first else { return done(nil) }
        call(replica, timeout: Timeouts.read, { .fetch(call: $0, book: book) }) { [self] reply in
            guard case .fetched(_, let found?)? = reply else { return fetch(book, from: Array(replicas.dropFirst()), done: done) }
            if leased { _ = cache.fill(Self.key(book), found, dependencies: [.book(Int64(book))], seq: found.version) }
            done(found)
        }
    }

    // MARK: Writes (`Writes`)

    private func purchase(_ book: Int, key: String, fromClient: Bool, attempt: String, done: @escaping (WriteReply) -> Void) {
        let start = clock
        let first = WriteIdentity.tryName(1, of: attempt, by: "front")
        purchaseTry(book, key: key, fromClient: fromClient, attempt: first) { [self] answer, notApplied in
            guard notApplied, clock - start <= FastRetry.window.nanoseconds else { return done(answer) }
            purchaseTry(book, key: key, fromClient: fromClient, attempt: WriteIdentity.tryName(2, of: attempt, by: "front")) { second, _ in
                done(second)
            }
        }
    }

    private func purchaseTry(_ book: Int, key: String, fromClient: Bool, attempt: String,
                             done: @escaping (WriteReply, Bool) -> Void) {
        let sent = clock
        let replica = NodeName.orders[world.random.below(2)]
        call(replica, timeout: Timeouts.purchase, { .buy(call: $0, book: book, key: key, attempt: attempt) }) { [self] reply in
            switch reply {
            case .answer(_, let answer)? where answer.status == 503 && fromClient:
                settle(book, key: key, attempt: attempt, sent: sent, byEarlierTry: true, purchase: true, done: done)
            case .answer(_, let answer)? where answer.status != 504:
                done(answer, false)
            case .refused? where fromClient:
                settle(book, key: key, attempt: attempt, sent: sent, byEarlierTry: true, purchase: true, done: done)
            case .refused?:
                done(WriteReply(status: 503), true)
            default:
                settle(book, key: key, attempt: attempt, sent: sent, byEarlierTry: false, purchase: true, done: done)
            }
        }
    }

    private func update(_ book: Int, price: Int, attempt: String, done: @escaping (WriteReply) -> Void) {
        let sent = clock
        callPrimary(timeout: Timeouts.primaryWrite, { .write(call: $0, book: book, price: price, key: attempt, attempt: attempt) }) { [self] reply in
            switch reply {
            case .answer(_, let answer)? where answer.status != 504:
                done(answer)
            case .refused?:
                done(WriteReply(status: 503))
            default:
                settle(book, key: attempt, attempt: attempt, sent: sent, byEarlierTry: false, purchase: false) { answer, _ in done(answer) }
            }
        }
    }

    /// `Writes.settled`: the write as applied (a purchase only once an order replica recorded
    /// its order), 503 when it was not and never will be, 504 when the primary cannot tell.
    private func settle(_ book: Int, key: String, attempt: String, sent: Int64, byEarlierTry: Bool, purchase: Bool,
                        done: @escaping (WriteReply, Bool) -> Void) {
        callPrimary(timeout: Timeouts.settle, { .settle(call: $0, book: book, key: key, attempt: attempt) }) { [self] reply in
            switch settlement(reply, sent: sent) {
            case .applied:
                guard case .settled(_, _, let settledBook, let order)? = reply else { return done(WriteReply(status: 504), false) }
                let answer = WriteReply(status: 200, book: settledBook, order: order, replayed: byEarlierTry)
                guard purchase else { return done(answer, false) }
                guard let order else { return done(WriteReply(status: 504), false) }
                callAll(NodeName.orders, timeout: Timeouts.recordOrder, { .replicate(call: $0, [order]) }) { replies in
                    let recorded = replies.contains { if case .replicated? = $0 { true } else { false } }
                    done(recorded ? answer : WriteReply(status: 504), false)
                }
            case .notApplied:
                done(WriteReply(status: 503), true)
            case .unknown:
                done(WriteReply(status: 504), false)
            }
        }
    }
}
