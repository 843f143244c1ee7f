import BazarCore
import Foundation
import InternalHTTP

/// bazar-front's configuration: its flags and the program they make.
public enum FrontTier {
    /// The flags the front takes (besides the server's `--socket` and `--threads`).
    public static let flags = ["name", "internal", "invalidation-socket", "cache-capacity", "admin-token-file",
                               "catalogs", "orders", "fill-delay-ms"]

    /// The front from its flags: the public routes, and a socket of their own for invalidations
    /// (a write waits for its invalidation, and the purchase that caused it may hold one of
    /// the front's public threads meanwhile).
    public static func make(_ flags: Flags) throws -> TierProgram {
        let client = InternalClient(socketPath: try flags.string("internal"))
        let cache = ResponseCache(capacity: try flags.int("cache-capacity", default: 10_000))
        let fillDelay = try flags.int("fill-delay-ms", default: 0, in: 0...10_000)
        let lease = ReadLease(name: try flags.string("name", default: "front"), client: client, cache: cache)
        lease.start()
        let reads = CachedReads(cache: cache, lease: lease, client: client, fillDelayMicroseconds: UInt32(fillDelay * 1000))
        let admin = try AdminToken(environment: ProcessInfo.processInfo.environment,
                                   file: try flags.string("admin-token-file", default: "var/admin.token"))
        let health = Health(client: client, catalogs: try flags.list("catalogs", default: ["catalog-1", "catalog-2"]),
                            orders: try flags.list("orders", default: ["order-1", "order-2"]))
        let routes = FrontRoutes(reads: reads, forwarding: Forwarding(client: client), writes: Writes(client: client),
                                 health: health, admin: admin)
        let invalidationSocket = try flags.string("invalidation-socket", default: "")
        return TierProgram(extraSockets: invalidationSocket.isEmpty ? [] : [.init(path: invalidationSocket, threads: 4)],
                           startMessage: "front starting with a \(cache.capacity)-entry cache",
                           handle: routes.handle)
    }
}
