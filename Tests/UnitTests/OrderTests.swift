import Basics
@testable import BazarCore
import FastCGI
import Foundation
import HTTPMessages
@testable import InternalHTTP
@testable import Order
import Store
import TierCalls
import Wire
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
        try OrderBook(store: try OrderStore(path: dbPath, identity: .test))
    }

    private func makeRoutes(name: String = "order-1") throws -> (OrderRoutes, OrderBook) {
        let orders = try book()
        let client = InternalClient(.unix(path: internalSocket), secret: "test-secret")
        let primary = PrimaryCalls(client)
        let purchases = Purchases(name: name, takes: TakeBatches(primary: primary),
                                  commits: OrderCommits(orders: orders, peer: PeerPush(peer: "order-2", client: client)), primary: primary)
        // The catch-up thread is not started: the replica stays `catching_up`.
        let routes = OrderRoutes(name: name, orders: orders, purchases: purchases,
                                 catchUp: CatchUp(orders: orders, primary: PrimaryCalls(client), peer: "order-2"),
                                 witness: Witness(store: try OrderStore(path: dbPath, identity: .test)),
                                 metrics: RequestMetrics(routes: OrderRoutes.routeNames))
        return (routes, orders)
    }

    /// Routes of a replica past its first catch-up (whose thread these tests do not start).
    private func makeLevelRoutes() throws -> (OrderRoutes, OrderBook) {
        let (routes, orders) = try makeRoutes()
        routes.catchUp.markLevel()
        return (routes, orders)
    }

    private func purchaseRequest(_ id: Int64, key: String = "k1", attempt: String = "a1") -> Request {
        internalRequest("POST", "/orders/purchase/\(id)", headers: [WriteIdentity.keyHeader: key, WriteIdentity.attemptHeader: attempt])
    }

    // MARK: OrderBook

    func testEmptyBookHasApplied0() throws {
        let orders = try book()
        XCTAssertEqual(orders.heldThrough, 0)
        XCTAssertEqual(try orders.orders(after: 0, limit: 1000), [])
        XCTAssertNil(try orders.order(1))
    }

    func testContiguousOrdersMoveApplied() throws {
        let orders = try book()
        try orders.record([order(1), order(2), order(3)])
        XCTAssertEqual(orders.heldThrough, 3)
        XCTAssertEqual(try orders.orders(after: 0, limit: 1000).map(\.number), [1, 2, 3])
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
        XCTAssertEqual(try orders.orders(after: 0, limit: 1000).map(\.number), [1, 2, 3, 4, 5])
    }

    func testOutOfOrderBatchAndDuplicates() throws {
        let orders = try book()
        try orders.record([order(3), order(1), order(2)])
        XCTAssertEqual(orders.heldThrough, 3)
        try orders.record([order(2), order(1)])
        try orders.record([])
        XCTAssertEqual(orders.heldThrough, 3)
        XCTAssertEqual(try orders.orders(after: 0, limit: 1000).count, 3)
    }

    func testGapsAreRecoveredFromTheStoreAtStart() throws {
        do {
            let store = try OrderStore(path: dbPath, identity: .test)
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
        XCTAssertEqual(routes.handle(Request(method: "GET", path: "/order-1/health")).status, 503, "a public request never belongs to a replica")
        XCTAssertEqual(routes.handle(internalRequest("GET", "/order-2/health")).status, 503, "meant for the other replica")
        XCTAssertEqual(routes.handle(internalRequest("GET", "/order-1/nothing")).status, 404)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/order-1")).status, 404)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/orders/orders/0")).status, 400)
        XCTAssertEqual(routes.handle(internalRequest("POST", "/orders/purchase/x")).status, 400)
    }

    func testAWrongMethodOrAnUnknownOperationIs404() throws {
        let (routes, orders) = try makeLevelRoutes()
        let requests = wrongMethods(OrderRoutes.table, under: "orders") + [("GET", "/orders/nothing"), ("GET", "/orders/held/1")]
        for (method, path) in requests {
            let answer = routes.handle(internalRequest(method, path, headers: [WriteIdentity.keyHeader: "k", WriteIdentity.attemptHeader: "a"]))
            XCTAssertEqual(answer.status, 404, "\(method) \(path)")
            XCTAssertEqual(answer.json?["error"]?["message"]?.stringValue, "No such route.", "\(method) \(path)")
            XCTAssertNil(answer.header("Allow"), "\(method) \(path)")
        }
        XCTAssertEqual(try orders.orders(after: 0, limit: 1000), [])
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
        XCTAssertEqual(try orders.orders(after: 0, limit: 1000), [order(1), order(2)])
        for body in ["", "{}", "[]", "{\"orders\":{}}"] {
            XCTAssertEqual(routes.handle(internalRequest("POST", "/order-1/replicate", body: body)).status, 400, body)
        }
    }

    func testPurchaseWithoutACatalogIs503AndRecordsNothing() throws {
        let (routes, orders) = try makeRoutes()
        let response = routes.handle(purchaseRequest(1))
        XCTAssertEqual(response.status, 503)
        XCTAssertEqual(response.json?["error"]?["code"]?.stringValue, "unavailable")
        XCTAssertEqual(try orders.orders(after: 0, limit: 1000), [])
    }

    // MARK: Purchases through a real HTTP server standing in for nginx's internal listener

    private func takeAnswer(_ order: BazarCore.Order, replayed: Bool) -> String {
        var book = defaultBooks[Int(order.bookID) - 1]
        book.stock -= 1
        book.version = order.number
        return String(decoding: JSON.object([("order", order.internalJSON), ("book", book.json),
                                             ("replayed", .bool(replayed))]).encoded(), as: UTF8.self)
    }

    /// The answer to a batch of takes (`TakeBatch` in `body`): each take's from `answers`, by key.
    private static func batchAnswer(_ body: [UInt8], _ answers: [String: String]) -> String {
        let takes = TakeBatch(body: body)?.takes ?? []
        let each = takes.map { take in
            TakeBatchAnswer.Answer(status: 200, body: (try? JSON.parse(Array((answers[take.key] ?? "").utf8))) ?? .null, replayed: false)
        }
        return String(decoding: TakeBatchAnswer(each).json.encoded(), as: UTF8.self)
    }

    /// Purchases made while a take is on its way to the primary wait, and their takes go
    /// together in one batch (`/catalog-primary/take-batch`), each answered alone: an order
    /// for each; and the primary's refusal of a whole batch is each take's answer.
    func testConcurrentTakesTravelInOneBatch() throws {
        let orders = (1...6).map { order(Int64($0), book: 3, key: "client:\($0)") }
        let answers = Dictionary(uniqueKeysWithValues: orders.map { ($0.key, takeAnswer($0, replayed: false)) })
        let firstTakeArrived = DispatchSemaphore(value: 0)
        let releaseFirstTake = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var refuse = false
        let nginx = try TestHTTPServer(path: internalSocket) { request in
            if request.path.contains("/take/") {
                firstTakeArrived.signal()
                releaseFirstTake.wait()
                return (200, answers[request.headers["x-bazar-key"] ?? ""] ?? "", [("X-Upstream", "catalog-1")])
            }
            if request.path.hasSuffix("/take-batch") {
                if refuse { return (503, String(decoding: APIError.unavailable("recovering").json.encoded(), as: UTF8.self), [("X-Upstream", "catalog-1")]) }
                return (200, Self.batchAnswer(request.body, answers), [("X-Upstream", "catalog-1")])
            }
            return (200, "{\"applied\":6}", [])
        }
        defer { nginx.stop() }
        let (routes, _) = try makeRoutes()
        for round in 0..<2 {
            refuse = round == 1
            let statuses = NSLock()
            nonisolated(unsafe) var answered: [String: Int] = [:]
            let done = DispatchGroup()
            func buy(_ key: String) {
                let request = purchaseRequest(3, key: key)
                done.enter()
                Thread.detachNewThread {
                    let status = routes.handle(request).status
                    statuses.withLock { answered[key] = status }
                    done.leave()
                }
            }
            buy(orders[0].key)
            XCTAssertEqual(firstTakeArrived.wait(timeout: .now() + 30), .success, "the first purchase sent its take")
            for other in orders.dropFirst() { buy(other.key) }
            let joined = Date().addingTimeInterval(30)
            while routes.purchases.takes.waiting < orders.count - 1 && Date() < joined { Thread.sleep(forTimeInterval: 0.001) }
            XCTAssertEqual(routes.purchases.takes.waiting, orders.count - 1, "the takes made meanwhile wait for the one on its way")
            releaseFirstTake.signal()
            XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
            let expected = [orders[0].key: 200].merging(orders.dropFirst().map { ($0.key, round == 0 ? 200 : 503) }) { $1 }
            XCTAssertEqual(statuses.withLock { answered }, expected, "round \(round)")
        }
        let batches = nginx.requests.filter { $0.path.hasSuffix("/take-batch") }.compactMap { TakeBatch(body: $0.body) }
        XCTAssertEqual(batches.map { $0.takes.map(\.key).sorted() }.first, orders.dropFirst().map(\.key).sorted(),
                       "the five takes made meanwhile went in one batch")
        XCTAssertEqual(routes.purchases.takes.waiting, 0)
    }

    func testPurchaseRecordsTheOrderAndPushesItToThePeer() throws {
        let taken = order(1, book: 3, key: "client:abc")
        let answer = takeAnswer(taken, replayed: false)
        let nginx = try TestHTTPServer(path: internalSocket) { request in
            request.path.hasPrefix("/catalog-primary/take/") ? (200, answer, []) : (200, "{\"applied\":1}", [])
        }
        defer { nginx.stop() }
        let (routes, orders) = try makeRoutes()
        let response = routes.handle(purchaseRequest(3, key: "client:abc"))
        XCTAssertEqual(response.status, 200, response.text)
        XCTAssertEqual(response.header("X-Upstream"), "order-1")
        XCTAssertNil(response.header("Idempotent-Replayed"))
        XCTAssertEqual(response.json?["order"], taken.json, "the public order does not show the key")
        XCTAssertEqual(response.json?["book"]?["stock"]?.int64Value, defaultBooks[2].stock - 1)
        XCTAssertEqual(try orders.orders(after: 0, limit: 1000), [taken])
        let requests = nginx.requests
        XCTAssertEqual(requests.map(\.path), ["/catalog-primary/take/3", "/order-2/replicate"])
        XCTAssertEqual(requests.first?.headers["x-bazar-key"], "client:abc")
        XCTAssertEqual(requests.last.flatMap { try? JSON.parse($0.body) }?["orders"]?.arrayValue?.compactMap(BazarCore.Order.init(json:)),
                       [taken])
    }

    func testConcurrentPurchasesAreRecordedAndPushedTogether() throws {
        let first = order(1, book: 3, key: "client:0")
        let others = (2...8).map { order(Int64($0), book: 3, key: "client:\($0 - 1)") }
        let answers = Dictionary(uniqueKeysWithValues: ([first] + others).map { ($0.key, takeAnswer($0, replayed: false)) })
        let firstPushArrived = DispatchSemaphore(value: 0)
        let releaseFirstPush = DispatchSemaphore(value: 0)
        let pushes = NSLock()
        nonisolated(unsafe) var pushCount = 0
        let nginx = try TestHTTPServer(path: internalSocket) { request in
            if request.path.contains("/take/") { return (200, answers[request.headers["x-bazar-key"] ?? ""] ?? "", []) }
            if request.path.hasSuffix("/take-batch") { return (200, Self.batchAnswer(request.body, answers), [("X-Upstream", "catalog-1")]) }
            if pushes.withLock({ pushCount += 1; return pushCount }) == 1 {
                firstPushArrived.signal()
                releaseFirstPush.wait()
            }
            return (200, "{\"applied\":8}", [])
        }
        defer { nginx.stop() }
        let (routes, orders) = try makeRoutes()
        let statuses = NSLock()
        nonisolated(unsafe) var answered: [String: Int] = [:]
        let done = DispatchGroup()
        func buy(_ key: String) {
            let request = purchaseRequest(3, key: key)
            done.enter()
            Thread.detachNewThread {
                let status = routes.handle(request).status
                statuses.withLock { answered[key] = status }
                done.leave()
            }
        }
        buy(first.key)
        XCTAssertEqual(firstPushArrived.wait(timeout: .now() + 30), .success, "the first purchase pushed its order")
        for other in others { buy(other.key) }
        let joined = Date().addingTimeInterval(30)
        while routes.purchases.commits.waiting < others.count && Date() < joined { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(routes.purchases.commits.waiting, others.count, "the purchases made meanwhile wait for the running batch")
        releaseFirstPush.signal()
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(statuses.withLock { answered }, Dictionary(uniqueKeysWithValues: ([first] + others).map { ($0.key, 200) }))
        let pushed = nginx.requests.filter { $0.path == "/order-2/replicate" }
            .map { (try? JSON.parse($0.body))?["orders"]?.arrayValue?.compactMap(BazarCore.Order.init(json:)) ?? [] }
        XCTAssertEqual(pushed.count, 2, "one push for the first purchase, one for the seven made while it ran")
        XCTAssertEqual(pushed.first, [first])
        XCTAssertEqual(Set(pushed.last?.map(\.number) ?? []), Set(others.map(\.number)))
        XCTAssertEqual(try orders.orders(after: 0, limit: 1000).map(\.number), Array(1...8))
        XCTAssertEqual(routes.purchases.commits.waiting, 0)
    }

    /// A purchase whose batch the store fails to record (its table dropped behind its back),
    /// answered as the peer's push went: `peerAnswers` for each push.
    private func purchaseWithAFailingStore(peerAnswers status: Int) throws -> Response {
        let taken = order(1, book: 3, key: "client:abc")
        let answer = takeAnswer(taken, replayed: false)
        let nginx = try TestHTTPServer(path: internalSocket) { request in
            request.path.hasPrefix("/catalog-primary/take/") ? (200, answer, []) : (status, "{\"applied\":1}", [])
        }
        defer { nginx.stop() }
        let (routes, _) = try makeRoutes()
        try Database(path: dbPath).execute("DROP TABLE orders")
        let response = routes.handle(purchaseRequest(3, key: "client:abc"))
        XCTAssertEqual(nginx.requests.map(\.path), ["/catalog-primary/take/3", "/order-2/replicate"])
        return response
    }

    func testABatchNeitherRecordedHereNorByThePeerIsAnswered504() throws {
        let response = try purchaseWithAFailingStore(peerAnswers: 503)
        XCTAssertEqual(response.status, 504, response.text)
        XCTAssertEqual(response.json?["error"]?["code"]?.stringValue, "outcome_unknown")
    }

    func testABatchThePeerRecordedIsAnswered200EvenWhenTheStoreFailed() throws {
        let response = try purchaseWithAFailingStore(peerAnswers: 200)
        XCTAssertEqual(response.status, 200, response.text)
        XCTAssertEqual(response.json?["order"]?["number"]?.int64Value, 1)
    }

    func testPurchaseWithoutKeyOrAttemptIs400() throws {
        let (routes, orders) = try makeRoutes()
        let noKey = routes.handle(internalRequest("POST", "/orders/purchase/4"))
        XCTAssertEqual(noKey.status, 400)
        XCTAssertEqual(noKey.json?["error"]?["message"]?.stringValue, "X-Bazar-Key is required.")
        let noAttempt = routes.handle(internalRequest("POST", "/orders/purchase/4", headers: [WriteIdentity.keyHeader: "k"]))
        XCTAssertEqual(noAttempt.status, 400)
        XCTAssertEqual(noAttempt.json?["error"]?["message"]?.stringValue, "X-Bazar-Attempt is required.")
        XCTAssertEqual(try orders.orders(after: 0, limit: 1000), [])
    }

    func testCatalogRefusalIsPassedOnAndRecordsNothing() throws {
        let nginx = try TestHTTPServer(path: internalSocket) { _ in
            (409, "{\"error\":{\"code\":\"out_of_stock\",\"message\":\"none\"}}", [("X-Upstream", "catalog-1")])
        }
        defer { nginx.stop() }
        let (routes, orders) = try makeRoutes()
        let first = routes.handle(purchaseRequest(4))
        XCTAssertEqual(first.status, 409)
        XCTAssertEqual(first.json?["error"]?["code"]?.stringValue, "out_of_stock")
        XCTAssertEqual(first.header("X-Upstream"), "order-1")
        XCTAssertEqual(try orders.orders(after: 0, limit: 1000), [])
        XCTAssertEqual(nginx.requests.map(\.path), ["/catalog-primary/take/4"], "a decided take is not settled")
        XCTAssertEqual(nginx.requests.first?.headers["x-bazar-attempt"], "a1.order-1.1")
    }

    func testReplayedPurchaseIsMarked() throws {
        let taken = order(7, book: 1, key: "client:k")
        let answer = takeAnswer(taken, replayed: true)
        let nginx = try TestHTTPServer(path: internalSocket) { request in
            request.path.hasPrefix("/catalog-primary/") ? (200, answer, []) : (503, "{}", [])
        }
        defer { nginx.stop() }
        let (routes, orders) = try makeRoutes(name: "order-2")
        let response = routes.handle(purchaseRequest(1, key: "client:k"))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(response.header("X-Upstream"), "order-2")
        // A peer that missed the push does not fail the purchase; the order is recorded here.
        XCTAssertEqual(try orders.order(7), taken)
    }

    // MARK: Lost take outcomes are settled with the primary

    private let unknownTake = (504, "{\"error\":{\"code\":\"outcome_unknown\",\"message\":\"lost\"}}", [(String, String)]())

    func testLostTakeSettledAsAppliedIsBought() throws {
        let taken = order(9, book: 3, key: "k1")
        var book = defaultBooks[2]
        book.stock -= 1
        let settled = String(decoding: JSON.object([("applied", .bool(true)), ("book", book.json), ("order", taken.internalJSON)]).encoded(),
                             as: UTF8.self)
        let unknownTake = unknownTake
        let nginx = try TestHTTPServer(path: internalSocket) { request in
            switch request.path {
            case "/catalog-primary/take/3": unknownTake
            case "/catalog-primary/settle/3": (200, settled, [("X-Upstream", "catalog-1")])
            default: (200, "{\"applied\":9}", [])
            }
        }
        defer { nginx.stop() }
        let (routes, orders) = try makeRoutes()
        let response = routes.handle(purchaseRequest(3))
        XCTAssertEqual(response.status, 200, response.text)
        XCTAssertEqual(response.json?["order"], taken.json)
        XCTAssertEqual(try orders.order(9), taken)
        let settle = try XCTUnwrap(nginx.requests.first { $0.path == "/catalog-primary/settle/3" })
        XCTAssertEqual(settle.headers["x-bazar-key"], "k1")
        XCTAssertEqual(settle.headers["x-bazar-attempt"], "a1.order-1.1", "the try it made of the attempt it was given")
    }

    func testLostTakeSettledAsNotAppliedIs503() throws {
        let unknownTake = unknownTake
        let nginx = try TestHTTPServer(path: internalSocket) { request in
            TestSupport.route(request.path).hasPrefix("/take/") ? unknownTake : (200, "{\"applied\":false}", [("X-Upstream", "catalog-1")])
        }
        defer { nginx.stop() }
        let (routes, orders) = try makeRoutes()
        let response = routes.handle(purchaseRequest(2))
        XCTAssertEqual(response.status, 503)
        XCTAssertEqual(response.json?["error"]?["code"]?.stringValue, "unavailable")
        XCTAssertEqual(try orders.orders(after: 0, limit: 1000), [])
        XCTAssertEqual(nginx.requests.map { "\($0.path) \($0.headers["x-bazar-attempt"] ?? "")" },
                       ["/catalog-primary/take/2 a1.order-1.1", "/catalog-primary/settle/2 a1.order-1.1",
                        "/catalog-1/take/2 a1.order-1.2", "/catalog-primary/settle/2 a1.order-1.2"],
                       "a take that failed fast and was not applied is tried once more, as a sibling of the try it settled, "
                           + "at the primary the settle named; with no answer from it, the settle goes to any replica")
    }

    /// nginx sent the take on a kept connection the primary was letting go (it answers 502, the
    /// settle finds nothing applied): the take is made again, under the same key, and buys.
    func testATakeLostFastAndNotAppliedIsTriedOnceMore() throws {
        let taken = order(4, book: 2, key: "k1")
        let answer = takeAnswer(taken, replayed: false)
        let unknownTake = unknownTake
        let nginx = try TestHTTPServer(path: internalSocket) { request in
            switch (TestSupport.route(request.path), request.headers["x-bazar-attempt"]) {
            case ("/take/2", "a1.order-1.1"): unknownTake
            case ("/take/2", _): (200, answer, [("X-Upstream", "catalog-1")])
            case ("/settle/2", _): (200, "{\"applied\":false}", [("X-Upstream", "catalog-1")])
            default: (200, "{\"applied\":4}", [])
            }
        }
        defer { nginx.stop() }
        let (routes, orders) = try makeRoutes()
        let response = routes.handle(purchaseRequest(2))
        XCTAssertEqual(response.status, 200, response.text)
        XCTAssertEqual(try orders.order(4), taken)
        let takes = nginx.requests.filter { TestSupport.route($0.path) == "/take/2" }
        XCTAssertEqual(takes.map { $0.headers["x-bazar-attempt"] }, ["a1.order-1.1", "a1.order-1.2"])
        XCTAssertEqual(takes.map { $0.headers["x-bazar-key"] }, ["k1", "k1"], "the retry runs under the same key")
    }

    func testLostTakeThatCannotBeSettledIs504() throws {
        for (status, body, headers) in [unknownTake, (502, "", []), (200, "{\"order\":{}}", [])] {
            let nginx = try TestHTTPServer(path: internalSocket) { _ in (status, body, headers) }
            defer { nginx.stop() }
            let (routes, orders) = try makeRoutes()
            let response = routes.handle(purchaseRequest(1))
            XCTAssertEqual(response.status, 504, "\(status) \(body)")
            XCTAssertEqual(response.json?["error"]?["code"]?.stringValue, "outcome_unknown")
            XCTAssertEqual(response.header("X-Upstream"), "order-1")
            XCTAssertEqual(try orders.orders(after: 0, limit: 1000), [])
            XCTAssertEqual(nginx.requests.map(\.path), ["/catalog-primary/take/1", "/catalog-primary/settle/1"])
        }
    }

    func testTakeThatNginxCouldNotSendIs503WithoutASettle() throws {
        let nginx = try TestHTTPServer(path: internalSocket) { _ in (503, "{}", [("X-Bazar-Not-Sent", "true")]) }
        defer { nginx.stop() }
        let (routes, _) = try makeRoutes()
        XCTAssertEqual(routes.handle(purchaseRequest(1)).status, 503)
        XCTAssertEqual(nginx.requests.map(\.path), ["/catalog-primary/take/1", "/catalog-primary/take/1"],
                       "not sent, so not settled; tried once more")
    }

    // MARK: Pages and read-through

    private func takesAnswer(_ orders: [BazarCore.Order]) -> String {
        String(decoding: JSON.object([("orders", .array(orders.map(\.internalJSON)))]).encoded(), as: UTF8.self)
    }

    func testOrderPagesAndNext() throws {
        let nginx = try TestHTTPServer(path: internalSocket) { _ in (200, "{\"orders\":[]}", [("X-Upstream", "catalog-1")]) }
        defer { nginx.stop() }
        let (routes, orders) = try makeLevelRoutes()
        try orders.record((1...5).map { order($0) })
        let first = routes.handle(internalRequest("GET", "/orders/orders", query: "limit=2"))
        XCTAssertEqual(first.json?["orders"]?.arrayValue?.compactMap { $0["number"]?.int64Value }, [1, 2])
        XCTAssertEqual(first.json?["next"]?.int64Value, 2)
        let last = routes.handle(internalRequest("GET", "/orders/orders", query: "after=4&limit=2"))
        XCTAssertEqual(last.json?["orders"]?.arrayValue?.compactMap { $0["number"]?.int64Value }, [5])
        XCTAssertEqual(last.json?["next"], .null)
        let exact = routes.handle(internalRequest("GET", "/orders/orders", query: "after=3&limit=2"))
        XCTAssertEqual(exact.json?["next"], .null, "a full last page has no next page")
        for query in ["limit=0", "limit=1001", "after=-1", "after=x", "limit=1e3"] {
            XCTAssertEqual(routes.handle(internalRequest("GET", "/orders/orders", query: query)).status, 400, query)
        }
    }

    func testMissingOrderIsReadThroughFromThePrimary() throws {
        let missing = order(3)
        let answer = takesAnswer([missing])
        let nginx = try TestHTTPServer(path: internalSocket) { request in
            request.path.hasPrefix("/catalog-primary/takes") ? (200, answer, [("X-Upstream", "catalog-1")]) : (404, "{}", [])
        }
        defer { nginx.stop() }
        let (routes, orders) = try makeLevelRoutes()
        try orders.record([order(1), order(2)])
        let response = routes.handle(internalRequest("GET", "/orders/orders/3"))
        XCTAssertEqual(response.status, 200, response.text)
        XCTAssertEqual(response.json, missing.json)
        XCTAssertEqual(nginx.requests.first?.path, "/catalog-primary/takes?after=2&limit=1000")
    }

    func testAPageOverAGapIsReadThroughEvenWhenLaterOrdersFillIt() throws {
        let missing = order(3)
        let answer = takesAnswer([missing])
        let primaryAnswers = LockedBox(false)
        let nginx = try TestHTTPServer(path: internalSocket) { request in
            if request.path.hasPrefix("/catalog-primary/takes"), primaryAnswers.withLock({ $0 }) {
                return (200, answer, [("X-Upstream", "catalog-1")])
            }
            return (503, "{}", [("X-Bazar-Not-Sent", "true")])
        }
        defer { nginx.stop() }
        let (routes, orders) = try makeLevelRoutes()
        try orders.record([order(1), order(2), order(4), order(5)])
        XCTAssertEqual(routes.handle(internalRequest("GET", "/orders/orders", query: "limit=2")).status, 200,
                       "a page below the gap needs no one")
        XCTAssertEqual(routes.handle(internalRequest("GET", "/orders/orders", query: "limit=3")).status, 503,
                       "a page over the gap, with no one to read through, cannot be answered without order 3")
        primaryAnswers.withLock { $0 = true }
        let page = routes.handle(internalRequest("GET", "/orders/orders", query: "limit=3"))
        XCTAssertEqual(page.json?["orders"]?.arrayValue?.compactMap { $0["number"]?.int64Value }, [1, 2, 3], page.text)
        XCTAssertEqual(page.json?["next"]?.int64Value, 3)
    }

    func testReadThroughFallsBackToThePeerAndElseIs503() throws {
        let missing = order(2)
        let answer = takesAnswer([missing])
        let peerAnswers = LockedBox(true)
        let nginx = try TestHTTPServer(path: internalSocket) { request in
            if request.path.hasPrefix("/order-2/held"), peerAnswers.withLock({ $0 }) { return (200, answer, [("X-Upstream", "order-2")]) }
            return (503, "{}", [("X-Bazar-Not-Sent", "true")])
        }
        defer { nginx.stop() }
        let (routes, orders) = try makeLevelRoutes()
        try orders.record([order(1)])
        let list = routes.handle(internalRequest("GET", "/orders/orders"))
        XCTAssertEqual(list.json?["orders"]?.arrayValue?.count, 2, list.text)
        peerAnswers.withLock { $0 = false }
        XCTAssertEqual(routes.handle(internalRequest("GET", "/orders/orders/7")).status, 503,
                       "with neither the primary nor the peer, an order it lacks cannot be called unknown")
        XCTAssertEqual(routes.handle(internalRequest("GET", "/orders/orders/1")).status, 200, "an order it holds needs no one")
    }

    // MARK: The catalog backup's witness

    /// The term the catalog's messages to the witness carry in these tests.
    private static let term = #"{"epoch":1,"primary":"catalog-1"}"#

    private func witnessRecord(_ routes: OrderRoutes, version: Int, inSync: Bool) -> Response {
        routes.handle(internalRequest("POST", "/order-1/witness", body: "{\"epoch\":1,\"primary\":\"catalog-1\",\"version\":\(version),\"in_sync\":\(inSync)}"))
    }

    func testWitnessKeepsTheNewestRecordDurably() throws {
        let (routes, _) = try makeRoutes()
        XCTAssertEqual(routes.handle(internalRequest("POST", "/order-1/stand-in", body: Self.term)).json?["in_sync"], .bool(false),
                       "a new replica has seen no primary count the backup in sync")
        XCTAssertEqual(witnessRecord(routes, version: 2, inSync: true).json?["recorded"], .bool(true))
        let stale = witnessRecord(routes, version: 1, inSync: false)
        XCTAssertEqual(stale.json?["recorded"], .bool(false))
        XCTAssertEqual(stale.json?["version"]?.int64Value, 2, "the primary learns the version to beat")
        let (reopened, _) = try makeRoutes()
        let standIn = reopened.handle(internalRequest("POST", "/order-1/stand-in", body: Self.term))
        XCTAssertEqual(standIn.json?["in_sync"], .bool(true))
        XCTAssertEqual(standIn.json?["lease_ms"]?.int64Value, Witness.standInLease.nanoseconds / 1_000_000)
        for body in ["", "{}", "{\"version\":1}", "{\"version\":\"1\",\"in_sync\":true}"] {
            XCTAssertEqual(reopened.handle(internalRequest("POST", "/order-1/witness", body: body)).status, 400, body)
        }
    }

    func testNoDemotionWhileTheBackupStandsIn() throws {
        let (routes, _) = try makeRoutes()
        XCTAssertEqual(witnessRecord(routes, version: 1, inSync: true).status, 200)
        XCTAssertEqual(routes.handle(internalRequest("POST", "/order-1/stand-in", body: Self.term)).json?["in_sync"], .bool(true))
        let refused = witnessRecord(routes, version: 2, inSync: false)
        XCTAssertEqual(refused.status, 409)
        XCTAssertEqual(routes.handle(internalRequest("POST", "/order-1/stand-in", body: Self.term)).json?["in_sync"], .bool(true))
        XCTAssertEqual(witnessRecord(routes, version: 3, inSync: true).status, 200, "promotions are always taken")
        let acknowledged = routes.handle(internalRequest("POST", "/order-1/acknowledged", body: #"{"epoch": 1, "primary": "catalog-1", "through": 9}"#))
        XCTAssertEqual(acknowledged.status, 409, "nothing is acknowledged without the backup while it stands in")
        XCTAssertEqual(routes.handle(internalRequest("GET", "/order-1/witness")).json?["acknowledged"]?.int64Value, 0)
    }

    /// What a restarting catalog primary reads: the newest record and what was acknowledged
    /// without the backup, which only grows, and which a demotion carries.
    func testWitnessKeepsWhatWasAcknowledgedWithoutTheBackup() throws {
        let (routes, _) = try makeRoutes()
        XCTAssertEqual(routes.handle(internalRequest("GET", "/order-1/witness")).text,
                       #"{"version":0,"in_sync":false,"acknowledged":0,"epoch":0,"primary":""}"#)
        let demotion = #"{"epoch": 1, "primary": "catalog-1", "version": 4, "in_sync": false, "acknowledged": 30}"#
        XCTAssertEqual(routes.handle(internalRequest("POST", "/order-1/witness", body: demotion)).json?["recorded"], .bool(true))
        for (through, held) in [(35, 35), (31, 35)] {
            let answer = routes.handle(internalRequest("POST", "/order-1/acknowledged", body: #"{"epoch": 1, "primary": "catalog-1", "through": \#(through)}"#))
            XCTAssertEqual(answer.json?["through"]?.int64Value, Int64(held))
        }
        let (reopened, _) = try makeRoutes()
        XCTAssertEqual(reopened.handle(internalRequest("GET", "/order-1/witness")).text,
                       #"{"version":4,"in_sync":false,"acknowledged":35,"epoch":1,"primary":"catalog-1"}"#)
        for body in ["", "{}", #"{"through": -1}"#, #"{"through": "3"}"#] {
            XCTAssertEqual(reopened.handle(internalRequest("POST", "/order-1/acknowledged", body: body)).status, 400, body)
        }
    }
}
