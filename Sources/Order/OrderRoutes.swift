import Basics
import BazarCore
import HTTPMessages
import Wire

/// The order replica's routes, on nginx's internal listener only (`/<destination>/<operation>`,
/// routed from the second segment, like the catalog's).
struct OrderRoutes: Sendable {
    let name: String
    let orders: OrderBook
    let purchases: Purchases
    let catchUp: CatchUp
    let witness: Witness
    let metrics: RequestMetrics

    /// The order replica's operations (an `orders` route for the list and one for an order, a
    /// `witness` route to record and one to read).
    enum Operation: Sendable {
        case purchase, orderList, order, held, replicate, witness, witnessState, acknowledged, standIn, epoch, health, metrics
    }

    /// The operations, one line per route: its name, its segments, its method.
    static let table = RouteTable<Operation>([
        .init("purchase", 2, ["POST"], .purchase),
        .init("orders", 1, ["GET"], .orderList),
        .init("orders", 2, ["GET"], .order),
        .init("held", 1, ["GET"], .held),
        .init("replicate", 1, ["POST"], .replicate),
        .init("witness", 1, ["POST"], .witness),
        .init("witness", 1, ["GET"], .witnessState),
        .init("acknowledged", 1, ["POST"], .acknowledged),
        .init("stand-in", 1, ["POST"], .standIn),
        .init("epoch", 1, ["POST"], .epoch),
        .init("health", 1, ["GET"], .health),
        .init("metrics", 1, ["GET"], .metrics),
    ])

    /// The route names `metrics` counts requests by.
    static let routeNames = table.names

    func handle(_ request: Request) -> Response {
        if Routing.isMisdirected(request, destinations: ["orders", Substring(name)]) { return Routing.misdirected() }
        return Routing.answer(headers: purchases.upstream) { () throws(APIError) in try route(request) }
    }

    private func route(_ request: Request) throws(APIError) -> Response {
        let operation = try Routing.internalOperation(request)
        switch try Self.table.exactRoute(request.method, operation).endpoint {
        case .purchase:
            let id = try PathParsing.positiveID(operation[1])
            let (key, attempt) = try WriteIdentity.decode(request, needing: .keyAndAttempt)
            return purchases.buy(id, key: key, attempt: attempt)
        case .orderList:
            return try list(try Page(query: request.query))
        case .order:
            return try order(try PathParsing.positiveID(operation[1]))
        case .held:
            let page = try Page(query: request.query)
            let held = try read { try orders.orders(after: page.after, limit: page.limit) }
            return .json(200, OrderList(held).json, headers: purchases.upstream)
        case .replicate:
            guard let pushed = OrderList(body: request.body) else {
                throw .badRequest("Malformed order push.")
            }
            try APIError.unavailableOnFailure("the orders were not recorded") {
                try orders.record(pushed.orders)
            }
            return .json(200, .object([("applied", .int(orders.heldThrough))]))
        case .witness:
            return try witness.record(request.body)
        case .witnessState:
            return try witness.state()
        case .acknowledged:
            return try witness.acknowledge(request.body)
        case .standIn:
            return try witness.standIn(request.body)
        case .epoch:
            return try witness.grant(request.body)
        case .metrics:
            return metrics.response { exposition in
                exposition.applied(orders.heldThrough)
                exposition.family("bazar_orders_held", .gauge, "Orders this replica holds.")
                exposition.sample("bazar_orders_held", [], orders.count)
                exposition.family("bazar_orders_waiting", .gauge, "Purchases waiting for the running batch to record their orders.")
                exposition.sample("bazar_orders_waiting", [], purchases.commits.waiting)
                exposition.family("bazar_takes_waiting", .gauge, "Purchases whose takes wait for the batch of takes on its way to the primary.")
                exposition.sample("bazar_takes_waiting", [], purchases.takes.waiting)
            }
        case .health:
            return ReplicaHealth(name: name, role: "order", status: catchUp.isLevel ? "up" : "catching_up",
                                 applied: orders.heldThrough).response
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
