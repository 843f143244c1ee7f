import Foundation
import XCTest

/// Conveniences of the public routes, through real nginx: a trailing slash, and `+` for a
/// space in a search topic.
final class RouteConvenienceTests: StackTestCase {
    func testATrailingSlashAnswersAsWithout() async throws {
        let bought = try await client.send("POST", "/purchase/3/")
        XCTAssertEqual(bought.status, 200)
        let number = try XCTUnwrap(bought.json["order"]["number"].int)
        let updated = try await client.update(3, #"{"price": 33.5}"#)
        XCTAssertEqual(updated.status, 200)
        let slashUpdate = try await client.send("PUT", "/update/3/", headers: ["Authorization": "Bearer \(Stack.adminToken)"],
                                                body: Data(#"{"price": 33.5}"#.utf8))
        XCTAssertEqual(slashUpdate.status, 200)
        for path in ["/info/3", "/search/undergraduate%20school", "/orders", "/orders/\(number)", "/orders?limit=1"] {
            let plain = try await client.get(path)
            let slashed = path.contains("?") ? path.replacingOccurrences(of: "?", with: "/?") : path + "/"
            let withSlash = try await client.get(slashed)
            XCTAssertEqual(withSlash.status, 200, slashed)
            XCTAssertEqual(withSlash.json, plain.json, slashed)
        }
        for path in ["/health", "/stats"] {
            let plain = try await client.get(path)
            let withSlash = try await client.get(path + "/")
            XCTAssertEqual(withSlash.status, plain.status, path)
            XCTAssertEqual(withSlash.json.keys, plain.json.keys, path)
            let head = try await client.send("HEAD", path + "/")
            XCTAssertEqual(head.status, plain.status, path)
            let wrong = try await client.send("POST", path + "/")
            XCTAssertEqual(wrong.status, 405, path)
            XCTAssertEqual(wrong.header("Allow"), "GET, HEAD", path)
            let (status, _) = try curl("-X", "TRACE", "BASE\(path)/")   // nginx's own 405
            XCTAssertEqual(status, 405, path)
        }
        let scrape = try await client.get("/metrics/", headers: ["Authorization": "Bearer \(Stack.adminToken)"])
        XCTAssertEqual(scrape.status, 200, "/metrics/ answers as /metrics")
        for (path, status) in [("/info/", 400), ("/search/", 400), ("/info/3//", 404), ("/purchase/", 400)] {
            let answer = try await client.send(path.hasPrefix("/purchase") ? "POST" : "GET", path)
            XCTAssertEqual(answer.status, status, path)
        }
    }

    func testAPlusInATopicIsASpaceAndPercent2BAPlus() async throws {
        let plus = try await client.get("/search/Distributed+Systems")
        XCTAssertEqual(plus.status, 200)
        XCTAssertEqual(plus.json["topic"].string, "distributed systems")
        XCTAssertEqual(plus.json["items"].array.compactMap { $0["id"].int }, [1, 2, 5])
        let spaced = try await client.get("/search/distributed%20systems")
        XCTAssertEqual(spaced.header("X-Cache"), "HIT", "one topic, one cache entry")
        let literal = try await client.get("/search/distributed%2Bsystems")
        XCTAssertEqual(literal.status, 200)
        XCTAssertEqual(literal.json["topic"].string, "distributed+systems")
        XCTAssertEqual(literal.json["items"], .array([]))
    }
}
