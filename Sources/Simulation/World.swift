import BazarCore

/// The simulated world: one event queue in simulated time (nanoseconds), the processes, the
/// network between them, each process's clock, and the trace of everything that happened.
/// Everything random comes from one `SplitMix64`, so a seed replays exactly.
final class World {
    /// nginx's `fastcgi_connect_timeout` across hosts: how long a call to a process cut off
    /// from the caller waits before nginx gives up with nothing sent.
    static let connectTimeout: Int64 = 1_000_000_000

    /// Simulated time, nanoseconds since the start.
    private(set) var now: Int64 = 0
    var random: SplitMix64
    let faults: FaultModel
    let holes: Set<Hole>
    private(set) var nodes: [Node] = []
    var clients: [Client] = []
    let history = History()

    private var events = EventHeap()
    private var sequence = 0
    private var nextCall = 0
    /// The trace: kept in full when replaying, else only hashed.
    private(set) var trace: [String]?
    /// When a catalog replica lost its disk and was restarted with an empty store.
    private(set) var catalogDiskLosses: [Int64] = []
    /// The catalog replica lost for good (crashed with its disk, never restarted), when, and the
    /// term it knew.
    private(set) var lostForGood: (name: NodeName, at: Int64, term: Term)?
    /// Whether a replica never heard of an epoch granted to it: a witness that held it did not
    /// answer its start, or granted it after it had started again.
    var grantUnheard = false
    /// Whether a primary refused to lead (`StartDecision.refuse`) in a run with a failover.
    var refusedAfterAFailover = false
    /// When each epoch after the first was first granted, by epoch (an observer's note).
    private(set) var grants: [Int64: Int64] = [:]
    private(set) var traceHash: UInt64 = 0xCBF2_9CE4_8422_2325
    private(set) var steps = 0

    // Per process: up or crashed, hung until, its run (a restart is a new run), its clock.
    private var up: [Bool]
    private var hungUntil: [Int64]
    private(set) var runs: [Int]
    private var held: [[() -> Void]]
    private var rates: [Double]
    private var clockBase: [Int64]
    private var bootAt: [Int64]
    /// Pairs of processes that cannot reach each other.
    private var cut: Set<[Int]> = []

    init(seed: UInt64, faults: FaultModel, holes: Set<Hole>, tracing: Bool) {
        random = SplitMix64(seed: seed)
        self.faults = faults
        self.holes = holes
        trace = tracing ? [] : nil
        let count = NodeName.allCases.count
        up = Array(repeating: true, count: count)
        hungUntil = Array(repeating: 0, count: count)
        runs = Array(repeating: 0, count: count)
        held = Array(repeating: [], count: count)
        rates = []
        clockBase = []
        bootAt = Array(repeating: 0, count: count)
        for _ in NodeName.allCases {
            rates.append(1 + Double(random.between(-faults.clockDriftPPM, faults.clockDriftPPM)) / 1e6)
            clockBase.append(random.between(0, 1_000_000_000_000))
        }
    }

    func install(_ nodes: [Node]) {
        self.nodes = nodes
    }

    func node(_ name: NodeName) -> Node { nodes[name.rawValue] }

    // MARK: Events

    /// Runs `action` at simulated time `at`, recorded in the trace as `label`.
    func schedule(at: Int64, _ label: @escaping () -> String?, _ action: @escaping () -> Void) {
        sequence += 1
        events.push(Event(at: max(at, now), sequence: sequence, label: label, action: action))
    }

    /// Runs events until none is left or simulated time passes `end`.
    func run(until end: Int64) {
        while let event = events.peek(), event.at <= end {
            _ = events.pop()
            now = event.at
            steps += 1
            note(event.label)
            event.action()
        }
        now = max(now, end)
    }

    /// Drops every pending event (the run is over) and breaks the processes' reference cycles.
    func tearDown() {
        events = EventHeap()
        for node in nodes { node.forget() }
        nodes = []
        clients = []
    }

    private func note(_ label: () -> String?) {
        if trace != nil, let line = label() {
            trace!.append("\(Self.seconds(now)) \(line)")
        }
        // The untraced run hashes what orders the run: when and how many events ran.
        traceHash = (traceHash ^ UInt64(bitPattern: now)) &* 0x100_0000_01B3
    }

    /// `time` as seconds with microseconds.
    static func seconds(_ time: Int64) -> String {
        let micro = time / 1_000
        let fraction = String(micro % 1_000_000)
        return "\(micro / 1_000_000).\(String(repeating: "0", count: 6 - fraction.count))\(fraction)"
    }

    /// Notes a line in the trace (a fault, a client's answer).
    func log(_ line: @autoclosure () -> String) {
        if trace != nil { trace!.append("\(Self.seconds(now)) \(line())") }
    }

    /// A new call id, unique in the run.
    func newCall() -> Int {
        nextCall += 1
        return nextCall
    }

    // MARK: Clocks

    /// `name`'s monotonic clock now (it restarts from an arbitrary value with each run).
    func clock(_ name: NodeName) -> Int64 {
        clockBase[name.rawValue] + Int64(Double(now - bootAt[name.rawValue]) * rates[name.rawValue])
    }

    /// Runs `action` on `name` after `duration` of its own clock, unless it crashed meanwhile
    /// (a hung process runs it when it resumes).
    func timer(_ name: NodeName, after duration: Int64, _ label: @escaping () -> String?, _ action: @escaping () -> Void) {
        let run = runs[name.rawValue]
        let delay = Int64(Double(max(duration, 0)) / rates[name.rawValue]) + 1
        schedule(at: now + delay, { label().map { "\(name) timer \($0)" } }) { [self] in
            guard runs[name.rawValue] == run else { return }
            perform(on: name, action)
        }
    }

    /// Runs `action` on `name` now, or when it resumes if it is hung.
    private func perform(on name: NodeName, _ action: @escaping () -> Void) {
        guard up[name.rawValue] else { return }
        if now < hungUntil[name.rawValue] {
            held[name.rawValue].append(action)
        } else {
            action()
        }
    }

    // MARK: Network

    func isUp(_ name: NodeName) -> Bool { up[name.rawValue] }

    /// Whether `name` is up and not hung.
    func isServing(_ name: NodeName) -> Bool { up[name.rawValue] && now >= hungUntil[name.rawValue] }

    /// Sends `message`: delayed, maybe dropped, duplicated or held up long, never across a cut;
    /// to a process that is down, the caller gets `refused` at once (nothing was sent).
    func send(from: Address, to: Address, _ message: Message) {
        if case .node(let sender) = from, !up[sender.rawValue] { return }
        if case .node(let receiver) = to, !up[receiver.rawValue] {
            if !message.isReply {
                let refusal = Message.refused(call: message.call)
                schedule(at: now + faults.latency.low, { "\(to) down: \(from) refused \(message.traceText)" }) { [self] in
                    deliver(refusal, from: to, to: from)
                }
            }
            return
        }
        let betweenNodes = from.isNode && to.isNode
        if betweenNodes, message.isWrite, random.chance(faults.reset) {
            let refusal = Message.refused(call: message.call)
            schedule(at: now + faults.latency.low, { "\(to) let the connection go: \(from) refused \(message.traceText)" }) { [self] in
                deliver(refusal, from: to, to: from)
            }
            return
        }
        if betweenNodes, isCut(from, to) {
            // nginx's connect never completes: after its connect timeout it refuses, nothing sent.
            guard !message.isReply else { return }
            let refusal = Message.refused(call: message.call)
            schedule(at: now + Self.connectTimeout, { "\(to) unreachable: \(from) refused \(message.traceText)" }) { [self] in
                deliver(refusal, from: to, to: from)
            }
            return
        }
        if betweenNodes, random.chance(faults.drop) {
            log("network drops \(from) → \(to) \(message.traceText)")
            return
        }
        let copies = betweenNodes && message.isResendable && random.chance(faults.duplicate) ? 2 : 1
        for _ in 0..<copies {
            let delay = betweenNodes ? faults.delay(&random) : faults.latency.low
            schedule(at: now + delay, { "\(from) → \(to) \(message.traceText)" }) { [self] in
                if betweenNodes, isCut(from, to) { return }
                deliver(message, from: from, to: to)
            }
        }
    }

    private func deliver(_ message: Message, from: Address, to: Address) {
        switch to {
        case .node(let name):
            perform(on: name) { [self] in nodes[name.rawValue].receive(message, from: from) }
        case .client(let index):
            clients[index].receive(message)
        }
    }

    private func isCut(_ a: Address, _ b: Address) -> Bool {
        guard case .node(let x) = a, case .node(let y) = b else { return false }
        return cut.contains([min(x.rawValue, y.rawValue), max(x.rawValue, y.rawValue)])
    }

    // MARK: Faults

    /// Crashes `name` (`kill -9`): whatever it had not stored is gone, and with `loseDisk` its
    /// store too. It restarts after `downFor`; nil: never (its machine is lost for good).
    func crash(_ name: NodeName, loseDisk: Bool, downFor: Int64?) {
        guard up[name.rawValue] else { return }
        log("FAULT crash \(name)\(loseDisk ? " and lose its disk" : "") " + (downFor.map { "for \(Self.seconds($0)) s" } ?? "FOR GOOD"))
        if loseDisk, downFor != nil, NodeName.catalogs.contains(name) { catalogDiskLosses.append(now) }
        stop(name, loseDisk: loseDisk)
        if let downFor { schedule(at: now + downFor, { "restart \(name)" }) { [self] in restart(name) } }
    }

    /// Loses the primary that leads now (catalog-1 if none does) for good: crashed with its
    /// disk, never restarted.
    func loseThePrimaryForGood() {
        let name = leader ?? .catalog1
        lostForGood = (name, now, (nodes[name.rawValue] as? CatalogNode)?.store.term ?? .none)
        crash(name, loseDisk: true, downFor: nil)
    }

    /// The catalog replica that leads now, if one does (the newest epoch's, if two believe they do).
    var leader: NodeName? {
        nodes.compactMap { $0 as? CatalogNode }.filter { isUp($0.name) && $0.leading }.max { $0.store.term.epoch < $1.store.term.epoch }?.name
    }

    /// `name` exits by itself (a deposed primary stepping down, its store already emptied);
    /// the supervisor starts it again half a second later.
    func exit(_ name: NodeName) {
        guard up[name.rawValue] else { return }
        log("\(name) exits; the supervisor starts it again in 0.5 s")
        stop(name, loseDisk: false)
        schedule(at: now + 500_000_000, { "restart \(name)" }) { [self] in restart(name) }
    }

    private func stop(_ name: NodeName, loseDisk: Bool) {
        up[name.rawValue] = false
        runs[name.rawValue] += 1
        held[name.rawValue] = []
        hungUntil[name.rawValue] = 0
        nodes[name.rawValue].crash(loseDisk: loseDisk)
        for client in clients { client.frontCrashed(name) }
    }

    /// Notes that a witness granted `epoch` (the first grant of each is kept).
    func granted(epoch: Int64) {
        if grants[epoch] == nil { grants[epoch] = now }
    }

    /// Starts `name` again if it is down (never one lost for good).
    func restart(_ name: NodeName) {
        guard !up[name.rawValue], lostForGood?.name != name else { return }
        up[name.rawValue] = true
        bootAt[name.rawValue] = now
        clockBase[name.rawValue] = random.between(0, 1_000_000_000_000)
        nodes[name.rawValue].boot()
    }

    /// Hangs `name` (`SIGSTOP`) for `duration`: what reaches it waits.
    func hang(_ name: NodeName, for duration: Int64) {
        guard up[name.rawValue], now >= hungUntil[name.rawValue] else { return }
        log("FAULT hang \(name) for \(Self.seconds(duration)) s")
        hungUntil[name.rawValue] = now + duration
        let run = runs[name.rawValue]
        schedule(at: now + duration, { "resume \(name)" }) { [self] in
            guard runs[name.rawValue] == run else { return }
            resume(name)
        }
    }

    /// Resumes `name` if it is hung, running what waited for it in order.
    func resume(_ name: NodeName) {
        hungUntil[name.rawValue] = 0
        let waiting = held[name.rawValue]
        held[name.rawValue] = []
        for action in waiting where up[name.rawValue] { perform(on: name, action) }
    }

    /// Cuts `name` off from `others` for `duration`.
    func partition(_ name: NodeName, from others: [NodeName], for duration: Int64) {
        log("FAULT partition \(name) from \(others.map(\.description).joined(separator: ",")) for \(Self.seconds(duration)) s")
        let pairs = others.map { [min($0.rawValue, name.rawValue), max($0.rawValue, name.rawValue)] }
        for pair in pairs { cut.insert(pair) }
        schedule(at: now + duration, { "heal \(name)" }) { [self] in
            for pair in pairs { cut.remove(pair) }
        }
    }

    /// Ends every fault: partitions healed, hung processes resumed, crashed ones restarted.
    func healAll() {
        log("heal everything")
        cut = []
        for name in NodeName.allCases {
            if !up[name.rawValue] { restart(name) } else if hungUntil[name.rawValue] > now { resume(name) }
        }
    }
}

extension Address {
    var isNode: Bool {
        if case .node = self { return true }
        return false
    }
}

/// One scheduled event.
struct Event {
    let at: Int64
    let sequence: Int
    /// What the trace says of it; nil: nothing worth a line (a timeout of a call already answered).
    let label: () -> String?
    let action: () -> Void

    func precedes(_ other: Event) -> Bool {
        at != other.at ? at < other.at : sequence < other.sequence
    }
}

/// A binary min-heap of events by time, then by scheduling order.
struct EventHeap {
    private var items: [Event] = []

    func peek() -> Event? { items.first }

    mutating func push(_ event: Event) {
        items.append(event)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].precedes(items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Event? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var first = parent
            if left < items.count, items[left].precedes(items[first]) { first = left }
            if right < items.count, items[right].precedes(items[first]) { first = right }
            if first == parent { break }
            items.swapAt(parent, first)
            parent = first
        }
        return top
    }
}
