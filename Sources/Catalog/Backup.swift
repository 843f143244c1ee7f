import Basics
import BazarCore
import Foundation
import HTTPMessages
import InternalHTTP
import Store
import Synchronization
import Wire

/// The catalog backup's side of replication: it applies the primary's pushes in order and
/// serves reads only while it holds a lease. Each answer to a push carries a fresh random
/// *receipt*, and the backup notes when it made it. A push from a primary that counts this
/// backup in sync grants a lease of `lease_ms` and echoes a receipt the primary got before it
/// sent the push: the lease is counted from that receipt's making, which came before the
/// push was sent, so it ends before the primary's count of it (which starts at the sending)
/// whatever the hosts' clocks and however late the push arrives. Without a lease (after a
/// restart, or when the primary stopped counting on it) the backup answers reads 503, so nginx
/// passes them to the primary, and reports `catching_up`. When the primary does not answer,
/// the backup asks the order replicas whether it is still counted in sync: if one says so, no
/// write was acknowledged without it, so it holds every acknowledged write and stands in,
/// serving reads under a stand-in lease during which the primary cannot demote it.
///
/// Its store may have been lost or replaced (empty, or an older copy): nothing on this host can
/// tell. So a backup stands in only once it is *current*: it has taken, since it started, a
/// push that brought it up to everything the primary had committed (a complete push, not a page
/// of a catch-up). A push lease, too, comes only with a complete push (the primary grants none
/// on a page, and the backup takes none from one).
///
/// Pushes carry the primary's term: one of an older epoch is refused. Once its primary has been
/// silent for `failoverAfter` (or asks it to take over), a current backup runs for the next
/// epoch (`Candidacy`, `WitnessGrant`) and, granted it, becomes the primary in this process
/// (docs/failover.md).
final class Backup: Sendable {
    /// How long the primary may not answer before a current backup runs for the next epoch.
    static let failoverAfter: Duration = .milliseconds(1_000)

    private let name: String
    private let term: CatalogTerm
    private let running = Atomic<Bool>(false)
    private let askedToTakeOver = Atomic<Bool>(false)
    private let store: SharedStore
    private let memory: CatalogMemory
    private let current = Atomic<Bool>(false)
    private let leaseEnd = Atomic<Int64>(0)
    private let standInEnd = Atomic<Int64>(0)
    private let receipts = Mutex(Receipts())

    /// The receipts this backup gave lately, with when it made each (on its own clock).
    private struct Receipts {
        /// How many are kept: a push echoes the newest, or one a lost answer left behind.
        static let kept = 8
        var made: [(receipt: Int64, at: Int64)] = []

        mutating func make() -> Int64 {
            let receipt = Int64.random(in: 1...Int64.max)
            made.append((receipt, Monotonic.now()))
            if made.count > Self.kept { made.removeFirst() }
            return receipt
        }

        func madeAt(_ receipt: Int64) -> Int64? { made.first { $0.receipt == receipt }?.at }
    }

    init(name: String, term: CatalogTerm, store: SharedStore, memory: CatalogMemory) {
        self.name = name
        self.term = term
        self.store = store
        self.memory = memory
    }

    /// Whether a push lease is in force.
    var leased: Bool { Monotonic.now() < leaseEnd.load(ordering: .acquiring) }

    /// Whether reads may be served now.
    var readable: Bool { leased || Monotonic.now() < standInEnd.load(ordering: .acquiring) }

    /// Whether, since it started, a complete push brought this backup up to the primary.
    var isCurrent: Bool { current.load(ordering: .acquiring) }

    /// What a restarting primary asks the backup (`BackupState`).
    func state() -> Response {
        .json(200, BackupState(applied: memory.applied, current: isCurrent).json)
    }

    /// The books changed after `seq`, for a recovering primary that lacks them, a page at a
    /// time (`ChangesPage`).
    func changes(after seq: Int64) -> Response {
        let changes = memory.changes(after: seq, budget: Replicator.pushBudget)
        let body = ChangesPage.encoded(books: changes.encoded, through: changes.through, complete: changes.complete,
                                       applied: changes.applied)
        return Response(status: 200, headers: [Response.jsonContentType], body: body)
    }

    /// Applies one push (`ReplicationPush`) and answers a `PushAnswer`. A push of an older epoch
    /// is refused (`StaleEpoch`), and so is every push while this backup runs for the next epoch
    /// (503). 409 with this replica's `applied` and key cursor when the push starts after what it
    /// holds, books or keys (the primary then resends from there); no lease is taken from such a
    /// push. The keys (`ReplicationPush.Keys`), orders and books are stored in one transaction,
    /// the keys moving the cursor to what the push says (lower, too: a primary that lost its
    /// store numbers its writes again from its backup's `applied`) and forgetting the update
    /// keys the primary forgot. A page of a longer catch-up (not `complete`) has `upTo` equal to
    /// `after`: its books and orders are stored and `applied` stays. Every answer says how much
    /// room the backup's disk has left (`DiskReserve`).
    func replicate(_ body: [UInt8]) -> Response {
        guard let push = ReplicationPush(body: body) else {
            return APIError.badRequest("Malformed replication push.").response()
        }
        let (after, upTo, complete, books, takes, lease) = (push.after, push.upTo, push.complete, push.books, push.takes, push.lease)
        return store.withLock { store in
            if running.load(ordering: .acquiring) {
                return APIError.unavailable("\(name) is running for the next epoch: it takes no push of this one.").response()
            }
            if case .refuse(let known) = term.judge(push.term) { return StaleEpoch(known: known).response }
            let applied = memory.applied
            guard after <= applied, let keysHeld = try? store.keysHeld(), (push.keys?.after ?? keysHeld) <= keysHeld else {
                return answer(409, applied: applied, store: store)
            }
            let moves = upTo > applied || !books.isEmpty
            do {
                // In one transaction: books never arrive without the keys of the writes that
                // made them, nor without the orders that took their copies.
                let keys = push.keys.flatMap { $0.through != keysHeld || !$0.keys.isEmpty ? $0 : nil }
                if keys != nil || !takes.isEmpty || moves {
                    try store.storePush(keys: keys.map { ($0.keys, through: $0.through, updateKeysFrom: $0.updateKeysFrom) },
                                        takes: takes, books: books, applied: moves ? upTo : nil)
                }
            } catch {
                Log.error("store error applying a push", [("up_to", "\(upTo)"), ("error", "\(error)")])
                return APIError.unavailable("The backup store failed.").response()
            }
            if moves { memory.apply(books, applied: upTo) }
            // A page (of books, orders or keys) leaves the backup behind the primary: not current yet.
            let page = !complete || push.keys == nil
            if !page && !current.load(ordering: .acquiring) {
                current.store(true, ordering: .releasing)
                Log.info("backup current: a complete push brought it up to the primary", [("applied", "\(memory.applied)")])
            }
            if !page, let lease, let start = receipts.withLock({ $0.madeAt(lease.echo) }) {
                leaseEnd.max(start + lease.milliseconds * 1_000_000, ordering: .releasing)
            }
            return answer(200, applied: memory.applied, store: store)
        }
    }

    /// An answer to a push, with the last order number held (`takes`, -1 when the store cannot
    /// say), the key cursor (`WriteKey.noneHeld` when the store cannot say), the bytes free on
    /// the store's disk (-1 when that cannot be told) and a fresh receipt made just before it
    /// is sent.
    private func answer(_ status: Int, applied: Int64, store: CatalogStore) -> Response {
        let takes = (try? store.lastTakeNumber()) ?? -1
        let keys = (try? store.keysHeld()) ?? WriteKey.noneHeld
        let free = store.freeBytes() ?? -1
        let receipt = receipts.withLock { $0.make() }
        return .json(status, PushAnswer(applied: applied, takes: takes, keys: keys, free: free, receipt: receipt).json)
    }

    /// Starts the thread that, while there is no lease, checks whether the primary of the newest
    /// term answers as its primary (nginx answers for a dead or hung one: no `X-Upstream`) and, when it does not,
    /// asks the order replicas in turn for a stand-in lease; once it has not answered for
    /// `failoverAfter`, runs for the next epoch (`Candidacy`), and when a witness grants it,
    /// hands the term to `promote` with the moment it stopped taking pushes, and stops.
    func watchPrimary(witnesses: [String], client: InternalClient, promote: @escaping @Sendable (Term, Int64) -> Void) {
        let thread = Thread { [self] in
            var standing = false
            var silentSince: Int64?
            while true {
                let asked = Monotonic.now()
                let handedOver = askedToTakeOver.exchange(false, ordering: .acquiringAndReleasing)
                let answered = handedOver || !isCurrent || leased || primaryAnswers(term.current.primary, client)
                silentSince = answered ? nil : silentSince ?? asked
                let candidacy = Candidacy(current: isCurrent, askedToTakeOver: handedOver, primaryAnswered: answered,
                                          silentFor: Monotonic.now() - (silentSince ?? asked), runAfter: Self.failoverAfter.nanoseconds,
                                          hasWitnesses: !witnesses.isEmpty)
                if candidacy.verdict != .watch && !handedOver {
                    let granted = witnesses.contains { askStandIn($0, client) }
                    if granted != standing { Log.warn(granted ? "primary down: standing in" : "not standing in", [("applied", "\(memory.applied)")]) }
                    standing = granted
                }
                if candidacy.verdict == .run, let (won, stopped) = runForEpoch(witnesses, client, handedOver ? "asked to take over" : "the primary has not answered") {
                    promote(won, stopped)
                    return
                }
                if !askedToTakeOver.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: 0.1) }
            }
        }
        thread.name = "primary-watch"
        thread.start()
    }

    /// Stops taking pushes of the current epoch, then asks each witness for the next one: the
    /// term won (stored) and when pushes stopped, or nil (pushes are taken again) when none granted.
    private func runForEpoch(_ witnesses: [String], _ client: InternalClient, _ why: String) -> (Term, Int64)? {
        let leaving = term.current
        store.withLock { _ in running.store(true, ordering: .releasing) }
        let stopped = Monotonic.now()
        defer { running.store(false, ordering: .releasing) }
        let request = EpochRequest(candidate: name, leaving: leaving)
        Log.warn("\(why): running for the next epoch", [("leaving", "\(leaving)"), ("applied", "\(memory.applied)")])
        for witness in witnesses {
            guard let answer = try? client.send("POST", "/\(witness)/epoch", body: request.json.encoded(), timeout: .milliseconds(500),
                                                resendable: true) else { continue }
            let epochAnswer = answer.status == 200 ? EpochAnswer(body: answer.body) : nil
            if let epochAnswer, epochAnswer.granted, epochAnswer.term == request.asked {
                let won = epochAnswer.term
                do {
                    try term.adopt(won)
                } catch {
                    Log.error("store error storing the epoch won; not leading", [("error", "\(error)")])
                    return nil
                }
                Log.warn("won the next epoch: becoming the primary", [("epoch", "\(won.epoch)"), ("witness", witness)])
                return (won, stopped)
            }
            if let newer = StaleEpoch(status: answer.status, body: answer.body)?.known { try? term.adopt(newer) }
            if let reason = epochAnswer?.reason {
                Log.info("a witness did not grant the next epoch", [("witness", witness), ("reason", reason)])
            }
        }
        return nil
    }

    /// The primary of `leaving` asks this backup to take its role over (`bazarctl switchover`):
    /// true when that is the current term and this backup is current (it then runs at its next look).
    func askToTakeOver(leaving: Term) -> Bool {
        guard leaving == term.current, isCurrent else { return false }
        askedToTakeOver.store(true, ordering: .releasing)
        return true
    }

    /// Whether the primary of the newest term answers as that term's primary. One that answers
    /// as something else counts as silent: a primary that lost its disk and restarted with an
    /// empty store while the witnesses did not answer starts as a backup of the flags' first
    /// epoch, and waiting on it would leave the stack with no primary for good.
    private func primaryAnswers(_ primary: String, _ client: InternalClient) -> Bool {
        guard let answer = try? client.send("GET", "/\(primary)/health", timeout: .milliseconds(500)),
              answer.header("X-Upstream") != nil, let health = ReplicaHealth(body: answer.body) else { return false }
        return health.role == "primary" && health.term == term.current
    }

    /// One order replica's answer: true (and the stand-in lease taken) when it counts this
    /// backup in sync. The lease is counted from the moment it was asked for.
    private func askStandIn(_ witness: String, _ client: InternalClient) -> Bool {
        let asked = Monotonic.now()
        guard let answer = try? client.send("POST", "/\(witness)/stand-in", body: TermMessage(term.current).encoded,
                                            timeout: .milliseconds(300), resendable: true),
              answer.status == 200, let milliseconds = StandInAnswer(body: answer.body)?.leaseMilliseconds else { return false }
        standInEnd.max(asked + milliseconds * 1_000_000, ordering: .releasing)
        return true
    }
}
