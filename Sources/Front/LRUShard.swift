/// One shard of the front's cache: a least-recently-used map from key to encoded response,
/// plus what it needs to invalidate by book: which keys hold a book, and the newest write
/// sequence number announced for each book (a fill reflecting an older one is refused), and a
/// floor below which no fill is taken (the newest write announced before a fresh lease).
struct LRUShard {
    private struct Slot {
        var key: String
        var value: [UInt8]
        var books: [Int64]
        var newer: Int   // towards the most recently used end, -1 at the head
        var older: Int   // towards the least recently used end, -1 at the tail
    }

    let capacity: Int
    private var slots: [Slot] = []
    private var index: [String: Int] = [:]
    private var freeSlots: [Int] = []
    private var head = -1
    private var tail = -1
    private var keysByBook: [Int64: Set<String>] = [:]
    private var announced: [Int64: Int64] = [:]
    private var floor: Int64 = 0
    private(set) var hits = 0
    private(set) var misses = 0
    private(set) var evictions = 0

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Entries held.
    var count: Int { index.count }

    /// The value for `key`, marking it most recently used; counts a hit or a miss.
    mutating func lookup(_ key: String) -> [UInt8]? {
        guard let slot = index[key] else {
            misses += 1
            return nil
        }
        hits += 1
        moveToHead(slot)
        return slots[slot].value
    }

    /// Stores a value that reflects every write up to `seq` and holds `books`; refused (false)
    /// when a write newer than `seq` was announced for one of them.
    mutating func fill(_ key: String, _ value: [UInt8], books: [Int64], seq: Int64) -> Bool {
        guard capacity > 0, seq >= floor, books.allSatisfy({ (announced[$0] ?? 0) <= seq }) else { return false }
        remove(key)
        if index.count >= capacity, tail >= 0 {
            remove(slots[tail].key)
            evictions += 1
        }
        let slot = Slot(key: key, value: value, books: books, newer: -1, older: head)
        let position: Int
        if let free = freeSlots.popLast() {
            slots[free] = slot
            position = free
        } else {
            slots.append(slot)
            position = slots.count - 1
        }
        if head >= 0 { slots[head].newer = position }
        head = position
        if tail < 0 { tail = position }
        index[key] = position
        for book in books { keysByBook[book, default: []].insert(key) }
        return true
    }

    /// Drops every entry and refuses fills older than `floor` from now on.
    mutating func reset(floor newFloor: Int64) {
        for key in Array(index.keys) { remove(key) }
        floor = max(floor, newFloor)
    }

    /// Drops every entry holding `book` and remembers `seq` for it; returns how many were dropped.
    mutating func invalidate(book: Int64, seq: Int64) -> Int {
        announced[book] = max(announced[book] ?? 0, seq)
        let keys = keysByBook[book] ?? []
        for key in keys { remove(key) }
        return keys.count
    }

    private mutating func remove(_ key: String) {
        guard let slot = index.removeValue(forKey: key) else { return }
        unlink(slot)
        for book in slots[slot].books {
            keysByBook[book]?.remove(key)
            if keysByBook[book]?.isEmpty == true { keysByBook[book] = nil }
        }
        slots[slot].value = []
        slots[slot].books = []
        freeSlots.append(slot)
    }

    private mutating func moveToHead(_ slot: Int) {
        guard slot != head else { return }
        unlink(slot)
        slots[slot].older = head
        slots[slot].newer = -1
        if head >= 0 { slots[head].newer = slot }
        head = slot
        if tail < 0 { tail = slot }
    }

    private mutating func unlink(_ slot: Int) {
        let (newer, older) = (slots[slot].newer, slots[slot].older)
        if newer >= 0 { slots[newer].older = older } else { head = older }
        if older >= 0 { slots[older].newer = newer } else { tail = newer }
    }
}
