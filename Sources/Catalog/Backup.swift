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
final class Backup: Sendable {
    private let store: Mutex<CatalogStore>
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

    init(store: sending CatalogStore, memory: CatalogMemory) {
        self.store = Mutex(store)
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

    /// Applies one push (`ReplicationPush`) and answers a `PushAnswer`. 409 with this
    /// replica's `applied` when the push starts after what it holds (the primary then resends
    /// from there); no lease is taken from such a push. A page of a longer catch-up has `upTo`
    /// equal to `after`: its books are stored and `applied` stays.
    func replicate(_ body: [UInt8]) -> Response {
        guard let push = ReplicationPush(body) else {
            return APIError.badRequest("Malformed replication push.").response()
        }
        let (after, upTo, books, lease) = (push.after, push.upTo, push.books, push.lease)
        return store.withLock { store in
            let applied = memory.applied
            guard after <= applied else {
                return answer(409, applied: applied)
            }
            if upTo > applied || !books.isEmpty {
                do {
                    try store.apply(books, applied: upTo)
                } catch {
                    Log.error("store error applying a push", [("up_to", "\(upTo)"), ("error", "\(error)")])
                    return APIError.unavailable("The backup store failed.").response()
                }
                memory.apply(books, applied: upTo)
            }
            // A page leaves `applied` where it was and carries books: the backup is not current yet.
            let page = upTo == after && !books.isEmpty
            if !page && !current.load(ordering: .acquiring) {
                current.store(true, ordering: .releasing)
                Log.info("backup current: a complete push brought it up to the primary", [("applied", "\(memory.applied)")])
            }
            if !page, let lease, let start = receipts.withLock({ $0.madeAt(lease.echo) }) {
                leaseEnd.max(start + lease.milliseconds * 1_000_000, ordering: .releasing)
            }
            return answer(200, applied: memory.applied)
        }
    }

    /// An answer to a push, with a fresh receipt made just before it is sent.
    private func answer(_ status: Int, applied: Int64) -> Response {
        let receipt = receipts.withLock { $0.make() }
        return .json(status, PushAnswer(applied: applied, receipt: receipt).json)
    }

    /// Starts the thread that, while there is no lease, checks whether the primary answers
    /// (nginx answers for a dead or hung one: no `X-Upstream`) and, when it does not, asks the
    /// order replicas in turn for a stand-in lease.
    func watchPrimary(_ primary: String, witnesses: [String], client: InternalClient) {
        let thread = Thread { [self] in
            var standing = false
            while true {
                if !leased && isCurrent && !primaryAnswers(primary, client) {
                    let granted = witnesses.contains { askStandIn($0, client) }
                    if granted != standing { Log.warn(granted ? "primary down: standing in" : "not standing in", [("applied", "\(memory.applied)")]) }
                    standing = granted
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        thread.name = "primary-watch"
        thread.start()
    }

    private func primaryAnswers(_ primary: String, _ client: InternalClient) -> Bool {
        (try? client.send("GET", "/\(primary)/health", timeout: .milliseconds(500)))?.header("X-Upstream") != nil
    }

    /// One order replica's answer: true (and the stand-in lease taken) when it counts this
    /// backup in sync. The lease is counted from the moment it was asked for.
    private func askStandIn(_ witness: String, _ client: InternalClient) -> Bool {
        let asked = Monotonic.now()
        guard let answer = try? client.send("POST", "/\(witness)/stand-in", timeout: .milliseconds(300), resendable: true),
              answer.status == 200, let json = try? JSON.parse(answer.body),
              let milliseconds = StandInAnswer(json: json)?.leaseMilliseconds else { return false }
        standInEnd.max(asked + milliseconds * 1_000_000, ordering: .releasing)
        return true
    }
}
