import Basics
import BazarCore
import Foundation
import HTTPMessages
import Wire

/// The public API of API.md (and, on the internal listener only, `/<name>/invalidate`).
struct FrontRoutes: Sendable {
    /// The front's name, under which it holds its read lease and nginx's internal listener
    /// reaches it (`front`, `front-2`... on one host; `front@IP:PORT` across hosts).
    let name: String
    let reads: CachedReads
    let forwarding: Forwarding
    let writes: Writes
    let health: Health
    let metrics: MetricsReport
    let admin: BearerToken
    /// The read-only metrics token, which `GET /metrics` takes besides the admin token.
    let metricsToken: BearerToken?

    /// The public routes (an `orders` route for the list and one for an order).
    enum Public: Sendable {
        case info, search, purchase, orderList, order, update, books, health, stats, metrics
    }

    /// The public API, one line per route: its name, its segments, its methods.
    static let table = RouteTable<Public>([
        .init("info", 2, ["GET", "HEAD"], .info),
        .init("search", 2, ["GET", "HEAD"], .search),
        .init("purchase", 2, ["POST", "PUT"], .purchase),
        .init("orders", 1, ["GET", "HEAD"], .orderList),
        .init("orders", 2, ["GET", "HEAD"], .order),
        .init("update", 2, ["PUT"], .update),
        .init("books", 1, ["POST"], .books),
        .init("health", 1, ["GET", "HEAD"], .health),
        .init("stats", 1, ["GET", "HEAD"], .stats),
        .init("metrics", 1, ["GET", "HEAD"], .metrics),
    ])

    /// The route names the front's request metrics count by: the public routes' and the
    /// internal `invalidate`.
    static let routeNames = table.names + ["invalidate"]

    func handle(_ request: Request) -> Response {
        Routing.answer { () throws(APIError) in try route(request) }
    }

    private func route(_ request: Request) throws(APIError) -> Response {
        guard let segments = PathParsing.segments(request.path) else {
            throw .badRequest("The path must be printable ASCII (percent-encode anything else).")
        }
        if request.isInternal {
            // Only calls for this front, by its name: anything else was meant for another process.
            guard segments.first.map({ $0 == name }) == true else { return Routing.misdirected() }
            return try internalRoute(request, segments)
        }
        let path = Self.table.withoutTrailingSlash(segments)
        return try publicRoute(try Self.table.route(request.method, path).endpoint, request, path)
    }

    private func publicRoute(_ route: Public, _ request: Request, _ path: [Substring]) throws(APIError) -> Response {
        switch route {
        case .info: return try reads.info(try PathParsing.positiveID(path[1]), request)
        case .search:
            return try reads.search(try PathParsing.decodeSegment(path[1], plusAsSpace: true), try Page(query: request.query), request)
        case .purchase: return try purchase(request, try PathParsing.positiveID(path[1]))
        case .orderList: return forwarding.read("/orders/orders?\(try Page(query: request.query).query)")
        case .order: return forwarding.read("/orders/orders/\(try PathParsing.positiveID(path[1]))")
        case .update: return try update(request, try PathParsing.positiveID(path[1]))
        case .books: return try addBooks(request)
        case .health: return try health.report()
        case .stats: return stats()
        case .metrics:
            try requireMetricsReader(request)
            return try metrics.report()
        }
    }

    /// `POST /<name>/invalidate` from the catalog primary before each write, and
    /// `GET /<name>/metrics` from the front answering a scrape.
    private func internalRoute(_ request: Request, _ segments: [Substring]) throws(APIError) -> Response {
        guard segments.count == 2, segments[0] == name else { throw .notFound("No such route.") }
        switch segments[1] {
        case "invalidate":
            try allow(request, ["POST"])
            guard let invalidation = Invalidation(body: request.body) else {
                throw .badRequest("An invalidation is {\"items\": [{\"book\": id or \"topic\": name, \"seq\": n}, ...]}.")
            }
            let dropped = invalidation.items.reduce(0) { $0 + reads.cache.invalidate($1.dependency, seq: $1.seq) }
            return .json(200, .object([("dropped", .int(Int64(dropped)))]))
        case "metrics":
            try allow(request, ["GET", "HEAD"])
            return metrics.ownReport()
        default:
            throw .notFound("No such route.")
        }
    }

    private func purchase(_ request: Request, _ id: Int64) throws(APIError) -> Response {
        let attempt = Self.attempt(request)
        return writes.purchase(id, key: try Self.idempotencyKey(request, attempt: attempt), attempt: attempt)
    }

    /// `POST /books`: one book, or an array of them, added under the client's
    /// `Idempotency-Key` (or nginx's request id), like a purchase.
    private func addBooks(_ request: Request) throws(APIError) -> Response {
        try requireAdmin(request, "POST /books")
        guard !request.bodyTooLarge else { throw .payloadTooLarge }
        let books = try NewBooks.parse(request.body)
        let attempt = Self.attempt(request)
        return writes.add(books, body: request.body, key: try Self.idempotencyKey(request, attempt: attempt), attempt: attempt)
    }

    /// A keyed write (a purchase, an addition) runs under the client's `Idempotency-Key`, or
    /// else under nginx's request id, its `attempt` (which nginx also names if the front dies
    /// mid-way), so every answer can name its key. An empty `Idempotency-Key:` names no key,
    /// as nginx reads it too (its own answers to the write name the request id).
    private static func idempotencyKey(_ request: Request, attempt: String) throws(APIError) -> Writes.Key {
        guard let key = request.header("Idempotency-Key"), !key.isEmpty else { return Writes.Key(value: attempt, fromClient: false) }
        guard (1...200).contains(key.utf8.count), key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .badRequest("Idempotency-Key must be 1 to 200 printable ASCII characters.")
        }
        return Writes.Key(value: key, fromClient: true)
    }

    /// This request's attempt id: nginx's request id, or a new one.
    private static func attempt(_ request: Request) -> String {
        request.requestID.isEmpty ? UUID().uuidString.lowercased() : request.requestID
    }

    private func update(_ request: Request, _ id: Int64) throws(APIError) -> Response {
        try requireAdmin(request, "PUT /update")
        guard !request.bodyTooLarge else { throw .payloadTooLarge }
        return writes.update(id, try BookUpdate.parse(request.body), attempt: Self.attempt(request))
    }

    /// Refuses (401, and a rate-limited log line) a request without the admin token;
    /// `route` names it in the error (`PUT /update`).
    private func requireAdmin(_ request: Request, _ route: String) throws(APIError) {
        guard admin.admits(request.header("Authorization")) else {
            Log.limited("refused-token", .warn, "refused a request without the admin token",
                        [("request", "\(request.method) \(request.path)")])
            throw .unauthorized("\(route) needs Authorization: Bearer <admin token>.")
        }
    }

    /// Refuses (401) a scrape with neither the admin token nor the metrics token.
    private func requireMetricsReader(_ request: Request) throws(APIError) {
        let authorization = request.header("Authorization")
        guard admin.admits(authorization) || metricsToken?.admits(authorization) == true else {
            Log.limited("refused-token", .warn, "refused a scrape without the admin or metrics token",
                        [("request", "\(request.method) \(request.path)")])
            throw .unauthorized("GET /metrics needs Authorization: Bearer <admin or metrics token>.")
        }
    }

    private func stats() -> Response {
        let stats = reads.cache.stats
        let cache = JSON.object([("entries", .int(Int64(stats.entries))), ("capacity", .int(Int64(stats.capacity))),
                                 ("hits", .int(Int64(stats.hits))), ("misses", .int(Int64(stats.misses))),
                                 ("invalidations", .int(Int64(stats.invalidations))),
                                 ("evictions", .int(Int64(stats.evictions))),
                                 ("rejections", .int(Int64(stats.rejections))),
                                 ("bytes", .int(Int64(stats.bytes))), ("capacity_bytes", .int(Int64(stats.capacityBytes))),
                                 ("oversized", .int(Int64(stats.oversized)))])
        return .json(200, .object([("cache", cache)]))
    }

    private func allow(_ request: Request, _ methods: [String]) throws(APIError) {
        guard methods.contains(request.method) else { throw .methodNotAllowed(allow: methods) }
    }
}
