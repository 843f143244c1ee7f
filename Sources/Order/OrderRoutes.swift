import BazarCore
import FastCGI

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
            let all = try storeCall { try orders.all() }
            return .json(200, .object([("orders", .array(all.map(\.json)))]), headers: purchases.upstream)
        case ("GET", "orders", 2):
            let number = try PathParsing.positiveID(operation[1])
            try requireLevel()
            guard let order = try storeCall({ try orders.order(number) }) else {
                throw .notFound("No order has number \(number).")
            }
            return .json(200, order.json, headers: purchases.upstream)
        case ("POST", "replicate", 1):
            guard let pushed = (try? JSON.parse(request.body))?["orders"]?.arrayValue else {
                throw .badRequest("Malformed order push.")
            }
            try storeCall { try orders.record(pushed.compactMap(Order.init(json:))) }
            return .json(200, .object([("applied", .int(orders.applied))]))
        case ("GET", "health", 1):
            let body = JSON.object([("name", .string(name)), ("role", .string("order")),
                                    ("status", .string(catchUp.isLevel ? "up" : "catching_up")),
                                    ("applied", .int(orders.applied))])
            return .json(200, body, headers: purchases.upstream)
        default:
            throw .notFound("No such route.")
        }
    }

    private func requireLevel() throws(APIError) {
        guard catchUp.isLevel else { throw .unavailable("\(name) is catching up.") }
    }

    private func storeCall<T>(_ body: () throws -> T) throws(APIError) -> T {
        do {
            return try body()
        } catch {
            Log.info("store error: \(error)")
            throw .unavailable("The order store failed.")
        }
    }
}
