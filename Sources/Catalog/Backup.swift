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
/// passes them to the primary, and reports `catching_up`. When the primary does not answer,
/// the backup asks the order replicas whether it is still counted in sync: if one says so, no
/// write was acknowledged without it, so it holds every acknowledged write and stands in,
/// serving reads under a stand-in lease during which the primary cannot demote it.
final class Backup: Sendable {
    private let store: Mutex<CatalogStore>
    private let memory: CatalogMemory
    private let leaseEnd = Atomic<Int64>(0)
    private let standInEnd = Atomic<Int64>(0)

    init(store: sending CatalogStore, memory: CatalogMemory) {
        self.store = Mutex(store)
        self.memory = memory
    }

    /// Whether a push lease is in force.
    var leased: Bool { Monotonic.now() < leaseEnd.load(ordering: .acquiring) }

    /// Whether reads may be served now.
    var readable: Bool { leased || Monotonic.now() < standInEnd.load(ordering: .acquiring) }

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
        return store.withLock { store in
            let applied = memory.applied
            guard after <= applied else {
                return .json(409, .object([("applied", .int(applied))]))
            }
            if upTo > applied {
                do {
                    try store.apply(books, applied: upTo)
                } catch {
                    Log.error("store error applying a push", [("up_to", "\(upTo)"), ("error", "\(error)")])
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

    /// Starts the thread that, while there is no lease, checks whether the primary answers
    /// (nginx answers for a dead or hung one: no `X-Upstream`) and, when it does not, asks the
    /// order replicas in turn for a stand-in lease.
    func watchPrimary(_ primary: String, witnesses: [String], client: InternalClient) {
        let thread = Thread { [self] in
            var standing = false
            while true {
                if !leased && !primaryAnswers(primary, client) {
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
              answer.status == 200, let json = try? JSON.parse(answer.body), json["in_sync"]?.boolValue == true,
              let milliseconds = json["lease_ms"]?.int64Value else { return false }
        standInEnd.max(asked + milliseconds * 1_000_000, ordering: .releasing)
        return true
    }
}
