import Basics
import BazarCore
import Foundation
@testable import Front
import HTTPMessages
import InternalHTTP
import TierCalls
import XCTest

/// The front's answer to a purchase or an addition that its tier refused: under the client's
/// own `Idempotency-Key` an earlier try may have bought, so a 503 is said only once the primary
/// has settled the key. (A container chaos run with three fronts saw a retry answered 503 while
/// the purchase's first try, answered 504 when the primary died, had bought.)
final class FrontWritesTests: XCTestCase {
    private var directory: URL!
    private var socket: String { directory.appendingPathComponent("i.sock").path }

    override func setUpWithError() throws {
        directory = try TestSupport.makeTemporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private let refusal = (503, "{\"error\":{\"code\":\"unavailable\",\"message\":\"The catalog primary could not be reached; nothing was bought.\"}}",
                           [("X-Upstream", "order-1")])
    private let notSent = (503, "{}", [(WriteIdentity.notSentHeader, "true")])
    private let unreachable = (502, "", [(String, String)]())

    /// The primary's settle: applied, with the order an earlier try bought.
    private var settledBought: (Int, String, [(String, String)]) {
        var book = defaultBooks[4]
        book.stock -= 1
        let order = Order(number: 12, bookID: 5, title: book.title, price: book.price, createdAt: "2026-11-25T19:00:00Z", key: "client-k")
        let body = JSON.object([("applied", .bool(true)), ("book", book.json), ("order", order.internalJSON)]).encoded()
        return (200, String(decoding: body, as: UTF8.self), [("X-Upstream", "catalog-1")])
    }

    private let settledNotBought = (200, "{\"applied\":false}", [("X-Upstream", "catalog-1")])

    /// Buys book 5 through a stand-in for nginx's internal listener that answers the purchase
    /// with `purchase` and a settle with `settle`; the answer, and the paths asked.
    /// The order replicas in `recording` record an order the front settled; the others refuse.
    private func purchase(key: Writes.Key, purchase: (Int, String, [(String, String)]),
                          settle: (Int, String, [(String, String)]),
                          recording: Set<String> = ["order-1", "order-2"]) throws -> (Response, [String]) {
        let nginx = try TestHTTPServer(path: socket) { request in
            if request.path.hasSuffix("/replicate") {
                let replica = String(request.path.dropFirst().prefix { $0 != "/" })
                return recording.contains(replica) ? (200, "{}", [("X-Upstream", replica)]) : (503, "{}", [("X-Upstream", replica)])
            }
            return TestSupport.route(request.path).hasPrefix("/settle/") ? settle : purchase
        }
        defer { nginx.stop() }
        let writes = makeWrites(socket)
        let response = writes.purchase(5, key: key, attempt: "a1")
        return (response, nginx.requests.map(\.path))
    }

    /// The front's writes through a stand-in for nginx's internal listener at `socket`.
    private func makeWrites(_ socket: String) -> Writes {
        let client = InternalClient(.unix(path: socket), secret: "test-secret")
        return Writes(client: client, primary: PrimaryCalls(client), orders: ["order-1", "order-2"])
    }

    private let clientKey = Writes.Key(value: "client-k", fromClient: true)

    func testARefusalUnderTheClientsKeyAnswersThePurchaseAnEarlierTryMade() throws {
        for answer in [refusal, notSent] {
            let (response, paths) = try purchase(key: clientKey, purchase: answer, settle: settledBought)
            XCTAssertEqual(response.status, 200, response.text)
            XCTAssertEqual(response.json?["order"]?["number"]?.int64Value, 12)
            XCTAssertEqual(response.header("Idempotent-Replayed"), "true", "the order is an earlier try's")
            XCTAssertEqual(response.header("Idempotency-Key"), "client-k")
            XCTAssertEqual(paths, ["/orders/purchase/5", "/catalog-primary/settle/5", "/order-1/replicate", "/order-2/replicate"],
                           "the order is recorded at the order replicas before it is answered")
        }
    }

    /// A purchase the front found bought is answered 200 only once an order replica holds its
    /// order, so that it is readable at once from either (Accidents item 6); else 504.
    func testAPurchaseSettledAsBoughtThatNoOrderReplicaRecordedIs504() throws {
        let (response, paths) = try purchase(key: clientKey, purchase: refusal, settle: settledBought, recording: [])
        XCTAssertEqual(response.status, 504, response.text)
        XCTAssertEqual(response.json?["error"]?["code"]?.stringValue, "outcome_unknown")
        XCTAssertEqual(paths, ["/orders/purchase/5", "/catalog-primary/settle/5", "/order-1/replicate", "/order-2/replicate"])
        // One is enough: a reader of the other replica reads through to it.
        let (recordedByOne, _) = try purchase(key: clientKey, purchase: refusal, settle: settledBought, recording: ["order-2"])
        XCTAssertEqual(recordedByOne.status, 200, recordedByOne.text)
    }

    func testARefusalUnderTheClientsKeyThatCannotBeSettledIs504() throws {
        for answer in [refusal, notSent] {
            let (response, _) = try purchase(key: clientKey, purchase: answer, settle: unreachable)
            XCTAssertEqual(response.status, 504, response.text)
            XCTAssertEqual(response.json?["error"]?["code"]?.stringValue, "outcome_unknown")
            XCTAssertEqual(response.header("Idempotency-Key"), "client-k")
        }
    }

    func testARefusalUnderTheClientsKeySettledAsNotBoughtStays503() throws {
        let (response, paths) = try purchase(key: clientKey, purchase: refusal, settle: settledNotBought)
        XCTAssertEqual(response.status, 503, response.text)
        XCTAssertEqual(response.json?["error"]?["code"]?.stringValue, "unavailable")
        XCTAssertEqual(paths, ["/orders/purchase/5", "/catalog-primary/settle/5", "/orders/purchase/5", "/catalog-1/settle/5"],
                       "settled as not bought, fast: tried once more (FastRetry), and settled again, at the primary that answered")
    }

    /// A key the stack made names this request alone: no earlier try can have bought under it.
    func testARefusalUnderAKeyTheStackMadeIsAnsweredWithoutASettle() throws {
        let key = Writes.Key(value: "a1", fromClient: false)
        let (refused, refusedPaths) = try purchase(key: key, purchase: refusal, settle: settledBought)
        XCTAssertEqual(refused.status, 503, refused.text)
        XCTAssertEqual(refusedPaths, ["/orders/purchase/5"])
        let (unsent, unsentPaths) = try purchase(key: key, purchase: notSent, settle: settledBought)
        XCTAssertEqual(unsent.status, 503, unsent.text)
        XCTAssertEqual(unsentPaths, ["/orders/purchase/5", "/orders/purchase/5"], "not sent: tried once more, never settled")
    }

    func testARefusedAdditionUnderTheClientsKeyAnswersTheBooksAnEarlierTryAdded() throws {
        let added = Book(id: 8, title: "Distributed Systems", topic: "distributed systems", price: 30, stock: 5, version: 40)
        let settled = JSON.object([("applied", .bool(true)), ("books", .array([added.json]))]).encoded()
        let nginx = try TestHTTPServer(path: socket) { request in
            TestSupport.route(request.path) == "/settle" ? (200, String(decoding: settled, as: UTF8.self), [("X-Upstream", "catalog-1")])
                : (503, "{}", [("X-Upstream", "catalog-1")])
        }
        defer { nginx.stop() }
        let body = Array("{\"title\":\"Distributed Systems\",\"topic\":\"distributed systems\",\"price\":30,\"stock\":5}".utf8)
        let books = try NewBooks.parse(body)
        let writes = makeWrites(socket)
        let response = writes.add(books, body: body, key: clientKey, attempt: "a1")
        XCTAssertEqual(response.status, 201, response.text)
        XCTAssertEqual(response.json?["id"]?.int64Value, 8)
        XCTAssertEqual(response.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(nginx.requests.map(\.path), ["/catalog-primary/books", "/catalog-1/settle"],
                       "settled at the primary that refused the addition")
    }
}
