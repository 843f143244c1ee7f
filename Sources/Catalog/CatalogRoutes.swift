import Basics
import BazarCore
import Foundation
import HTTPMessages
import Synchronization
import Wire

/// The catalog replica's routes, on nginx's internal listener only. Paths arrive as
/// `/<destination>/<operation>`; the destination (`catalog`, `catalog-primary`, `catalog-1`, …)
/// only chose this replica, so routing starts at the second segment.
struct CatalogRoutes: Sendable {
    /// What this replica does: primary or backup.
    enum Role: Sendable {
        case primary(Primary)
        case backup(Backup)
    }

    /// The role now: a backup that wins an epoch becomes the primary in the running process.
    final class CurrentRole: Sendable {
        private let role: Mutex<Role>

        init(_ role: Role) {
            self.role = Mutex(role)
        }

        var now: Role { role.withLock { $0 } }

        func become(_ new: Role) {
            role.withLock { $0 = new }
        }
    }

    let name: String
    let current: CurrentRole
    let term: CatalogTerm
    let reads: CatalogReads
    let metrics: RequestMetrics

    /// The catalog's operations (a `settle` route for an addition and one for a take).
    enum Operation: Sendable {
        case info, search, health, take, takeBatch, update, books, settleAddition, settle, lease, takes, replicate, switchover, takeOver, state,
             changes, metrics
    }

    /// The operations, one line per route: its name, its segments, its method.
    static let table = RouteTable<Operation>([
        .init("info", 2, ["GET"], .info),
        .init("search", 2, ["GET"], .search),
        .init("health", 1, ["GET"], .health),
        .init("take", 2, ["POST"], .take),
        .init("take-batch", 1, ["POST"], .takeBatch),
        .init("update", 2, ["POST"], .update),
        .init("books", 1, ["POST"], .books),
        .init("settle", 1, ["POST"], .settleAddition),
        .init("settle", 2, ["POST"], .settle),
        .init("lease", 2, ["POST"], .lease),
        .init("takes", 1, ["GET"], .takes),
        .init("replicate", 1, ["POST"], .replicate),
        .init("switchover", 1, ["POST"], .switchover),
        .init("take-over", 1, ["POST"], .takeOver),
        .init("state", 1, ["GET"], .state),
        .init("changes", 1, ["GET"], .changes),
        .init("metrics", 1, ["GET"], .metrics),
    ])

    /// The route names `metrics` counts requests by.
    static let routeNames = table.names

    func handle(_ request: Request) -> Response {
        if Routing.isMisdirected(request, destinations: ["catalog", "catalog-primary", Substring(name)]) { return Routing.misdirected() }
        do {
            return try route(request)
        } catch {
            // A refusal for the other role carries no X-Upstream: nginx and callers read it as not sent.
            return error.response(headers: error.code == "not_primary" ? [] : reads.upstream)
        }
    }

    private func route(_ request: Request) throws(APIError) -> Response {
        let role = current.now
        let operation = try Routing.internalOperation(request)
        switch try Self.table.exactRoute(request.method, operation).endpoint {
        case .info:
            try requireReadable(role)
            return reads.info(try PathParsing.positiveID(operation[1]))
        case .search:
            try requireReadable(role)
            return reads.search(try PathParsing.decodeSegment(operation[1]), try Page(query: request.query))
        case .health:
            return health(role)
        case .metrics:
            return metrics.response { exposition in
                exposition.applied(reads.memory.applied)
                if case .primary(let primary) = role {
                    exposition.family("bazar_replication_lag_seconds", .gauge,
                                      "How long the backup has lacked a write this primary committed (0: it has every one).")
                    exposition.sample("bazar_replication_lag_seconds", [], primary.replicator.lagSeconds(now: Monotonic.now()))
                }
            }
        case .take:
            let (key, attempt) = try WriteIdentity.decode(request, needing: .key)
            return try primary(role).take(try PathParsing.positiveID(operation[1]), key: key, attempt: attempt)
        case .takeBatch:
            guard let batch = TakeBatch(body: request.body) else {
                throw .badRequest("A take batch is {\"takes\": [{\"book\": id, \"key\": key, \"attempt\": attempt}, ...]}.")
            }
            return try primary(role).takeBatch(batch)
        case .update:
            let (key, attempt) = try WriteIdentity.decode(request, needing: .nothing)
            return try primary(role).update(try PathParsing.positiveID(operation[1]), try BookUpdate.parse(request.body),
                                        key: key, attempt: attempt)
        case .books:
            let (key, attempt) = try WriteIdentity.decode(request, needing: .key)
            return try primary(role).add(try NewBooks.parse(request.body), key: key, attempt: attempt)
        case .settleAddition:
            let (key, attempt) = try WriteIdentity.decode(request, needing: .key)
            return try primary(role).settleAddition(key: key, attempt: attempt)
        case .settle:
            let (key, attempt) = try WriteIdentity.decode(request, needing: .key)
            return try primary(role).settle(try PathParsing.positiveID(operation[1]), key: key, attempt: attempt)
        case .lease:
            return try primary(role).lease(String(operation[1]), renewing: try heldLease(request.query))
        case .takes:
            return try primary(role).takes(try Page(query: request.query))
        case .replicate:
            if case .primary = role, let pushed = ReplicationPush(body: request.body)?.term, pushed.epoch > term.current.epoch {
                term.stepDown(to: pushed)
            }
            return try backup(role).replicate(request.body)
        case .switchover:
            return try primary(role).handOver()
        case .takeOver:
            return try takeOver(try backup(role), request.body)
        case .state:
            return try backup(role).state()
        case .changes:
            return try backup(role).changes(after: try Page(query: request.query).after)
        }
    }

    /// How long a backup asked to take over waits until it leads.
    static let takeOverWait: Duration = .milliseconds(3_000)

    /// The primary's request to take its role over (`{"epoch", "primary"}`: the term it leaves):
    /// once this replica leads the next epoch, 200 with the new term; 409 when the term is not
    /// the current one or this backup is not current; 503 when it did not lead in time.
    private func takeOver(_ backup: Backup, _ body: [UInt8]) throws(APIError) -> Response {
        guard let leaving = TermMessage(body: body)?.term else {
            throw .badRequest("A take-over request is {\"epoch\": n, \"primary\": name}.")
        }
        guard backup.askToTakeOver(leaving: leaving) else {
            throw APIError(status: 409, code: "not_in_sync", message: "\(name) cannot take over \(leaving): it is not current in it.")
        }
        let deadline = Monotonic.now() + Self.takeOverWait.nanoseconds
        while Monotonic.now() < deadline {
            if case .primary(let primary) = current.now, primary.isLeading {
                return .json(200, TermMessage(term.current).json, headers: reads.upstream)
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        throw .unavailable("\(name) did not lead in time.")
    }

    /// The id of the lease a front renews (`?lease=ID`), nil when it names none.
    private func heldLease(_ query: String) throws(APIError) -> Int64? {
        guard let text = PathParsing.queryValue(query, "lease") else { return nil }
        guard let id = Int64(text), id > 0 else { throw .badRequest("lease must be a positive decimal integer.") }
        return id
    }

    private func requireReadable(_ role: Role) throws(APIError) {
        switch role {
        case .backup(let backup) where !backup.readable:
            throw .unavailable("\(name) is catching up with the primary.")
        case .primary(let primary) where !primary.isReadable:
            throw .unavailable("\(name) is recovering: it does not yet know that it holds every acknowledged write.")
        case .primary(let primary) where !primary.mayServeReads:
            throw .unavailable("\(name) has not heard from its backup lately: another replica may lead now.")
        default:
            break
        }
    }

    private func backup(_ role: Role) throws(APIError) -> Backup {
        guard case .backup(let backup) = role else { throw notPrimary("the backup's") }
        return backup
    }

    /// The primary, or on a backup the refusal nginx passes to the other replica (503
    /// `not_primary`, surely not applied: `X-Bazar-Not-Sent`).
    private func primary(_ role: Role) throws(APIError) -> Primary {
        guard case .primary(let primary) = role else { throw notPrimary("the primary's") }
        return primary
    }

    private func notPrimary(_ whose: String) -> APIError {
        .notPrimary("\(name) does not hold the role this route is \(whose); nothing was done.", primary: term.current.primary, refusedBy: name)
    }

    private func health(_ role: Role) -> Response {
        let (roleName, status): (String, String) = switch role {
        case .primary(let primary): ("primary", primary.isLeading ? "up" : "catching_up")
        case .backup(let backup): ("backup", backup.readable ? "up" : "catching_up")
        }
        return ReplicaHealth(name: name, role: roleName, status: status, applied: reads.memory.applied, term: term.current).response
    }
}
