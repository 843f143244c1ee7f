import Basics
import BazarCore
import Foundation
import HTTPMessages

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

    /// The route names `metrics` counts requests by.
    static let routeNames = ["info", "search", "health", "take", "update", "books", "settle", "lease", "takes", "replicate",
                             "state", "changes", "metrics"]

    func handle(_ request: Request) -> Response {
        if Routing.isMisdirected(request, destinations: ["catalog", "catalog-primary", Substring(name)]) { return Routing.misdirected() }
        return Routing.answer(headers: reads.upstream) { () throws(APIError) in try route(request) }
    }

    private func route(_ request: Request) throws(APIError) -> Response {
        let operation = try Routing.internalOperation(request)
        switch (request.method, operation.first, operation.count) {
        case ("GET", "info", 2):
            try requireReadable()
            return reads.info(try PathParsing.positiveID(operation[1]))
        case ("GET", "search", 2):
            try requireReadable()
            return reads.search(try PathParsing.decodeSegment(operation[1]), try Page(query: request.query))
        case ("GET", "health", 1):
            return health()
        case ("GET", "metrics", 1):
            return metrics.response { $0.applied(reads.memory.applied) }
        case ("POST", "take", 2):
            let (key, attempt) = try writeIdentity(request)
            return try primary().take(try PathParsing.positiveID(operation[1]), key: key, attempt: attempt)
        case ("POST", "update", 2):
            let (key, attempt) = try writeIdentity(request, required: false)
            return try primary().update(try PathParsing.positiveID(operation[1]), try BookUpdate.parse(request.body),
                                        key: key, attempt: attempt)
        case ("POST", "books", 1):
            let (key, attempt) = try writeIdentity(request)
            return try primary().add(try NewBooks.parse(request.body), key: key, attempt: attempt)
        case ("POST", "settle", 1):
            let (key, attempt) = try writeIdentity(request)
            return try primary().settleAddition(key: key, attempt: attempt)
        case ("POST", "settle", 2):
            let (key, attempt) = try writeIdentity(request)
            return try primary().settle(try PathParsing.positiveID(operation[1]), key: key, attempt: attempt)
        case ("POST", "lease", 2):
            return try primary().lease(String(operation[1]), renewing: try heldLease(request.query))
        case ("GET", "takes", 1):
            return try primary().takes(try Page(query: request.query))
        case ("POST", "replicate", 1):
            return try backup().replicate(request.body)
        case ("GET", "state", 1):
            return try backup().state()
        case ("GET", "changes", 1):
            return try backup().changes(after: try Page(query: request.query).after)
        default:
            throw .notFound("No such route.")
        }
    }

    /// A write's key and attempt (`X-Bazar-Key`, `X-Bazar-Attempt`; the attempt defaults to the
    /// key). Without `required`, a missing key is a new one (such a write cannot be settled).
    private func writeIdentity(_ request: Request, required: Bool = true) throws(APIError) -> (key: String, attempt: String) {
        let given = request.header(WriteIdentity.keyHeader).flatMap { $0.isEmpty ? nil : $0 }
        guard let key = given ?? (required ? nil : UUID().uuidString.lowercased()) else {
            throw .badRequest("\(WriteIdentity.keyHeader) is required.")
        }
        return (key, request.header(WriteIdentity.attemptHeader).flatMap { $0.isEmpty ? nil : $0 } ?? key)
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
