import BazarCore
import Synchronization

/// The replica's books in memory, mirroring its store, for reads that take no disk access.
/// Every change is made after the store committed it. Its indexes keep every read and every
/// replication push proportional to what it answers, not to the catalog's size: the ids of each
/// topic in order (a search page is a binary search and a slice), and the ids in the order of
/// their latest versions (what changed after a sequence number).
final class CatalogMemory: Sendable {
    private struct State {
        var books: [Int64: Book] = [:]
        /// Each book's `/info` body, encoded when the book changes (also what a push sends).
        var encoded: [Int64: [UInt8]] = [:]
        /// Each canonical topic's book ids, ascending.
        var idsByTopic: [String: [Int64]] = [:]
        var versions = VersionIndex()
        var applied: Int64 = 0
        var largestID: Int64 = 0

        mutating func keep(_ book: Book, encoded body: [UInt8]) {
            let previous = books.updateValue(book, forKey: book.id)
            encoded[book.id] = body
            versions.record(id: book.id, version: book.version, replacing: previous?.version)
            largestID = max(largestID, book.id)
            if previous == nil { idsByTopic[Topic.canonical(book.topic), default: []].insertSorted(book.id) }
        }
    }

    /// One page of a topic's books and the sequence number the read reflects.
    struct SearchPage {
        var books: [Book]
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
        for book in books.sorted(by: { $0.version < $1.version }) { initial.keep(book, encoded: book.json.encoded()) }
        state = Mutex(initial)
    }

    /// The last write sequence number applied.
    var applied: Int64 { state.withLock { $0.applied } }

    /// The largest book id held (a new book gets the next one).
    var largestID: Int64 { state.withLock { $0.largestID } }

    /// A book and the sequence number the read reflects.
    func book(_ id: Int64) -> (Book?, Int64) {
        state.withLock { ($0.books[id], $0.applied) }
    }

    /// A book's encoded `/info` body and the sequence number the read reflects.
    func encodedBook(_ id: Int64) -> ([UInt8]?, Int64) {
        state.withLock { ($0.encoded[id], $0.applied) }
    }

    /// One page of the books of a topic (matched in its canonical form), by id.
    func search(_ topic: String, _ page: Page) -> SearchPage {
        state.withLock { state in
            let ids = state.idsByTopic[Topic.canonical(topic)] ?? []
            let start = ids.partitioningIndex { $0 > page.after }
            let found = Array(ids[start..<min(ids.count, start + page.limit + 1)])
            return SearchPage(books: found.prefix(page.limit).compactMap { state.books[$0] }, next: page.next(numbers: found),
                              seq: state.applied)
        }
    }

    /// The books changed after `seq` (state-based: the latest version of each), oldest version
    /// first, up to about `budget` bytes of bodies (at least one book).
    func changes(after seq: Int64, budget: Int) -> Changes {
        state.withLock { state in
            var page = Changes(encoded: [], through: seq, complete: true, applied: state.applied)
            var size = 0
            for (version, id) in state.versions.entries(after: seq) where state.books[id]?.version == version {
                guard let body = state.encoded[id] else { continue }
                if !page.encoded.isEmpty && size + body.count > budget {
                    page.complete = false
                    break
                }
                page.encoded.append(body)
                page.through = version
                size += body.count + 1
            }
            return page
        }
    }

    /// Takes newer book states (and new books) and moves `applied` forward.
    func apply(_ books: [Book], applied: Int64) {
        let newer = books.sorted { $0.version < $1.version }.map { ($0, $0.json.encoded()) }
        state.withLock { state in
            for (book, body) in newer where (state.books[book.id]?.version ?? -1) < book.version {
                state.keep(book, encoded: body)
            }
            state.applied = max(state.applied, applied)
            let current = state.books
            state.versions.compactIfStale { current[$0.id]?.version == $0.version }
        }
    }
}

/// Book ids in the order of their latest versions, so that what changed after a sequence
/// number is found by a binary search. A book's older entry stays until a compaction (when
/// stale entries are as many as live ones); readers skip entries that are not the book's
/// current version.
struct VersionIndex {
    private var entries: [(version: Int64, id: Int64)] = []
    private var stale = 0

    /// Records that book `id` is now at `version` (it was at `previous`, if it existed).
    mutating func record(id: Int64, version: Int64, replacing previous: Int64?) {
        if previous != nil { stale += 1 }
        let entry = (version: version, id: id)
        if let last = entries.last, last.version > version {
            entries.insert(entry, at: entries.partitioningIndex { $0.version > version })
        } else {
            entries.append(entry)
        }
    }

    /// The entries whose version is above `seq`, oldest first (stale ones included).
    func entries(after seq: Int64) -> ArraySlice<(version: Int64, id: Int64)> {
        entries[entries.partitioningIndex { $0.version > seq }...]
    }

    /// Drops the entries `isCurrent` rejects once they are as many as the live ones.
    mutating func compactIfStale(_ isCurrent: ((version: Int64, id: Int64)) -> Bool) {
        guard stale > 0, stale * 2 >= entries.count else { return }
        entries.removeAll { !isCurrent($0) }
        stale = 0
    }
}

extension Array {
    /// In an array ordered so that every element `isAbove` rejects comes first, the index of
    /// the first one it accepts (a binary search).
    func partitioningIndex(where isAbove: (Element) -> Bool) -> Int {
        var low = 0, high = count
        while low < high {
            let middle = (low + high) / 2
            if isAbove(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

extension Array where Element == Int64 {
    /// Inserts `value` into an ascending array, keeping it ascending.
    mutating func insertSorted(_ value: Int64) {
        if let last, last > value { insert(value, at: partitioningIndex { $0 > value }) } else { append(value) }
    }
}
