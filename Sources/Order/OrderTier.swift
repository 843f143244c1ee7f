import Basics
import BazarCore
import InternalHTTP
import Store
import TierCalls

/// bazar-order's configuration: its flags and the program they make.
public enum OrderTier {
    /// The flags an order replica takes (besides the server's `--socket` and `--threads`).
    public static let flags = ["name", "peer", "db", "internal"]

    /// One order replica from its flags; it pushes each order to `--peer`.
    public static func make(_ flags: Flags) throws -> TierProgram {
        let name = try flags.string("name")
        let identity = StoreIdentity(deployment: Deployment.id(secret: try InternalSecret.load(flags)), replica: name)
        let orders = try OrderBook(store: try OrderStore(path: try flags.string("db"), identity: identity))
        let client = try InternalClient(flags: flags)
        let peer = try flags.string("peer")
        let primary = PrimaryCalls(client)
        let catchUp = CatchUp(orders: orders, primary: primary, peer: peer)
        catchUp.start()
        let purchases = Purchases(name: name, takes: TakeBatches(primary: primary),
                                  commits: OrderCommits(orders: orders, peer: PeerPush(peer: peer, client: client)), primary: primary)
        let witness = Witness(store: try OrderStore(path: try flags.string("db"), identity: identity))
        let metrics = RequestMetrics(routes: OrderRoutes.routeNames)
        let routes = OrderRoutes(name: name, orders: orders, purchases: purchases, catchUp: catchUp, witness: witness,
                                 metrics: metrics)
        return TierProgram(startMessage: "\(name) starting at applied \(orders.heldThrough)", metrics: metrics,
                           handle: routes.handle)
    }
}
