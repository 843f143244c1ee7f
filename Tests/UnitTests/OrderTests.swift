@testable import BazarCore
import FastCGI
import Foundation
import HTTPMessages
@testable import InternalHTTP
@testable import Order
import Store
import XCTest

final class OrderTests: XCTestCase {
    private var directory: URL!
    private var dbPath: String { directory.appendingPathComponent("o.db").path }
    private var internalSocket: String { directory.appendingPathComponent("i.sock").path }

    override func setUpWithError() throws {
        directory = try TestSupport.makeTemporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func order(_ number: Int64, book: Int64 = 2, key: String? = nil) -> BazarCore.Order {
        BazarCore.Order(number: number, bookID: book, title: "RPCs for Noobs", price: 25.0,
                        createdAt: "2026-11-24T16:04:45Z", key: key ?? "generated:\(number)")
    }

    private func book() throws -> OrderBook {
        try OrderBook(store: try OrderStore(path: dbPath))
    }

    private func makeRoutes(name: String = "order-1") throws -> (OrderRoutes, OrderBook) {
        let orders = try book()
        let client = InternalClient(socketPath: internalSocket)
        let purchases = Purchases(name: name, peer: PeerPush(peer: "order-2", client: client), orders: orders, client: client)
        // The catch-up thread is not started: the replica stays `catching_up`.
        let routes = OrderRoutes(name: name, orders: orders, purchases: purchases,
                                 catchUp: CatchUp(orders: orders, client: client))
        return (routes, orders)
    }

    // MARK: OrderBook

    func testEmptyBookHasApplied0() throws {
        let orders = try book()
        XCTAssertEqual(orders.heldThrough, 0)
        XCTAssertEqual(try orders.all(), [])
        XCTAssertNil(try orders.order(1))
    }

    func testContiguousOrdersMoveApplied() throws {
        let orders = try book()
        try orders.record([order(1), order(2), order(3)])
        XCTAssertEqual(orders.heldThrough, 3)
        XCTAssertEqual(try orders.all().map(\.number), [1, 2, 3])
        XCTAssertEqual(try orders.order(2), order(2))
    }

    func testGapHoldsAppliedUntilItCloses() throws {
        let orders = try book()
        try orders.record([order(1), order(3)])
        XCTAssertEqual(orders.heldThrough, 1)
        try orders.record([order(5)])
        XCTAssertEqual(orders.heldThrough, 1)
        try orders.record([order(2)])
        XCTAssertEqual(orders.heldThrough, 3)
        try orders.record([order(4)])
        XCTAssertEqual(orders.heldThrough, 5)
        XCTAssertEqual(try orders.all().map(\.number), [1, 2, 3, 4, 5])
    }

    func testOutOfOrderBatchAndDuplicates() throws {
        let orders = try book()
        try orders.record([order(3), order(1), order(2)])
        XCTAssertEqual(orders.heldThrough, 3)
        try orders.record([order(2), order(1)])
        try orders.record([])
        XCTAssertEqual(orders.heldThrough, 3)
        XCTAssertEqual(try orders.all().count, 3)
    }

    func testGapsAreRecoveredFromTheStoreAtStart() throws {
        do {
            let store = try OrderStore(path: dbPath)
            try store.insert([order(1), order(2), order(4), order(5), order(7)])
        }
        let orders = try book()
        XCTAssertEqual(orders.heldThrough, 2)
        try orders.record([order(3)])
        XCTAssertEqual(orders.heldThrough, 5, "4 and 5 were already held")
        try orders.record([order(6)])
        XCTAssertEqual(orders.heldThrough, 7)
    }

    func testOrdersStartingAbove1LeaveApplied0() throws {
        let orders = try book()
        try orders.record([order(2), order(3)])
        XCTAssertEqual(orders.heldThrough, 0)
        try orders.record([order(1)])
        XCTAssertEqual(orders.heldThrough, 3)
    }

    func testOrdersSurviveANewBookOnTheSameFile() throws {
        do {
            let orders = try book()
            try orders.record([order(1), order(2, key: "client:x")])
        }
        let reopened = try book()
        XCTAssertEqual(reopened.heldThrough, 2)
        XCTAssertEqual(try reopened.order(2)?.key, "client:x")
    }

    // MARK: OrderRoutes without a catalog

    func testRoutesOnlyOnTheInternalListener() throws {
        let (routes, _) = try makeRoutes()
        XCTAssertEqual(routes.handle(Request(method: "GET", path: "/order-1/health")).status, 404)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/order-1/nothing")).status, 404)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/order-1")).status, 404)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/orders/orders/0")).status, 400)
        XCTAssertEqual(routes.handle(internalRequest("POST", "/orders/purchase/x")).status, 400)
    }

    func testReplicaCatchingUpRefusesOrderReads() throws {
        let (routes, orders) = try makeRoutes()
        try orders.record([order(1)])
        let list = routes.handle(internalRequest("GET", "/orders/orders"))
        XCTAssertEqual(list.status, 503)
        XCTAssertEqual(list.header("X-Upstream"), "order-1")
        XCTAssertEqual(routes.handle(internalRequest("GET", "/orders/orders/1")).status, 503)
        let health = routes.handle(internalRequest("GET", "/order-1/health"))
        XCTAssertEqual(health.text, "{\"name\":\"order-1\",\"role\":\"order\",\"status\":\"catching_up\",\"applied\":1}")
    }

    func testReplicatePushRecordsOrders() throws {
        let (routes, orders) = try makeRoutes()
        let push = JSON.object([("orders", .array([order(2).internalJSON, order(1).internalJSON]))]).encoded()
        let response = routes.handle(Request(method: "POST", path: "/order-1/replicate", body: push, isInternal: true))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, "{\"applied\":2}")
        XCTAssertEqual(try orders.all(), [order(1), order(2)])
        for body in ["", "{}", "[]", "{\"orders\":{}}"] {
            XCTAssertEqual(routes.handle(internalRequest("POST", "/order-1/replicate", body: body)).status, 400, body)
        }
    }

    func testPurchaseWithoutACatalogIs503AndRecordsNothing() throws {
        let (routes, orders) = try makeRoutes()
        let response = routes.handle(internalRequest("POST", "/orders/purchase/1"))
        XCTAssertEqual(response.status, 503)
        XCTAssertEqual(response.json?["error"]?["code"]?.stringValue, "unavailable")
        XCTAssertEqual(try orders.all(), [])
    }

    // MARK: Purchases through a real HTTP server standing in for nginx's internal listener

    private func takeAnswer(_ order: BazarCore.Order, replayed: Bool) -> String {
        var book = defaultBooks[Int(order.bookID) - 1]
        book.stock -= 1
        book.version = order.number
        return String(decoding: JSON.object([("order", order.internalJSON), ("book", book.json),
                                             ("replayed", .bool(replayed))]).encoded(), as: UTF8.self)
    }

    func testPurchaseRecordsTheOrderAndPushesItToThePeer() throws {
        let taken = order(1, book: 3, key: "client:abc")
        let answer = takeAnswer(taken, replayed: false)
        let nginx = try TestHTTPServer(path: internalSocket) { request in
            request.path.hasPrefix("/catalog-primary/take/") ? (200, answer, []) : (200, "{\"applied\":1}", [])
        }
        defer { nginx.stop() }
        let (routes, orders) = try makeRoutes()
        let response = routes.handle(internalRequest("POST", "/orders/purchase/3", headers: ["Idempotency-Key": "abc"]))
        XCTAssertEqual(response.status, 200, response.text)
        XCTAssertEqual(response.header("X-Upstream"), "order-1")
        XCTAssertNil(response.header("Idempotent-Replayed"))
        XCTAssertEqual(response.json?["order"], taken.json, "the public order does not show the key")
        XCTAssertEqual(response.json?["book"]?["stock"]?.int64Value, defaultBooks[2].stock - 1)
        XCTAssertEqual(try orders.all(), [taken])
        let requests = nginx.requests
        XCTAssertEqual(requests.map(\.path), ["/catalog-primary/take/3", "/order-2/replicate"])
        XCTAssertEqual(requests.first?.headers["x-bazar-key"], "client:abc")
        XCTAssertEqual(requests.last.flatMap { try? JSON.parse($0.body) }?["orders"]?.arrayValue?.compactMap(BazarCore.Order.init(json:)),
                       [taken])
    }

    func testPurchaseWithoutIdempotencyKeyGetsAFreshGeneratedKey() throws {
        let nginx = try TestHTTPServer(path: internalSocket) { request in (409, "{\"error\":{\"code\":\"out_of_stock\",\"message\":\"none\"}}", []) }
        defer { nginx.stop() }
        let (routes, orders) = try makeRoutes()
        let first = routes.handle(internalRequest("POST", "/orders/purchase/4"))
        _ = routes.handle(internalRequest("POST", "/orders/purchase/4"))
        // A refusal from the catalog is passed on as it is, and nothing is recorded.
        XCTAssertEqual(first.status, 409)
        XCTAssertEqual(first.json?["error"]?["code"]?.stringValue, "out_of_stock")
        XCTAssertEqual(first.header("X-Upstream"), "order-1")
        XCTAssertEqual(try orders.all(), [])
        let keys = nginx.requests.compactMap { $0.headers["x-bazar-key"] }
        XCTAssertEqual(keys.count, 2)
        XCTAssertTrue(keys.allSatisfy { $0.hasPrefix("generated:") }, "\(keys)")
        XCTAssertNotEqual(keys.first, keys.last)
    }

    func testReplayedPurchaseIsMarked() throws {
        let taken = order(7, book: 1, key: "client:k")
        let answer = takeAnswer(taken, replayed: true)
        let nginx = try TestHTTPServer(path: internalSocket) { request in
            request.path.hasPrefix("/catalog-primary/") ? (200, answer, []) : (503, "{}", [])
        }
        defer { nginx.stop() }
        let (routes, orders) = try makeRoutes(name: "order-2")
        let response = routes.handle(internalRequest("POST", "/orders/purchase/1", headers: ["Idempotency-Key": "k"]))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(response.header("X-Upstream"), "order-2")
        // A peer that missed the push does not fail the purchase; the order is recorded here.
        XCTAssertEqual(try orders.order(7), taken)
    }

    func testMalformedTakeAnswerIs503() throws {
        let nginx = try TestHTTPServer(path: internalSocket) { _ in (200, "{\"order\":{}}", []) }
        defer { nginx.stop() }
        let (routes, orders) = try makeRoutes()
        XCTAssertEqual(routes.handle(internalRequest("POST", "/orders/purchase/1")).status, 503)
        XCTAssertEqual(try orders.all(), [])
    }
}
