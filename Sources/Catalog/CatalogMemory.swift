import Basics
import BazarCore
import Synchronization

/// The replica's books in memory, mirroring its store, for reads that take no disk access.
/// Every change is made after the store committed it. Its indexes keep every read and every
/// replication push proportional to what it answers, not to the catalog's size: each topic's
/// listing in id order (a search page is a binary search and one copy), and the ids in the
/// order of their latest versions (what changed after a sequence number).
final class CatalogMemory: Sendable {
    /// A book and its `/info` body (also what a replication push carries), encoded when the
    /// book changes.
    struct Entry: Sendable {
        let book: Book
        let info: [UInt8]

        init(_ book: Book) {
            self.book = book
            info = book.json.encoded()
        }
    }

    private struct State {
        var entries: [Int64: Entry] = [:]
        /// Each canonical topic's books, by id.
        var topics: [String: TopicListing] = [:]
        var versions = VersionIndex()
        var applied: Int64 = 0
        var largestID: Int64 = 0

        mutating func keep(_ entry: Entry) {
            let book = entry.book
            let previous = entries.updateValue(entry, forKey: book.id)
            versions.record(id: book.id, version: book.version, replacing: previous?.book.version)
            largestID = max(largestID, book.id)
            if previous == nil { topics[Topic.canonical(book.topic), default: TopicListing()].insert(book) }
        }
    }

    /// One page of a topic's books and the sequence number the read reflects.
    struct SearchPage {
        var ids: ArraySlice<Int64>
        /// The page's search items, encoded and separated by commas.
        var items: ArraySlice<UInt8>
        /// The answer's `next`: the `after` of the next page, or null on the last.
        var next: JSON
        var seq: Int64
    }

    /// Books changed after a sequence number, as a push sends them.
    struct Changes {
        /// The books' encoded bodies, oldest version first.
        var encoded: [[UInt8]]
        /// The version of the last book included.
        var through: Int64
        /// Whether every book changed after the asked number is included.
        var complete: Bool
        /// The sequence number the replica has applied.
        var applied: Int64
    }

    private let state: Mutex<State>

    init(books: [Book], applied: Int64) {
        var initial = State(applied: applied)
        for book in books.sorted(by: { $0.version < $1.version }) { initial.keep(Entry(book)) }
        state = Mutex(initial)
    }

    /// The last write sequence number applied.
    var applied: Int64 { state.withLock { $0.applied } }

    /// The largest book id held (a new book gets the next one).
    var largestID: Int64 { state.withLock { $0.largestID } }

    /// A book and the sequence number the read reflects.
    func book(_ id: Int64) -> (Book?, Int64) {
        state.withLock { ($0.entries[id]?.book, $0.applied) }
    }

    /// A book's encoded `/info` body and the sequence number the read reflects.
    func encodedBook(_ id: Int64) -> ([UInt8]?, Int64) {
        state.withLock { ($0.entries[id]?.info, $0.applied) }
    }

    /// One page of the books of a topic (matched in its canonical form), by id.
    func search(_ topic: String, _ page: Page) -> SearchPage {
        state.withLock { state in
            let (ids, items, next) = state.topics[Topic.canonical(topic)]?.page(page) ?? ([], [], .null)
            return SearchPage(ids: ids, items: items, next: next, seq: state.applied)
        }
    }

    /// The books changed after `seq` (state-based: the latest version of each), oldest version
    /// first, up to about `budget` bytes of bodies (at least one book).
    func changes(after seq: Int64, budget: Int) -> Changes {
        state.withLock { state in
            var page = Changes(encoded: [], through: seq, complete: true, applied: state.applied)
            var size = 0
            for (version, id) in state.versions.entries(after: seq) {
                guard let entry = state.entries[id], entry.book.version == version else { continue }
                if !page.encoded.isEmpty && size + entry.info.count > budget {
                    page.complete = false
                    break
                }
                page.encoded.append(entry.info)
                page.through = version
                size += entry.info.count + 1
            }
            return page
        }
    }

    /// Takes newer book states (and new books) and moves `applied` forward.
    func apply(_ books: [Book], applied: Int64) {
        let newer = books.sorted { $0.version < $1.version }.map(Entry.init)
        state.withLock { state in
            for entry in newer where (state.entries[entry.book.id]?.book.version ?? -1) < entry.book.version {
                state.keep(entry)
            }
            state.applied = max(state.applied, applied)
            let current = state.entries
            state.versions.compactIfStale { current[$0.id]?.book.version == $0.version }
        }
    }
}
