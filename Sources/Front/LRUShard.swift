import BazarCore

/// One shard of the front's cache: a map from key to value (a cached response), evicting as W-TinyLFU
/// does (Caffeine's policy). A new entry enters a small least-recently-used window (1 % of the
/// shard, at least one entry). The window's least recently used entry then moves on to the main
/// LRU segment, but once that is full, only if the frequency sketch says it was asked for more
/// often lately than the main segment's least recently used entry, which it then replaces;
/// otherwise it is the one evicted. A flood of keys asked for once churns through the window
/// and never evicts the entries that are read again and again.
///
/// The shard is bounded twice: in entries (`capacity`) and in bytes (`capacityBytes`, what its
/// entries are charged: `charge(key:value:dependencies:)`). Each segment takes its share of both
/// bounds, and an entry moves on or is evicted when its segment is over either. An answer charged
/// more than the main segment holds is never stored (`oversized`): it is served, not cached.
///
/// Plus what invalidation needs: which keys depend on a book or a topic, the newest write
/// sequence number announced for each (a fill reflecting an older one is refused; at most
/// `announcedLimit` of them, then they are folded into the floor), and a floor below which no
/// fill is taken (the newest write announced before a fresh read lease).
package struct LRUShard<Value: CacheValue> {
    private struct Slot {
        var key: String
        var hash: Int
        var value: Value?
        var charge: Int
        var dependencies: [CacheDependency]
        var segment: Int
        var newer: Int   // towards the most recently used end of its segment, -1 at the head
        var older: Int   // towards the least recently used end, -1 at the tail
    }

    /// A doubly linked list of slots, most recently used at the head.
    private struct Segment {
        let capacity: Int
        let capacityBytes: Int
        var head = -1, tail = -1, count = 0, bytes = 0

        /// Whether it holds more entries or bytes than its share.
        var isOver: Bool { count > capacity || bytes > capacityBytes }
    }

    private static var window: Int { 0 }
    private static var main: Int { 1 }

    let capacity: Int
    /// The most bytes its entries are charged, all together.
    let capacityBytes: Int
    private var slots: [Slot] = []
    private var index: [String: Int] = [:]
    private var freeSlots: [Int] = []
    private var segments: [Segment]
    private var sketch: FrequencySketch
    private var keysByDependency: [CacheDependency: Set<String>] = [:]
    private var announced: [CacheDependency: Int64] = [:]
    private var floor: Int64 = 0
    private(set) var hits = 0
    private(set) var misses = 0
    private(set) var evictions = 0
    /// Entries leaving the window that the admission policy turned away (each also an eviction).
    private(set) var rejections = 0
    /// Fills refused because the answer alone is charged more than the main segment holds.
    private(set) var oversized = 0

    /// A shard of at most `capacity` entries charged at most `capacityBytes` bytes in all; the
    /// window takes 1 % of each (at least one entry).
    package init(capacity: Int, capacityBytes: Int = .max) {
        self.capacity = capacity
        self.capacityBytes = capacityBytes
        let window = min(capacity, max(1, capacity / 100))
        let windowBytes = capacityBytes / 100
        segments = [Segment(capacity: window, capacityBytes: windowBytes),
                    Segment(capacity: capacity - window, capacityBytes: capacityBytes - windowBytes)]
        sketch = FrequencySketch(capacity: capacity)
    }

    /// Entries held.
    var count: Int { index.count }

    /// Dependencies whose newest write it remembers (at most `announcedLimit`).
    var announcements: Int { announced.count }

    /// Bytes its entries are charged.
    var bytes: Int { segments[Self.window].bytes + segments[Self.main].bytes }

    /// Bytes an entry is charged: its value, its key and an estimate of its bookkeeping (its
    /// slot, its place in the index, and each dependency's in the slot and in the index of keys
    /// by dependency). The estimate errs high, so the bound holds for what the process spends.
    static func charge(key: String, value: Value, dependencies: Int) -> Int {
        value.byteCount + key.utf8.count + 320 + 96 * dependencies
    }

    /// The value for `key`, marking it most recently used; counts a hit or a miss, and a
    /// sighting of the key for the admission policy either way.
    package mutating func lookup(_ key: String) -> Value? {
        sketch.record(key.hashValue)
        guard let slot = index[key] else {
            misses += 1
            return nil
        }
        hits += 1
        moveToHead(slot)
        return slots[slot].value
    }

    /// How often the admission policy estimates `key` was looked up lately.
    func frequency(_ key: String) -> Int {
        sketch.estimate(key.hashValue)
    }

    /// Stores a value that reflects every write up to `seq` and depends on `dependencies`;
    /// refused (false) when a write newer than `seq` was announced for one of them, or when it
    /// is charged more than the main segment holds (then any older value for `key` is dropped
    /// too). A stored value may be evicted at once by the admission policy (when the shard is full).
    package mutating func fill(_ key: String, _ value: Value, dependencies: [CacheDependency], seq: Int64) -> Bool {
        guard capacity > 0, seq >= floor, dependencies.allSatisfy({ (announced[$0] ?? 0) <= seq }) else { return false }
        let charge = Self.charge(key: key, value: value, dependencies: dependencies.count)
        guard charge <= segments[Self.main].capacityBytes else {
            oversized += 1
            remove(key)
            return false
        }
        if let slot = index[key] {
            let segment = slots[slot].segment
            segments[segment].bytes += charge - slots[slot].charge
            slots[slot].value = value
            slots[slot].charge = charge
            setDependencies(slot, dependencies)
            moveToHead(slot)
            evictWhileOver()
            return true
        }
        let slot = Slot(key: key, hash: key.hashValue, value: value, charge: charge, dependencies: [], segment: Self.window,
                        newer: -1, older: -1)
        let position: Int
        if let free = freeSlots.popLast() {
            slots[free] = slot
            position = free
        } else {
            slots.append(slot)
            position = slots.count - 1
        }
        index[key] = position
        setDependencies(position, dependencies)
        push(position, to: Self.window)
        evictWhileOver()
        return true
    }

    /// Drops every entry and refuses fills older than `floor` from now on.
    package mutating func reset(floor newFloor: Int64) {
        for key in Array(index.keys) { remove(key) }
        floor = max(floor, newFloor)
    }

    /// Drops every entry that depends on `dependency` and remembers `seq` for it; returns how
    /// many were dropped.
    package mutating func invalidate(_ dependency: CacheDependency, seq: Int64) -> Int {
        if announced.count >= Self.announcedLimit, announced[dependency] == nil { forgetAnnouncements() }
        announced[dependency] = max(announced[dependency] ?? 0, seq)
        let keys = keysByDependency[dependency] ?? []
        for key in keys { remove(key) }
        return keys.count
    }

    /// The most dependencies whose newest write it remembers (a write of every book would
    /// otherwise grow it with the catalog, whatever the cache holds).
    static var announcedLimit: Int { 4_096 }

    /// Forgets every dependency's newest write, raising the floor to the newest of them
    /// instead: a fill refused before is refused still, and so is any other fill older than
    /// them (one that started before those writes: it is served, only not cached).
    private mutating func forgetAnnouncements() {
        floor = max(floor, announced.values.max() ?? 0)
        announced.removeAll(keepingCapacity: true)
    }

    /// Brings both segments back within their shares. A refill that grew an entry of the main
    /// segment evicts from its least recently used end. While the window is over, its least
    /// recently used entry (the candidate) moves to the main segment; while that is over, the
    /// candidate and the main segment's least recently used entry (the victim) compete: the
    /// victim is evicted if the candidate was asked for more often lately, else the candidate
    /// is (it then takes no more room than before it came).
    private mutating func evictWhileOver() {
        while segments[Self.main].isOver {
            remove(slots[segments[Self.main].tail].key)
            evictions += 1
        }
        while segments[Self.window].isOver {
            let candidate = segments[Self.window].tail
            unlink(candidate)
            push(candidate, to: Self.main)
            while segments[Self.main].isOver {
                let victim = segments[Self.main].tail
                let admitted = victim != candidate && sketch.estimate(slots[candidate].hash) > sketch.estimate(slots[victim].hash)
                remove(slots[admitted ? victim : candidate].key)
                evictions += 1
                if !admitted {
                    rejections += 1
                    break
                }
            }
        }
    }

    private mutating func remove(_ key: String) {
        guard let slot = index.removeValue(forKey: key) else { return }
        unlink(slot)
        setDependencies(slot, [])
        slots[slot].value = nil
        freeSlots.append(slot)
    }

    private mutating func setDependencies(_ slot: Int, _ dependencies: [CacheDependency]) {
        let key = slots[slot].key
        for dependency in slots[slot].dependencies {
            keysByDependency[dependency]?.remove(key)
            if keysByDependency[dependency]?.isEmpty == true { keysByDependency[dependency] = nil }
        }
        slots[slot].dependencies = dependencies
        for dependency in dependencies { keysByDependency[dependency, default: []].insert(key) }
    }

    private mutating func moveToHead(_ slot: Int) {
        let segment = slots[slot].segment
        guard slot != segments[segment].head else { return }
        unlink(slot)
        push(slot, to: segment)
    }

    private mutating func push(_ slot: Int, to segment: Int) {
        let head = segments[segment].head
        slots[slot].segment = segment
        slots[slot].newer = -1
        slots[slot].older = head
        if head >= 0 { slots[head].newer = slot } else { segments[segment].tail = slot }
        segments[segment].head = slot
        segments[segment].count += 1
        segments[segment].bytes += slots[slot].charge
    }

    private mutating func unlink(_ slot: Int) {
        let (newer, older, segment) = (slots[slot].newer, slots[slot].older, slots[slot].segment)
        if newer >= 0 { slots[newer].older = older } else { segments[segment].head = older }
        if older >= 0 { slots[older].newer = newer } else { segments[segment].tail = newer }
        segments[segment].count -= 1
        segments[segment].bytes -= slots[slot].charge
    }
}
