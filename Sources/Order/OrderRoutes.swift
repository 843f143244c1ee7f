import BazarCore
import HTTPMessages

/// The order replica's routes, on nginx's internal listener only (`/<destination>/<operation>`,
/// routed from the second segment, like the catalog's).
struct OrderRoutes: Sendable {
    let name: String
    let orders: OrderBook
    let purchases: Purchases
    let catchUp: CatchUp

    func handle(_ request: Request) -> Response {
        Routing.answer(headers: purchases.upstream) { () throws(APIError) in try route(request) }
    }

    private func route(_ request: Request) throws(APIError) -> Response {
        let operation = try Routing.internalOperation(request)
        switch (request.method, operation.first, operation.count) {
        case ("POST", "purchase", 2):
            let id = try PathParsing.positiveID(operation[1])
            return purchases.buy(id, idempotencyKey: request.header("Idempotency-Key"))
        case ("GET", "orders", 1):
            try requireLevel()
            let all = try APIError.unavailableOnFailure("the orders could not be read") { try orders.all() }
            return .json(200, .object([("orders", .array(all.map(\.json)))]), headers: purchases.upstream)
        case ("GET", "orders", 2):
            let number = try PathParsing.positiveID(operation[1])
            try requireLevel()
            guard let order = try APIError.unavailableOnFailure("the order could not be read", { try orders.order(number) }) else {
                throw .notFound("No order has number \(number).")
            }
            return .json(200, order.json, headers: purchases.upstream)
        case ("POST", "replicate", 1):
            guard let pushed = (try? JSON.parse(request.body))?["orders"]?.arrayValue else {
                throw .badRequest("Malformed order push.")
            }
            try APIError.unavailableOnFailure("the orders were not recorded") {
                try orders.record(pushed.compactMap(Order.init(json:)))
            }
            return .json(200, .object([("applied", .int(orders.heldThrough))]))
        case ("GET", "health", 1):
            return ReplicaHealth(name: name, role: "order", status: catchUp.isLevel ? "up" : "catching_up",
                                 applied: orders.heldThrough).response
        default:
            throw .notFound("No such route.")
        }
    }

    private func requireLevel() throws(APIError) {
        guard catchUp.isLevel else { throw .unavailable("\(name) is catching up.") }
    }
}
