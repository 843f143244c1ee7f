import BazarCore
import FastCGI
import Foundation

/// bazar-front: the public API's FastCGI responder, with the read cache.
do {
    let flags = try Flags(Array(CommandLine.arguments.dropFirst()))
    let client = InternalClient(socketPath: try flags.string("internal"))
    let cache = ResponseCache(capacity: try flags.int("cache-capacity", default: 10_000))
    let reads = CachedReads(cache: cache, client: client,
                            fillDelayMicroseconds: UInt32(try flags.int("fill-delay-ms", default: 0, in: 0...10_000) * 1000))
    let admin = try AdminToken(environment: ProcessInfo.processInfo.environment,
                               file: try flags.string("admin-token-file", default: "var/admin.token"))
    let health = Health(client: client,
                        catalogs: try flags.string("catalogs", default: "catalog-1,catalog-2").split(separator: ",").map(String.init),
                        orders: try flags.string("orders", default: "order-1,order-2").split(separator: ",").map(String.init))
    let routes = FrontRoutes(reads: reads, forwarding: Forwarding(client: client), health: health, admin: admin)
    var options = ServerOptions(listen: try flags.listen(), threads: try flags.int("threads", default: 32, in: 1...1024))
    // Invalidations get a socket and threads of their own: a write waits for its invalidation,
    // and the purchase that caused it may hold one of the front's public threads meanwhile.
    let invalidationSocket = try flags.string("invalidation-socket", default: "")
    if !invalidationSocket.isEmpty { options.add(.path(invalidationSocket), threads: 4) }
    Log.info("front starting with a \(cache.stats.capacity)-entry cache")
    FastCGIServer.run(options) { routes.handle($0) }
} catch {
    Log.info("bazar-front: \(error)")
    exit(2)
}
