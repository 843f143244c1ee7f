import BazarCore
import Catalog
import Order
import TierCalls
import Wire

/// catalog-1, the primary: recovery (`StartDecision`, called), the write queue with the fence
/// (`WriteIdentity.isFenced`, called) and the key retention (`KeyRetention`, called), the
/// fronts' read leases (`LeaseTable`, called) and invalidations, and replication with demotions
/// and witness records. The batch planning (`BatchPlan`), the invalidator and the replicator's
/// loop are modelled here one write at a time after the real code (docs/simulation.md says which).
final class PrimaryNode: Node {
    /// What survives a crash: the store (SQLite, committed before anything is answered).
    struct Store {
        var books: [Int: BookState]
        var applied: Int64 = 0
        var takes: [String: OrderRecord] = [:]
        var lastOrder: Int64 = 0
        /// Update keys: the book and the sequence number they committed at.
        var updates: [String: (book: Int, seq: Int64)] = [:]
        var aborted: Set<String> = []
    }

    enum Write {
        case take(book: Int, key: String, attempt: String)
        case update(book: Int, price: Int, key: String, attempt: String)
        case settle(book: Int, key: String, attempt: String)
    }

    struct Pending {
        let write: Write
        let call: Int
        let from: Address
        let deadline: Int64
    }

    struct Waiter {
        let seq: Int64
        let call: Int
        let from: Address
        let reply: Message
    }

    let initialBooks: [Int: BookState]
    let keyHorizon: Int64
    private(set) var store: Store

    // Volatile: gone with a crash.
    private(set) var leading = false
    private var retention: KeyRetention?
    private var queue: [Pending] = []
    private var writing = false
    private var graceEnd: Int64 = 0
    private var leases = LeaseTable(announced: 0, duration: FrontLeases.duration.nanoseconds)
    var waiters: [Int: Waiter] = [:]
    // The replicator's state (`Replicator`): PrimaryReplication.swift.
    var committed: Int64 = 0
    var acked: Int64 = 0
    var inSync = false
    var suspect = false
    var lastLeaseEnd: Int64 = 0
    var witnessed: Int64 = 0
    var recording = false
    var receipt: Int64?
    var promoted = false
    var recordVersion: Int64 = 0
    var pushIdle: Int?

    init(world: World, books: [Int: BookState], keyHorizon: Int64) {
        initialBooks = books
        self.keyHorizon = keyHorizon
        store = Store(books: books)
        super.init(name: .primary, world: world)
    }

    override func boot() {
        recover()
    }

    override func crash(loseDisk: Bool) {
        super.crash(loseDisk: loseDisk)
        if loseDisk { store = Store(books: initialBooks) }
        leading = false
        retention = nil
        queue = []
        writing = false
        waiters = [:]
        (committed, acked, inSync, suspect, lastLeaseEnd, witnessed, recording, receipt, promoted, recordVersion, pushIdle) =
            (0, 0, false, false, 0, 0, false, nil, false, 0, nil)
    }

    // MARK: Recovery (`Recovery`, deciding with the real `StartDecision`)

    private func recover() {
        var witnesses: [(name: NodeName, answer: WitnessState)] = []
        var backup: BackupState?
        var waiting = 2
        let answered = { [self] in
            waiting -= 1
            if waiting == 0 { decide(witnesses.map(\.answer), answered: witnesses.map(\.name), backup: backup) }
        }
        callAll(NodeName.orders, timeout: ProtocolTimes.question, { .witnessState(call: $0) }) { replies in
            for (name, reply) in zip(NodeName.orders, replies) {
                if case .witnessStateIs(_, let version, let inSync, let acknowledged)? = reply {
                    witnesses.append((name, .init(version: version, inSync: inSync, acknowledged: acknowledged)))
                }
            }
            answered()
        }
        call(.backup, timeout: ProtocolTimes.question, { .backupState(call: $0) }) { reply in
            if case .backupStateIs(_, let applied, let current)? = reply { backup = .init(applied: applied, current: current) }
            answered()
        }
    }

    private func decide(_ answers: [WitnessState], answered: [NodeName], backup: BackupState?) {
        let verdict: StartDecision.Verdict
        if world.holes.contains(.staleBackup), let backup {
            // The hole: the backup's answer alone, counted in sync, whatever the witnesses recorded.
            verdict = backup.applied <= store.applied ? .lead(backupInSync: true) : .pull(through: backup.applied)
        } else {
            verdict = StartDecision(applied: store.applied, witnessCount: NodeName.orders.count, witnesses: answers,
                                    backup: backup).verdict
        }
        world.log("catalog-1 start decision: \(verdict) (applied \(store.applied), witnesses \(answers), backup \(String(describing: backup)))")
        switch verdict {
        case .lead(let backupInSync):
            restoreOrders(from: answered) { [self] restored in
                guard restored else { return after(.milliseconds(200), "recover") { [self] in recover() } }
                lead(backupInSync: backupInSync)
            }
        case .pull:
            call(.backup, timeout: ProtocolTimes.question, { [store] in .changes(call: $0, after: store.applied) }) { [self] reply in
                if case .changesAre(_, let books, let applied)? = reply {
                    for book in books where book.version > (store.books[book.id]?.version ?? 0) { store.books[book.id] = book }
                    store.applied = max(store.applied, applied)
                    recover()
                } else {
                    after(.milliseconds(200), "recover") { [self] in recover() }
                }
            }
        case .refuse:
            after(.seconds(1), "recover") { [self] in recover() }
        case .wait:
            after(.milliseconds(200), "recover") { [self] in recover() }
        }
    }

    /// Copies back the orders the order replicas hold above the store's last one.
    private func restoreOrders(from replicas: [NodeName], done: @escaping (Bool) -> Void) {
        guard !replicas.isEmpty else { return done(true) }
        callAll(replicas, timeout: ProtocolTimes.question, { [store] in .held(call: $0, after: store.lastOrder) }) { [self] replies in
            for reply in replies {
                guard case .orders(_, let orders?)? = reply else { return done(false) }
                for order in orders where store.takes[order.key] == nil {
                    store.takes[order.key] = order
                    store.lastOrder = max(store.lastOrder, order.number)
                }
            }
            done(true)
        }
    }

    private func lead(backupInSync: Bool) {
        world.log("catalog-1 leads at applied \(store.applied), backup in sync: \(backupInSync)")
        leading = true
        retention = KeyRetention(applied: store.applied, now: clock, countHorizon: keyHorizon)
        graceEnd = clock + FrontLeases.duration.nanoseconds
        leases = LeaseTable(announced: store.applied, duration: FrontLeases.duration.nanoseconds)
        committed = store.applied
        inSync = backupInSync
        push()
    }

    // MARK: Requests

    override func handle(_ message: Message, from: Address) {
        switch message {
        case .take(let call, let book, let key, let attempt):
            enqueue(.take(book: book, key: key, attempt: attempt), call: call, from: from, deadline: ProtocolTimes.writeDeadline)
        case .write(let call, let book, let price, let key, let attempt):
            enqueue(.update(book: book, price: price, key: key, attempt: attempt), call: call, from: from, deadline: ProtocolTimes.writeDeadline)
        case .settle(let call, let book, let key, let attempt):
            enqueue(.settle(book: book, key: key, attempt: attempt), call: call, from: from, deadline: ProtocolTimes.settleDeadline)
        case .fetch(let call, let book):
            reply(from, .fetched(call: call, leading ? store.books[book] : nil))
        case .takes(let call, let after):
            reply(from, .orders(call: call, leading ? store.takes.values.filter { $0.number > after }.sorted { $0.number < $1.number } : nil))
        case .leaseAsk(let call, let front, let held):
            grantLease(call: call, to: front, from: from, held: held)
        case .ping(let call):
            reply(from, .pong(call: call))
        default:
            break
        }
    }

    private func enqueue(_ write: Write, call: Int, from: Address, deadline: Duration) {
        guard leading else {
            if case .settle = write { return reply(from, .settled(call: call, applied: false, book: nil, order: nil).unavailable) }
            return reply(from, .answer(call: call, WriteReply(status: 503)))
        }
        queue.append(Pending(write: write, call: call, from: from, deadline: clock + deadline.nanoseconds))
        writeNext()
    }

    // MARK: The writer (`Primary`, `BatchPlan`: one write at a time)

    private func writeNext() {
        guard leading, !writing, !queue.isEmpty else { return }
        if clock < graceEnd {
            writing = true
            return after(.nanoseconds(graceEnd - clock), "grace") { [self] in
                writing = false
                writeNext()
            }
        }
        writing = true
        let pending = queue.removeFirst()
        switch plan(pending.write) {
        case .refused(let status):
            answer(pending, WriteReply(status: status))
            finishWrite()
        case .replayed(let book, let order):
            wait(pending, seq: book.version, .answer(call: pending.call, WriteReply(status: 200, book: book, order: order, replayed: true)))
            finishWrite()
        case .settled(let applied, let book, let order):
            let message = Message.settled(call: pending.call, applied: applied, book: book, order: order)
            if applied {
                wait(pending, seq: book.version, message)
            } else {
                // The abort is a write of its own: answered once the backup holds it.
                store.aborted.insert(attemptOf(pending.write))
                store.applied += 1
                committed = store.applied
                wait(pending, seq: store.applied, message)
                wakePush()
            }
            afterCommit()
            finishWrite()
        case .change(let book, let key):
            announce(book) { [self] in
                var changed = book
                store.applied += 1
                changed.version = store.applied
                store.books[changed.id] = changed
                var order: OrderRecord?
                switch pending.write {
                case .take:
                    store.lastOrder += 1
                    order = OrderRecord(number: store.lastOrder, book: changed.id, key: key)
                    store.takes[key] = order
                case .update:
                    store.updates[key] = (changed.id, changed.version)
                case .settle:
                    break
                }
                world.history.committed(key: key, attempt: attemptOf(pending.write), at: world.now)
                committed = store.applied
                afterCommit()
                wait(pending, seq: changed.version, .answer(call: pending.call, WriteReply(status: 200, book: changed, order: order)))
                finishWrite()
                wakePush()
            }
        }
    }

    private func finishWrite() {
        writing = false
        writeNext()
    }

    private enum Planned {
        case refused(Int)
        case replayed(BookState, OrderRecord)
        case settled(applied: Bool, book: BookState, order: OrderRecord?)
        /// The book as the write leaves it (its version is given at the commit).
        case change(BookState, key: String)
    }

    private func attemptOf(_ write: Write) -> String {
        switch write {
        case .take(_, _, let attempt), .update(_, _, _, let attempt), .settle(_, _, let attempt): attempt
        }
    }

    /// `BatchPlan.add` for one write, the fence asked of the real `WriteIdentity.isFenced`.
    private func plan(_ write: Write) -> Planned {
        switch write {
        case .take(let id, let key, let attempt):
            if fenced(attempt) { return .refused(409) }
            guard var book = store.books[id] else { return .refused(404) }
            if let earlier = store.takes[key] {
                guard earlier.book == id else { return .refused(400) }
                return .replayed(book, earlier)
            }
            guard book.stock > 0 else { return .refused(409) }
            book.stock -= 1
            return .change(book, key: key)
        case .update(let id, let price, let key, let attempt):
            if fenced(attempt) { return .refused(409) }
            guard var book = store.books[id] else { return .refused(404) }
            book.price = price
            return .change(book, key: key)
        case .settle(let id, let key, _):
            guard let book = store.books[id] else { return .refused(404) }
            if let earlier = store.takes[key], earlier.book == id { return .settled(applied: true, book: book, order: earlier) }
            if store.updates[key]?.book == id { return .settled(applied: true, book: book, order: nil) }
            return .settled(applied: false, book: book, order: nil)
        }
    }

    private func fenced(_ attempt: String) -> Bool {
        if world.holes.contains(.unfencedRetry) { return store.aborted.contains(attempt) }
        return WriteIdentity.isFenced(attempt) { store.aborted.contains($0) }
    }

    /// `Primary.forgetOldUpdateKeys` with the real `KeyRetention`.
    private func afterCommit() {
        guard var retention else { return }
        let now = clock
        retention.committed(through: store.applied, now: now)
        if let floor = retention.forgettable(newest: store.applied, now: now) {
            store.updates = store.updates.filter { $0.value.seq >= floor }
        }
        self.retention = retention
    }

    func answer(_ pending: Pending, _ write: WriteReply) {
        if case .settle = pending.write {
            reply(pending.from, Message.settled(call: pending.call, applied: false, book: nil, order: nil).unavailable)
        } else {
            reply(pending.from, .answer(call: pending.call, write))
        }
    }

    // MARK: Fronts' leases (the real `LeaseTable`) and invalidations

    private func grantLease(call: Int, to front: NodeName, from: Address, held: Int64) {
        let newLease = Int64(bitPattern: world.random.next() | 1)
        guard leading, let grant = leases.grant(front.description, renewing: held, now: clock, newLease: newLease) else {
            return reply(from, .leaseGrant(call: call, lease: 0, milliseconds: 0, fresh: false, announced: 0))
        }
        reply(from, .leaseGrant(call: call, lease: grant.lease, milliseconds: FrontLeases.duration.nanoseconds / 1_000_000,
                                fresh: grant.fresh, announced: grant.announced))
    }

    /// `Invalidator`: tells every front holding a lease to drop `book` before the write commits;
    /// a front that does not confirm is suspended and waited out.
    private func announce(_ book: BookState, then commit: @escaping () -> Void) {
        let seq = store.applied + 1
        let leased = leases.announce(seq, now: clock).compactMap { name in NodeName.fronts.first { $0.description == name } }
        guard !leased.isEmpty else { return commit() }
        callAll(leased, timeout: Timeouts.invalidation, { .invalidate(call: $0, book: book.id, seq: seq) }) { [self] replies in
            var latest = clock
            var suspended: [NodeName] = []
            for (front, reply) in zip(leased, replies) where reply == nil || reply?.isRefusal == true {
                latest = max(latest, leases.suspend(front.description))
                suspended.append(front)
            }
            guard latest > clock else {
                for front in suspended { leases.dropIfSuspended(front.description) }
                return commit()
            }
            after(.nanoseconds(latest - clock), "wait out fronts") { [self] in
                for front in suspended { leases.dropIfSuspended(front.description) }
                commit()
            }
        }
    }
}

extension Message {
    /// A settle's reply standing for a 503 from the primary (it could not settle).
    var unavailable: Message {
        if case .settled(let call, _, _, _) = self { return .refused(call: call) }
        return self
    }

    var isRefusal: Bool {
        if case .refused = self { return true }
        return false
    }
}
