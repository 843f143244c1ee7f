import Foundation
import XCTest

/// `/orders`: pages with a bounded size, and an order answered 200 readable at once from
/// either order replica, even one that just restarted.
final class OrderReadTests: StackTestCase {
    func testPagesFollowNextToTheEnd() async throws {
        let client = try client
        for _ in 0..<5 { _ = try await client.send("POST", "/purchase/1") }
        var numbers: [Int] = []
        var after = 0
        for _ in 0..<100 {
            let page = try await client.get("/orders?after=\(after)&limit=2")
            XCTAssertEqual(page.status, 200)
            let items = page.json["orders"].array
            XCTAssertLessThanOrEqual(items.count, 2)
            numbers += items.compactMap { $0["number"].int }
            guard let next = page.json["next"].int else { break }
            XCTAssertEqual(next, numbers.last)
            after = next
        }
        XCTAssertGreaterThanOrEqual(numbers.count, 5)
        XCTAssertEqual(numbers, numbers.sorted(), "oldest first")
        XCTAssertEqual(Set(numbers).count, numbers.count)
        let whole = try await client.get("/orders?limit=1000")
        XCTAssertEqual(whole.json["orders"].array.compactMap { $0["number"].int }, numbers)
        XCTAssertEqual(whole.json["next"], .null)
        let first = try await client.get("/orders")
        XCTAssertEqual(first.json["orders"].array.count, min(numbers.count, 100), "100 by default")
    }

    func testBadPagesAre400() async throws {
        let client = try client
        for query in ["limit=0", "limit=1001", "limit=-1", "after=-1", "after=abc", "limit=10.5", "after=99999999999999999999"] {
            let answer = try await client.get("/orders?\(query)")
            XCTAssertEqual(answer.status, 400, query)
            XCTAssertEqual(answer.errorCode, "bad_request", query)
        }
        let largest = try await client.get("/orders?limit=1000")
        XCTAssertEqual(largest.status, 200)
    }

    func testAnAcknowledgedOrderIsReadableAtOnceFromBothReplicasWhileOneRestarts() async throws {
        let stack = try stack
        _ = try await stack.waitUntilLevel()
        let restocked = try await stack.client.update(2, #"{"stock": 100000}"#)
        XCTAssertEqual(restocked.status, 200)
        let restarts = Counter()
        let restarter = Task {
            try await Task.sleep(nanoseconds: 400_000_000)
            kill(try XCTUnwrap(stack.pid("order-2")), SIGKILL)
            try await Task.sleep(nanoseconds: 300_000_000)
            XCTAssertEqual(try stack.ctl("start", "order-2").0, 0)
            await restarts.add()
        }
        // Purchases go on until order-2 is back and 20 were checked after it (at any speed: the
        // 60 s bound only stops a hang).
        var checked = 0, checkedSinceRestart = 0
        var missing: [String] = []
        let deadline = Date().addingTimeInterval(60)
        while checkedSinceRestart < 20, Date() < deadline {
            let restarted = await restarts.value > 0
            guard let bought = try? await stack.client.send("POST", "/purchase/2"), bought.status == 200,
                  let number = bought.json["order"]["number"].int else { continue }
            for replica in ["order-1", "order-2"] {
                let answer = try stack.internalGet("/\(replica)/orders/\(number)")
                if answer.contains("\"not_found\"") { missing.append("\(replica) answered 404 for order \(number)") }
            }
            checked += 1
            if restarted { checkedSinceRestart += 1 }
        }
        try await restarter.value
        print("orders checked on both replicas right after their 200: \(checked), \(checkedSinceRestart) after order-2 restarted")
        XCTAssertEqual(checkedSinceRestart, 20, "purchases stopped being answered 200 (60 s)")
        XCTAssertEqual(missing, [])
    }
}
