/// A user behind nginx: reads, purchases (most under its own `Idempotency-Key`, retried under it
/// after an unknown outcome, sometimes after a success too) and admin updates, one at a time.
/// A probe sends an update every 100 ms, not waiting for the answers, until one is acknowledged.
final class Client {
    let index: Int
    unowned let world: World
    private var left: Int
    /// The requests waiting for an answer, by call (one at most, unless this is a probe).
    private var pending: [Int: (operation: Int, front: NodeName)] = [:]
    private var retry: (book: Int, key: String, tries: Int)?
    private var finished = false
    /// A client started when the primary is lost for good (the checker times promise 7's
    /// failover by its first acknowledged write).
    let probe: Bool

    /// Whether it has nothing more to do or wait for.
    var done: Bool { finished && pending.isEmpty }

    init(index: Int, world: World, operations: Int, probe: Bool = false) {
        self.index = index
        self.world = world
        left = operations
        self.probe = probe
    }

    func start() {
        think()
    }

    private func think() {
        let pause = probe ? 100_000_000 : world.random.between(0, world.faults.longestThink)
        world.schedule(at: world.now + pause, { "client-\(self.index) acts" }) { [self] in act() }
    }

    private func act() {
        let books = World.bookCount
        if let retry {
            self.retry = nil
            return issue(.purchase(book: retry.book, key: retry.key, clientKey: true), tries: retry.tries)
        }
        guard left > 0 else {
            finished = true
            return
        }
        left -= 1
        let book = 1 + world.random.below(books)
        let roll = world.random.below(100)
        let call = world.newCall()
        if probe {
            issue(.update(book: book, price: 1_000 + call, key: "r\(call)"), call: call)
            think()
        } else if roll < world.faults.reads {
            issue(.read(book: book), call: call)
        } else if roll < world.faults.reads + world.faults.purchases {
            let clientKey = roll < world.faults.reads + world.faults.purchases * 3 / 4
            issue(.purchase(book: book, key: clientKey ? "k\(call)" : "r\(call)", clientKey: clientKey), call: call, tries: 0)
        } else {
            issue(.update(book: book, price: 1_000 + call, key: "r\(call)"), call: call)
        }
    }

    private func issue(_ kind: History.Kind, call: Int? = nil, tries: Int = 0) {
        let call = call ?? world.newCall()
        let operation = world.history.invoke(client: index, kind, request: "r\(call)", at: world.now)
        if case .purchase(let book, let key, true) = kind { retry = (book, key, tries + 1) }
        let up = NodeName.fronts.filter(world.isUp)
        guard !up.isEmpty else {
            // nginx answers itself: 504 for a keyed purchase (it cannot settle), else 503.
            pending[call] = (operation, .front1)
            return finish(call, kind.isKeyedPurchase ? WriteReply(status: 504) : WriteReply(status: 503))
        }
        // nginx passes new requests to a front that answers (one that timed out is marked failed).
        let serving = up.filter(world.isServing)
        let choices = serving.isEmpty ? up : serving
        let front = choices[world.random.below(choices.count)]
        pending[call] = (operation, front)
        let message: Message = switch kind {
        case .purchase(let book, let key, let clientKey): .purchase(call: call, book: book, key: clientKey ? key : nil)
        case .update(let book, let price, _): .update(call: call, book: book, price: price)
        case .read(let book): .read(call: call, book: book)
        }
        world.send(from: .client(index), to: .node(front), message)
    }

    func receive(_ message: Message) {
        guard case .answer(let call, let reply) = message, pending[call] != nil else { return }
        finish(call, reply)
    }

    /// The front died with this client's request: nginx answers 504 for a write, nothing for a read.
    func frontCrashed(_ name: NodeName) {
        for (call, request) in pending.sorted(by: { $0.key < $1.key }) where request.front == name {
            if case .read = world.history.operations[request.operation].kind {
                finish(call, nil)
            } else {
                finish(call, WriteReply(status: 504))
            }
        }
    }

    private func finish(_ call: Int, _ reply: WriteReply?) {
        guard let operation = pending.removeValue(forKey: call)?.operation else { return }
        world.history.complete(operation, reply, at: world.now)
        world.log("client-\(index) \(world.history.operations[operation])")
        if probe {
            if reply?.status == 200 { left = 0 }
            return
        }
        if let retried = retry {
            let status = reply?.status ?? 504
            let again = status == 504 || (status == 200 && world.random.chance(0.1))
            retry = again && retried.tries <= 3 ? retried : nil
        }
        think()
    }
}

extension History.Kind {
    var isKeyedPurchase: Bool {
        if case .purchase(_, _, true) = self { return true }
        return false
    }
}
