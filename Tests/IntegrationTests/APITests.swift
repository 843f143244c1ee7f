import Foundation
import XCTest

/// Every route, status, header and error code of API.md, through real nginx.
final class APITests: StackTestCase {
    func testInfoReturnsTheBookWithJSONHeaders() async throws {
        let answer = try await client.get("/info/6")
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.header("Content-Type"), "application/json; charset=utf-8")
        XCTAssertEqual(answer.json["id"], .number(6))
        XCTAssertEqual(answer.json["title"].string, "Why theory classes are so hard.")
        XCTAssertEqual(answer.json["topic"].string, "undergraduate school")
        XCTAssertEqual(answer.json.keys, ["id", "title", "topic", "price", "stock", "version"])
        XCTAssertGreaterThan(answer.json["stock"].int ?? 0, 0)
        XCTAssertNotNil(answer.header("X-Cache"))
    }

    func testInfoRejectsBadIDsAndUnknownIDs() async throws {
        for bad in ["0", "-1", "abc", "1abc", "%2B1", "9223372036854775808", "1.0", "1e3", "%201"] {
            let answer = try await client.get("/info/\(bad)")
            XCTAssertEqual(answer.status, 400, bad)
            XCTAssertEqual(answer.errorCode, "bad_request", bad)
        }
        let unknown = try await client.get("/info/9223372036854775807")
        XCTAssertEqual(unknown.status, 404)
        XCTAssertEqual(unknown.errorCode, "not_found")
        XCTAssertNotNil(unknown.json["error"]["message"].string)
    }

    func testSearchDecodesAndIgnoresCase() async throws {
        let answer = try await client.get("/search/DISTRIBUTED%20systems")
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.json["topic"].string, "distributed systems")
        XCTAssertEqual(answer.json["items"].array.compactMap { $0["id"].int }, [1, 2, 5])
        XCTAssertEqual(answer.json["items"].array.first?.keys, ["id", "title"])
        let school = try await client.get("/search/undergraduate%20school")
        XCTAssertEqual(school.json["items"].array.compactMap { $0["id"].int }, [3, 4, 6, 7])
        let unknown = try await client.get("/search/cooking")
        XCTAssertEqual(unknown.status, 200)
        XCTAssertEqual(unknown.json["items"], .array([]))
        for dots in ["/search/..", "/search/%2E%2E", "/search/."] {
            let (status, body) = try curl("BASE\(dots)")
            XCTAssertEqual(status, 200, dots)
            XCTAssertEqual(body["items"], .array([]), dots)
        }
    }

    func testSearchRejectsBadTopics() throws {
        for bad in ["/search/%FF", "/search/%00", "/search/a%0Ab", "/search/%", "/search/%G1", "/search/"] {
            let (status, body) = try curl("BASE\(bad)")
            XCTAssertEqual(status, 400, bad)
            XCTAssertEqual(body["error"]["code"].string, "bad_request", bad)
        }
        let (status, body) = try curl("BASE/search/" + String(repeating: "a", count: 20_000))
        XCTAssertEqual(status, 400)
        XCTAssertEqual(body["error"]["code"].string, "bad_request")
    }

    func testPurchaseReturnsTheOrderAndTheBook() async throws {
        let before = try await client.get("/info/2").json["stock"].int ?? 0
        for method in ["POST", "PUT"] {
            let answer = try await client.send(method, "/purchase/2")
            XCTAssertEqual(answer.status, 200, method)
            XCTAssertEqual(answer.json["order"].keys, ["number", "book_id", "title", "price", "created_at"])
            XCTAssertEqual(answer.json["order"]["book_id"], .number(2))
            XCTAssertNotNil(answer.json["order"]["created_at"].string?.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"#, options: .regularExpression))
            XCTAssertEqual(answer.json["book"]["id"], .number(2))
            XCTAssertTrue(["order-1", "order-2"].contains(answer.header("X-Upstream") ?? ""))
        }
        let after = try await client.get("/info/2").json["stock"].int ?? 0
        XCTAssertEqual(after, before - 2)
    }

    func testOrdersListAndLookup() async throws {
        let bought = try await client.send("POST", "/purchase/4")
        let number = try XCTUnwrap(bought.json["order"]["number"].int)
        let list = try await client.get("/orders")
        XCTAssertEqual(list.status, 200)
        let numbers = list.json["orders"].array.compactMap { $0["number"].int }
        XCTAssertTrue(numbers.contains(number))
        XCTAssertEqual(numbers, numbers.sorted(), "oldest first")
        let one = try await client.get("/orders/\(number)")
        XCTAssertEqual(one.status, 200)
        XCTAssertEqual(one.json, bought.json["order"])
        let missing = try await client.get("/orders/999999")
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(missing.errorCode, "not_found")
        let bad = try await client.get("/orders/x")
        XCTAssertEqual(bad.errorCode, "bad_request")
    }

    func testIdempotencyKeyReplaysTheFirstOrder() async throws {
        let key = UUID().uuidString
        let first = try await client.send("POST", "/purchase/5", headers: ["Idempotency-Key": key])
        let stock = try await client.get("/info/5").json["stock"].int
        let again = try await client.send("POST", "/purchase/5", headers: ["Idempotency-Key": key])
        XCTAssertEqual(first.status, 200)
        XCTAssertNil(first.header("Idempotent-Replayed"))
        XCTAssertEqual(again.status, 200)
        XCTAssertEqual(again.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(again.json["order"], first.json["order"])
        let stockAfter = try await client.get("/info/5").json["stock"].int
        XCTAssertEqual(stockAfter, stock, "a replay buys nothing")
        let otherBook = try await client.send("POST", "/purchase/4", headers: ["Idempotency-Key": key])
        XCTAssertEqual(otherBook.errorCode, "bad_request")
    }

    func testUpdateNeedsTheAdminToken() async throws {
        let none = try await client.send("PUT", "/update/1", body: Data(#"{"price": 10}"#.utf8))
        XCTAssertEqual(none.status, 401)
        XCTAssertEqual(none.errorCode, "unauthorized")
        let wrong = try await client.update(1, #"{"price": 10}"#, token: "nope")
        XCTAssertEqual(wrong.status, 401)
        let right = try await client.update(1, #"{"price": 12.5, "stock": 40}"#)
        XCTAssertEqual(right.status, 200)
        XCTAssertEqual(right.json["price"], .number(12.5))
        XCTAssertEqual(right.json["stock"], .number(40))
        let delta = try await client.update(1, #"{"stock_delta": -15}"#)
        XCTAssertEqual(delta.json["stock"], .number(25))
        XCTAssertGreaterThan(delta.json["version"].int ?? 0, right.json["version"].int ?? 0)
    }

    func testUpdateRejectsBadBodiesAndChangesNothing() async throws {
        let before = try await client.get("/info/3").json
        for body in ["", "[]", "{}", "null", #"{"price": 0}"#, #"{"price": -1}"#, #"{"price": "5"}"#,
                     #"{"stock": -1}"#, #"{"stock": 1.5}"#, #"{"stock": true}"#, #"{"stock": 1, "stock_delta": 1}"#,
                     #"{"title": "x"}"#, #"{"price": 5, "extra": 1}"#, "{", #"{"price": 1e999}"#] {
            let answer = try await client.update(3, body)
            XCTAssertEqual(answer.status, 400, body)
            XCTAssertEqual(answer.errorCode, "bad_request", body)
        }
        let tooFar = try await client.update(3, #"{"stock_delta": -1000000}"#)
        XCTAssertEqual(tooFar.status, 409)
        XCTAssertEqual(tooFar.errorCode, "out_of_stock")
        let unknown = try await client.update(99, #"{"price": 5}"#)
        XCTAssertEqual(unknown.status, 404)
        let after = try await client.get("/info/3").json
        XCTAssertEqual(after, before)
    }

    func testOversizedBodyIs413() async throws {
        let big = Data(repeating: UInt8(ascii: " "), count: 70 * 1024)
        let answer = try await client.send("PUT", "/update/1", headers: ["Authorization": "Bearer \(Stack.adminToken)"], body: big)
        XCTAssertEqual(answer.status, 413)
        XCTAssertEqual(answer.errorCode, "payload_too_large")
    }

    func testWrongMethodsAre405WithAllow() async throws {
        let cases: [(String, String, String)] = [
            ("DELETE", "/info/1", "GET, HEAD"), ("POST", "/search/x", "GET, HEAD"), ("GET", "/purchase/1", "POST, PUT"),
            ("POST", "/orders", "GET, HEAD"), ("GET", "/update/1", "PUT"), ("POST", "/health", "GET, HEAD"),
            ("DELETE", "/stats", "GET, HEAD"), ("GET", "/books", "POST"), ("PUT", "/books/", "POST"),
        ]
        for (method, path, allow) in cases {
            let answer = try await client.send(method, path)
            XCTAssertEqual(answer.status, 405, "\(method) \(path)")
            XCTAssertEqual(answer.errorCode, "method_not_allowed")
            XCTAssertEqual(answer.header("Allow"), allow)
        }
    }

    func testUnknownPathsAre404JSON() async throws {
        for path in ["/", "/book", "/books/1", "/info", "/info/1/2", "/catalog/info/1", "/front/invalidate", "/catalog-1/health",
                     "/order-1/orders", "/replicate", "/stats/x"] {
            let answer = try await client.get(path)
            XCTAssertEqual(answer.status, 404, path)
            XCTAssertEqual(answer.errorCode, "not_found", path)
            XCTAssertEqual(answer.header("Content-Type"), "application/json; charset=utf-8", path)
        }
        let invalidate = try await client.send("POST", "/front/invalidate", body: Data(#"{"book":1,"seq":99}"#.utf8))
        XCTAssertEqual(invalidate.status, 404)
    }

    func testHealthAndStatsShapes() async throws {
        let health = try await stack.waitUntilLevel()
        XCTAssertEqual(health["status"].string, "ok")
        let replicas = health["replicas"].array
        XCTAssertEqual(replicas.compactMap { $0["name"].string }, ["catalog-1", "catalog-2", "order-1", "order-2"])
        XCTAssertEqual(replicas.compactMap { $0["role"].string }, ["primary", "backup", "order", "order"])
        XCTAssertEqual(replicas.first?.keys, ["name", "role", "status", "applied"])
        let stats = try await client.get("/stats")
        XCTAssertEqual(stats.status, 200)
        XCTAssertEqual(stats.json["cache"].keys, ["entries", "capacity", "hits", "misses", "invalidations", "evictions", "rejections",
                                                  "bytes", "capacity_bytes", "oversized"])
        XCTAssertEqual(stats.json["cache"]["capacity"], .number(10_000))
    }
}
