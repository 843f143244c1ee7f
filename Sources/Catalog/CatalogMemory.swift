import BazarCore
import Synchronization

/// The replica's books in memory, mirroring its store, for reads that take no disk access.
/// Every change is made after the store committed it.
final class CatalogMemory: Sendable {
    private struct State {
        var books: [Int64: Book] = [:]
        /// Each book's `/info` body, encoded when the book changes.
        var encoded: [Int64: [UInt8]] = [:]
        var idsByTopic: [String: [Int64]] = [:]
        var applied: Int64 = 0
    }

    private let state: Mutex<State>

    init(books: [Book], applied: Int64) {
        var initial = State(applied: applied)
        for book in books {
            initial.books[book.id] = book
            initial.encoded[book.id] = book.json.encoded()
            initial.idsByTopic[Topic.canonical(book.topic), default: []].append(book.id)
        }
        state = Mutex(initial)
    }

    /// The last write sequence number applied.
    var applied: Int64 { state.withLock { $0.applied } }

    /// A book and the sequence number the read reflects.
    func book(_ id: Int64) -> (Book?, Int64) {
        state.withLock { ($0.books[id], $0.applied) }
    }

    /// A book's encoded `/info` body and the sequence number the read reflects.
    func encodedBook(_ id: Int64) -> ([UInt8]?, Int64) {
        state.withLock { ($0.encoded[id], $0.applied) }
    }

    /// The books of a topic (matched in its canonical form), by id, and the sequence number the read reflects.
    func search(_ topic: String) -> ([Book], Int64) {
        state.withLock { state in
            let ids = state.idsByTopic[Topic.canonical(topic)] ?? []
            return (ids.sorted().compactMap { state.books[$0] }, state.applied)
        }
    }

    /// Books changed after `seq` (state-based: the latest version of each) and the sequence number
    /// they bring a replica up to.
    func changes(after seq: Int64) -> ([Book], Int64) {
        state.withLock { state in
            (state.books.values.filter { $0.version > seq }.sorted { $0.version < $1.version }, state.applied)
        }
    }

    /// Takes newer book states and moves `applied` forward.
    func apply(_ books: [Book], applied: Int64) {
        let newer = books.map { ($0, $0.json.encoded()) }
        state.withLock { state in
            for (book, encoded) in newer where (state.books[book.id]?.version ?? -1) < book.version {
                state.books[book.id] = book
                state.encoded[book.id] = encoded
            }
            state.applied = max(state.applied, applied)
        }
    }
}
