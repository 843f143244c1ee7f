import Basics
import BazarCore
import HTTPMessages

/// The order replica's routes, on nginx's internal listener only (`/<destination>/<operation>`,
/// routed from the second segment, like the catalog's).
struct OrderRoutes: Sendable {
    let name: String
    let orders: OrderBook
    let purchases: Purchases
    let catchUp: CatchUp
    let witness: Witness
    let metrics: RequestMetrics

    /// The route names `metrics` counts requests by.
    static let routeNames = ["purchase", "orders", "held", "replicate", "witness", "acknowledged", "stand-in", "epoch", "health",
                             "metrics"]

    func handle(_ request: Request) -> Response {
        if Routing.isMisdirected(request, destinations: ["orders", Substring(name)]) { return Routing.misdirected() }
        return Routing.answer(headers: purchases.upstream) { () throws(APIError) in try route(request) }
    }

    private func route(_ request: Request) throws(APIError) -> Response {
        let operation = try Routing.internalOperation(request)
        switch (request.method, operation.first, operation.count) {
        case ("POST", "purchase", 2):
            let id = try PathParsing.positiveID(operation[1])
            guard let key = request.header(WriteIdentity.keyHeader), let attempt = request.header(WriteIdentity.attemptHeader),
                  !key.isEmpty, !attempt.isEmpty else {
                throw .badRequest("A purchase needs \(WriteIdentity.keyHeader) and \(WriteIdentity.attemptHeader).")
            }
            return purchases.buy(id, key: key, attempt: attempt)
        case ("GET", "orders", 1):
            return try list(try Page(query: request.query))
        case ("GET", "orders", 2):
            return try order(try PathParsing.positiveID(operation[1]))
        case ("GET", "held", 1):
            let page = try Page(query: request.query)
            let held = try read { try orders.orders(after: page.after, limit: page.limit) }
            return .json(200, .object([("orders", .array(held.map(\.internalJSON)))]), headers: purchases.upstream)
        case ("POST", "replicate", 1):
            guard let pushed = (try? JSON.parse(request.body))?["orders"]?.arrayValue else {
                throw .badRequest("Malformed order push.")
            }
            try APIError.unavailableOnFailure("the orders were not recorded") {
                try orders.record(pushed.compactMap(Order.init(json:)))
            }
            return .json(200, .object([("applied", .int(orders.heldThrough))]))
        case ("POST", "witness", 1):
            return try witness.record(request.body)
        case ("GET", "witness", 1):
            return try witness.state()
        case ("POST", "acknowledged", 1):
            return try witness.acknowledge(request.body)
        case ("POST", "stand-in", 1):
            return try witness.standIn(request.body)
        case ("POST", "epoch", 1):
            return try witness.grant(request.body)
        case ("GET", "metrics", 1):
            return metrics.response { exposition in
                exposition.applied(orders.heldThrough)
                exposition.family("bazar_orders_held", .gauge, "Orders this replica holds.")
                exposition.sample("bazar_orders_held", [], orders.count)
                exposition.family("bazar_orders_waiting", .gauge, "Purchases waiting for the running batch to record their orders.")
                exposition.sample("bazar_orders_waiting", [], purchases.commits.waiting)
            }
        case ("GET", "health", 1):
            return ReplicaHealth(name: name, role: "order", status: catchUp.isLevel ? "up" : "catching_up",
                                 applied: orders.heldThrough).response
        default:
            throw .notFound("No such route.")
        }
    }

    /// One page of orders. A page that reaches past `heldThrough` (a gap this replica has not
    /// closed yet, or the newest orders) is read through: first every order taken so far is
    /// fetched, so the page holds every order answered 200 and `next` is null only at the end.
    private func list(_ page: Page) throws(APIError) -> Response {
        try requireLevel()
        var found = try read { try orders.orders(after: page.after, limit: page.limit + 1) }
        if found.count <= page.limit || orders.heldThrough < page.after + Int64(page.limit) {
            try catchUp.readThrough()
            found = try read { try orders.orders(after: page.after, limit: page.limit + 1) }
        }
        let body = JSON.object([("orders", .array(found.prefix(page.limit).map(\.json))),
                                ("next", page.next(numbers: found.map(\.number)))])
        return .json(200, body, headers: purchases.upstream)
    }

    /// One order; one this replica lacks is read through before it is called unknown.
    private func order(_ number: Int64) throws(APIError) -> Response {
        try requireLevel()
        var found = try read { try orders.order(number) }
        if found == nil {
            try catchUp.readThrough()
            found = try read { try orders.order(number) }
        }
        guard let found else { throw .notFound("No order has number \(number).") }
        return .json(200, found.json, headers: purchases.upstream)
    }

    private func read<T>(_ body: () throws -> T) throws(APIError) -> T {
        try APIError.unavailableOnFailure("the orders could not be read", body)
    }

    private func requireLevel() throws(APIError) {
        guard catchUp.isLevel else { throw .unavailable("\(name) is catching up.") }
    }
}
