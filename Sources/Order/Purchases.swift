import BazarCore
import Foundation
import HTTPMessages
import InternalHTTP
import Synchronization

/// A purchase on an order replica: the catalog primary takes one copy (atomically, recording the
/// order under an idempotency key), this replica records the order and pushes it to its peer.
struct Purchases: Sendable {
    let name: String
    let peer: PeerPush
    let orders: OrderBook
    let client: InternalClient

    /// Buys one copy of book `id`. A client's `Idempotency-Key` makes the call safe to repeat,
    /// on either order replica: the catalog answers the first order again.
    func buy(_ id: Int64, idempotencyKey: String?) -> Response {
        let key = idempotencyKey.map { "client:" + $0 } ?? "generated:" + UUID().uuidString
        let taken: InternalResponse
        do {
            taken = try client.send("POST", "/catalog-primary/take/\(id)", headers: [("X-Bazar-Key", key)])
        } catch {
            return APIError.unavailable("The catalog primary did not answer; nothing was bought.").response(headers: upstream)
        }
        guard taken.status == 200 else {
            return Response(status: taken.status, headers: [Response.jsonContentType] + upstream, body: taken.body)
        }
        guard let answer = try? JSON.parse(taken.body), let orderJSON = answer["order"], let order = Order(json: orderJSON),
              let book = answer["book"] else {
            return APIError.unavailable("The catalog primary answered a malformed take.").response(headers: upstream)
        }
        do {
            try orders.record([order])
        } catch {
            Log.info("store error recording order \(order.number): \(error)")
        }
        peer.push(order)
        var headers = upstream
        if answer["replayed"]?.boolValue == true { headers.append(("Idempotent-Replayed", "true")) }
        return .json(200, .object([("order", order.json), ("book", book)]), headers: headers)
    }

    var upstream: [(String, String)] { Response.upstream(name) }
}

/// Pushes each new order to the other order replica before the purchase is answered, so both
/// list it. When the peer does not answer (down, or hung: the push waits at most `timeout`),
/// pushes pause for `pause` and the peer catches up from the catalog's record of takes.
final class PeerPush: Sendable {
    static let timeout: Duration = .milliseconds(300)
    static let pause: Duration = .seconds(1)

    private let path: String
    private let client: InternalClient
    private let pausedUntil = Atomic<Int64>(0)

    init(peer: String, client: InternalClient) {
        path = "/\(peer)/replicate"
        self.client = client
    }

    func push(_ order: Order) {
        guard Monotonic.now() >= pausedUntil.load(ordering: .relaxed) else { return }
        let body = JSON.object([("orders", .array([order.internalJSON]))]).encoded()
        if (try? client.send("POST", path, body: body, timeout: Self.timeout))?.status != 200 {
            pausedUntil.store(Monotonic.now() + Self.pause.nanoseconds, ordering: .relaxed)
            Log.info("\(path) missed order \(order.number); pushes pause, the peer catches up from the catalog")
        }
    }
}
