import BazarCore
import Foundation
import HTTPMessages
import InternalHTTP
import Store
import Synchronization

/// The catalog backup's side of replication: it applies the primary's pushes in order and
/// serves reads only while it holds a lease. A push from a primary that counts this backup in
/// sync carries `lease_until_ns`, a deadline on the host's monotonic clock set from the moment
/// the primary *sent* it; a push that arrives late cannot stretch it. Without a lease (after a
/// restart, or when the primary stopped counting on it) the backup answers reads 503, so nginx
/// passes them to the primary, and reports `catching_up` — unless the primary is down and the
/// backup holds every write the front was ever told about (it stands in): then no write can be
/// acknowledged that it lacks, and it keeps serving reads until the primary is back.
final class Backup: Sendable {
    private let store: Mutex<CatalogStore>
    private let memory: CatalogMemory
    private let leaseEnd = Atomic<Int64>(0)
    /// Pushes received so far; a stand-in decision holds only while no push has come since.
    private let pushes = Atomic<Int>(0)
    /// The push count at which the backup found the primary down and itself level, or -1.
    private let standInAt = Atomic<Int>(-1)

    init(store: sending CatalogStore, memory: CatalogMemory) {
        self.store = Mutex(store)
        self.memory = memory
    }

    /// Whether a push lease is in force.
    var leased: Bool { Monotonic.now() < leaseEnd.load(ordering: .acquiring) }

    /// Whether reads may be served now.
    var readable: Bool { leased || standingIn }

    private var standingIn: Bool {
        standInAt.load(ordering: .sequentiallyConsistent) == pushes.load(ordering: .sequentiallyConsistent)
    }

    /// Applies one push: `{"after", "up_to", "books", "lease_until_ns"?}`. 409 with this
    /// replica's `applied` when the push starts after what it holds (the primary then resends
    /// from there); no lease is taken from such a push.
    func replicate(_ body: [UInt8]) -> Response {
        guard let push = try? JSON.parse(body), let after = push["after"]?.int64Value,
              let upTo = push["up_to"]?.int64Value,
              let books = push["books"]?.arrayValue?.compactMap(Book.init(json:)),
              [nil, .null].contains(push["lease_until_ns"]) || push["lease_until_ns"]?.int64Value != nil else {
            return APIError.badRequest("Malformed replication push.").response()
        }
        pushes.add(1, ordering: .sequentiallyConsistent)
        return store.withLock { store in
            let applied = memory.applied
            guard after <= applied else {
                return .json(409, .object([("applied", .int(applied))]))
            }
            if upTo > applied {
                do {
                    try store.apply(books, applied: upTo)
                } catch {
                    Log.info("store error applying push up to \(upTo): \(error)")
                    return APIError.unavailable("The backup store failed.").response()
                }
                memory.apply(books, applied: upTo)
            }
            if let until = push["lease_until_ns"]?.int64Value {
                leaseEnd.max(until, ordering: .releasing)
            }
            return .json(200, .object([("applied", .int(memory.applied))]))
        }
    }

    /// Starts the thread that, while there is no lease and no push arrives, checks whether the primary is down
    /// (nginx answers for it: no `X-Upstream`) and whether this backup is level with the
    /// newest write the front was told about.
    func watchPrimary(_ primary: String, client: InternalClient) {
        let thread = Thread { [self] in
            while true {
                let pushesBefore = pushes.load(ordering: .sequentiallyConsistent)
                if !leased {
                    // A push after `pushesBefore` means the primary is back and voids the decision.
                    standInAt.store(mayStandIn(primary, client) ? pushesBefore : -1, ordering: .sequentiallyConsistent)
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        thread.name = "primary-watch"
        thread.start()
    }

    private func mayStandIn(_ primary: String, _ client: InternalClient) -> Bool {
        let probe = try? client.send("GET", "/\(primary)/health", timeout: .milliseconds(500))
        guard probe?.header("X-Upstream") == nil,
              let announced = try? client.send("GET", "/front/announced", timeout: .milliseconds(500)),
              announced.status == 200,
              let seq = (try? JSON.parse(announced.body))?["seq"]?.int64Value else { return false }
        let level = memory.applied >= seq
        if level != standingIn {
            Log.info(level ? "primary down: serving reads at \(memory.applied) (front announced \(seq))"
                           : "not serving reads: primary down and behind the front's \(seq)")
        }
        return level
    }
}
