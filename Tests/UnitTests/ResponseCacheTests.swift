import BazarCore
import FastCGI
import Foundation
@testable import Front
import HTTPMessages
@testable import InternalHTTP
import Synchronization
import Wire
import TierCalls
import XCTest

final class ResponseCacheTests: XCTestCase {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    // MARK: LRUShard

    func testHitAfterFill() {
        var shard = LRUShard<[UInt8]>(capacity: 4)
        XCTAssertTrue(shard.fill("info/1", bytes("one"), dependencies: [.book(1)], seq: 0))
        XCTAssertEqual(shard.lookup("info/1"), bytes("one"))
        XCTAssertEqual(shard.lookup("info/1"), bytes("one"))
        XCTAssertNil(shard.lookup("info/2"))
        XCTAssertEqual(shard.count, 1)
        XCTAssertEqual(shard.hits, 2)
        XCTAssertEqual(shard.misses, 1)
        XCTAssertEqual(shard.evictions, 0)
    }

    func testRefillReplacesTheValueWithoutEvicting() {
        var shard = LRUShard<[UInt8]>(capacity: 2)
        _ = shard.fill("a", bytes("1"), dependencies: [.book(1)], seq: 0)
        _ = shard.fill("b", bytes("2"), dependencies: [.book(2)], seq: 0)
        _ = shard.fill("a", bytes("3"), dependencies: [.book(1)], seq: 1)
        XCTAssertEqual(shard.count, 2)
        XCTAssertEqual(shard.evictions, 0)
        XCTAssertEqual(shard.lookup("a"), bytes("3"))
        XCTAssertEqual(shard.lookup("b"), bytes("2"))
    }

    func testAnEntryReadAgainOutlastsOneNeverRead() {
        var shard = LRUShard<[UInt8]>(capacity: 2)   // a window of one entry, a main segment of one
        _ = shard.fill("a", bytes("a"), dependencies: [.book(1)], seq: 0)
        _ = shard.fill("b", bytes("b"), dependencies: [.book(2)], seq: 0)   // a moves on to the main segment
        XCTAssertEqual(shard.lookup("a"), bytes("a"))
        _ = shard.fill("c", bytes("c"), dependencies: [.book(3)], seq: 0)   // b leaves the window, never read
        XCTAssertNil(shard.lookup("b"), "b was read less often than a")
        XCTAssertEqual(shard.lookup("a"), bytes("a"))
        XCTAssertEqual(shard.lookup("c"), bytes("c"))
        XCTAssertEqual(shard.count, 2)
        XCTAssertEqual(shard.evictions, 1)
        XCTAssertEqual(shard.rejections, 1)
    }

    func testAWindowEntryReplacesTheMainVictimOnlyWhenReadMoreOften() {
        var shard = LRUShard<[UInt8]>(capacity: 2)
        _ = shard.fill("a", bytes("a"), dependencies: [.book(1)], seq: 0)
        _ = shard.fill("b", bytes("b"), dependencies: [.book(2)], seq: 0)
        _ = shard.fill("c", bytes("c"), dependencies: [.book(3)], seq: 0)
        // b left the window as often read as a (never): a tie keeps the main segment's entry.
        XCTAssertEqual(shard.count, 2)
        XCTAssertEqual(shard.evictions, 1)
        XCTAssertEqual(shard.rejections, 1)
        for _ in 0..<2 { XCTAssertEqual(shard.lookup("c"), bytes("c")) }
        _ = shard.fill("d", bytes("d"), dependencies: [.book(4)], seq: 0)   // c, read twice, replaces a
        XCTAssertEqual(shard.evictions, 2)
        XCTAssertEqual(shard.rejections, 1)
        XCTAssertNil(shard.lookup("a"))
        XCTAssertNil(shard.lookup("b"))
        XCTAssertEqual(shard.lookup("c"), bytes("c"))
        XCTAssertEqual(shard.lookup("d"), bytes("d"))
    }

    func testAFloodOfKeysReadOnceKeepsTheHotKey() {
        var shard = LRUShard<[UInt8]>(capacity: 100)
        _ = shard.fill("hot", bytes("hot"), dependencies: [.book(1)], seq: 0)
        for _ in 0..<3 { XCTAssertEqual(shard.lookup("hot"), bytes("hot")) }
        for index in 0..<1_000 {
            let key = "search/flood-\(index)"
            XCTAssertNil(shard.lookup(key))
            _ = shard.fill(key, bytes(key), dependencies: [], seq: 0)
        }
        XCTAssertEqual(shard.lookup("hot"), bytes("hot"))
        XCTAssertEqual(shard.count, 100)
        XCTAssertEqual(shard.evictions, 901)
        XCTAssertGreaterThan(shard.rejections, 800, "the flood churned through the window")
    }

    func testCapacityOneKeepsOnlyTheLastFill() {
        var shard = LRUShard<[UInt8]>(capacity: 1)
        for key in ["a", "b", "c"] { _ = shard.fill(key, bytes(key), dependencies: [], seq: 0) }
        XCTAssertEqual(shard.count, 1)
        XCTAssertEqual(shard.lookup("c"), bytes("c"))
        XCTAssertNil(shard.lookup("a"))
        XCTAssertEqual(shard.evictions, 2)
    }

    func testCapacityZeroCachesNothing() {
        var shard = LRUShard<[UInt8]>(capacity: 0)
        XCTAssertFalse(shard.fill("a", bytes("a"), dependencies: [.book(1)], seq: 0))
        XCTAssertNil(shard.lookup("a"))
        XCTAssertEqual(shard.count, 0)
        XCTAssertEqual(shard.misses, 1)
    }

    func testInvalidateDropsInfoAndSearchEntriesHoldingTheBook() {
        var shard = LRUShard<[UInt8]>(capacity: 10)
        _ = shard.fill("info/1", bytes("1"), dependencies: [.book(1)], seq: 0)
        _ = shard.fill("info/2", bytes("2"), dependencies: [.book(2)], seq: 0)
        _ = shard.fill("search/distributed systems", bytes("ds"), dependencies: [.book(1), .book(2), .book(5)], seq: 0)
        _ = shard.fill("search/undergraduate school", bytes("us"), dependencies: [.book(3), .book(4), .book(6), .book(7)], seq: 0)
        _ = shard.fill("search/unknown", bytes("none"), dependencies: [], seq: 0)
        XCTAssertEqual(shard.invalidate(.book(1), seq: 3), 2)
        XCTAssertNil(shard.lookup("info/1"))
        XCTAssertNil(shard.lookup("search/distributed systems"))
        XCTAssertEqual(shard.lookup("info/2"), bytes("2"))
        XCTAssertEqual(shard.lookup("search/undergraduate school"), bytes("us"))
        XCTAssertEqual(shard.lookup("search/unknown"), bytes("none"))
        XCTAssertEqual(shard.count, 3)
        XCTAssertEqual(shard.evictions, 0, "an invalidation is not an eviction")
        // Book 2's search entry is gone; only info/2 still holds it.
        XCTAssertEqual(shard.invalidate(.book(2), seq: 4), 1)
        XCTAssertEqual(shard.invalidate(.book(2), seq: 5), 0)
        XCTAssertEqual(shard.invalidate(.book(42), seq: 5), 0)
        XCTAssertEqual(shard.count, 2)
    }

    func testFillOlderThanAnAnnouncedInvalidationIsRefused() {
        var shard = LRUShard<[UInt8]>(capacity: 10)
        _ = shard.invalidate(.book(1), seq: 10)
        XCTAssertFalse(shard.fill("info/1", bytes("stale"), dependencies: [.book(1)], seq: 9))
        XCTAssertNil(shard.lookup("info/1"))
        XCTAssertFalse(shard.fill("search/ds", bytes("stale"), dependencies: [.book(2), .book(1), .book(5)], seq: 9))
        XCTAssertNil(shard.lookup("search/ds"))
        // A response reflecting the write itself, or a later one, is accepted.
        XCTAssertTrue(shard.fill("info/1", bytes("fresh"), dependencies: [.book(1)], seq: 10))
        XCTAssertEqual(shard.lookup("info/1"), bytes("fresh"))
        XCTAssertTrue(shard.fill("search/ds", bytes("fresh"), dependencies: [.book(2), .book(1), .book(5)], seq: 11))
        // Other books are not affected.
        XCTAssertTrue(shard.fill("info/2", bytes("two"), dependencies: [.book(2)], seq: 0))
    }

    func testAnnouncedSequenceNumberNeverGoesBack() {
        var shard = LRUShard<[UInt8]>(capacity: 10)
        _ = shard.invalidate(.book(1), seq: 10)
        _ = shard.invalidate(.book(1), seq: 4)   // a late, older invalidation
        XCTAssertFalse(shard.fill("info/1", bytes("stale"), dependencies: [.book(1)], seq: 9))
        XCTAssertTrue(shard.fill("info/1", bytes("fresh"), dependencies: [.book(1)], seq: 10))
    }

    /// Writes of ever more books do not grow what it remembers past `announcedLimit`: the
    /// oldest announcements are folded into the floor, and every stale fill is refused still.
    func testAnnouncementsStayBoundedAndStaleFillsStayRefused() {
        var shard = LRUShard<[UInt8]>(capacity: 10)
        let limit = Int64(LRUShard<[UInt8]>.announcedLimit)
        for book in 1...(limit + 1) { _ = shard.invalidate(.book(book), seq: book) }
        XCTAssertEqual(shard.announcements, 1)
        XCTAssertFalse(shard.fill("info/1", bytes("stale"), dependencies: [.book(1)], seq: 0))
        XCTAssertFalse(shard.fill("info/\(limit)", bytes("stale"), dependencies: [.book(limit)], seq: limit - 1))
        XCTAssertFalse(shard.fill("info/\(limit + 1)", bytes("stale"), dependencies: [.book(limit + 1)], seq: limit))
        XCTAssertTrue(shard.fill("info/\(limit)", bytes("fresh"), dependencies: [.book(limit)], seq: limit))
        XCTAssertTrue(shard.fill("info/\(limit + 1)", bytes("fresh"), dependencies: [.book(limit + 1)], seq: limit + 1))
        for book in 1...(3 * limit) { _ = shard.invalidate(.book(book), seq: limit + 1 + book) }
        XCTAssertLessThanOrEqual(shard.announcements, Int(limit))
    }

    func testRefusedFillKeepsTheExistingEntryOut() {
        var shard = LRUShard<[UInt8]>(capacity: 10)
        _ = shard.fill("info/1", bytes("v0"), dependencies: [.book(1)], seq: 0)
        _ = shard.invalidate(.book(1), seq: 5)
        XCTAssertFalse(shard.fill("info/1", bytes("v4"), dependencies: [.book(1)], seq: 4))
        XCTAssertNil(shard.lookup("info/1"))
    }

    func testReusedSlotsAfterInvalidationKeepTheSegmentsInOrder() {
        var shard = LRUShard<[UInt8]>(capacity: 3)   // a window of one entry, a main segment of two
        for (key, book) in [("a", 1), ("b", 2), ("c", 3)] { _ = shard.fill(key, bytes(key), dependencies: [.book(Int64(book))], seq: 0) }
        _ = shard.invalidate(.book(2), seq: 1)   // frees b's slot in the main segment
        _ = shard.fill("d", bytes("d"), dependencies: [.book(4)], seq: 0)   // c moves on into the room b left
        XCTAssertEqual(shard.count, 3)
        XCTAssertEqual(shard.evictions, 0)
        XCTAssertEqual(shard.lookup("a"), bytes("a"))
        XCTAssertEqual(shard.lookup("c"), bytes("c"))   // main: c, then a (least recently used)
        _ = shard.fill("e", bytes("e"), dependencies: [.book(5)], seq: 0)   // d, never read, loses to a
        _ = shard.fill("f", bytes("f"), dependencies: [.book(6)], seq: 0)   // e too
        XCTAssertEqual(shard.rejections, 2)
        XCTAssertNil(shard.lookup("d"))
        XCTAssertNil(shard.lookup("e"))
        XCTAssertEqual(shard.lookup("f"), bytes("f"))
        XCTAssertEqual(shard.lookup("c"), bytes("c"))
        XCTAssertEqual(shard.lookup("a"), bytes("a"))
        XCTAssertEqual(shard.count, 3)
        // Evicted entries no longer count as holding their book.
        XCTAssertEqual(shard.invalidate(.book(4), seq: 1), 0)
        XCTAssertEqual(shard.invalidate(.book(1), seq: 1), 1)
    }

    /// Bounded in bytes, a shard holds only what its bytes allow, however many entries it may
    /// hold; the admission policy still keeps the entry read again.
    func testABoundInBytesLimitsTheEntriesHeld() {
        let value = [UInt8](repeating: 7, count: 1_000)
        let charge = LRUShard<[UInt8]>.charge(key: "search/page-000", value: value, dependencies: 10)
        var shard = LRUShard<[UInt8]>(capacity: 1_000, capacityBytes: 10 * charge)
        let dependencies = (0..<10).map { CacheDependency.book(Int64($0)) }
        _ = shard.fill("search/page-000", value, dependencies: dependencies, seq: 0)
        for _ in 0..<3 { XCTAssertNotNil(shard.lookup("search/page-000")) }
        for index in 1..<500 {
            let key = "search/page-\(index % 10)\(index / 10 % 10)\(index / 100)"
            XCTAssertNil(shard.lookup(key))
            _ = shard.fill(key, value, dependencies: dependencies, seq: 0)
            XCTAssertLessThanOrEqual(shard.bytes, shard.capacityBytes, "fill \(index)")
        }
        XCTAssertLessThan(shard.count, 10)
        XCTAssertEqual(shard.bytes, shard.count * charge)
        XCTAssertNotNil(shard.lookup("search/page-000"), "the page read again stays")
        XCTAssertEqual(shard.oversized, 0)
    }

    /// An answer charged more than the main segment holds is not stored; an older value of its
    /// key is dropped (it is older than the answer just served).
    func testAnAnswerLargerThanTheBoundIsServedNotStored() {
        var shard = LRUShard<[UInt8]>(capacity: 10, capacityBytes: 2_000)
        XCTAssertTrue(shard.fill("search/t", bytes("small"), dependencies: [.topic("t")], seq: 0))
        XCTAssertFalse(shard.fill("search/t", [UInt8](repeating: 1, count: 2_000), dependencies: [.topic("t")], seq: 1))
        XCTAssertNil(shard.lookup("search/t"))
        XCTAssertEqual(shard.count, 0)
        XCTAssertEqual(shard.bytes, 0)
        XCTAssertEqual(shard.oversized, 1)
        XCTAssertEqual(shard.evictions, 0)
    }

    /// A refill that grows an entry of the main segment evicts what no longer fits.
    func testARefillThatGrowsAnEntryKeepsTheBound() {
        let small = bytes("s"), large = [UInt8](repeating: 1, count: 2_200)
        var shard = LRUShard<[UInt8]>(capacity: 10, capacityBytes: 3_000)
        for key in ["a", "b", "c"] { XCTAssertTrue(shard.fill(key, small, dependencies: [], seq: 0)) }
        XCTAssertTrue(shard.fill("c", large, dependencies: [], seq: 0))
        XCTAssertLessThanOrEqual(shard.bytes, 3_000)
        XCTAssertEqual(shard.lookup("c"), large)
        XCTAssertGreaterThan(shard.evictions, 0)
    }

    /// Random operations checked against a plain reference model of W-TinyLFU (a window of one
    /// entry, a main segment of four), which takes its frequencies from the shard's sketch.
    func testMatchesAReferenceModelUnderRandomOperations() {
        struct Model {
            var window: [String] = []   // most recently used first
            var main: [String] = []
            var values: [String: [UInt8]] = [:]
            var books: [String: [Int64]] = [:]
            var announced: [Int64: Int64] = [:]
            var hits = 0, misses = 0, evictions = 0, rejections = 0

            mutating func touch(_ key: String) {
                if let at = window.firstIndex(of: key) {
                    window.remove(at: at)
                    window.insert(key, at: 0)
                } else if let at = main.firstIndex(of: key) {
                    main.remove(at: at)
                    main.insert(key, at: 0)
                }
            }

            mutating func drop(_ key: String) {
                window.removeAll { $0 == key }
                main.removeAll { $0 == key }
                values[key] = nil
                books[key] = nil
            }
        }
        var shard = LRUShard<[UInt8]>(capacity: 5)
        var model = Model()
        var random: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((random >> 33) % UInt64(bound))
        }
        for step in 0..<5_000 {
            let key = "k\(next(9))"
            let keyBooks: [Int64] = key == "k8" ? [1, 2, 3] : [Int64(key.dropFirst())! % 4]
            switch next(10) {
            case 0..<4:
                let got = shard.lookup(key)
                if let value = model.values[key] {
                    model.hits += 1
                    model.touch(key)
                    XCTAssertEqual(got, value, "step \(step)")
                } else {
                    model.misses += 1
                    XCTAssertNil(got, "step \(step)")
                }
            case 4..<9:
                let seq = Int64(next(20))
                let value = bytes("\(key)@\(step)")
                let accepted = shard.fill(key, value, dependencies: keyBooks.map(CacheDependency.book), seq: seq)
                let expected = keyBooks.allSatisfy { (model.announced[$0] ?? 0) <= seq }
                XCTAssertEqual(accepted, expected, "step \(step)")
                guard expected else { break }
                if model.values[key] != nil {
                    model.touch(key)
                } else {
                    model.window.insert(key, at: 0)
                    if model.window.count > 1 {
                        model.main.insert(model.window.removeLast(), at: 0)
                        if model.main.count > 4 {
                            let (candidate, victim) = (model.main[0], model.main[4])
                            let admitted = shard.frequency(candidate) > shard.frequency(victim)
                            if !admitted { model.rejections += 1 }
                            model.evictions += 1
                            model.drop(admitted ? victim : candidate)
                        }
                    }
                }
                model.values[key] = value
                model.books[key] = keyBooks
            default:
                let book = Int64(next(4))
                let seq = Int64(next(20))
                let dropped = shard.invalidate(.book(book), seq: seq)
                model.announced[book] = max(model.announced[book] ?? 0, seq)
                let holding = model.values.keys.filter { model.books[$0]!.contains(book) }
                XCTAssertEqual(dropped, holding.count, "step \(step)")
                for key in holding { model.drop(key) }
            }
            XCTAssertEqual(shard.count, model.values.count, "step \(step)")
        }
        XCTAssertEqual(shard.hits, model.hits)
        XCTAssertEqual(shard.misses, model.misses)
        XCTAssertEqual(shard.evictions, model.evictions)
        XCTAssertEqual(shard.rejections, model.rejections)
        XCTAssertGreaterThan(model.rejections, 0)
        XCTAssertLessThan(model.rejections, model.evictions)
    }

    // MARK: ResponseCache

    func testCacheHitAfterFillAndStats() {
        let cache = ResponseCache<[UInt8]>(capacity: 100)
        XCTAssertTrue(cache.fill("info/1", bytes("1"), dependencies: [.book(1)], seq: 0))
        XCTAssertTrue(cache.fill("info/2", bytes("2"), dependencies: [.book(2)], seq: 0))
        XCTAssertTrue(cache.fill("search/ds", bytes("ds"), dependencies: [.book(1), .book(2), .book(5)], seq: 0))
        for _ in 0..<2 {
            XCTAssertEqual(cache.lookup("info/1"), bytes("1"))
            XCTAssertEqual(cache.lookup("info/2"), bytes("2"))
            XCTAssertEqual(cache.lookup("search/ds"), bytes("ds"))
        }
        XCTAssertNil(cache.lookup("info/3"))
        XCTAssertNil(cache.lookup("search/x"))
        let charged = [("info/1", "1", 1), ("info/2", "2", 1), ("search/ds", "ds", 3)]
            .reduce(0) { $0 + LRUShard<[UInt8]>.charge(key: $1.0, value: bytes($1.1), dependencies: $1.2) }
        XCTAssertEqual(cache.stats, ResponseCache<[UInt8]>.Stats(entries: 3, capacity: 100, hits: 6, misses: 2,
                                                        invalidations: 0, evictions: 0, bytes: charged,
                                                        capacityBytes: ResponseCache<[UInt8]>.defaultCapacityBytes))
        XCTAssertEqual(cache.invalidate(.book(1), seq: 1), 2)
        XCTAssertEqual(cache.invalidate(.book(9), seq: 1), 0)
        XCTAssertEqual(cache.stats, ResponseCache<[UInt8]>.Stats(entries: 1, capacity: 100, hits: 6, misses: 2,
                                                        invalidations: 2, evictions: 0,
                                                        bytes: LRUShard<[UInt8]>.charge(key: "info/2", value: bytes("2"), dependencies: 1),
                                                        capacityBytes: ResponseCache<[UInt8]>.defaultCapacityBytes))
    }

    func testCacheCapacityZeroCachesNothing() {
        let cache = ResponseCache<[UInt8]>(capacity: 0)
        XCTAssertFalse(cache.fill("info/1", bytes("1"), dependencies: [.book(1)], seq: 0))
        XCTAssertNil(cache.lookup("info/1"))
        XCTAssertEqual(cache.stats.entries, 0)
        XCTAssertEqual(cache.stats.capacity, 0)
        XCTAssertEqual(cache.stats.misses, 1)
    }

    func testCacheNeverHoldsMoreThanItsTotalCapacity() {
        for (capacity, shards) in [(10, 16), (1, 16), (600, 16), (1_000, 4), (4_100, 16), (3, 1)] {
            let cache = ResponseCache<[UInt8]>(capacity: capacity, maximumShards: shards)
            let fills = capacity * 8
            for index in 0..<fills {
                cache.fill("info/\(index)", bytes("\(index)"), dependencies: [.book(Int64(index))], seq: 0)
                if index % 97 == 0 { XCTAssertLessThanOrEqual(cache.stats.entries, capacity) }
            }
            let stats = cache.stats
            // After this many fills every shard is full: the total is exactly the capacity.
            XCTAssertEqual(stats.entries, capacity, "capacity \(capacity), \(shards) shards")
            XCTAssertEqual(stats.capacity, capacity)
            XCTAssertEqual(stats.evictions, fills - capacity, "capacity \(capacity), \(shards) shards")
        }
    }

    /// Split into shards, the cache never holds more bytes than its bound: each shard takes its share.
    func testCacheNeverHoldsMoreBytesThanItsBound() {
        let cache = ResponseCache<[UInt8]>(capacity: 100_000, capacityBytes: 64 << 20)
        let page = [UInt8](repeating: 0x61, count: 200_000)
        for index in 0..<1_000 {
            cache.fill("search/t?after=\(index)", page, dependencies: (0..<1_000).map { .book(Int64($0)) }, seq: 0)
            if index % 50 == 0 { XCTAssertLessThanOrEqual(cache.stats.bytes, 64 << 20) }
        }
        let stats = cache.stats
        XCTAssertLessThanOrEqual(stats.bytes, 64 << 20)
        XCTAssertGreaterThan(stats.bytes, 32 << 20, "the bound, not the entry count, stopped it")
        XCTAssertEqual(stats.capacityBytes, 64 << 20)
        XCTAssertGreaterThan(stats.evictions, 600)
        XCTAssertEqual(stats.oversized, 0)
    }

    func testCacheBytesZeroCachesNothing() {
        let cache = ResponseCache<[UInt8]>(capacity: 100, capacityBytes: 0)
        XCTAssertFalse(cache.fill("info/1", bytes("1"), dependencies: [.book(1)], seq: 0))
        XCTAssertEqual(cache.stats.capacity, 0)
        XCTAssertEqual(cache.stats.oversized, 0)
    }

    func testCacheInvalidateReachesEveryShard() {
        let cache = ResponseCache<[UInt8]>(capacity: 1000)
        for index in 0..<50 { cache.fill("search/topic\(index)", bytes("x"), dependencies: [.book(7), .book(Int64(index + 100))], seq: 0) }
        cache.fill("info/8", bytes("8"), dependencies: [.book(8)], seq: 0)
        XCTAssertEqual(cache.invalidate(.book(7), seq: 3), 50)
        XCTAssertEqual(cache.stats.entries, 1)
        for index in 0..<50 { XCTAssertFalse(cache.fill("search/topic\(index)", bytes("x"), dependencies: [.book(7)], seq: 2)) }
        XCTAssertTrue(cache.fill("search/topic0", bytes("x"), dependencies: [.book(7)], seq: 3))
        XCTAssertEqual(cache.stats.entries, 2)
    }

    func testCacheStaleFillRefusedNewerAccepted() {
        let cache = ResponseCache<[UInt8]>(capacity: 10)
        cache.invalidate(.book(3), seq: 41)
        XCTAssertFalse(cache.fill("info/3", bytes("old"), dependencies: [.book(3)], seq: 40))
        XCTAssertNil(cache.lookup("info/3"))
        XCTAssertTrue(cache.fill("info/3", bytes("new"), dependencies: [.book(3)], seq: 42))
        XCTAssertEqual(cache.lookup("info/3"), bytes("new"))
    }

    func testCacheCountersUnderConcurrentUse() {
        let cache = ResponseCache<[UInt8]>(capacity: 64)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for round in 0..<500 {
                let key = "info/\((worker * 7 + round) % 100)"
                if cache.lookup(key) == nil { cache.fill(key, Array(key.utf8), dependencies: [.book(Int64(round % 7))], seq: Int64(round)) }
                if round % 50 == 0 { cache.invalidate(.book(Int64(worker % 7)), seq: Int64(round)) }
            }
        }
        let stats = cache.stats
        XCTAssertEqual(stats.hits + stats.misses, 8 * 500)
        XCTAssertLessThanOrEqual(stats.entries, 64)
        XCTAssertEqual(stats.invalidations, 8 * 10)
    }

    func testCacheKeepsItsHotKeysThroughAFloodOfOneOffs() {
        let cache = ResponseCache<[UInt8]>(capacity: 4_096)   // 16 shards
        let hot = (0..<50).map { "info/\($0)" }
        for key in hot {
            XCTAssertNil(cache.lookup(key))
            cache.fill(key, bytes(key), dependencies: [.book(1)], seq: 0)
            XCTAssertNotNil(cache.lookup(key))
        }
        for index in 0..<20_000 {
            let key = "search/flood-\(index)"
            if cache.lookup(key) == nil { cache.fill(key, bytes(key), dependencies: [], seq: 0) }
        }
        for key in hot { XCTAssertNotNil(cache.lookup(key), key) }
        let stats = cache.stats
        XCTAssertEqual(stats.entries, 4_096)
        XCTAssertGreaterThan(stats.rejections, 15_000)
        XCTAssertEqual(stats.evictions, 50 + 20_000 - 4_096)
    }

    // MARK: Permits

    func testPermitsAreRefusedAtOnceWhenAllAreHeld() throws {
        func refusal(_ permits: Permits) -> APIError? {
            do throws(APIError) {
                return try permits.withPermit { nil }
            } catch {
                return error
            }
        }
        let permits = Permits(2)
        let inner = try permits.withPermit { () throws(APIError) in try permits.withPermit { refusal(permits) } }
        XCTAssertEqual(inner?.status, 429)
        XCTAssertEqual(inner?.code, "too_many_requests")
        XCTAssertEqual(inner?.response().headers.first { $0.0 == "Retry-After" }?.1, "1")
        XCTAssertEqual(try permits.withPermit { 7 }, 7, "every permit came back")
    }

    func testPermitsBoundConcurrentHolders() {
        let permits = Permits(3)
        let holders = Mutex((now: 0, most: 0, refused: 0))
        let done = DispatchGroup()
        for _ in 0..<8 {
            done.enter()
            Thread {
                defer { done.leave() }
                for _ in 0..<200 {
                    do {
                        try permits.withPermit {
                            holders.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
                            usleep(200)
                            holders.withLock { $0.now -= 1 }
                        }
                    } catch {
                        holders.withLock { $0.refused += 1 }
                    }
                }
            }.start()
        }
        done.wait()
        let seen = holders.withLock { $0 }
        XCTAssertLessThanOrEqual(seen.most, 3)
        XCTAssertGreaterThan(seen.refused, 0)
    }

    func testAMissWithoutAPermitIs429WhileHitsAreServed() throws {
        try withCatalog(permits: 0, { _ in (200, "{}", []) }) { server, reads in
            let hit = CacheEntry(CachedRead(status: 200, etag: "\"1\"", cache: "HIT", upstream: [], body: bytes("{\"id\":1}")))
            reads.cache.fill("info/1", hit, dependencies: [.book(1)], seq: 0)
            XCTAssertEqual(try reads.info(1, get).encoded(), hit.full)
            XCTAssertThrowsError(try reads.info(2, get)) { XCTAssertEqual(($0 as? APIError)?.status, 429) }
            XCTAssertThrowsError(try reads.search("Distributed Systems", Page(), get)) { XCTAssertEqual(($0 as? APIError)?.code, "too_many_requests") }
            XCTAssertEqual(server.requests.count, 0)
            let health = Health(client: reads.client, catalogs: ["catalog-1"], orders: ["order-1"], permits: Permits(0))
            XCTAssertThrowsError(try health.report()) { XCTAssertEqual(($0 as? APIError)?.status, 429) }
        }
    }

    /// While connections wait on the main socket, a miss goes to the queue of misses (nginx's
    /// `@front_miss`, by `X-Accel-Redirect`) without asking a catalog replica, and a hit is
    /// answered; a miss that came through the queue is fetched there without a permit, unless
    /// nginx gave up on it while it waited (503, no fetch); with no connection waiting a miss
    /// takes a permit as before (none left: 429).
    func testAMissGoesToTheQueueOfMissesWhileConnectionsWait() throws {
        try withCatalog(permits: 0, missQueue: true, { _ in (200, "{\"id\":2}", [("X-Upstream", "catalog-2")]) }) { server, reads in
            let hit = CacheEntry(CachedRead(status: 200, etag: "\"1\"", cache: "HIT", upstream: [], body: bytes("{\"id\":1}")))
            reads.cache.fill("info/1", hit, dependencies: [.book(1)], seq: 0)
            var waiting = get
            waiting.connectionsWaiting = true
            XCTAssertEqual(try reads.info(1, waiting).encoded(), hit.full, "a hit is answered where it was read")
            let sent = try reads.info(2, waiting)
            XCTAssertEqual(header(sent, "X-Accel-Redirect"), "@front_miss")
            XCTAssertEqual(try reads.search("Distributed Systems", Page(), waiting).headers.first { $0.0 == "X-Accel-Redirect" }?.1, "@front_miss")
            XCTAssertEqual(server.requests.count, 0, "a miss sent to the queue asks no replica")
            XCTAssertEqual(reads.misses.count, 2)
            var queued = waiting
            queued.throughMissQueue = true
            let fetched = try reads.info(2, queued)
            XCTAssertEqual(fetched.status, 200, "no permit needed in the queue's threads")
            XCTAssertEqual(header(fetched, "X-Cache"), "MISS")
            XCTAssertEqual(server.requests.count, 1)
            queued.callerGone = true
            XCTAssertThrowsError(try reads.info(3, queued), "nginx gave up on it while it waited") {
                XCTAssertEqual(($0 as? APIError)?.status, 503)
            }
            XCTAssertEqual(server.requests.count, 1, "no catalog round trip for a miss nginx gave up on")
            XCTAssertThrowsError(try reads.info(3, get)) { XCTAssertEqual(($0 as? APIError)?.status, 429) }
        }
        try withCatalog(permits: 0, { _ in (200, "{}", []) }) { _, reads in
            var waiting = get
            waiting.connectionsWaiting = true
            XCTAssertThrowsError(try reads.info(2, waiting), "no queue of misses: the permits decide") {
                XCTAssertEqual(($0 as? APIError)?.status, 429)
            }
        }
    }

    // MARK: CachedReads (through a real HTTP server standing in for nginx's catalog upstream)

    /// A plain GET, for the reads that look at the request's headers.
    private let get = Request(method: "GET", path: "/")

    /// A primary's lease grant as it answers it (`LeaseGrant`, epoch 1).
    private static func grant(lease: Int64, milliseconds: Int64, fresh: Bool, announced: Int64) -> String {
        String(decoding: LeaseGrant(lease: lease, milliseconds: milliseconds, fresh: fresh, announced: announced, epoch: 1).json.encoded(),
               as: UTF8.self)
    }

    /// A catalog standing in for nginx's `catalog` upstream, and a primary granting read leases
    /// (`fresh` and `announced` as given); the lease is taken once unless `leased` is false.
    private func withCatalog(leased: Bool = true, fresh: Bool = true, announced: Int64 = 0, permits: Int = 4, missQueue: Bool = false,
                             _ respond: @escaping @Sendable (TestHTTPRequest) -> (Int, String, [(String, String)]),
                             _ body: (TestHTTPServer, CachedReads) throws -> Void) throws {
        let directory = try TestSupport.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try TestHTTPServer(path: directory.appendingPathComponent("i.sock").path, respond: respond)
        defer { server.stop() }
        let primary = try TestHTTPServer(path: directory.appendingPathComponent("p.sock").path) { _ in
            (200, Self.grant(lease: 7, milliseconds: 60_000, fresh: fresh, announced: announced), [("X-Upstream", "catalog-1")])
        }
        defer { primary.stop() }
        let cache = ResponseCache<CacheEntry>(capacity: 100)
        let lease = ReadLease(name: "front", primary: PrimaryCalls(InternalClient(.unix(path: primary.path), secret: "test-secret")), cache: cache)
        if leased { lease.renew() }
        let reads = CachedReads(cache: cache, lease: lease, client: InternalClient(.unix(path: server.path), secret: "test-secret"), permits: Permits(permits),
                                misses: MissQueue(enabled: missQueue), fillDelayMicroseconds: 0)
        try body(server, reads)
    }

    private func header(_ response: Response, _ name: String) -> String? {
        let text = String(decoding: response.encoded(), as: UTF8.self)
        let head = text.components(separatedBy: "\r\n\r\n").first ?? ""
        return head.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix(name.lowercased() + ": ") }
            .map { String($0.dropFirst(name.count + 2)) }
    }

    private func body(_ response: Response) -> String {
        let text = String(decoding: response.encoded(), as: UTF8.self)
        return text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
    }

    func testInfoMissThenHit() throws {
        try withCatalog({ request in
            (200, "{\"id\":1,\"path\":\"\(request.path)\"}",
             [("X-Upstream", "catalog-2"), ("X-Bazar-Seq", "5"), ("X-Bazar-Books", "1")])
        }) { server, reads in
            let miss = try reads.info(1, get)
            XCTAssertEqual(miss.status, 200)
            XCTAssertEqual(header(miss, "X-Cache"), "MISS")
            XCTAssertEqual(header(miss, "X-Upstream"), "catalog-2")
            XCTAssertEqual(header(miss, "Content-Type"), "application/json; charset=utf-8")
            XCTAssertNil(header(miss, "X-Bazar-Seq"), "internal headers stay internal")
            XCTAssertEqual(body(miss), "{\"id\":1,\"path\":\"/catalog/info/1\"}")
            let hit = try reads.info(1, get)
            XCTAssertEqual(header(hit, "X-Cache"), "HIT")
            XCTAssertEqual(body(hit), body(miss))
            XCTAssertEqual(server.requests.count, 1)
            XCTAssertEqual(reads.cache.stats.hits, 1)
        }
    }

    func testSearchIsCanonicalAndEncoded() throws {
        try withCatalog({ _ in (200, "{\"items\":[]}", [("X-Bazar-Seq", "0"), ("X-Bazar-Books", "1,2,5")]) }) { server, reads in
            XCTAssertEqual(header(try reads.search("Distributed Systems", Page(), get), "X-Cache"), "MISS")
            XCTAssertEqual(header(try reads.search("distributed systems", Page(), get), "X-Cache"), "HIT")
            XCTAssertEqual(server.requests.map(\.path), ["/catalog/search/distributed%20systems?after=0&limit=100"])
            reads.cache.invalidate(.book(5), seq: 1)
            XCTAssertEqual(header(try reads.search("DISTRIBUTED SYSTEMS", Page(), get), "X-Cache"), "MISS")
        }
    }

    /// Each page is an entry of its own; a topic's invalidation drops every page of it, and
    /// refuses a later fill of any of them older than the write.
    func testSearchPagesAreEntriesDroppedTogetherByTheirTopic() throws {
        try withCatalog({ _ in (200, "{\"items\":[]}", [("X-Bazar-Seq", "3"), ("X-Bazar-Books", "")]) }) { server, reads in
            for page in [Page(), Page(after: 0, limit: 2), Page(after: 2, limit: 2)] {
                XCTAssertEqual(header(try reads.search("t", page, get), "X-Cache"), "MISS")
                XCTAssertEqual(header(try reads.search("T", page, get), "X-Cache"), "HIT")
            }
            XCTAssertEqual(server.requests.map(\.path), ["/catalog/search/t?after=0&limit=100", "/catalog/search/t?after=0&limit=2",
                                                        "/catalog/search/t?after=2&limit=2"])
            XCTAssertEqual(reads.cache.invalidate(.topic("t"), seq: 4), 3)
            XCTAssertEqual(header(try reads.search("t", Page(), get), "X-Cache"), "MISS")
            XCTAssertEqual(header(try reads.search("t", Page(), get), "X-Cache"), "MISS", "an answer older than the addition is not cached")
        }
    }

    func testSearchTopicLimits() throws {
        try withCatalog({ _ in (200, "{}", []) }) { _, reads in
            XCTAssertThrowsError(try reads.search("", Page(), get))
            XCTAssertThrowsError(try reads.search(String(repeating: "a", count: 1025), Page(), get))
            XCTAssertNoThrow(try reads.search(String(repeating: "a", count: 1024), Page(), get))
        }
    }

    func testAnswerOlderThanAnInvalidationIsNotCached() throws {
        try withCatalog({ _ in (200, "{\"id\":3}", [("X-Bazar-Seq", "7"), ("X-Bazar-Books", "3")]) }) { server, reads in
            reads.cache.invalidate(.book(3), seq: 8)
            XCTAssertEqual(header(try reads.info(3, get), "X-Cache"), "MISS")
            XCTAssertEqual(header(try reads.info(3, get), "X-Cache"), "MISS")
            XCTAssertEqual(server.requests.count, 2)
        }
    }

    func testErrorsAndAnswersWithoutSeqAreNotCached() throws {
        try withCatalog({ request in
            request.path.hasSuffix("/99") ? (404, "{\"error\":{}}", [("X-Bazar-Seq", "1")]) : (200, "{}", [])
        }) { server, reads in
            XCTAssertEqual(try reads.info(99, get).status, 404)
            XCTAssertEqual(try reads.info(99, get).status, 404)
            XCTAssertEqual(header(try reads.info(2, get), "X-Cache"), "MISS")
            XCTAssertEqual(header(try reads.info(2, get), "X-Cache"), "MISS")
            XCTAssertEqual(server.requests.count, 4)
            XCTAssertEqual(reads.cache.stats.entries, 0)
        }
    }

    func testUnreachableCatalogIs503() {
        let cache = ResponseCache<CacheEntry>(capacity: 10)
        let nowhere = InternalClient(.unix(path: "/tmp/bazar-no-such-dir/none.sock"), secret: "test-secret")
        let reads = CachedReads(cache: cache, lease: ReadLease(name: "front", primary: PrimaryCalls(nowhere), cache: cache), client: nowhere,
                                permits: Permits(1), misses: MissQueue(enabled: false),
                                fillDelayMicroseconds: 0)
        XCTAssertThrowsError(try reads.info(1, get)) { XCTAssertEqual(($0 as? APIError)?.code, "unavailable") }
    }

    // MARK: The read lease

    func testWithoutALeaseNothingIsServedFromOrPutInTheCache() throws {
        try withCatalog(leased: false, { _ in (200, "{\"id\":1}", [("X-Bazar-Seq", "5"), ("X-Bazar-Books", "1")]) }) { server, reads in
            XCTAssertEqual(header(try reads.info(1, get), "X-Cache"), "MISS")
            XCTAssertEqual(header(try reads.info(1, get), "X-Cache"), "MISS")
            XCTAssertEqual(server.requests.count, 2)
            XCTAssertEqual(reads.cache.stats.entries, 0)
        }
    }

    /// A renewal names the lease the front holds, so that the primary renews only a lease the
    /// front got (`FrontLeasesTests.testARenewalOfALeaseTheFrontNeverGotIsFresh`).
    func testARenewalNamesTheLeaseHeld() throws {
        let directory = try TestSupport.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let primary = try TestHTTPServer(path: directory.appendingPathComponent("p.sock").path) { request in
            (200, Self.grant(lease: 41, milliseconds: 1_000, fresh: !request.path.contains("?lease="), announced: 0), [])
        }
        defer { primary.stop() }
        let lease = ReadLease(name: "front-2", primary: PrimaryCalls(InternalClient(.unix(path: primary.path), secret: "test-secret")),
                              cache: ResponseCache<CacheEntry>(capacity: 10))
        lease.renew()
        lease.renew()
        XCTAssertEqual(primary.requests.map(\.path), ["/catalog-primary/lease/front-2", "/catalog-primary/lease/front-2?lease=41"])
        XCTAssertTrue(lease.held)
    }

    func testAFreshLeaseEmptiesTheCacheAndSetsTheFloor() throws {
        try withCatalog(announced: 9, { request in
            (200, "{}", [("X-Bazar-Seq", request.path.hasSuffix("/1") ? "8" : "9"), ("X-Bazar-Books", String(request.path.last!))])
        }) { _, reads in
            XCTAssertEqual(header(try reads.info(2, get), "X-Cache"), "MISS")
            XCTAssertEqual(header(try reads.info(2, get), "X-Cache"), "HIT")
            XCTAssertEqual(header(try reads.info(1, get), "X-Cache"), "MISS")
            XCTAssertEqual(header(try reads.info(1, get), "X-Cache"), "MISS", "older than the newest write announced before the lease")
            reads.lease.renew()   // fresh again: the primary gave up on this front meanwhile
            XCTAssertEqual(reads.cache.stats.entries, 0)
            XCTAssertEqual(header(try reads.info(2, get), "X-Cache"), "MISS")
        }
    }
}
