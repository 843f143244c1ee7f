/// How often keys were asked for lately, in little memory: TinyLFU's estimator (Einziger,
/// Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission Policy", 2017, as in
/// Caffeine). A count-min sketch of 4-bit counters, four per key, sits behind a doorkeeper,
/// a Bloom filter that absorbs each key's first sighting, so keys seen once barely touch the
/// counters. Every `sampleSize` sightings all counters are halved and the doorkeeper is
/// cleared: popularity fades unless it is renewed. It never allocates after `init`.
struct FrequencySketch {
    private var counters: [UInt64]     // sixteen 4-bit counters per word
    private var doorkeeper: [UInt64]   // one bit each
    private let counterMask: UInt64
    private let doorkeeperMask: UInt64
    private var sightings = 0
    /// Sightings between two halvings.
    let sampleSize: Int

    /// A sketch for a cache of `capacity` entries: 16 counters and 64 doorkeeper bits per entry
    /// (rounded up to a power of two), halved every 10 × `capacity` sightings.
    init(capacity: Int) {
        var words = 1
        while words < max(capacity, 1) { words <<= 1 }
        counters = Array(repeating: 0, count: words)
        doorkeeper = Array(repeating: 0, count: words)
        counterMask = UInt64(words * 16 - 1)
        doorkeeperMask = UInt64(words * 64 - 1)
        sampleSize = 10 * max(capacity, 1)
    }

    /// Counts one sighting of the key whose hash is `hash`.
    mutating func record(_ hash: Int) {
        let (h1, h2) = Self.split(hash)
        if doorkeeperHolds(h1, h2) {
            // Conservative update: raise only the counters at the minimum (less overcounting).
            let least = minimum(h1, h2)
            if least < 15 {
                for i in 0..<4 where counter(index(h1, h2, i)) == least { raise(index(h1, h2, i)) }
            }
        } else {
            for i in 0..<2 { doorkeeper[Int(bit(h1, h2, i) >> 6)] |= 1 << (bit(h1, h2, i) & 63) }
        }
        sightings += 1
        if sightings >= sampleSize { halve() }
    }

    /// The estimated number of recent sightings of the key whose hash is `hash` (0...16): the
    /// least of its counters, plus one if the doorkeeper holds it. Never below the true count
    /// since the last halving (up to 16).
    func estimate(_ hash: Int) -> Int {
        let (h1, h2) = Self.split(hash)
        return minimum(h1, h2) + (doorkeeperHolds(h1, h2) ? 1 : 0)
    }

    /// Two independent-looking halves of a remixed hash (the cache's shards already split keys
    /// by the low bits of the same hash), for double hashing: index i is `h1 + i × h2`.
    private static func split(_ hash: Int) -> (UInt64, UInt64) {
        var x = UInt64(bitPattern: Int64(hash)) &* 0x9E37_79B9_7F4A_7C15
        x ^= x >> 29
        x = x &* 0xBF58_476D_1CE4_E5B9
        x ^= x >> 32
        return (x & 0xFFFF_FFFF, (x >> 32) | 1)
    }

    private func index(_ h1: UInt64, _ h2: UInt64, _ i: Int) -> UInt64 {
        (h1 &+ UInt64(i) &* h2) & counterMask
    }

    private func bit(_ h1: UInt64, _ h2: UInt64, _ i: Int) -> UInt64 {
        (h2 &+ UInt64(i) &* h1) & doorkeeperMask
    }

    private func doorkeeperHolds(_ h1: UInt64, _ h2: UInt64) -> Bool {
        (0..<2).allSatisfy { doorkeeper[Int(bit(h1, h2, $0) >> 6)] & (1 << (bit(h1, h2, $0) & 63)) != 0 }
    }

    private func counter(_ index: UInt64) -> Int {
        Int((counters[Int(index >> 4)] >> ((index & 15) << 2)) & 0xF)
    }

    private mutating func raise(_ index: UInt64) {
        counters[Int(index >> 4)] += 1 << ((index & 15) << 2)
    }

    private func minimum(_ h1: UInt64, _ h2: UInt64) -> Int {
        (0..<4).reduce(15) { min($0, counter(index(h1, h2, $1))) }
    }

    private mutating func halve() {
        for word in counters.indices { counters[word] = (counters[word] >> 1) & 0x7777_7777_7777_7777 }
        for word in doorkeeper.indices { doorkeeper[word] = 0 }
        sightings /= 2
    }
}
