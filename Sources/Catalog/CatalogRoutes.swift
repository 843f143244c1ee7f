import Basics
import BazarCore
import HTTPMessages
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

    let name: String
    let role: Role
    let reads: CatalogReads
    let metrics: RequestMetrics

    /// The catalog's operations (a `settle` route for an addition and one for a take).
    enum Operation: Sendable {
        case info, search, health, take, update, books, settleAddition, settle, lease, takes, replicate, state, changes, metrics
    }

    /// The operations, one line per route: its name, its segments, its method.
    static let table = RouteTable<Operation>([
        .init("info", 2, ["GET"], .info),
        .init("search", 2, ["GET"], .search),
        .init("health", 1, ["GET"], .health),
        .init("take", 2, ["POST"], .take),
        .init("update", 2, ["POST"], .update),
        .init("books", 1, ["POST"], .books),
        .init("settle", 1, ["POST"], .settleAddition),
        .init("settle", 2, ["POST"], .settle),
        .init("lease", 2, ["POST"], .lease),
        .init("takes", 1, ["GET"], .takes),
        .init("replicate", 1, ["POST"], .replicate),
        .init("state", 1, ["GET"], .state),
        .init("changes", 1, ["GET"], .changes),
        .init("metrics", 1, ["GET"], .metrics),
    ])

    /// The route names `metrics` counts requests by.
    static let routeNames = table.names

    func handle(_ request: Request) -> Response {
        if Routing.isMisdirected(request, destinations: ["catalog", "catalog-primary", Substring(name)]) { return Routing.misdirected() }
        return Routing.answer(headers: reads.upstream) { () throws(APIError) in try route(request) }
    }

    private func route(_ request: Request) throws(APIError) -> Response {
        let operation = try Routing.internalOperation(request)
        switch try Self.table.exactRoute(request.method, operation).endpoint {
        case .info:
            try requireReadable()
            return reads.info(try PathParsing.positiveID(operation[1]))
        case .search:
            try requireReadable()
            return reads.search(try PathParsing.decodeSegment(operation[1]), try Page(query: request.query))
        case .health:
            return health()
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
            return try primary().take(try PathParsing.positiveID(operation[1]), key: key, attempt: attempt)
        case .update:
            let (key, attempt) = try WriteIdentity.decode(request, needing: .nothing)
            return try primary().update(try PathParsing.positiveID(operation[1]), try BookUpdate.parse(request.body),
                                        key: key, attempt: attempt)
        case .books:
            let (key, attempt) = try WriteIdentity.decode(request, needing: .key)
            return try primary().add(try NewBooks.parse(request.body), key: key, attempt: attempt)
        case .settleAddition:
            let (key, attempt) = try WriteIdentity.decode(request, needing: .key)
            return try primary().settleAddition(key: key, attempt: attempt)
        case .settle:
            let (key, attempt) = try WriteIdentity.decode(request, needing: .key)
            return try primary().settle(try PathParsing.positiveID(operation[1]), key: key, attempt: attempt)
        case .lease:
            return try primary().lease(String(operation[1]), renewing: try heldLease(request.query))
        case .takes:
            return try primary().takes(try Page(query: request.query))
        case .replicate:
            return try backup().replicate(request.body)
        case .state:
            return try backup().state()
        case .changes:
            return try backup().changes(after: try Page(query: request.query).after)
        }
    }

    /// The id of the lease a front renews (`?lease=ID`), nil when it names none.
    private func heldLease(_ query: String) throws(APIError) -> Int64? {
        guard let text = PathParsing.queryValue(query, "lease") else { return nil }
        guard let id = Int64(text), id > 0 else { throw .badRequest("lease must be a positive decimal integer.") }
        return id
    }

    private func requireReadable() throws(APIError) {
        switch role {
        case .backup(let backup) where !backup.readable:
            throw .unavailable("\(name) is catching up with the primary.")
        case .primary(let primary) where !primary.isLeading:
            throw .unavailable("\(name) is recovering: it does not yet know that it holds every acknowledged write.")
        default:
            break
        }
    }

    private func backup() throws(APIError) -> Backup {
        guard case .backup(let backup) = role else { throw .notFound("Only the backup answers this.") }
        return backup
    }

    private func primary() throws(APIError) -> Primary {
        guard case .primary(let primary) = role else { throw .unavailable("\(name) is not the primary.") }
        return primary
    }

    private func health() -> Response {
        let (roleName, status): (String, String) = switch role {
        case .primary(let primary): ("primary", primary.isLeading ? "up" : "catching_up")
        case .backup(let backup): ("backup", backup.readable ? "up" : "catching_up")
        }
        return ReplicaHealth(name: name, role: roleName, status: status, applied: reads.memory.applied).response
    }
}
