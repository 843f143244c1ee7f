import Basics
import BazarCore
import Foundation
import InternalHTTP
import Store
import Synchronization
import Wire

/// The primary's side of catalog replication.
///
/// One thread pushes to the backup every book changed since the backup's last acknowledged
/// sequence number (a state-based diff: under load one push carries many writes, and the same
/// pushes are the backup's catch-up after a restart). A push carries at most `pushBudget`
/// bytes of books (nginx and the backup take bodies up to 64 KiB): when more changed, the
/// pushes before the last are pages that leave the backup's `applied` where it was, and
/// only the last one, holding every book changed since, moves it up to the primary's. While the backup is *in sync*, a write is
/// answered only once the backup has acknowledged it, and pushes grant the backup a read lease
/// that ends `lease` after the push was sent by this host's clock (the backup counts it from
/// the receipt the push echoes, made before the sending: see `Backup`; no clocks are compared
/// across hosts). When a push fails, pushes stop granting leases;
/// once the last lease granted has run out, the primary demotes the backup: only when every
/// order replica has recorded that (`WitnessRecords`) does it stop waiting for the backup,
/// which by then serves no reads and cannot stand in. The backup is back in sync once an
/// acknowledgement covers every committed write, and the order replicas are told so. While the
/// backup is demoted, a write is answered only once every order replica has recorded that
/// writes through it were acknowledged without the backup (one round trip for all the writes
/// waiting), so that a primary that lost its store learns what it must recover
/// (`StartDecision`). A primary starts counting the backup in sync unless the order replicas
/// all record it demoted (`Recovery` asks them); with no order replica keeping records it
/// starts without the backup, as after a demotion. Only a push that brings the backup up to
/// every committed write grants it a lease, never a page of a catch-up.
///
/// Every push carries this primary's term (`Term`) and, before any book, the orders it took
/// that the backup lacks (with their keys), and the keys of its other writes (`WriteKey`:
/// admin updates, additions, aborted attempts) after the backup's key cursor: books go only in
/// a push that carries every such order and key, so a backup promoted after a failover holds
/// the key and number of every take whose stock it holds, the key of every update and
/// addition whose books it holds, and every attempt fenced before the write it holds. A push
/// refused for a newer epoch makes this primary step down.
final class Replicator: @unchecked Sendable {
    /// How long a backup may serve reads after a push that found it in sync was sent.
    static let lease: Duration = .milliseconds(500)
    /// How often an idle primary pushes (renewing the backup's lease).
    static let heartbeat: Duration = .milliseconds(100)
    /// How long one push may take; at least `lease`, so a push that times out granted nothing
    /// still in force.
    static let pushTimeout: Duration = .seconds(1)
    /// The most bytes of books, orders and keys one push carries (half books, a quarter each
    /// orders and keys).
    static let pushBudget = 60_000
    /// The most orders one push carries.
    static let takesPerPush = 200
    /// The most keys one push carries.
    static let keysPerPush = 200

    private let client: InternalClient
    private let backup: String
    private let backupPath: String
    private let demotionsPaused = Atomic<Bool>(false)
    private let memory: CatalogMemory
    private let store: SharedStore
    private let witnesses: WitnessRecords
    /// The term this primary leads; a push refused for a newer one makes it step down.
    let term: CatalogTerm
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var committed: Int64
    private var acked: Int64 = 0
    private var inSync: Bool
    private var suspect = false
    private var lastLeaseEnd: Int64 = 0
    /// Since when (monotonic nanoseconds) the backup has lacked a committed write; nil while it
    /// holds every one.
    private var behindSince: Int64?
    /// When the newest push the backup took was sent (this host's monotonic clock).
    private var lastTakenSent: Int64 = 0
    /// While the backup is demoted: what the order replicas recorded as acknowledged without
    /// it, and whether a request thread is recording more.
    private var witnessed: Int64 = 0
    private var recording = false
    /// The bytes free on the backup's disk, as its latest answer said (nil: it could not tell).
    private var backupFree: Int64?
    /// The request threads waiting in `waitReplicated`.
    private var waiting = WaitingWrites()
    // Used by the push thread only: the receipt of the backup's last answer.
    private var receipt: Int64?
    // Used by the push thread only: whether the order replicas were told the backup is in sync,
    // and while the pages of one catch-up go out, the `applied` they started from and the
    // version through which the backup has taken them.
    private var promoted = false
    private var pages: (from: Int64, through: Int64)?
    // Used by the push thread only: the last order number the backup holds (nil: not known yet).
    private var backupTakes: Int64?
    // Used by the push thread only: the backup's key cursor (nil: not known yet).
    private var backupKeys: Int64?

    init(client: InternalClient, backup: String, memory: CatalogMemory, store: SharedStore, witnesses: WitnessRecords,
         term: CatalogTerm) {
        self.client = client
        self.store = store
        self.term = term
        self.backup = backup
        self.backupPath = "/\(backup)/replicate"
        self.memory = memory
        self.witnesses = witnesses
        self.committed = memory.applied
        inSync = false
    }

    /// Starts the push loop once the primary holds every acknowledged write, counting the
    /// backup in sync or not as the order replicas recorded it (`StartDecision`).
    func start(backupInSync: Bool) {
        condition.withLock {
            committed = max(committed, memory.applied)
            inSync = backupInSync && !witnesses.isEmpty
        }
        let thread = Thread { [self] in while true { pushOnce() } }
        thread.name = "replicator"
        thread.start()
    }

    /// Whether this primary may grant the fronts read leases now: while the backup is in sync,
    /// only within `lease` of sending a push the backup took. A backup that runs for the next
    /// epoch takes no push from then on, so every front lease this primary grants after that
    /// ends within `lease` plus a front lease's duration: the new primary waits that out
    /// (`Promotion.leaseGrace`) before its first write. While the backup is demoted no witness
    /// grants it an epoch (`WitnessGrant`), so the leases need no such bound.
    var mayGrantLeases: Bool {
        condition.withLock { !inSync || Monotonic.now() < lastTakenSent + Self.lease.nanoseconds }
    }

    /// Whether this primary may answer reads: no other replica can have acknowledged a write
    /// it lacks. True while it may grant leases (`mayGrantLeases`), else when an order replica
    /// confirms, after the read arrived, that it still holds this primary's term
    /// (`WitnessRecords.oneStillHoldsTheTerm`): the backup down and its demotion not yet
    /// recorded, say.
    var mayServeReads: Bool { mayGrantLeases || witnesses.oneStillHoldsTheTerm() }

    /// The bytes free on the disk of a backup that writes wait for (in sync), as its latest
    /// answer to a push said; nil while it is demoted (writes are acknowledged without it) or
    /// when it could not tell (`DiskReserve`).
    var backupFreeBytes: Int64? {
        condition.withLock { inSync ? backupFree : nil }
    }

    /// Stops (or resumes) demoting the backup, while a hand-over asks it to take over.
    func pauseDemotions(_ paused: Bool) {
        demotionsPaused.store(paused, ordering: .releasing)
    }

    /// Waits until the backup is in sync and has acknowledged every committed write; false
    /// when `deadline` (monotonic nanoseconds) passes first.
    func waitCaughtUp(until deadline: Int64) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !(inSync && acked >= committed) {
            let now = Monotonic.now()
            if now >= deadline { return false }
            _ = condition.wait(until: Date().addingTimeInterval(Double(deadline - now) / 1e9))
        }
        return true
    }

    /// Asks the backup to take the primary role over (`POST /catalog-N/take-over` with this
    /// term): the term it won, or nil.
    func askBackupToTakeOver() -> Term? {
        let leaving = term.current
        guard let answer = try? client.send("POST", "/\(backup)/take-over", body: TermMessage(leaving).encoded, timeout: Self.takeOverTimeout),
              answer.status == 200, let won = TermMessage(body: answer.body)?.term,
              won.epoch > leaving.epoch, won.primary == backup else { return nil }
        return won
    }

    /// How long a backup may take to take over (it waits out the front leases, then leads).
    static let takeOverTimeout: Duration = .milliseconds(3_500)

    /// Records a committed write and wakes the push loop.
    func committed(_ seq: Int64) {
        condition.withLock {
            committed = max(committed, seq)
            if behindSince == nil && committed > acked { behindSince = Monotonic.now() }
            condition.broadcast()
        }
    }

    /// How long the backup has lacked a committed write, in seconds at `now` (monotonic
    /// nanoseconds); 0 while it holds every one. It grows while the backup is down.
    func lagSeconds(now: Int64) -> Double {
        condition.withLock { behindSince.map { Double(now - $0) / 1e9 } ?? 0 }
    }

    /// Blocks until `seq` may be acknowledged: the backup acknowledged it, or, while it is
    /// demoted, the order replicas recorded it as acknowledged without the backup. False once
    /// `deadline` (monotonic nanoseconds) has passed, whatever replicates later: the write's
    /// outcome is then unknown to the caller, which settles it. The caller sleeps on its own
    /// semaphore (`WaitingWrites`), woken when its write is covered, not at each push.
    func waitReplicated(_ seq: Int64, until deadline: Int64) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while true {
            let now = Monotonic.now()
            if now >= deadline { return false }
            if inSync ? acked >= seq : witnessed >= seq { return true }
            if !inSync && !recording {
                recording = true
                let through = committed
                condition.unlock()
                let recorded = witnesses.acknowledge(through: through)
                condition.lock()
                recording = false
                if recorded { witnessed = max(witnessed, through) }
                wakeWaiting()
                if !recorded {
                    _ = condition.wait(until: Date().addingTimeInterval(min(0.05, Double(deadline - now) / 1e9)))
                }
                continue
            }
            let waiter = waiting.add(seq)
            condition.unlock()
            let woken = waiter.wait(until: deadline)
            condition.lock()
            waiting.remove(waiter)
            if !woken { return false }
        }
    }

    /// Wakes the waiting writes that may go on (`WaitingWrites.ready`); with `condition` held.
    private func wakeWaiting() {
        for waiter in waiting.ready(inSync: inSync, acked: acked, witnessed: witnessed, recording: recording) { waiter.wake() }
    }

    private func pushOnce() {
        let after = condition.withLock { () -> Int64 in
            if committed <= acked { _ = condition.wait(until: Date().addingTimeInterval(Self.heartbeat.seconds)) }
            return acked
        }
        let booksChanged = memory.changes(after: pages?.from == after ? pages?.through ?? after : after, budget: Self.pushBudget / 2)
        // The orders taken that the backup lacks, read after the books: they cover every take of
        // those books. Books go only with every such order, so a backup that holds a take's stock
        // holds its key and number (a new primary settles the key and never gives the number again).
        let takes = backupTakes.flatMap(takesAfter)
        // The keys likewise: books go only with every key of the writes that made them.
        let keys = backupKeys.flatMap { keysAfter($0, backupApplied: after) }
        let carriesEvery = takes?.complete == true && keys?.complete == true
        let changes = carriesEvery ? booksChanged
            : CatalogMemory.Changes(encoded: [], through: after, complete: false, applied: booksChanged.applied)
        let upTo = changes.complete ? changes.applied : after
        // Only a complete push grants a lease: a page leaves the backup behind the primary.
        let granting = condition.withLock { () -> Bool in
            guard inSync && !suspect, receipt != nil, changes.complete else { return false }
            lastLeaseEnd = Monotonic.now() + Self.lease.nanoseconds
            return true
        }
        let lease = granting ? receipt.map { ReplicationPush.Lease(milliseconds: Self.lease.nanoseconds / 1_000_000, echo: $0) } : nil
        let push = ReplicationPush.encoded(term: term.current, after: after, upTo: upTo, complete: changes.complete,
                                           books: changes.encoded, takes: takes?.encoded ?? [],
                                           keys: keys?.keys, lease: lease)
        let sent = Monotonic.now()
        let response = try? client.send("POST", backupPath, body: push, timeout: Self.pushTimeout)
        if let response, let newer = StaleEpoch(status: response.status, body: response.body)?.known, newer.epoch > term.current.epoch {
            term.stepDown(to: newer)
        }
        let answer = response.flatMap { [200, 409].contains($0.status) ? PushAnswer(body: $0.body) : nil }
        let applied = answer?.applied
        receipt = answer?.receipt
        backupTakes = answer?.takes
        backupKeys = answer?.keys
        // A page the backup took without moving on: the next push starts after it (a push that
        // carried only orders or keys leaves the pages where they were).
        if carriesEvery {
            pages = response?.status == 200 && applied == after && !changes.complete ? (after, changes.through) : nil
        }
        let transition = condition.withLock { () -> Transition? in
            defer { wakeWaiting() }
            if let answer { backupFree = answer.free >= 0 ? answer.free : nil }
            if let applied, let response {
                acked = applied
                if acked >= committed {
                    behindSince = nil
                } else if behindSince == nil {
                    behindSince = Monotonic.now()
                }
                guard response.status == 200 else { return nil }
                suspect = false
                lastTakenSent = max(lastTakenSent, sent)
                if acked >= committed && changes.complete && (!inSync || !promoted) {
                    inSync = true
                    return .promote
                }
                return nil
            }
            suspect = true
            return inSync && Monotonic.now() >= lastLeaseEnd && !demotionsPaused.load(ordering: .acquiring) ? .demote : nil
        }
        switch transition {
        case .promote?:
            promoted = witnesses.promote()
            if promoted { Log.info("backup in sync", [("acked", "\(acked)")]) }
        case .demote?:
            promoted = false
            let demotedAt = condition.withLock { committed }
            if witnesses.demote(committed: demotedAt) {
                condition.withLock {
                    inSync = false
                    witnessed = max(witnessed, demotedAt)
                    wakeWaiting()
                }
                Log.warn("backup out of sync, recorded by the order replicas: answering writes without it", [("acked", "\(acked)")])
            }
        case nil:
            break
        }
        if applied == nil { Thread.sleep(forTimeInterval: 0.02) }
    }

    /// The orders taken after `number`, encoded, within a quarter of `pushBudget`, and whether they
    /// are every one; nil when the store cannot be read.
    private func takesAfter(_ number: Int64) -> (encoded: [[UInt8]], complete: Bool)? {
        guard let orders = try? store.withLock({ try $0.takes(after: number, limit: Self.takesPerPush) }) else { return nil }
        var encoded: [[UInt8]] = []
        var size = 0
        for order in orders {
            let item = order.internalJSON.encoded()
            if !encoded.isEmpty && size + item.count > Self.pushBudget / 4 { return (encoded, false) }
            encoded.append(item)
            size += item.count + 1
        }
        return (encoded, orders.count < Self.takesPerPush)
    }

    /// The keys after the backup's cursor `cursor`, within a quarter of `pushBudget`, and whether
    /// they are every one; nil when the store cannot be read. A cursor beyond this primary's
    /// `applied` is another store's (this one was lost and rebuilt from the backup's books, and
    /// numbers its writes again from there): the keys then go from the backup's `applied`.
    private func keysAfter(_ cursor: Int64, backupApplied: Int64) -> (keys: ReplicationPush.Keys, complete: Bool)? {
        guard let (after, page) = try? store.withLock({ store -> (Int64, CatalogStore.KeyPage) in
            let after = cursor > (try store.applied()) ? backupApplied : cursor
            return (after, try store.keys(after: after, limit: Self.keysPerPush))
        }) else { return nil }
        var keys: [WriteKey] = []
        var size = 0
        for key in page.keys {
            let length = key.json.encoded().count
            if !keys.isEmpty && size + length > Self.pushBudget / 4 {
                return (.init(after: after, through: keys[keys.count - 1].seq, updateKeysFrom: page.updateKeysFrom, keys: keys), false)
            }
            keys.append(key)
            size += length + 1
        }
        return (.init(after: after, through: page.through, updateKeysFrom: page.updateKeysFrom, keys: keys), page.complete)
    }

    private enum Transition {
        case promote, demote
    }
}
