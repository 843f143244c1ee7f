import Foundation
import XCTest

/// The front's cache: a hit after a miss, and fresh data right after every kind of write.
final class CacheTests: StackTestCase {
    func testSecondReadIsAHit() async throws {
        let first = try await client.get("/info/7")
        let second = try await client.get("/info/7")
        XCTAssertEqual(first.header("X-Cache"), "MISS")
        XCTAssertEqual(second.header("X-Cache"), "HIT")
        XCTAssertEqual(second.body, first.body)
        let search = try await client.get("/search/Undergraduate%20School")
        let searchAgain = try await client.get("/search/undergraduate%20school")
        XCTAssertEqual(search.header("X-Cache"), "MISS")
        XCTAssertEqual(searchAgain.header("X-Cache"), "HIT", "topics are cached by their lower-case form")
    }

    func testPurchaseInvalidatesTheCachedBook() async throws {
        _ = try await client.get("/info/6")
        let cached = try await client.get("/info/6")
        XCTAssertEqual(cached.header("X-Cache"), "HIT")
        let bought = try await client.send("POST", "/purchase/6")
        let fresh = try await client.get("/info/6")
        XCTAssertEqual(fresh.header("X-Cache"), "MISS")
        XCTAssertEqual(fresh.json, bought.json["book"])
        XCTAssertEqual(fresh.json["stock"].int, (cached.json["stock"].int ?? 0) - 1)
        XCTAssertGreaterThanOrEqual(fresh.json["version"].int ?? 0, bought.json["book"]["version"].int ?? .max)
    }

    func testUpdateInvalidatesInfoAndSearch() async throws {
        _ = try await client.get("/info/1")
        _ = try await client.get("/search/distributed%20systems")
        let statsBefore = try await client.get("/stats").json["cache"]
        let updated = try await client.update(1, #"{"price": 77.5}"#)
        XCTAssertEqual(updated.status, 200)
        let info = try await client.get("/info/1")
        XCTAssertEqual(info.header("X-Cache"), "MISS")
        XCTAssertEqual(info.json["price"], .number(77.5))
        let search = try await client.get("/search/distributed%20systems")
        XCTAssertEqual(search.header("X-Cache"), "MISS", "a search listing the book is dropped too")
        let statsAfter = try await client.get("/stats").json["cache"]
        XCTAssertGreaterThan(statsAfter["invalidations"].int ?? 0, statsBefore["invalidations"].int ?? 0)
    }

    func testStatsCountHitsAndMisses() async throws {
        let before = try await client.get("/stats").json["cache"]
        _ = try await client.get("/search/no-such-topic-\(UUID().uuidString)")
        let key = "/search/stats-topic-\(UUID().uuidString)"
        _ = try await client.get(key)
        _ = try await client.get(key)
        let after = try await client.get("/stats").json["cache"]
        XCTAssertEqual((after["misses"].int ?? 0) - (before["misses"].int ?? 0), 2)
        XCTAssertEqual((after["hits"].int ?? 0) - (before["hits"].int ?? 0), 1)
        XCTAssertEqual((after["entries"].int ?? 0) - (before["entries"].int ?? 0), 2)
    }
}

/// A tiny cache shows eviction through the public API: of two entries, the one read again stays.
final class SmallCacheTests: StackTestCase {
    override class var stackEnvironment: [String: String] { ["BAZAR_CACHE_CAPACITY": "2"] }

    func testTheEntryReadAgainOutlastsTheOneReadOnce() async throws {
        _ = try await client.get("/info/1")
        _ = try await client.get("/info/2")
        _ = try await client.get("/info/1")
        _ = try await client.get("/info/3")
        let stats = try await client.get("/stats").json["cache"]
        XCTAssertEqual(stats["entries"], .number(2))
        XCTAssertEqual(stats["capacity"], .number(2))
        XCTAssertEqual(stats["evictions"], .number(1))
        let kept = try await client.get("/info/1")
        XCTAssertEqual(kept.header("X-Cache"), "HIT")
        let evicted = try await client.get("/info/2")
        XCTAssertEqual(evicted.header("X-Cache"), "MISS")
    }
}

/// Anyone can send one-off searches: a flood of them, twice the cache's capacity, must not
/// evict what is read again and again.
final class CacheAdmissionTests: StackTestCase {
    override class var stackEnvironment: [String: String] { ["BAZAR_CACHE_CAPACITY": "300"] }

    func testAFloodOfOneOffSearchesKeepsTheHotEntry() async throws {
        let client = try client
        for _ in 0..<4 { _ = try await client.get("/info/1") }
        let warmed = try await client.get("/info/1")
        XCTAssertEqual(warmed.header("X-Cache"), "HIT")
        let flood = "flood-\(UUID().uuidString.prefix(8))"
        let statuses = await withTaskGroup(of: [Int].self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var statuses: [Int] = []
                    for index in stride(from: worker, to: 700, by: 4) {
                        statuses.append((try? await client.get("/search/\(flood)-\(index)"))?.status ?? 0)
                    }
                    return statuses
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        XCTAssertEqual(statuses, Array(repeating: 200, count: 700))
        let stats = try await client.get("/stats").json["cache"]
        XCTAssertEqual(stats["entries"], .number(300))
        XCTAssertGreaterThan(stats["rejections"].int ?? 0, 300, "\(stats)")
        let hot = try await client.get("/info/1")
        XCTAssertEqual(hot.header("X-Cache"), "HIT", "\(stats)")
    }
}
