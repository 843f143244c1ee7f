import BazarCore
import Synchronization

/// What the cache stores: a value that knows how many bytes it holds.
package protocol CacheValue: Sendable {
    /// The bytes the value holds (its arrays' contents and its own size).
    var byteCount: Int { get }
}

/// Bytes, as the tests cache them.
extension [UInt8]: CacheValue {
    package var byteCount: Int { count }
}

/// The front's cache of read answers (`CacheEntry`, or bytes in the tests): up to 16 independently locked shards, so
/// concurrent hits on different keys rarely wait for each other (`Mutex` spins briefly before
/// it sleeps, so hits on one hot key seldom enter the kernel). Each shard holds at least
/// `minimumShardCapacity` entries and `minimumShardBytes` bytes (a small cache is one shard) and
/// evicts as W-TinyLFU does (`LRUShard`): keys asked for once do not push out the ones asked for
/// often. It is bounded both in entries and in bytes, each shard taking an equal share of each;
/// an answer charged more than a shard's share of the bytes is served but never stored.
final class ResponseCache<Value: CacheValue>: Sendable {
    /// Counters for `/stats`.
    struct Stats: Sendable, Equatable {
        var entries = 0, capacity = 0, hits = 0, misses = 0, invalidations = 0, evictions = 0, rejections = 0
        var bytes = 0, capacityBytes = 0, oversized = 0
    }

    private final class Shard: Sendable {
        let lru: Mutex<LRUShard<Value>>
        init(capacity: Int, capacityBytes: Int) { lru = Mutex(LRUShard(capacity: capacity, capacityBytes: capacityBytes)) }
    }

    private let shards: [Shard]
    /// The most entries it holds (0: the cache is off).
    let capacity: Int
    /// The most bytes its entries are charged, all together (`LRUShard.charge`).
    let capacityBytes: Int
    private let invalidations = Atomic<Int>(0)

    /// The fewest entries a shard holds when the cache is split.
    static var minimumShardCapacity: Int { 256 }
    /// The fewest bytes a shard holds when the cache is split (more than the largest search page).
    static var minimumShardBytes: Int { 4 << 20 }
    /// The default bound in bytes: 128 MiB.
    static var defaultCapacityBytes: Int { 128 << 20 }

    /// A cache of at most `capacity` entries charged at most `capacityBytes` bytes (either 0
    /// disables it).
    init(capacity: Int, capacityBytes: Int = defaultCapacityBytes, maximumShards: Int = 16) {
        let capacity = capacityBytes > 0 ? capacity : 0
        let count = max(1, min(maximumShards, capacity / Self.minimumShardCapacity, capacityBytes / Self.minimumShardBytes))
        self.capacity = capacity
        self.capacityBytes = capacity > 0 ? capacityBytes : 0
        shards = (0..<count).map { index in
            Shard(capacity: capacity / count + (index < capacity % count ? 1 : 0),
                  capacityBytes: capacityBytes / count + (index < capacityBytes % count ? 1 : 0))
        }
    }

    /// The cached answer for `key`, if any.
    func lookup(_ key: String) -> Value? {
        shard(key).lru.withLock { $0.lookup(key) }
    }

    /// Caches a response reflecting writes up to `seq` that depends on `dependencies`; false
    /// when refused as stale.
    @discardableResult
    func fill(_ key: String, _ value: Value, dependencies: [CacheDependency], seq: Int64) -> Bool {
        shard(key).lru.withLock { $0.fill(key, value, dependencies: dependencies, seq: seq) }
    }

    /// Drops every response that depends on `dependency` and refuses later fills of them
    /// older than `seq`.
    @discardableResult
    func invalidate(_ dependency: CacheDependency, seq: Int64) -> Int {
        invalidations.add(1, ordering: .relaxed)
        return shards.reduce(0) { dropped, shard in dropped + shard.lru.withLock { $0.invalidate(dependency, seq: seq) } }
    }

    /// Drops every entry and refuses fills older than `floor` (a fresh lease: invalidations
    /// may have been missed before it).
    func reset(floor: Int64) {
        for shard in shards { shard.lru.withLock { $0.reset(floor: floor) } }
    }

    /// The counters, summed over the shards.
    var stats: Stats {
        var total = Stats(capacity: capacity, invalidations: invalidations.load(ordering: .relaxed), capacityBytes: capacityBytes)
        for shard in shards {
            shard.lru.withLock { lru in
                total.entries += lru.count
                total.hits += lru.hits
                total.misses += lru.misses
                total.evictions += lru.evictions
                total.rejections += lru.rejections
                total.bytes += lru.bytes
                total.oversized += lru.oversized
            }
        }
        return total
    }

    private func shard(_ key: String) -> Shard {
        shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
    }
}
