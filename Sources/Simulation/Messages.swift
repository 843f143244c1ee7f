import BazarCore
import Front
import Wire

/// The simulated processes. Clients are not processes: they stand for the users behind nginx.
public enum NodeName: Int, CaseIterable, Sendable, CustomStringConvertible {
    case catalog1, catalog2, order1, order2, front1, front2

    public var description: String {
        switch self {
        case .catalog1: "catalog-1"
        case .catalog2: "catalog-2"
        case .order1: "order-1"
        case .order2: "order-2"
        case .front1: "front-1"
        case .front2: "front-2"
        }
    }

    static let catalogs: [NodeName] = [.catalog1, .catalog2]
    static let orders: [NodeName] = [.order1, .order2]
    static let fronts: [NodeName] = [.front1, .front2]
}

/// Who sends or receives a message.
enum Address: Hashable, CustomStringConvertible {
    case node(NodeName)
    case client(Int)

    var description: String {
        switch self {
        case .node(let name): name.description
        case .client(let index): "client-\(index)"
        }
    }
}

/// A book as the catalog holds it (price in cents: every update sets a price no other sets).
struct BookState: Equatable, CustomStringConvertible, CacheValue {
    var id: Int
    var stock: Int
    var price: Int
    var version: Int64

    var description: String { "book \(id) v\(version) stock \(stock) price \(price)" }

    var byteCount: Int { MemoryLayout<Self>.size }
}

/// An order as the primary's takes and the order replicas hold it.
struct OrderRecord: Equatable, CustomStringConvertible {
    var number: Int64
    var book: Int
    var key: String

    var description: String { "order \(number) book \(book) key \(key)" }
}

/// What a write call answers (from the primary, an order replica or a front).
struct WriteReply: CustomStringConvertible {
    /// 200, 409, 503 (nothing applied), 504 (unknown), 400.
    var status: Int
    var book: BookState?
    var order: OrderRecord?
    var replayed = false

    var description: String {
        "\(status)" + (order.map { " \($0)" } ?? "") + (book.map { " \($0)" } ?? "") + (replayed ? " replayed" : "")
    }
}

/// Every message between the simulated processes: a request carries the caller's call id, its
/// reply the same id (`call`). `refused` is what a caller gets at once from a process that is
/// down (nginx's own error with nothing sent: surely not applied).
enum Message {
    // Clients and the fronts.
    case purchase(call: Int, book: Int, key: String?)
    case update(call: Int, book: Int, price: Int)
    case read(call: Int, book: Int)
    case answer(call: Int, WriteReply)
    // Purchases, updates, settles (front → order replica → primary).
    case buy(call: Int, book: Int, key: String, attempt: String)
    case take(call: Int, book: Int, key: String, attempt: String)
    case write(call: Int, book: Int, price: Int, key: String, attempt: String)
    case settle(call: Int, book: Int, key: String, attempt: String)
    case settled(call: Int, applied: Bool, book: BookState?, order: OrderRecord?)
    // Reads (front → a catalog replica); nil book: 503.
    case fetch(call: Int, book: Int)
    case fetched(call: Int, BookState?)
    // Fronts' read leases and invalidations.
    case leaseAsk(call: Int, front: NodeName, held: Int64)
    case leaseGrant(call: Int, lease: Int64, milliseconds: Int64, fresh: Bool, announced: Int64)
    case invalidate(call: Int, book: Int, seq: Int64)
    case invalidated(call: Int)
    // Replication to the backup (books, and the takes it lacks first), and a recovering
    // primary's questions to it; `pushed.takes` is the last order number the backup holds.
    case push(call: Int, term: Term, after: Int64, upTo: Int64, books: [BookState], takes: [OrderRecord],
              lease: (milliseconds: Int64, echo: Int64)?)
    case pushed(call: Int, status: Int, applied: Int64, receipt: Int64, takes: Int64)
    case backupState(call: Int)
    case backupStateIs(call: Int, applied: Int64, current: Bool)
    case changes(call: Int, after: Int64)
    case changesAre(call: Int, books: [BookState], applied: Int64)
    /// A look at a catalog replica (its `/health`): the term it knows and whether it leads it.
    case ping(call: Int)
    case pong(call: Int, term: Term, leading: Bool)
    // Witness records on the order replicas, each with its sender's term.
    case witnessRecord(call: Int, term: Term, version: Int64, inSync: Bool, acknowledged: Int64?)
    case witnessRecorded(call: Int, recorded: Bool, version: Int64)
    case acknowledge(call: Int, term: Term, through: Int64)
    case acknowledged(call: Int, ok: Bool, through: Int64)
    case witnessState(call: Int)
    case witnessStateIs(call: Int, WitnessState)
    case standIn(call: Int, term: Term)
    case standInAnswer(call: Int, inSync: Bool, milliseconds: Int64)
    // Epochs: a backup runs for the next one; a receiver that knows a newer term refuses an
    // older one naming it (`StaleEpoch`).
    case epochRequest(call: Int, EpochRequest)
    case epochAnswer(call: Int, EpochAnswer)
    case stale(call: Int, known: Term)
    // Orders: the primary's takes, an order replica's held orders, pushes between replicas.
    case takes(call: Int, after: Int64)
    case held(call: Int, after: Int64)
    case orders(call: Int, [OrderRecord]?)
    case replicate(call: Int, [OrderRecord])
    case replicated(call: Int)
    // A process that is down refused the connection: nothing was sent.
    case refused(call: Int)

    /// The call a message belongs to.
    var call: Int {
        switch self {
        case .purchase(let c, _, _), .update(let c, _, _), .read(let c, _), .answer(let c, _), .buy(let c, _, _, _),
             .take(let c, _, _, _), .write(let c, _, _, _, _), .settle(let c, _, _, _), .settled(let c, _, _, _),
             .fetch(let c, _), .fetched(let c, _), .leaseAsk(let c, _, _), .leaseGrant(let c, _, _, _, _),
             .invalidate(let c, _, _), .invalidated(let c), .push(let c, _, _, _, _, _, _), .pushed(let c, _, _, _, _),
             .backupState(let c), .backupStateIs(let c, _, _), .changes(let c, _), .changesAre(let c, _, _),
             .ping(let c), .pong(let c, _, _), .witnessRecord(let c, _, _, _, _), .witnessRecorded(let c, _, _),
             .acknowledge(let c, _, _), .acknowledged(let c, _, _), .witnessState(let c), .witnessStateIs(let c, _),
             .standIn(let c, _), .standInAnswer(let c, _, _), .epochRequest(let c, _), .epochAnswer(let c, _), .stale(let c, _),
             .takes(let c, _), .held(let c, _), .orders(let c, _), .replicate(let c, _), .replicated(let c), .refused(let c):
            c
        }
    }

    /// Whether this is a reply to a call (rather than a request).
    var isReply: Bool {
        switch self {
        case .answer, .settled, .fetched, .leaseGrant, .invalidated, .pushed, .backupStateIs, .changesAre, .pong,
             .witnessRecorded, .acknowledged, .witnessStateIs, .standInAnswer, .epochAnswer, .stale, .orders, .replicated, .refused:
            true
        default:
            false
        }
    }

    /// Whether this is a write sent to a tier that applies or passes it on.
    var isWrite: Bool {
        switch self {
        case .buy, .take, .write: true
        default: false
        }
    }

    /// Whether the real tiers may send this request more than once (the tiers' client resends
    /// only requests the receiver dedupes): only these are ever duplicated by the network.
    var isResendable: Bool {
        switch self {
        case .settle, .fetch, .leaseAsk, .backupState, .changes, .ping, .witnessRecord, .acknowledge, .witnessState,
             .standIn, .epochRequest, .takes, .held, .replicate:
            true
        default:
            isReply
        }
    }

    /// How the trace shows it.
    var traceText: String {
        switch self {
        case .push(let c, let term, let after, let upTo, let books, let takes, let lease):
            "push#\(c)(epoch \(term.epoch), after \(after), up to \(upTo), \(books.count) books, \(takes.count) takes\(lease.map { ", lease \($0.milliseconds) ms echo \($0.echo)" } ?? ""))"
        case .changesAre(let c, let books, let applied): "changesAre#\(c)(\(books.count) books, applied \(applied))"
        case .orders(let c, let orders): "orders#\(c)(\(orders.map { "\($0.map(\.number))" } ?? "503"))"
        case .replicate(let c, let orders): "replicate#\(c)(\(orders.map(\.number)))"
        default: String(describing: self).replacingOccurrences(of: "Simulation.", with: "")
        }
    }
}
