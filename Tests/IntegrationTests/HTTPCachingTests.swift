import Foundation
import XCTest

/// HTTP caching of reads (API.md "HTTP caching"): entity tags, `If-None-Match` and `304`,
/// HEAD, through real nginx.
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
}
