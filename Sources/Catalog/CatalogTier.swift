import Basics
import BazarCore
import InternalHTTP
import Store

/// bazar-catalog's configuration: its flags and the program they make.
public enum CatalogTier {
    /// The flags a catalog replica takes (besides the server's `--socket` and `--threads`).
    public static let flags = ["name", "role", "peer", "db", "internal", "witnesses", "update-key-horizon"]

    /// One catalog replica from its flags: `--role primary` names the primary of the first epoch
    /// (after that, the store's newest term says who leads: `CatalogTerm`); the primary pushes to
    /// `--peer`, the backup takes its pushes, watches it and runs for the next epoch when it is
    /// gone (`Backup`); `--witnesses` names the order replicas that record
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
        let store = SharedStore(try CatalogStore(path: try flags.string("db"), identity: identity))
        let client = try InternalClient(flags: flags)
        let witnesses = try flags.list("witnesses", default: ["order-1", "order-2"]).filter { $0 != "none" }
        let updateKeyHorizon = try flags.int("update-key-horizon", default: Int(KeyRetention.defaultCountHorizon), in: 0...Int(Int32.max))
        let term = try CatalogTerm(name: name, store: store, first: Term(epoch: 1, primary: role == "primary" ? name : peer))
        try term.learnAtStart(witnesses: witnesses, client: client)
        let memory = CatalogMemory(books: try store.withLock { try $0.books() }, applied: try store.withLock { try $0.applied() })
        let makePrimary = { @Sendable (grace: Duration, won: Bool) -> Primary in
            let replicator = Replicator(client: client, backup: peer, memory: memory, store: store,
                                        witnesses: WitnessRecords(client: client, replicas: witnesses, term: term), term: term)
            return Primary(name: name, store: store, memory: memory,
                           invalidator: Invalidator(client: client, leases: FrontLeases(applied: memory.applied, grace: grace)),
                           replicator: replicator, updateKeyHorizon: Int64(updateKeyHorizon), won: won)
        }
        let current: CatalogRoutes.CurrentRole
        if term.leads {
            let primary = makePrimary(FrontLeases.duration, false)
            current = CatalogRoutes.CurrentRole(.primary(primary))
            Recovery(primary: primary, client: client, backup: peer, witnesses: witnesses, term: term).start()
        } else {
            let backup = Backup(name: name, term: term, store: store, memory: memory)
            let role = CatalogRoutes.CurrentRole(.backup(backup))
            current = role
            backup.watchPrimary(witnesses: witnesses, client: client) { won, stopped in
                let primary = makePrimary(Candidacy.leaseWait(stoppedAt: stopped, now: Monotonic.now()), true)
                role.become(.primary(primary))
                Recovery(primary: primary, client: client, backup: peer, witnesses: witnesses, term: term, promoted: true).start()
            }
        }
        let metrics = RequestMetrics(routes: CatalogRoutes.routeNames)
        let routes = CatalogRoutes(name: name, current: current, term: term, reads: CatalogReads(name: name, memory: memory), metrics: metrics)
        return TierProgram(startMessage: "\(name) starting as \(term.leads ? "primary" : "backup") of \(term.current) at applied \(memory.applied)", metrics: metrics,
                           handle: routes.handle)
    }
}
