import Basics
import BazarCore
import Foundation
import InternalHTTP
import TierCalls

/// bazar-front's configuration: its flags and the program they make.
public enum FrontTier {
    /// The flags the front takes (besides the server's `--socket` and `--threads`).
    public static let flags = ["name", "internal", "invalidation-socket", "writes-socket", "writes-threads", "misses-socket", "cache-capacity", "cache-bytes",
                               "admin-token-file", "admin-token-fd", "metrics-token-file", "metrics-token-fd", "catalogs", "orders",
                               "fronts", "fill-delay-ms"]

    /// The front from its flags: a cache of at most `--cache-capacity` entries (10,000) and
    /// `--cache-bytes` bytes (128 MiB; either 0 turns it off), the public routes, and sockets of
    /// their own, each with its own threads, for invalidations (a write waits for its invalidation, and the purchase that
    /// caused it may hold one of the front's threads meanwhile) and, with `--writes-socket`,
    /// for purchases, updates, additions and order reads, on `--writes-threads` threads (default
    /// `--threads`): a hung order replica then holds only those; and with `--misses-socket`, for
    /// the queue of cache misses (`MissQueue`), on half as many threads as `--threads`. On the
    /// main socket, reads that wait on another tier (cache misses, `/health`) take one of half as
    /// many permits as it has threads, so the other half stay free for hits. `GET /metrics` also takes the read-only
    /// metrics token: `BAZAR_METRICS_TOKEN`, else the first line of `--metrics-token-fd` or
    /// `--metrics-token-file` (none without any). `BAZAR_RESTARTS_FILE` in the environment names
    /// the supervisor's counts of restarts, and `BAZAR_NGINX_ANSWERS_FILE` its counts of nginx's
    /// own answers, which `/metrics` reports (bazarctl sets both). `--fronts` lists every front,
    /// whose own series `/metrics` gathers (`FrontPeers`).
    public static func make(_ flags: Flags) throws -> TierProgram {
        let client = try InternalClient(flags: flags)
        let threads = try flags.int("threads", default: TierProgram.defaultThreads, in: 1...1024)
        let permits = Permits(max(1, threads / 2))
        let cache = ResponseCache<CacheEntry>(capacity: try flags.int("cache-capacity", default: 10_000),
                                              capacityBytes: try flags.int("cache-bytes",
                                                                           default: ResponseCache<CacheEntry>.defaultCapacityBytes))
        let fillDelay = try flags.int("fill-delay-ms", default: 0, in: 0...10_000)
        let name = try flags.string("name", default: "front")
        guard isName(name) else { throw FlagError("--name must be 1 to 100 letters, digits and . _ : @ - (got '\(name)')") }
        let primary = PrimaryCalls(client)
        let lease = ReadLease(name: name, primary: primary, cache: cache)
        lease.start()
        let missesSocket = try flags.string("misses-socket", default: "")
        let misses = MissQueue(enabled: !missesSocket.isEmpty)
        let reads = CachedReads(cache: cache, lease: lease, client: client, permits: permits, misses: misses,
                                fillDelayMicroseconds: UInt32(fillDelay * 1000))
        let environment = ProcessInfo.processInfo.environment
        let admin = try BearerToken(environment: environment, variable: "BAZAR_ADMIN_TOKEN",
                                    source: try SecretSource.from(flags, "admin-token", defaultFile: "var/admin.token"))
        let metricsToken = try BearerToken.optional(environment: environment, variable: "BAZAR_METRICS_TOKEN",
                                                    flags: flags, name: "metrics-token")
        let catalogs = try flags.list("catalogs", default: ["catalog-1", "catalog-2"])
        let orders = try flags.list("orders", default: ["order-1", "order-2"])
        let health = Health(client: client, catalogs: catalogs, orders: orders, permits: permits)
        let requests = RequestMetrics(routes: FrontRoutes.routeNames)
        let restarts = SupervisorRestarts(file: ProcessInfo.processInfo.environment["BAZAR_RESTARTS_FILE"] ?? "")
        let nginxAnswers = NginxAnswers(file: ProcessInfo.processInfo.environment["BAZAR_NGINX_ANSWERS_FILE"] ?? "")
        let fronts = FrontPeers(own: name, listed: try FrontPeers.parse(try flags.list("fronts", default: [])), supervisor: restarts)
        let metrics = MetricsReport(name: name, client: client, fronts: fronts, catalogs: catalogs, orders: orders, permits: permits,
                                    misses: misses, cache: cache, lease: lease, requests: requests, restarts: restarts,
                                    nginxAnswers: nginxAnswers)
        let routes = FrontRoutes(name: name, reads: reads, forwarding: Forwarding(client: client), writes: Writes(client: client, primary: primary, orders: orders),
                                 health: health, metrics: metrics, admin: admin, metricsToken: metricsToken)
        var sockets: [TierProgram.ExtraSocket] = []
        let invalidationSocket = try flags.string("invalidation-socket", default: "")
        if !invalidationSocket.isEmpty { sockets.append(.init(path: invalidationSocket, threads: 4)) }
        let writesSocket = try flags.string("writes-socket", default: "")
        let writesThreads = try flags.int("writes-threads", default: threads, in: 1...4096)
        if !writesSocket.isEmpty { sockets.append(.init(path: writesSocket, threads: writesThreads)) }
        if !missesSocket.isEmpty { sockets.append(.init(path: missesSocket, threads: max(1, threads / 2))) }
        return TierProgram(extraSockets: sockets,
                           startMessage: "front starting with a cache of \(cache.capacity) entries and \(cache.capacityBytes) bytes", metrics: requests,
                           handle: routes.handle)
    }

    /// Whether `name` may name a front (`--name`, `--fronts`): 1 to 100 letters, digits and
    /// `. _ : @ -`, safe in a path and a label.
    static func isName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 100 && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._:@-".contains($0)) }
    }
}
