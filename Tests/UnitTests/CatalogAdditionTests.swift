import Basics
@testable import BazarCore
@testable import Catalog
import Foundation
import HTTPMessages
import Store
import Wire
import XCTest

/// The catalog's side of `POST /books`: new ids, topic invalidations, replays, settles, and
/// the backup's pages of a long catch-up.
extension CatalogTests {
    private func add(_ routes: CatalogRoutes, _ body: String, key: String, attempt: String? = nil) -> Response {
        routes.handle(internalRequest("POST", "/catalog-primary/books",
                                      headers: [WriteIdentity.keyHeader: key, WriteIdentity.attemptHeader: attempt ?? key], body: body))
    }

    private func settleAddition(_ routes: CatalogRoutes, key: String, attempt: String) -> Response {
        routes.handle(internalRequest("POST", "/catalog-primary/settle",
                                      headers: [WriteIdentity.keyHeader: key, WriteIdentity.attemptHeader: attempt]))
    }

    func testPrimaryAddsBooksUnderNewIDsAndInvalidatesTheirTopicsFirst() throws {
        let front = try TestHTTPServer(path: frontSocket) { _ in (200, "{\"dropped\":0}", []) }
        defer { front.stop() }
        let (routes, memory) = try makePrimary(internalSocket: frontSocket)
        let one = add(routes, #"{"title":"Paxos Made Simple","topic":"Distributed Systems","price":9.5,"stock":2}"#, key: "k1")
        XCTAssertEqual(one.status, 201, one.text)
        let book = Book(id: 8, title: "Paxos Made Simple", topic: "Distributed Systems", price: 9.5, stock: 2, version: 1)
        XCTAssertEqual(one.json.flatMap(Book.init(json:)), book)
        XCTAssertNil(one.header("Idempotent-Replayed"))
        XCTAssertEqual(Array(memory.search("distributed systems", Page()).ids), [1, 2, 5, 8])
        XCTAssertEqual(try CatalogStore(path: dbPath, identity: .test).books().last, book)
        let list = add(routes, #"[{"title":"A","topic":"x","price":1,"stock":0},{"title":"B","topic":"X","price":2,"stock":1}]"#,
                       key: "k2")
        XCTAssertEqual(list.status, 201, list.text)
        XCTAssertEqual(list.json?["books"]?.arrayValue?.compactMap(Book.init(json:)).map(\.id), [9, 10])
        XCTAssertEqual(front.requests.map(\.bodyText), [#"{"items":[{"topic":"distributed systems","seq":1}]}"#,
                                                        #"{"items":[{"topic":"x","seq":3}]}"#])
        XCTAssertEqual(memory.applied, 3)
    }

    func testARepeatedAdditionKeyAnswersTheFirstBooksAndAddsNothing() throws {
        let front = try TestHTTPServer(path: frontSocket) { _ in (200, "{\"dropped\":0}", []) }
        defer { front.stop() }
        let (routes, memory) = try makePrimary(internalSocket: frontSocket)
        let body = #"{"title":"Once","topic":"t","price":1,"stock":1}"#
        let first = add(routes, body, key: "client", attempt: "a1")
        let again = add(routes, body, key: "client", attempt: "a2")
        XCTAssertEqual(again.status, 201)
        XCTAssertEqual(again.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(again.text, first.text)
        XCTAssertEqual(memory.largestID, 8)
        let other = add(routes, #"{"title":"Other","topic":"t","price":1,"stock":1}"#, key: "client", attempt: "a3")
        XCTAssertEqual(other.status, 400)
        XCTAssertEqual(memory.largestID, 8)
    }

    func testSettleOfAnAddition() throws {
        let front = try TestHTTPServer(path: frontSocket) { _ in (200, "{\"dropped\":0}", []) }
        defer { front.stop() }
        let (routes, memory) = try makePrimary(internalSocket: frontSocket)
        XCTAssertEqual(add(routes, #"[{"title":"S","topic":"t","price":1,"stock":1}]"#, key: "added").status, 201)
        let applied = settleAddition(routes, key: "added", attempt: "later")
        XCTAssertEqual(applied.json?["applied"], .bool(true))
        XCTAssertEqual(applied.json?["books"]?.arrayValue?.compactMap(Book.init(json:)).map(\.title), ["S"])
        let lost = settleAddition(routes, key: "lost", attempt: "lost-1")
        XCTAssertEqual(lost.json?["applied"], .bool(false))
        XCTAssertEqual(add(routes, #"{"title":"L","topic":"t","price":1,"stock":1}"#, key: "lost", attempt: "lost-1").status, 409,
                       "the attempt settled as not applied is refused for good")
        XCTAssertEqual(memory.largestID, 8)
        XCTAssertEqual(add(routes, #"{"title":"L","topic":"t","price":1,"stock":1}"#, key: "lost", attempt: "lost-2").status, 201)
    }

    func testPrimaryRefusesABadAdditionAndChangesNothing() throws {
        let front = try TestHTTPServer(path: frontSocket) { _ in (200, "{\"dropped\":0}", []) }
        defer { front.stop() }
        let (routes, memory) = try makePrimary(internalSocket: frontSocket)
        XCTAssertEqual(add(routes, #"{"title":"","topic":"t","price":1,"stock":1}"#, key: "bad").status, 400)
        XCTAssertEqual(routes.handle(internalRequest("POST", "/catalog-primary/books", body: "{}")).status, 400, "no key")
        XCTAssertEqual(memory.applied, 0)
        XCTAssertEqual(front.requests.count, 0)
    }

    /// A page of a long catch-up (`up_to` = `after`) is stored and searchable, and `applied` stays.
    func testBackupTakesAPageWithoutMovingApplied() throws {
        let (routes, backup, memory) = try makeBackup()
        let added = Book(id: 8, title: "Paged", topic: "Undergraduate School", price: 1, stock: 1, version: 5)
        let page = backup.replicate(push(after: 0, upTo: 0, books: [added]))
        XCTAssertEqual(page.json?["applied"]?.int64Value, 0)
        XCTAssertEqual(memory.book(8).0, added)
        XCTAssertEqual(Array(memory.search("undergraduate school", Page()).ids), [3, 4, 6, 7, 8])
        XCTAssertEqual(try CatalogStore(path: dbPath, identity: .test).books().last, added, "a new book is inserted, not only updated")
        XCTAssertEqual(backup.replicate(push(after: 0, upTo: 5, lease: lease(backup))).json?["applied"]?.int64Value, 5)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/catalog/info/8")).status, 200)
    }

    func testInvalidationsOverTheBudgetGoInSeveralMessages() {
        let items = (0..<3_000).map { Invalidation.Item(.topic("topic-\($0)"), seq: Int64($0)).json.encoded() }
        let messages = Invalidator.messages(items)
        XCTAssertGreaterThan(messages.count, 1)
        var seen: [Invalidation.Item] = []
        for message in messages {
            XCTAssertLessThanOrEqual(message.count, Invalidator.messageBudget + 100)
            seen += Invalidation(body: message)?.items ?? []
        }
        XCTAssertEqual(seen.map(\.dependency),
                       (0..<3_000).map { CacheDependency.topic("topic-\($0)") })
    }
}
