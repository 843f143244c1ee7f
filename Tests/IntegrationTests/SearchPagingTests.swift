import Foundation
import XCTest

/// `GET /search/{topic}?after=&limit=`: pages of a topic's books by id, as `/orders` pages
/// orders; each page cached as an entry of its own.
final class SearchPagingTests: StackTestCase {
    /// A topic of its own holding `count` new books; their ids, ascending.
    private func topicWithBooks(_ count: Int) async throws -> (String, [Int]) {
        let topic = "paged-\(UUID().uuidString.prefix(8).lowercased())"
        let body = "[" + (1...count).map { #"{"title":"Part \#($0)","topic":"\#(topic)","price":1,"stock":1}"# }
            .joined(separator: ",") + "]"
        let added = try await client.addBooks(body)
        XCTAssertEqual(added.status, 201)
        let ids = added.json["books"].array.compactMap { $0["id"].int }
        return (topic, try XCTUnwrap(ids.count == count ? ids : nil, "adding \(count) books answered \(added.status)"))
    }

    func testPagesFollowNextToTheEnd() async throws {
        let client = try client
        let (topic, ids) = try await topicWithBooks(25)
        var seen: [Int] = []
        var after = 0
        var pages = 0
        while true {
            let page = try await client.get("/search/\(topic)?after=\(after)&limit=10")
            XCTAssertEqual(page.status, 200)
            XCTAssertEqual(page.json.keys, ["topic", "items", "next"])
            let items = page.json["items"].array.compactMap { $0["id"].int }
            XCTAssertLessThanOrEqual(items.count, 10)
            seen += items
            pages += 1
            guard let next = page.json["next"].int else {
                XCTAssertEqual(page.json["next"], .null)
                break
            }
            XCTAssertEqual(next, items.last, "next is the after of the next page")
            after = next
        }
        XCTAssertEqual(pages, 3)
        XCTAssertEqual(seen, ids)
        // The default page (no query) is the first 100: all of them, and no next.
        let all = try await client.get("/search/\(topic)")
        XCTAssertEqual(all.json["items"].array.compactMap { $0["id"].int }, ids)
        XCTAssertEqual(all.json["next"], .null)
        let exact = try await client.get("/search/\(topic)?limit=25")
        XCTAssertEqual(exact.json["next"], .null, "a page that ends the list exactly has no next")
        let itemsOfTheLargestPage = try await client.get("/search/\(topic)?limit=1000").json["items"].array.count
        XCTAssertEqual(itemsOfTheLargestPage, 25)
        let itemsAfterTheLast = try await client.get("/search/\(topic)?after=\(ids.last ?? 0)").json["items"].array
        XCTAssertEqual(itemsAfterTheLast, [])
    }

    /// The largest page (1,000 books) comes through nginx and the cache whole.
    func testAPageOfAThousandBooks() async throws {
        let client = try client
        let topic = "thousand-\(UUID().uuidString.prefix(8).lowercased())"
        var ids: [Int] = []
        for part in 0..<3 {
            let body = "[" + (0..<400).map { #"{"title":"Part \#(part)-\#($0)","topic":"\#(topic)","price":1,"stock":1}"# }
                .joined(separator: ",") + "]"
            ids += try await client.addBooks(body).json["books"].array.compactMap { $0["id"].int }
        }
        ids = try XCTUnwrap(ids.count == 1_200 ? ids : nil, "1,200 books could not be added")
        for _ in 0..<2 {
            let page = try await client.get("/search/\(topic)?limit=1000")
            XCTAssertEqual(page.status, 200)
            XCTAssertEqual(page.json["items"].array.compactMap { $0["id"].int }, Array(ids.prefix(1000)))
            XCTAssertEqual(page.json["next"].int, ids[999])
        }
        let rest = try await client.get("/search/\(topic)?after=\(ids[999])&limit=1000")
        XCTAssertEqual(rest.json["items"].array.compactMap { $0["id"].int }, Array(ids.suffix(200)))
    }

    func testTheDefaultStaysTodaysAnswerForSmallTopics() async throws {
        let client = try client
        let search = try await client.get("/search/distributed%20systems")
        XCTAssertEqual(search.json.keys, ["topic", "items", "next"])
        XCTAssertEqual(search.json["topic"].string, "distributed systems")
        XCTAssertEqual(search.json["items"].array.compactMap { $0["id"].int }.prefix(3), [1, 2, 5])
        XCTAssertEqual(search.json["next"], .null)
        let unknown = try await client.get("/search/no-such-topic-\(UUID().uuidString)?after=3&limit=5")
        XCTAssertEqual(unknown.status, 200)
        XCTAssertEqual(unknown.json["items"], .array([]))
        XCTAssertEqual(unknown.json["next"], .null)
    }

    func testBadPagesAre400() async throws {
        let client = try client
        for query in ["limit=0", "limit=1001", "limit=-1", "limit=abc", "limit=", "after=-1", "after=x", "after=1.5",
                      "after=99999999999999999999"] {
            let answer = try await client.get("/search/distributed%20systems?\(query)")
            XCTAssertEqual(answer.status, 400, query)
            XCTAssertEqual(answer.errorCode, "bad_request", query)
        }
    }

    /// Each page is its own cache entry with its own ETag; a page read twice is a hit.
    func testEachPageIsCachedAndTaggedOnItsOwn() async throws {
        let client = try client
        let stack = try stack
        let (topic, ids) = try await topicWithBooks(4)
        try await stack.warm("/search/\(topic)?limit=2")
        try await stack.warm("/search/\(topic)?after=\(ids[1])&limit=2")
        let first = try await client.get("/search/\(topic)?limit=2")
        let second = try await client.get("/search/\(topic)?after=\(ids[1])&limit=2")
        XCTAssertEqual(first.header("X-Cache"), "HIT")
        XCTAssertEqual(second.header("X-Cache"), "HIT")
        XCTAssertEqual(second.json["items"].array.compactMap { $0["id"].int }, Array(ids[2...]))
        let firstTag = try XCTUnwrap(first.header("ETag"))
        XCTAssertNotEqual(firstTag, second.header("ETag"))
        let notModified = try await client.get("/search/\(topic)?limit=2", headers: ["If-None-Match": firstTag])
        XCTAssertEqual(notModified.status, 304)
        // The same page asked with the parameters in another order, or spelled out in full, is the same entry.
        let reordered = try await client.get("/search/\(topic)?limit=2&after=0").header("X-Cache")
        XCTAssertEqual(reordered, "HIT")
        try await stack.warm("/search/\(topic)")
        let spelledOut = try await client.get("/search/\(topic)?after=0&limit=100").header("X-Cache")
        XCTAssertEqual(spelledOut, "HIT")
    }
}
