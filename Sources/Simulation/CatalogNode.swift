import BazarCore
import Catalog
import Order
import TierCalls
import Wire

/// catalog-1 and catalog-2: each is the primary or the backup of the newest term it knows
/// (`Term`, judged with the real `TermFence`). As the primary: recovery (`StartDecision`,
/// called), the write queue with the fence (`WriteIdentity.isFenced`, called) and the key
/// retention (`KeyRetention`, called), the fronts' read leases (`LeaseTable`, called) and
/// invalidations, and replication with demotions and witness records (CatalogReplication.swift).
/// As the backup: CatalogBackup.swift; terms, promotion and stepping down: CatalogTerms.swift.
/// The batch planning (`BatchPlan`), the invalidator and the replicator's loop are modelled
/// here one write at a time after the real code (docs/simulation.md says which).
final class CatalogNode: Node {
    /// What survives a crash: the store (SQLite, committed before anything is answered).
    struct Store {
        var books: [Int: BookState]
        var applied: Int64 = 0
        var takes: [String: OrderRecord] = [:]
        var lastOrder: Int64 = 0
        /// Update keys: the book and the sequence number they committed at.
        var updates: [String: (book: Int, seq: Int64)] = [:]
        var aborted: Set<String> = []
        /// The newest term known: a new store knows the flags' first epoch.
        var term = CatalogNode.first
    }

    /// Epoch 1, with the primary the flags name (`--role primary`).
    static let first = Term(epoch: 1, primary: NodeName.catalog1.description)

    /// What this process is being: the primary (recovering, then leading) or the backup of its term.
    enum Role {
        case starting, primary, backup
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
        /// The epoch a write committed in is answered under (nil: a replay or a settle).
        let epoch: Int64?
    }

    let initialBooks: [Int: BookState]
    let keyHorizon: Int64
    var store: Store

    // Volatile: gone with a crash.
    var role = Role.starting
    /// Whether this primary recovered and leads (writes, leases, pushes).
    private(set) var leading = false
    private var retention: KeyRetention?
    private var queue: [Pending] = []
    private var writing = false
    var graceEnd: Int64 = 0
    private var leases = LeaseTable(announced: 0, duration: FrontLeases.duration.nanoseconds)
    var waiters: [Int: Waiter] = [:]
    // The replicator's state (`Replicator`): CatalogReplication.swift.
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
    /// When the last push the backup took was sent (`Replicator.mayGrantLeases`).
    var lastTakenSent: Int64?
    /// The last order number the backup holds (from its answers to pushes).
    var backupTakes: Int64 = 0
    /// The orders up to this number are acknowledged: only these are served to an order
    /// replica catching up (`Primary.acknowledgedTakes`).
    var acknowledgedTakes: Int64 = 0
    // The backup's state (`Backup`): CatalogBackup.swift.
    var current = false
    var leaseEnd: Int64 = 0
    var standInEnd: Int64 = 0
    var receipts: [(receipt: Int64, at: Int64)] = []
    var running = false
    var silentSince: Int64?

    init(name: NodeName, world: World, books: [Int: BookState], keyHorizon: Int64) {
        initialBooks = books
        self.keyHorizon = keyHorizon
        store = Store(books: books)
        super.init(name: name, world: world)
    }

    /// The other catalog replica: this one's backup while it leads, its primary's peer otherwise.
    var peer: NodeName { name == .catalog1 ? .catalog2 : .catalog1 }

    override func boot() {
        learnAtStart()
    }

    override func crash(loseDisk: Bool) {
        super.crash(loseDisk: loseDisk)
        if loseDisk { store = Store(books: initialBooks) }
        role = .starting
        forgetVolatileState()
    }

    /// Everything but the store, as a new process has it.
    func forgetVolatileState() {
        leading = false
        retention = nil
        queue = []
        writing = false
        waiters = [:]
        (committed, acked, inSync, suspect, lastLeaseEnd, witnessed, recording, receipt, promoted, recordVersion, pushIdle) =
            (0, 0, false, false, 0, 0, false, nil, false, 0, nil)
        (lastTakenSent, backupTakes, acknowledgedTakes) = (nil, 0, 0)
        (current, leaseEnd, standInEnd, receipts, running, silentSince) = (false, 0, 0, [], false, nil)
    }

    // MARK: Recovery (`Recovery`, deciding with the real `StartDecision`)

    func recover() {
        guard role == .primary else { return }
        var witnesses: [(name: NodeName, answer: WitnessState)] = []
        var backup: BackupState?
        var waiting = 2
        let answered = { [self] in
            waiting -= 1
            guard waiting == 0 else { return }
            if let newer = witnesses.map(\.answer.term).max(by: { $0.epoch < $1.epoch }), newer.epoch > store.term.epoch {
                guard newer.primary == name.description else { return stepDown(to: newer) }
                store.term = newer
                world.history.promoted(epoch: newer.epoch, holding: store.applied, at: world.now)
            }
            decide(witnesses.map(\.answer), answered: witnesses.map(\.name), backup: backup)
        }
        callAll(NodeName.orders, timeout: ProtocolTimes.question, { .witnessState(call: $0) }) { replies in
            for (name, reply) in zip(NodeName.orders, replies) {
                if case .witnessStateIs(_, let state)? = reply { witnesses.append((name, state)) }
            }
            answered()
        }
        call(peer, timeout: ProtocolTimes.question, { .backupState(call: $0) }) { reply in
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
        if case .refuse = verdict, !world.grants.isEmpty { world.refusedAfterAFailover = true }
        world.log("\(name) start decision: \(verdict) (applied \(store.applied), witnesses \(answers), backup \(String(describing: backup)))")
        switch verdict {
        case .lead(let backupInSync):
            restoreOrders(from: answered) { [self] restored in
                guard restored else { return after(.milliseconds(200), "recover") { [self] in recover() } }
                lead(backupInSync: backupInSync, graceEnd: clock + FrontLeases.duration.nanoseconds)
            }
        case .pull:
            call(peer, timeout: ProtocolTimes.question, { [store] in .changes(call: $0, after: store.applied) }) { [self] reply in
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
    func restoreOrders(from replicas: [NodeName], done: @escaping (Bool) -> Void) {
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

    /// Leads: writes wait until `graceEnd` (a front lease of an earlier run, or of the former
    /// primary, may still be in force until then).
    func lead(backupInSync: Bool, graceEnd: Int64) {
        world.log("\(name) leads \(store.term) at applied \(store.applied), backup in sync: \(backupInSync)")
        leading = true
        acknowledgedTakes = max(acknowledgedTakes, store.lastOrder)
        retention = KeyRetention(applied: store.applied, now: clock, countHorizon: keyHorizon)
        self.graceEnd = graceEnd
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
            if role == .backup { return reply(from, .fetched(call: call, readable ? store.books[book] : nil)) }
            guard leading else { return reply(from, .fetched(call: call, nil)) }
            mayServeReads { [self] may in reply(from, .fetched(call: call, may && leading ? store.books[book] : nil)) }
        case .takes(let call, let after):
            guard role == .primary else { return reply(from, .refused(call: call)) }
            let through = acknowledgedTakes
            reply(from, .orders(call: call, leading ? store.takes.values.filter { $0.number > after && $0.number <= through }
                .sorted { $0.number < $1.number } : nil))
        case .leaseAsk(let call, let front, let held):
            guard role == .primary else { return reply(from, .refused(call: call)) }
            grantLease(call: call, to: front, from: from, held: held)
        case .ping(let call):
            reply(from, .pong(call: call, term: store.term, leading: role == .primary))
        case .push(let call, let term, let after, let upTo, let books, let takes, let lease):
            takePush(call: call, from: from, term: term, after: after, upTo: upTo, books: books, takes: takes, lease: lease)
        case .backupState(let call):
            guard role == .backup else { return reply(from, .refused(call: call)) }
            reply(from, .backupStateIs(call: call, applied: store.applied, current: current))
        case .changes(let call, let after):
            guard role == .backup else { return reply(from, .refused(call: call)) }
            reply(from, .changesAre(call: call, books: store.books.values.filter { $0.version > after }.sorted { $0.id < $1.id },
                                    applied: store.applied))
        default:
            break
        }
    }

    /// A write for the primary: queued while leading, else 503 marked not sent (not the
    /// primary, or not yet: nginx passes it on to the other replica).
    private func enqueue(_ write: Write, call: Int, from: Address, deadline: Duration) {
        guard leading else { return reply(from, .refused(call: call)) }
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
            noteIfDeposed(pending.write)
            answer(pending, WriteReply(status: status))
            finishWrite()
        case .replayed(let book, let order):
            wait(pending, seq: book.version, fresh: false, .answer(call: pending.call, WriteReply(status: 200, book: book, order: order, replayed: true)))
            finishWrite()
        case .settled(let applied, let book, let order):
            if !applied {
                store.aborted.insert(attemptOf(pending.write))
                noteIfDeposed(pending.write)
            }
            let message = Message.settled(call: pending.call, applied: applied, book: book, order: order)
            if applied { wait(pending, seq: book.version, fresh: false, message) } else { reply(pending.from, message) }
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
                world.history.committed(key: key, .init(at: world.now, attempt: attemptOf(pending.write), epoch: store.term.epoch,
                                                        book: changed.id, version: changed.version))
                committed = store.applied
                afterCommit()
                wait(pending, seq: changed.version, fresh: true, .answer(call: pending.call, WriteReply(status: 200, book: changed, order: order)))
                finishWrite()
                wakePush()
            }
        }
    }

    /// Notes for the checker a refusal or a "not applied" this primary answers from its own store
    /// after a newer epoch was granted (an observer's note: the primary cannot know it yet).
    private func noteIfDeposed(_ write: Write) {
        guard let newest = world.grants.keys.max(), newest > store.term.epoch else { return }
        switch write {
        case .take(_, let key, _), .update(_, _, let key, _), .settle(_, let key, _): world.history.answeredWhileDeposed.insert(key)
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

    /// A front's lease, from the real `LeaseTable`, only while `Replicator.mayGrantLeases`.
    private func grantLease(call: Int, to front: NodeName, from: Address, held: Int64) {
        let newLease = Int64(bitPattern: world.random.next() | 1)
        guard leading, mayGrantLeases, let grant = leases.grant(front.description, renewing: held, now: clock, newLease: newLease) else {
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
