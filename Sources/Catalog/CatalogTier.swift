import Basics
import BazarCore
import InternalHTTP
import Store

/// bazar-catalog's configuration: its flags and the program they make.
public enum CatalogTier {
    /// The flags a catalog replica takes (besides the server's `--socket` and `--threads`).
    public static let flags = ["name", "role", "peer", "db", "internal", "witnesses", "update-key-horizon"]

    /// One catalog replica from its flags: `--role primary` pushes to `--peer`, `--role backup`
    /// takes its pushes and watches it; `--witnesses` names the order replicas that record
    /// whether the backup is in sync (default `order-1,order-2`; `none`: no record is kept, so
    /// the primary goes on without a backup that does not answer, and a backup never stands in).
    /// `--update-key-horizon N`: the primary keeps an update's key for at least N writes
    /// (default 100,000), as well as at least `WriteIdentity.keyRetention`.
    /// The store records whose it is (the deployment, from the internal secret, and `--name`);
    /// a primary leads only once `Recovery` has shown that it holds every acknowledged write.
    public static func make(_ flags: Flags) throws -> TierProgram {
        let name = try flags.string("name")
        let role = try flags.choice("role", ["primary", "backup"])
        let peer = try flags.string("peer")
        let identity = StoreIdentity(deployment: Deployment.id(secret: try InternalSecret.load(flags)), replica: name)
        let store = try CatalogStore(path: try flags.string("db"), identity: identity)
        let memory = CatalogMemory(books: try store.books(), applied: try store.applied())
        let client = try InternalClient(flags: flags)
        let witnesses = try flags.list("witnesses", default: ["order-1", "order-2"]).filter { $0 != "none" }
        let updateKeyHorizon = try flags.int("update-key-horizon", default: Int(KeyRetention.defaultCountHorizon), in: 0...Int(Int32.max))
        let routesRole: CatalogRoutes.Role
        if role == "primary" {
            let replicator = Replicator(client: client, backup: peer, memory: memory,
                                        witnesses: WitnessRecords(client: client, replicas: witnesses))
            let primary = Primary(name: name, store: store, memory: memory,
                                  invalidator: Invalidator(client: client, leases: FrontLeases(applied: memory.applied)),
                                  replicator: replicator, updateKeyHorizon: Int64(updateKeyHorizon))
            Recovery(primary: primary, client: client, backup: peer, witnesses: witnesses).start()
            routesRole = .primary(primary)
        } else {
            let backup = Backup(store: store, memory: memory)
            backup.watchPrimary(peer, witnesses: witnesses, client: client)
            routesRole = .backup(backup)
        }
        let metrics = RequestMetrics(routes: CatalogRoutes.routeNames)
        let routes = CatalogRoutes(name: name, role: routesRole, reads: CatalogReads(name: name, memory: memory), metrics: metrics)
        return TierProgram(startMessage: "\(name) starting as \(role) at applied \(memory.applied)", metrics: metrics,
                           handle: routes.handle)
    }
}
