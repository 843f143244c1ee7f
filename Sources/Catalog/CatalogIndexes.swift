import Basics
import BazarCore

/// A topic's books in id order, for its search pages: their ids and their search items
/// (`{"id", "title"}`, each followed by a comma) encoded back to back, so that a page is one
/// binary search and one copy. A book's item never changes (its title does not).
struct TopicListing {
    private var ids: [Int64] = []
    /// Where each book's item ends in `items`.
    private var ends: [Int] = []
    private var items: [UInt8] = []

    /// Adds a book (new ones come last, but a backup catching up may get them out of order).
    mutating func insert(_ book: Book) {
        let item = JSON.object([("id", .int(book.id)), ("title", .string(book.title))]).encoded() + [UInt8(ascii: ",")]
        let position = ids.partitioningIndex { $0 > book.id }
        let offset = position == 0 ? 0 : ends[position - 1]
        ids.insert(book.id, at: position)
        items.insert(contentsOf: item, at: offset)
        ends.insert(offset, at: position)
        for index in position..<ends.count { ends[index] += item.count }
    }

    /// One page: its ids, its items separated by commas, and the answer's `next`.
    func page(_ page: Page) -> (ids: ArraySlice<Int64>, items: ArraySlice<UInt8>, next: JSON) {
        let start = ids.partitioningIndex { $0 > page.after }
        let end = min(ids.count, start + page.limit)
        let next = page.next(numbers: Array(ids[start..<min(ids.count, end + 1)]))
        guard start < end else { return ([], [], next) }
        return (ids[start..<end], items[(start == 0 ? 0 : ends[start - 1])..<(ends[end - 1] - 1)], next)
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

