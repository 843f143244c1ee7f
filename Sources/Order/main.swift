import BazarCore
import FastCGI
import Foundation
import Store

/// bazar-order: one order replica as a FastCGI responder.
do {
    let flags = try Flags(Array(CommandLine.arguments.dropFirst()))
    let name = try flags.string("name")
    let orders = try OrderBook(store: try OrderStore(path: try flags.string("db")))
    let client = InternalClient(socketPath: try flags.string("internal"))
    let catchUp = CatchUp(orders: orders, client: client)
    catchUp.start()
    let purchases = Purchases(name: name, peer: PeerPush(peer: try flags.string("peer"), client: client),
                              orders: orders, client: client)
    let routes = OrderRoutes(name: name, orders: orders, purchases: purchases, catchUp: catchUp)
    let options = ServerOptions(listen: try flags.listen(), threads: try flags.int("threads", default: 32, in: 1...1024))
    Log.info("\(name) starting at applied \(orders.applied)")
    FastCGIServer.run(options) { routes.handle($0) }
} catch {
    Log.info("bazar-order: \(error)")
    exit(2)
}
