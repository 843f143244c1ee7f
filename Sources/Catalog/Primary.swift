import Basics
import BazarCore
import Foundation
import HTTPMessages
import Store
import Synchronization
import TierCalls
import Wire

/// The catalog primary's writes, committed in batches by one writer thread (group commit).
///
/// Request threads queue their write and wait, each woken alone. The writer takes everything
/// queued, decides each write against the books as the batch leaves them (`BatchPlan`), tells
/// the front to drop the changed books (and the searches of new books' topics), commits the
/// batch in one transaction, and updates memory. Each request then waits, outside any lock,
/// for the backup to acknowledge its write.
///
/// Every write carries a key and an attempt id. A caller that lost track of a write (a tier
/// hung or died mid-way) settles it: a settle goes through the same queue, so it sees every
/// write committed before it, and when the key was not applied it records the attempt as
/// aborted, so that attempt is refused if it ever arrives later. Its answer is final either way.
///
/// A primary leads (serves reads, takes writes, grants leases, pushes) only once `Recovery` has
/// shown that its store holds every acknowledged write (`lead`); until then it answers 503.
final class Primary: @unchecked Sendable {
    private let name: String
    private let store: SharedStore
    private let memory: CatalogMemory
    private let invalidator: Invalidator
    let replicator: Replicator
    /// The writer waits on it for writes to queue.
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var queue: [PendingWrite] = []
    // The writer thread's alone.
    private var retention: KeyRetention
    private let leading = Atomic<Bool>(false)
    private let won: Bool
    /// The orders up to this number are acknowledged (replicated, or recorded by the witnesses),
    /// or were in the store when it started leading: what `takes` serves. A take committed here
    /// but not yet replicated is never served: an order replica that caught it up could hand it
    /// to a backup promoted after this replica died, reviving a take its caller heard was not made.
    private let acknowledgedTakes = Atomic<Int64>(0)
    private let gate = HandoverGate()

    /// What a request asked for. `attempt` names one try of a write (a retry has a new one).
    enum Write: Sendable {
        /// Take one copy of a book for an order under an idempotency key.
        case take(Int64, key: String, attempt: String)
        /// Apply an admin update to a book.
        case update(Int64, BookUpdate, key: String, attempt: String)
        /// Add books under a key (a repeated key answers the books it added).
        case add(NewBooks, key: String, attempt: String)
        /// Decide, for good, whether the write under `key` on a book was applied.
        case settle(Int64, key: String, attempt: String)
        /// Decide, for good, whether the addition under `key` was applied.
        case settleAddition(key: String, attempt: String)

        /// Whether this is a settle (which a nearly full disk lets through: `DiskReserve`).
        var isSettle: Bool {
            switch self {
            case .settle, .settleAddition: true
            case .take, .update, .add: false
            }
        }
    }

    /// A write's result: the books it leaves behind (one, or those added), for a take its
    /// order, and for a settle whether the settled write was applied.
    struct Written {
        var books: [Book]
        var order: Order?
        var replayed = false
        var applied = true
        /// For a settle that was not applied: the sequence number of the abort that fences it.
        var fence: Int64?
    }

    typealias Outcome = Result<Written, APIError>

    /// A queued write and, once the writer is done with it, its outcome: written once, before
    /// `decided` is signalled, and read after the wait (the semaphore orders the two), so that
    /// the writer wakes each request alone.
    private final class PendingWrite: @unchecked Sendable {
        let write: Write
        private var outcome: Outcome?
        private let decided = DispatchSemaphore(value: 0)
        init(_ write: Write) { self.write = write }

        func decide(_ outcome: Outcome) {
            self.outcome = outcome
            decided.signal()
        }

        func awaitOutcome() -> Outcome {
            decided.wait()
            return outcome!
        }
    }

    /// The largest batch the writer commits at once.
    static let maximumBatch = 256
    /// How long a write may take here, from its arrival to its answer (the caller waits
    /// `Timeouts.primaryWrite`): past it, a write not yet acknowledged by the backup (or the
    /// order replicas) is answered `outcome_unknown`, and the caller settles it.
    static let writeDeadline: Duration = Timeouts.primaryWrite - .milliseconds(500)
    /// The same for a settle (the caller waits `Timeouts.settle`).
    static let settleDeadline: Duration = Timeouts.settle - .milliseconds(300)

    /// `updateKeyHorizon`: how many writes an update's key is kept for, at least (`KeyRetention`).
    /// `won`: this replica won its epoch as a backup the witnesses counted in sync (a
    /// promotion), so its store already holds every acknowledged write.
    init(name: String, store: SharedStore, memory: CatalogMemory, invalidator: Invalidator, replicator: Replicator,
         updateKeyHorizon: Int64 = KeyRetention.defaultCountHorizon, won: Bool = false) {
        self.name = name
        self.won = won
        retention = KeyRetention(applied: memory.applied, now: Monotonic.now(), countHorizon: updateKeyHorizon)
        self.store = store
        self.memory = memory
        self.invalidator = invalidator
        self.replicator = replicator
        let writer = Thread { [self] in while true { commitNextBatch() } }
        writer.name = "writer"
        writer.start()
    }

    /// Takes one copy of a book for an order under `key` (a repeated key answers the first order).
    func take(_ id: Int64, key: String, attempt: String) -> Response {
        respond(to: .take(id, key: key, attempt: attempt), Self.takeAnswer)
    }

    /// Takes a copy for each purchase of an order replica's batch, queued at once: each take is
    /// decided, committed and acknowledged as it would be alone (`take`), and answered alone,
    /// in the batch's order (`TakeBatchAnswer`). Refused whole, like a take, while this
    /// replica does not lead.
    func takeBatch(_ batch: TakeBatch) -> Response {
        let deadline = Monotonic.now() + Self.writeDeadline.nanoseconds
        do throws(APIError) { try requireLeading() } catch { return error.response(headers: upstream) }
        guard gate.enter() else { return Self.handedOver(name, to: replicator.term.current.primary) }
        defer { gate.leave() }
        let pending = batch.takes.map { PendingWrite(.take($0.book, key: $0.key, attempt: $0.attempt)) }
        enqueue(pending)
        let answers = pending.map { pending -> TakeBatchAnswer.Answer in
            switch acknowledged(pending.awaitOutcome(), until: deadline) {
            case .failure(let error): TakeBatchAnswer.Answer(status: error.status, body: error.json, replayed: false)
            case .success(let written): TakeBatchAnswer.Answer(status: 200, body: Self.takeAnswer(written), replayed: written.replayed)
            }
        }
        return .json(200, TakeBatchAnswer(answers).json, headers: upstream)
    }

    /// A take's answer (`TakeAnswer`).
    private static func takeAnswer(_ written: Written) -> JSON {
        // A take always has its order; without one the caller would find the answer malformed and settle.
        guard let order = written.order else { return .object([("order", .null)]) }
        return TakeAnswer(order: order, book: written.books[0], replayed: written.replayed).json
    }

    /// Applies an admin update to a book; one under a key already applied to it answers the book
    /// as it is, marked `Idempotent-Replayed: true`.
    func update(_ id: Int64, _ update: BookUpdate, key: String, attempt: String) -> Response {
        respond(to: .update(id, update, key: key, attempt: attempt)) { $0.books[0].json }
    }

    /// Adds books under `key`: `201` with the book (or `{"books": [...]}` for an array); a
    /// repeated key answers the books it added, marked `Idempotent-Replayed: true`.
    func add(_ books: NewBooks, key: String, attempt: String) -> Response {
        respond(to: .add(books, key: key, attempt: attempt), status: 201) { books.answer($0.books) }
    }

    /// Settles the addition made under `key`: applied with the books added, once it is
    /// committed and replicated, or not applied after recording `attempt` as aborted (`SettleAnswer`).
    func settleAddition(key: String, attempt: String) -> Response {
        respond(to: .settleAddition(key: key, attempt: attempt)) { written in
            (written.applied ? SettleAnswer(applied: true, books: written.books) : SettleAnswer(applied: false)).json
        }
    }

    /// Settles the write made under `key` on book `id`: applied with the book (and a take's
    /// order) once it is committed and replicated, or not applied after recording `attempt` as
    /// aborted (`SettleAnswer`).
    func settle(_ id: Int64, key: String, attempt: String) -> Response {
        respond(to: .settle(id, key: key, attempt: attempt)) { written in
            (written.applied ? SettleAnswer(applied: true, book: written.books[0], order: written.order)
                             : SettleAnswer(applied: false)).json
        }
    }

    /// The last write sequence number this primary's store holds.
    var applied: Int64 { memory.applied }

    /// Whether this primary leads (its store holds every acknowledged write).
    var isLeading: Bool { leading.load(ordering: .acquiring) }

    /// Whether reads may be served: once it leads, or while a promoted primary recovers (it
    /// won its epoch holding every acknowledged write, and the former primary can acknowledge
    /// no more), so that reads go on through a failover or a switchover. A primary that
    /// started from its own store serves none until it has shown it holds every acknowledged write.
    var isReadable: Bool { won || isLeading }

    /// Whether this primary may answer a read now (`Replicator.mayServeReads`): a primary that
    /// was paused past its replacement (a hung process, a stalled host) wakes still believing
    /// it leads, and would otherwise answer reads from before writes its successor acknowledged.
    var mayServeReads: Bool { replicator.mayServeReads }

    /// Stores what a recovering primary learned from its peers: books the backup holds newer
    /// than this store's, through `applied`, and orders the order replicas hold.
    func restore(books: [Book], applied: Int64, orders: [Order]) throws {
        try store.withLock { store in
            if !books.isEmpty || applied > memory.applied { try store.apply(books, applied: applied) }
            if !orders.isEmpty { try store.restoreTakes(orders) }
        }
        memory.apply(books, applied: applied)
    }

    /// The largest order number this store holds.
    func lastOrderNumber() throws -> Int64 {
        try store.withLock { try $0.lastTakeNumber() }
    }

    /// Forgets the keys of writes after `applied`, before this primary leads: a promoted backup
    /// may hold such keys without the writes' books (a push brings the keys through the old
    /// primary's latest write, and its books may stop short of it). A settle here must not
    /// answer "applied" for a write whose books it lacks, and its own writes number on from
    /// `applied`. None of those writes was acknowledged, nor any such fence answered: an
    /// acknowledgement needs the backup's `applied` to reach the write.
    func forgetKeysOfWritesNotHeld() throws {
        try store.withLock { try $0.forgetKeys(after: memory.applied) }
    }

    /// Starts leading (once the replicator is started): reads, writes and fronts' leases are
    /// served, and fronts refuse fills older than what the store holds.
    func lead() {
        _ = invalidator.leases.announce(memory.applied)
        if let last = try? lastOrderNumber() { acknowledgedTakes.max(last, ordering: .releasing) }
        leading.store(true, ordering: .releasing)
    }

    /// A read lease (`LeaseGrant`) for a front that holds lease `held` (nil: none); 409 `lease_refused` while this primary
    /// recovers, cannot show that it leads or waits this front out (its own decision, which nginx
    /// passes to the front as it is: a 503 would count this replica failed for a second and turn
    /// the writes of that second away, the first ones after it leads too).
    func lease(_ front: String, renewing held: Int64?) throws(APIError) -> Response {
        guard isLeading else { throw .leaseRefused(Self.recovering(name)) }
        guard replicator.mayGrantLeases && !gate.isClosing else {
            throw .leaseRefused("\(name) cannot show that it still leads (its backup does not answer): no lease is granted.")
        }
        guard let grant = invalidator.leases.grant(front, renewing: held) else {
            throw .leaseRefused("\(front) missed an invalidation; its lease is being waited out.")
        }
        let answer = LeaseGrant(lease: grant.lease, milliseconds: FrontLeases.duration.nanoseconds / 1_000_000, fresh: grant.fresh,
                                announced: grant.announced, epoch: replicator.term.current.epoch)
        return .json(200, answer.json, headers: upstream)
    }

    /// A page of the orders taken and acknowledged (`acknowledgedTakes`), for an order replica
    /// catching up; 409 `recovering` while this primary recovers (as for a lease: not a 503,
    /// which would count it failed; the order replica asks its peer instead).
    func takes(_ page: Page) throws(APIError) -> Response {
        guard isLeading else { throw APIError(status: 409, code: "recovering", message: Self.recovering(name)) }
        let through = acknowledgedTakes.load(ordering: .acquiring)
        let orders = try APIError.unavailableOnFailure("the takes could not be read") {
            try store.withLock { try $0.takes(after: page.after, limit: page.limit) }
        }.filter { $0.number <= through }
        return .json(200, OrderList(orders).json, headers: upstream)
    }

    /// Queues a write, waits for its batch, then for the backup; answers `status` with `body`
    /// of the result.
    private func respond(to write: Write, status: Int = 200, _ body: (Written) -> JSON) -> Response {
        let deadline = Monotonic.now() + (write.isSettle ? Self.settleDeadline : Self.writeDeadline).nanoseconds
        do throws(APIError) { try requireLeading() } catch { return error.response(headers: upstream) }
        guard gate.enter() else { return Self.handedOver(name, to: replicator.term.current.primary) }
        defer { gate.leave() }
        let pending = PendingWrite(write)
        enqueue([pending])
        switch acknowledged(pending.awaitOutcome(), until: deadline) {
        case .failure(let error):
            return error.response(headers: upstream)
        case .success(let written):
            return .json(status, body(written), headers: upstream + (written.replayed ? [("Idempotent-Replayed", "true")] : []))
        }
    }

    /// Queues writes for the writer, at once.
    private func enqueue(_ writes: [PendingWrite]) {
        condition.withLock {
            queue.append(contentsOf: writes)
            condition.signal()
        }
    }

    /// A decided write's outcome once the backup acknowledged it (or the order replicas
    /// recorded it), or `outcome_unknown` when that did not happen by `deadline`.
    private func acknowledged(_ outcome: Outcome, until deadline: Int64) -> Outcome {
        guard case .success(let written) = outcome else { return outcome }
        // The books' versions cover the write (a settled one too): each is its book's latest
        // change; a settle that was not applied waits for its abort, so that a backup that
        // takes over holds the fence.
        if let version = written.applied ? written.books.map(\.version).max() : written.fence,
           !replicator.waitReplicated(version, until: deadline) {
            Log.warn("write not acknowledged in time: outcome unknown to the caller, who settles it", [("version", "\(version)")])
            return .failure(.outcomeUnknown)
        }
        // Takes are numbered in the order they are replicated: this one's covers every earlier one.
        if let order = written.order { acknowledgedTakes.max(order.number, ordering: .releasing) }
        return outcome
    }

    /// How long a hand-over may wait for the writes in flight and the backup to have them all.
    static let handoverDrain: Duration = .milliseconds(2_000)

    /// Hands the primary role to the backup (`bazarctl switchover`): new writes wait; once every
    /// write in flight is answered and the backup has them all, the backup is asked to take over
    /// (it wins the next epoch from the witnesses and leads); then the waiting writes are
    /// refused as not sent, so nginx passes them to the new primary, and this replica stores
    /// the new term and exits, for the supervisor to start it again as the backup (its store
    /// holds nothing the new primary lacks, so it is kept). 200 `{"epoch", "primary"}`, or 503
    /// (and writes go on here) when the backup is not in sync or does not take over.
    func handOver() -> Response {
        guard isLeading else { return APIError.unavailable("\(name) does not lead yet.").response(headers: upstream) }
        let term = replicator.term
        term.handingOver(.running)
        replicator.pauseDemotions(true)
        let fail = { (reason: String) -> Response in
            self.gate.reopen()
            self.replicator.pauseDemotions(false)
            term.handingOver(.none)
            return APIError.unavailable(reason).response(headers: self.upstream)
        }
        let deadline = Monotonic.now() + Self.handoverDrain.nanoseconds
        guard gate.close(until: deadline), replicator.waitCaughtUp(until: deadline) else {
            return fail("The backup is not in sync: nothing was handed over.")
        }
        guard let won = replicator.askBackupToTakeOver() else { return fail("The backup did not take over: nothing was handed over.") }
        term.handingOver(.done)
        do {
            // As the backup it holds every key it made: the new primary pushes the later ones.
            try store.withLock { try $0.setKeysHeld(try $0.applied()) }
            try term.adopt(won)
        } catch {
            Log.error("store error storing the term handed over; exiting all the same", [("error", "\(error)")])
        }
        gate.handedOver()
        Log.warn("handed the primary role over: restarting as the backup", [("epoch", "\(won.epoch)"), ("primary", won.primary)])
        let exit = Thread { Thread.sleep(forTimeInterval: 0.5); Foundation.exit(0) }
        exit.start()
        return .json(200, TermMessage(won).json, headers: upstream)
    }

    /// A write that reached this replica after it handed its role over to `primary`: refused as
    /// not sent (no `X-Upstream`), which nginx passes to the new primary.
    private static func handedOver(_ name: String, to primary: String) -> Response {
        APIError.notPrimary("\(name) handed the primary role over; nothing was done.", primary: primary, refusedBy: name).response()
    }

    private func commitNextBatch() {
        let batch = condition.withLock { () -> [PendingWrite] in
            while queue.isEmpty { condition.wait() }
            let batch = Array(queue.prefix(Self.maximumBatch))
            queue.removeFirst(batch.count)
            return batch
        }
        let backupFree = replicator.backupFreeBytes
        let outcomes = store.withLock { store in
            let free = store.freeBytes()
            let roomy = DiskReserve.admitsWrites(primaryFree: free, backupFree: backupFree)
            if !roomy {
                Log.limited("disk-reserve", perSecond: 1, .warn, "a disk is nearly full: refusing writes, settling only",
                            [("free", "\(free ?? -1)"), ("backup_free", "\(backupFree ?? -1)"), ("reserve", "\(DiskReserve.bytes)")])
            }
            return commit(batch, admittingWrites: roomy, in: store)
        }
        for (pending, outcome) in zip(batch, outcomes) { pending.decide(outcome) }
    }

    /// Decides, announces, commits and applies one batch; one outcome per write. Without
    /// `admittingWrites` (a disk nearly full: `DiskReserve`) only its settles are decided.
    private func commit(_ batch: [PendingWrite], admittingWrites: Bool, in store: CatalogStore) -> [Outcome] {
        var plan = BatchPlan(memory: memory)
        let planned = batch.map { pending in
            Result { () throws(APIError) in
                guard admittingWrites || pending.write.isSettle else { throw DiskReserve.refusal }
                return try plan.add(pending.write, store: store)
            }
        }
        do throws(APIError) {
            var orders: [Order] = []
            if !plan.writes.isEmpty {
                if !plan.announcements.isEmpty { invalidator.invalidate(plan.announcements.map { ($0.key, $0.value) }) }
                orders = try APIError.unavailableOnFailure("the write was not applied") {
                    try store.commit(plan.writes, applied: plan.seq)
                }
                memory.apply(Array(plan.books.values), applied: plan.seq)
                replicator.committed(plan.seq)
                forgetOldUpdateKeys(newest: plan.seq, in: store)
            }
            return planned.map { result in
                result.map { planned in
                    Written(books: planned.books, order: planned.takeIndex.map { orders[$0] } ?? planned.order,
                            replayed: planned.replayed, applied: planned.applied, fence: planned.fence)
                }
            }
        } catch {
            return planned.map { $0.flatMap { _ in .failure(error) } }
        }
    }

    /// Forgets the update keys `retention` lets go of (a store error leaves them for later).
    private func forgetOldUpdateKeys(newest: Int64, in store: CatalogStore) {
        let now = Monotonic.now()
        retention.committed(through: newest, now: now)
        guard let floor = retention.forgettable(newest: newest, now: now) else { return }
        do {
            try store.forgetUpdateKeys(below: floor)
        } catch {
            Log.error("store error forgetting old update keys", [("error", "\(error)")])
        }
    }

    private func requireLeading() throws(APIError) {
        guard isLeading else { throw .unavailable(Self.recovering(name)) }
    }

    /// Why a recovering primary refuses.
    private static func recovering(_ name: String) -> String {
        "\(name) is recovering: it does not yet know that it holds every acknowledged write."
    }

    private var upstream: [(String, String)] { Response.upstream(name) }
}
