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

        /// The promises broken, the known gaps of docs/recovery.md included only when `strict`.
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
        let primary = PrimaryNode(world: world, books: books, keyHorizon: keyHorizon)
        let backup = BackupNode(world: world, books: books)
        let orders = NodeName.orders.map { OrderNode(name: $0, world: world) }
        let fronts = NodeName.fronts.map { FrontNode(name: $0, world: world) }
        world.install([primary, backup] + orders + fronts)
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
        world.run(until: world.now + 8_000_000_000)

        let final = FinalState(primaryLeads: primary.leading, primaryBooks: primary.store.books.values.sorted { $0.id < $1.id },
                               primaryApplied: primary.store.applied,
                               backupBooks: backup.books.values.sorted { $0.id < $1.id }, backupApplied: backup.applied,
                               takes: primary.store.takes.values.sorted { $0.number < $1.number },
                               orderReplicas: orders.map { $0.orders.values.sorted { $0.number < $1.number } },
                               initialStock: books.mapValues(\.stock), primaryDiskLosses: world.primaryDiskLosses)
        var violations = Checker(history: world.history, final: final).violations()
        if world.clients.contains(where: { !$0.done }) {
            violations.append(Violation(promise: "liveness of the run", detail: "a client still waits after twenty minutes", knownGap: nil))
        }
        let outcome = Outcome(seed: seed, violations: violations, steps: world.steps, scheduleHash: world.traceHash,
                              trace: world.trace, operations: world.history.operations.count)
        world.tearDown()
        return outcome
    }
}

extension World {
    static let bookCount = 3
}

/// The nemesis: at random moments within the fault window, crashes a process (a catalog
/// replica's disk lost with it, at most once a run), hangs one, or cuts one off from some others.
struct Nemesis {
    let world: World

    func plan() {
        var at = world.random.between(world.faults.faultGap.low, world.faults.faultGap.high)
        var diskLost = false
        while at < world.faults.faultWindow {
            let frontHang = world.random.below(10) < world.faults.frontHangs
            let name = frontHang ? NodeName.fronts[world.random.below(2)] : NodeName.allCases[world.random.below(NodeName.allCases.count)]
            let kind = frontHang ? 1 : world.random.below(3)
            switch kind {
            case 0:
                let loseDisk = !diskLost && world.faults.disksLost.contains(name) && world.random.chance(0.3)
                diskLost = diskLost || loseDisk
                let down = world.random.between(100_000_000, world.faults.longestDown)
                world.schedule(at: at, { "nemesis" }) { [world] in world.crash(name, loseDisk: loseDisk, downFor: down) }
            case 1:
                let duration = world.random.between(100_000_000, world.faults.longestHang)
                world.schedule(at: at, { "nemesis" }) { [world] in world.hang(name, for: duration) }
            default:
                let others = NodeName.allCases.filter { $0 != name && world.random.chance(0.6) }
                let duration = world.random.between(200_000_000, world.faults.longestPartition)
                if !others.isEmpty {
                    world.schedule(at: at, { "nemesis" }) { [world] in world.partition(name, from: others, for: duration) }
                }
            }
            at += world.random.between(world.faults.faultGap.low, world.faults.faultGap.high)
        }
    }
}
