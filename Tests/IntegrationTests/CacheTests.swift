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

/// The cache is bounded in bytes, not only in entries: one topic of long-titled books, paged
/// with hundreds of distinct `after` values (each page some 800 KB), fills far more than the
/// bound, yet `/stats` never counts more than it and the front's resident memory stays below the
/// bound plus a generous 200 MiB (at the default of 10,000 entries and no bound in bytes, the
/// front grew past 600 MB here).
final class CacheMemoryTests: StackTestCase {
    /// Books in the topic: enough for `pages` full pages of 1,000.
    private static let pages = 700
    private static let books = 1_000 + pages

    func testManyLargePagesStayWithinTheBoundInBytes() async throws {
        let stack = try stack
        let client = try client
        let topic = "memory-\(UUID().uuidString.prefix(8).lowercased())"
        let firstID = try await addBooks(topic: topic, count: Self.books, client)
        let front = try XCTUnwrap(stack.pid("front"))
        let bound = try await client.get("/stats").json["cache"]["capacity_bytes"].int ?? 128 << 20
        let ceiling = bound + 200 << 20
        var highest = 0
        // Four readers, each its own share of the pages; the resident memory after every round.
        for round in stride(from: 0, to: Self.pages, by: 40) {
            let statuses = await withTaskGroup(of: [Int].self) { group in
                for reader in 0..<4 {
                    group.addTask {
                        var statuses: [Int] = []
                        for page in stride(from: round + reader, to: min(round + 40, Self.pages), by: 4) {
                            let answer = try? await client.get("/search/\(topic)?after=\(firstID - 1 + page)&limit=1000")
                            statuses.append(answer?.json["items"].array.count == 1_000 ? answer?.status ?? 0 : -1)
                        }
                        return statuses
                    }
                }
                return await group.reduce(into: []) { $0 += $1 }
            }
            XCTAssertEqual(statuses, Array(repeating: 200, count: statuses.count), "round \(round): full pages answered")
            highest = max(highest, Self.residentBytes(front))
        }
        let megabytes = { (bytes: Int) in "\(bytes >> 20) MiB" }
        print("CacheMemoryTests: the front's resident memory peaked at \(megabytes(highest)) (bound \(megabytes(bound)))")
        XCTAssertLessThanOrEqual(highest, ceiling, "the front's resident memory reached \(megabytes(highest)), over "
                                 + "\(megabytes(ceiling)) (the bound of \(megabytes(bound)) plus 200 MiB)")
        let stats = try await client.get("/stats").json["cache"]
        print("CacheMemoryTests: /stats cache \(stats)")
        let bytes = try XCTUnwrap(stats["bytes"].int, "\(stats)")
        XCTAssertLessThanOrEqual(bytes, bound, "\(stats)")
        XCTAssertGreaterThan(bytes, bound / 2, "the pages filled the cache up to its bound: \(stats)")
        XCTAssertGreaterThan(stats["evictions"].int ?? 0, 0, "\(stats)")
        XCTAssertEqual(stack.pid("front"), front, "the front never restarted")
    }

    /// Adds `count` books of 200-character titles (four UTF-8 bytes each) to `topic`, as many
    /// to a request as fit in 64 KiB; returns the first one's id (the others follow it).
    private func addBooks(topic: String, count: Int, _ client: HTTPClient) async throws -> Int {
        var ids: [Int] = []
        for start in stride(from: 0, to: count, by: 70) {
            let books = (start..<min(start + 70, count)).map { index in
                let title = String(format: "%05d ", index) + String(repeating: "\u{1D505}", count: 194)
                return #"{"title": "\#(title)", "topic": "\#(topic)", "price": 1.5, "stock": 1}"#
            }
            let answer = try await client.addBooks("[" + books.joined(separator: ",") + "]")
            XCTAssertEqual(answer.status, 201, "\(answer.json)")
            ids += answer.json["books"].array.compactMap { $0["id"].int }
        }
        let first = try XCTUnwrap(ids.first)
        XCTAssertTrue(ids == Array(first..<first + count), "the books got consecutive ids")
        return first
    }

    /// The resident memory of a process (`VmRSS` in /proc/PID/status), in bytes.
    private static func residentBytes(_ pid: Int32) -> Int {
        (Processes.field("VmRSS", of: pid)?.split(separator: " ").first.flatMap { Int($0) } ?? 0) * 1024
    }
}
