import Catalog

/// One seeded run of the whole protocol: six processes, clients, the nemesis, then a quiet
/// period and the checker. The same seed, model and holes give the same trace.
public struct Simulation: Sendable {
    /// What a run found.
    public struct Outcome: Sendable {
        public let seed: UInt64
        public let violations: [Violation]
        /// Events run.
        public let steps: Int
        /// A digest of the schedule (when each event ran).
        public let scheduleHash: UInt64
        /// The full trace, when asked for.
        public let trace: [String]?
        public let operations: Int
        /// From the loss of the primary for good to the first write acknowledged after it
        /// (nanoseconds), in a run that lost it with its backup in sync.
        public let failoverTime: Int64?

        /// The promises broken, the known gaps (docs/simulation.md) included only when `strict`.
        public func failures(strict: Bool) -> [Violation] {
            violations.filter { strict || $0.knownGap == nil }
        }
    }

    public let model: FaultModel
    public let holes: Set<Hole>
    /// How many writes an update key is kept for at least (`--update-key-horizon`; small, so
    /// that the ten minutes of `KeyRetention` are what keeps a key).
    public var keyHorizon: Int64 = 4

    public init(model: FaultModel = .standard, holes: Set<Hole> = []) {
        self.model = model
        self.holes = holes
    }

    /// Runs `seed`, keeping the whole trace when `tracing`.
    public func run(seed: UInt64, tracing: Bool = false) -> Outcome {
        let world = World(seed: seed, faults: model, holes: holes, tracing: tracing)
        let books = Dictionary(uniqueKeysWithValues: (1...World.bookCount).map { ($0, BookState(id: $0, stock: 4, price: 100, version: 0)) })
        let catalogs = NodeName.catalogs.map { CatalogNode(name: $0, world: world, books: books, keyHorizon: keyHorizon) }
        let orders = NodeName.orders.map { OrderNode(name: $0, world: world) }
        let fronts = NodeName.fronts.map { FrontNode(name: $0, world: world) }
        world.install(catalogs + orders + fronts)
        world.clients = (0..<model.clients).map { Client(index: $0, world: world, operations: model.operationsPerClient) }
        for node in world.nodes { node.boot() }
        for client in world.clients { client.start() }
        Nemesis(world: world).plan()

        world.run(until: model.faultWindow)
        world.healAll()
        // Let every client finish (a message held up long may keep one waiting), then a quiet period.
        let cap = model.faultWindow + 1_200_000_000_000
        while world.now < cap, world.clients.contains(where: { !$0.done }) {
            world.run(until: world.now + 1_000_000_000)
        }
        // A quiet period of 8 s with no new epoch (a failover in it starts the 8 s again, at most 30 s more).
        let quietCap = world.now + 38_000_000_000
        world.run(until: world.now + 8_000_000_000)
        while world.now < quietCap, let last = world.grants.values.max(), last > world.now - 8_000_000_000 {
            world.run(until: last + 8_000_000_000)
        }

        let leaders = catalogs.filter { world.isUp($0.name) && $0.leading }.sorted { $0.store.term.epoch > $1.store.term.epoch }
        let primary = leaders.first ?? catalogs[0]
        let other = catalogs.first { $0 !== primary && world.lostForGood?.name != $0.name }
        let newest = orders.max { $0.record.version < $1.record.version }
        // Promise 7 promises a new primary when a witness of the lost primary's term counts its
        // backup in sync (what `WitnessGrant` asks), seen once the messages in flight at the loss arrived.
        let lost = world.lostForGood.map { loss in
            (loss.name, loss.at, orders.contains { $0.term.epoch > loss.term.epoch || $0.term == loss.term && $0.record.inSync })
        }
        let final = FinalState(leaders: leaders.map(\.name), primaryBooks: primary.store.books.values.sorted { $0.id < $1.id },
                               primaryApplied: primary.store.applied, takes: primary.store.takes.values.sorted { $0.number < $1.number },
                               acknowledgedTakes: primary.acknowledgedTakes,
                               backup: other.map { ($0.store.books.values.sorted { $0.id < $1.id }, $0.store.applied) },
                               orderReplicas: orders.map { $0.orders.values.sorted { $0.number < $1.number } },
                               initialStock: books.mapValues(\.stock), diskLosses: world.catalogDiskLosses,
                               lostForGood: lost, probes: Set(world.clients.filter(\.probe).map(\.index)),
                               grants: world.grants, backupOutOfSync: newest?.record.inSync == false,
                               refusedAfterAFailover: world.refusedAfterAFailover,
                               grantUnheard: world.grantUnheard,
                               failoverBound: model.failoverBound)
        let checker = Checker(history: world.history, final: final)
        var violations = checker.violations()
        if world.clients.contains(where: { !$0.done }) {
            violations.append(Violation(promise: "liveness of the run", detail: "a client still waits after twenty minutes", knownGap: nil))
        }
        let outcome = Outcome(seed: seed, violations: violations, steps: world.steps, scheduleHash: world.traceHash,
                              trace: world.trace, operations: world.history.operations.count,
                              failoverTime: lost?.2 == true ? checker.failoverTime : nil)
        world.tearDown()
        return outcome
    }
}

extension World {
    static let bookCount = 3
}

/// The nemesis: at random moments within the fault window, crashes a process (a catalog
/// replica's disk lost with it, at most once a run), hangs one, cuts one off from some others,
/// or cuts the primary off from every other process for longer than a failover takes. In some
/// runs it loses the primary for good (its disk with it), with no other fault for
/// `lossQuiet` on either side, and starts clients probing for writes.
struct Nemesis {
    let world: World

    func plan() {
        let faults = world.faults
        let lossAt = world.random.chance(faults.loseForGood) ? world.random.between(faults.faultWindow / 2, faults.faultWindow) : nil
        if let lossAt {
            world.schedule(at: lossAt, { "nemesis" }) { [world] in
                world.loseThePrimaryForGood()
                for _ in 0..<3 {
                    let probe = Client(index: world.clients.count, world: world, operations: 100, probe: true)
                    world.clients.append(probe)
                    world.log("client-\(probe.index) probes for writes")
                    probe.start()
                }
            }
        }
        var at = world.random.between(faults.faultGap.low, faults.faultGap.high)
        var diskLost = lossAt != nil
        while at < faults.faultWindow {
            let frontHang = world.random.below(10) < faults.frontHangs
            let name = frontHang ? NodeName.fronts[world.random.below(2)] : NodeName.allCases[world.random.below(NodeName.allCases.count)]
            let kind = frontHang ? 1 : world.random.below(4)
            let quiet = lossAt.map { abs(at - $0) < faults.lossQuiet } ?? false
            switch kind {
            case _ where quiet:
                break
            case 0:
                let loseDisk = !diskLost && faults.disksLost.contains(name) && world.random.chance(0.3)
                diskLost = diskLost || loseDisk
                let down = world.random.between(100_000_000, faults.longestDown)
                world.schedule(at: at, { "nemesis" }) { [world] in world.crash(name, loseDisk: loseDisk, downFor: down) }
            case 1:
                let duration = world.random.between(100_000_000, faults.longestHang)
                world.schedule(at: at, { "nemesis" }) { [world] in world.hang(name, for: duration) }
            case 2:
                let others = NodeName.allCases.filter { $0 != name && world.random.chance(0.6) }
                let duration = world.random.between(200_000_000, faults.longestPartition)
                if !others.isEmpty {
                    world.schedule(at: at, { "nemesis" }) { [world] in world.partition(name, from: others, for: duration) }
                }
            default:
                let duration = world.random.between(faults.isolation.low, faults.isolation.high)
                world.schedule(at: at, { "nemesis" }) { [world] in
                    let primary = world.leader ?? .catalog1
                    world.partition(primary, from: NodeName.allCases.filter { $0 != primary }, for: duration)
                }
            }
            at += world.random.between(faults.faultGap.low, faults.faultGap.high)
        }
    }
}
