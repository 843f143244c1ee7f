import BazarCore
import Order

/// catalog-2, the backup (`Backup`, modelled): applies pushes, serves reads only under a push
/// lease counted from the receipt the push echoes, or under a stand-in lease from an order
/// replica once it is current and the primary does not answer.
final class BackupNode: Node {
    let initialBooks: [Int: BookState]
    /// The store.
    private(set) var books: [Int: BookState]
    private(set) var applied: Int64 = 0

    // Volatile.
    private var current = false
    private var leaseEnd: Int64 = 0
    private var standInEnd: Int64 = 0
    private var receipts: [(receipt: Int64, at: Int64)] = []

    init(world: World, books: [Int: BookState]) {
        initialBooks = books
        self.books = books
        super.init(name: .backup, world: world)
    }

    override func boot() {
        watch()
    }

    override func crash(loseDisk: Bool) {
        super.crash(loseDisk: loseDisk)
        if loseDisk {
            books = initialBooks
            applied = 0
        }
        current = false
        leaseEnd = 0
        standInEnd = 0
        receipts = []
    }

    private var readable: Bool { clock < leaseEnd || clock < standInEnd }

    override func handle(_ message: Message, from: Address) {
        switch message {
        case .push(let call, let after, let upTo, let pushed, let lease):
            guard after <= applied else { return answer(call, from, status: 409) }
            if upTo > applied || !pushed.isEmpty {
                // `CatalogStore.apply`: a book only newer than the one stored, `applied` only up.
                for book in pushed where book.version > books[book.id]?.version ?? -1 { books[book.id] = book }
                applied = max(applied, upTo)
            }
            let page = upTo == after && !pushed.isEmpty
            if !page { current = true }
            if !page, let lease, let start = receipts.first(where: { $0.receipt == lease.echo })?.at {
                leaseEnd = max(leaseEnd, start + lease.milliseconds * 1_000_000)
            }
            answer(call, from, status: 200)
        case .backupState(let call):
            reply(from, .backupStateIs(call: call, applied: applied, current: current))
        case .changes(let call, let after):
            reply(from, .changesAre(call: call, books: books.values.filter { $0.version > after }.sorted { $0.id < $1.id }, applied: applied))
        case .fetch(let call, let book):
            reply(from, .fetched(call: call, readable ? books[book] : nil))
        default:
            break
        }
    }

    /// An answer to a push with a fresh receipt, noted with when it was made.
    private func answer(_ call: Int, _ to: Address, status: Int) {
        let receipt = Int64(bitPattern: world.random.next() | 1)
        receipts.append((receipt, clock))
        if receipts.count > 8 { receipts.removeFirst() }
        reply(to, .pushed(call: call, status: status, applied: applied, receipt: receipt))
    }

    /// `Backup.watchPrimary`: without a lease, once current, checks whether the primary answers
    /// and, when it does not, asks the order replicas in turn for a stand-in lease.
    private func watch() {
        after(.milliseconds(100), "watch") { [self] in
            guard clock >= leaseEnd, current else { return watch() }
            call(.primary, timeout: .milliseconds(500), { .ping(call: $0) }) { [self] reply in
                if case .pong? = reply { return watch() }
                askStandIn(NodeName.orders)
            }
        }
    }

    private func askStandIn(_ witnesses: [NodeName]) {
        guard let witness = witnesses.first else { return watch() }
        let asked = clock
        call(witness, timeout: .milliseconds(300), { .standIn(call: $0) }) { [self] reply in
            guard case .standInAnswer(_, true, let milliseconds)? = reply else { return askStandIn(Array(witnesses.dropFirst())) }
            standInEnd = max(standInEnd, asked + milliseconds * 1_000_000)
            watch()
        }
    }
}
