/// What the clients did and saw, with simulated times: the checker's input. The simulator also
/// notes, as an all-seeing observer, when the primary committed a write under each key (the
/// real chaos checker learns it from the stores; here it is exact).
final class History {
    enum Kind: CustomStringConvertible {
        /// A purchase under `key` (the client's when `clientKey`, else the one the stack made).
        case purchase(book: Int, key: String, clientKey: Bool)
        /// An admin update setting a price no other update sets, under the key the front made.
        case update(book: Int, price: Int, key: String)
        case read(book: Int)

        var book: Int {
            switch self {
            case .purchase(let book, _, _), .update(let book, _, _), .read(let book): book
            }
        }

        var description: String {
            switch self {
            case .purchase(let book, let key, let clientKey): "purchase book \(book) key \(key)\(clientKey ? "" : " (made by the stack)")"
            case .update(let book, let price, let key): "update book \(book) price \(price) key \(key)"
            case .read(let book): "read book \(book)"
            }
        }
    }

    struct Operation: CustomStringConvertible {
        let client: Int
        let kind: Kind
        /// The request id nginx gave it: the front's attempt, the root of every try made for it.
        let request: String
        let invoked: Int64
        var completed: Int64?
        /// The answer; nil when none came (the front died with it).
        var reply: WriteReply?

        var description: String {
            "client-\(client) \(kind) [\(World.seconds(invoked)) – \(completed.map(World.seconds) ?? "…")] → \(reply?.description ?? "no answer")"
        }
    }

    private(set) var operations: [Operation] = []
    /// When the primary first committed a write under each key, and under which attempt.
    private(set) var commits: [String: (at: Int64, attempt: String)] = [:]

    func invoke(client: Int, _ kind: Kind, request: String, at time: Int64) -> Int {
        operations.append(Operation(client: client, kind: kind, request: request, invoked: time))
        return operations.count - 1
    }

    func complete(_ index: Int, _ reply: WriteReply?, at time: Int64) {
        operations[index].completed = time
        operations[index].reply = reply
    }

    func committed(key: String, attempt: String, at time: Int64) {
        if commits[key] == nil { commits[key] = (time, attempt) }
    }
}

/// What the replicas hold at the end of a run, after a quiet period.
struct FinalState {
    var primaryLeads: Bool
    var primaryBooks: [BookState]
    var primaryApplied: Int64
    var backupBooks: [BookState]
    var backupApplied: Int64
    var takes: [OrderRecord]
    var orderReplicas: [[OrderRecord]]
    var initialStock: [Int: Int]
    /// When catalog-1 lost its disk (the known gaps of docs/recovery.md need one).
    var primaryDiskLosses: [Int64]
}
