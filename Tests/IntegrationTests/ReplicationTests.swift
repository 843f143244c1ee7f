import Foundation
import XCTest

/// Round-robin over the replicas, replica agreement after writes, and out-of-stock.
final class ReplicationTests: StackTestCase {
    override class var stackEnvironment: [String: String] { ["BAZAR_CACHE_CAPACITY": "0"] }

    func testBothCatalogAndBothOrderReplicasAnswer() async throws {
        _ = try await stack.waitUntilLevel()
        var catalogs = Set<String>(), orders = Set<String>()
        for _ in 0..<8 {
            let info = try await client.get("/info/3")
            XCTAssertEqual(info.header("X-Cache"), "MISS", "the cache is off in this class")
            catalogs.insert(info.header("X-Upstream") ?? "")
            let list = try await client.get("/orders")
            orders.insert(list.header("X-Upstream") ?? "")
        }
        XCTAssertEqual(catalogs, ["catalog-1", "catalog-2"])
        XCTAssertEqual(orders, ["order-1", "order-2"])
    }

    func testReplicasAgreeAfterWrites() async throws {
        for id in 1...7 { _ = try await client.send("POST", "/purchase/\(id)") }
        _ = try await client.update(4, #"{"price": 19.5, "stock_delta": 3}"#)
        let health = try await stack.waitUntilLevel()
        let applied = health["replicas"].array.map { $0["applied"].int ?? -1 }
        XCTAssertEqual(applied[0], applied[1])
        XCTAssertEqual(applied[2], applied[3])
        // Without the cache, reads alternate between the replicas: each book reads the same from both.
        for id in 1...7 {
            var seen: [String: JSONValue] = [:]
            for _ in 0..<4 {
                let info = try await client.get("/info/\(id)")
                seen[info.header("X-Upstream") ?? ""] = info.json
            }
            XCTAssertEqual(seen.count, 2)
            XCTAssertEqual(seen["catalog-1"], seen["catalog-2"], "book \(id)")
        }
        var lists: [String: JSONValue] = [:]
        for _ in 0..<4 {
            let list = try await client.get("/orders")
            lists[list.header("X-Upstream") ?? ""] = list.json
        }
        XCTAssertEqual(lists.count, 2)
        XCTAssertEqual(lists["order-1"], lists["order-2"])
    }

    func testOutOfStockIs409AndChangesNothing() async throws {
        let set = try await client.update(7, #"{"stock": 2}"#)
        XCTAssertEqual(set.json["stock"], .number(2))
        let ordersBefore = try await client.get("/orders").json["orders"].array.count
        for _ in 0..<2 {
            let bought = try await client.send("POST", "/purchase/7")
            XCTAssertEqual(bought.status, 200)
        }
        let refused = try await client.send("POST", "/purchase/7")
        XCTAssertEqual(refused.status, 409)
        XCTAssertEqual(refused.errorCode, "out_of_stock")
        let book = try await client.get("/info/7").json
        XCTAssertEqual(book["stock"], .number(0))
        _ = try await stack.waitUntilLevel()
        let ordersAfter = try await client.get("/orders").json["orders"].array.count
        XCTAssertEqual(ordersAfter, ordersBefore + 2)
    }

    func testConcurrentPurchasesNeverOversell() async throws {
        _ = try await client.update(5, #"{"stock": 30}"#)
        let client = try client
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<60 { group.addTask { try await client.send("POST", "/purchase/5").status } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        XCTAssertEqual(statuses.filter { $0 == 200 }.count, 30, "\(statuses.sorted())")
        // The rest find no copy; none is refused (see ConcurrencyTests).
        XCTAssertEqual(statuses.filter { $0 == 409 }.count, 30, "\(statuses.sorted())")
        let book = try await client.get("/info/5")
        XCTAssertEqual(book.json["stock"], .number(0))
        _ = try await stack.waitUntilLevel()
        for _ in 0..<2 {
            let list = try await client.get("/orders").json["orders"].array
            XCTAssertEqual(Set(list.compactMap { $0["number"].int }).count, list.count, "order numbers are unique")
        }
    }
}
