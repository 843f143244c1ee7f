import Foundation
import XCTest

/// HTTP caching of reads (API.md "HTTP caching"): entity tags, `If-None-Match` and `304`,
/// HEAD, `Cache-Control: no-cache`, through real nginx.
final class HTTPCachingTests: StackTestCase {
    func testInfoIsTaggedWithItsVersionOnAMissAndAHit() async throws {
        let miss = try await client.get("/info/3")
        let hit = try await client.get("/info/3")
        XCTAssertEqual(miss.header("X-Cache"), "MISS")
        XCTAssertEqual(hit.header("X-Cache"), "HIT")
        let version = try XCTUnwrap(miss.json["version"].int)
        XCTAssertEqual(miss.header("ETag"), "\"\(version)\"")
        XCTAssertEqual(hit.header("ETag"), "\"\(version)\"")
    }

    func testIfNoneMatchNamingTheVersionIs304OnAMissAndAHit() async throws {
        let current = try await client.get("/info/5")   // a miss: fills the cache
        let etag = try XCTUnwrap(current.header("ETag"))
        for condition in [etag, "W/\(etag)", "\"999999\", \(etag)", "*", "\"x\",W/\(etag) "] {
            let answer = try await client.get("/info/5", headers: ["If-None-Match": condition])
            XCTAssertEqual(answer.status, 304, condition)
            XCTAssertEqual(answer.body, Data(), condition)
            XCTAssertEqual(answer.header("ETag"), etag, condition)
            XCTAssertEqual(answer.header("X-Cache"), "HIT", condition)
        }
        for condition in ["\"999999\"", "W/\"999999\"", "garbage", "\(etag) junk", ""] {
            let answer = try await client.get("/info/5", headers: ["If-None-Match": condition])
            XCTAssertEqual(answer.status, 200, condition)
            XCTAssertEqual(answer.json, current.json, condition)
        }
        let bought = try await client.send("POST", "/purchase/5")
        let fresh = try await client.get("/info/5", headers: ["If-None-Match": etag])
        XCTAssertEqual(fresh.status, 200, "the old version no longer matches")
        XCTAssertEqual(fresh.header("X-Cache"), "MISS")
        XCTAssertEqual(fresh.json, bought.json["book"])
        let newTag = try XCTUnwrap(fresh.header("ETag"))
        XCTAssertNotEqual(newTag, etag)
        _ = try await client.send("POST", "/purchase/5")   // drops the entry: the next read misses
        let missed = try await client.get("/info/5", headers: ["If-None-Match": "*"])
        XCTAssertEqual(missed.status, 304)
        XCTAssertEqual(missed.header("X-Cache"), "MISS")
        XCTAssertNotEqual(missed.header("ETag"), newTag)
        let unknown = try await client.get("/info/9999", headers: ["If-None-Match": "*"])
        XCTAssertEqual(unknown.status, 404, "no book, nothing to match")
        XCTAssertNil(unknown.header("ETag"))
    }

    func testSearchIsTaggedByItsListing() async throws {
        let topic = "/search/tagged%20topic"
        let empty = try await client.get(topic)
        let emptyTag = try XCTUnwrap(empty.header("ETag"))
        let again = try await client.get(topic, headers: ["If-None-Match": emptyTag])
        XCTAssertEqual(again.status, 304)
        XCTAssertEqual(again.header("X-Cache"), "HIT")
        let other = try await client.get("/search/distributed%20systems")
        XCTAssertNotEqual(other.header("ETag"), emptyTag)
        let otherAgain = try await client.get("/search/Distributed%20Systems", headers: ["If-None-Match": emptyTag])
        XCTAssertEqual(otherAgain.status, 200)
        XCTAssertEqual(otherAgain.header("ETag"), other.header("ETag"), "the same listing, the same tag")
    }

    func testHeadIsGetWithoutTheBody() async throws {
        let get = try await client.get("/info/2")
        let head = try await client.send("HEAD", "/info/2")
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.body, Data())
        XCTAssertEqual(head.header("ETag"), get.header("ETag"))
        XCTAssertEqual(head.header("Content-Type"), "application/json; charset=utf-8")
        let notModified = try await client.send("HEAD", "/info/2", headers: ["If-None-Match": get.header("ETag") ?? ""])
        XCTAssertEqual(notModified.status, 304)
        XCTAssertEqual(notModified.header("X-Cache"), "HIT")
    }

    func testNoCacheSkipsTheCacheAndRefreshesTheEntry() async throws {
        _ = try await client.get("/info/7")
        let before = try await client.get("/stats").json["cache"]
        for directives in ["no-cache", "max-age=0, No-Cache", "no-store,no-cache"] {
            let bypass = try await client.get("/info/7", headers: ["Cache-Control": directives])
            XCTAssertEqual(bypass.status, 200, directives)
            XCTAssertEqual(bypass.header("X-Cache"), "BYPASS", directives)
            XCTAssertTrue(["catalog-1", "catalog-2"].contains(bypass.header("X-Upstream") ?? ""), directives)
            XCTAssertNotNil(bypass.header("ETag"), directives)
        }
        let after = try await client.get("/stats").json["cache"]
        XCTAssertEqual(after["hits"], before["hits"], "a bypass is no hit")
        XCTAssertEqual(after["misses"], before["misses"], "nor a miss")
        let other = try await client.get("/info/7", headers: ["Cache-Control": "max-age=0"])
        XCTAssertEqual(other.header("X-Cache"), "HIT", "other directives keep the cache")
        let bought = try await client.send("POST", "/purchase/7")   // drops the entry
        let refreshed = try await client.get("/info/7", headers: ["Cache-Control": "no-cache", "If-None-Match": "\"0\""])
        XCTAssertEqual(refreshed.status, 200)
        XCTAssertEqual(refreshed.header("X-Cache"), "BYPASS")
        XCTAssertEqual(refreshed.json, bought.json["book"])
        let hit = try await client.get("/info/7")
        XCTAssertEqual(hit.header("X-Cache"), "HIT", "the bypass filled the entry")
        XCTAssertEqual(hit.json, bought.json["book"])
        let notModified = try await client.get("/search/undergraduate%20school",
                                               headers: ["Cache-Control": "no-cache", "If-None-Match": "*"])
        XCTAssertEqual(notModified.status, 304)
        XCTAssertEqual(notModified.header("X-Cache"), "BYPASS")
    }
}
