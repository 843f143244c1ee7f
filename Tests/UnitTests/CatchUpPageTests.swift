import BazarCore
@testable import Catalog
import HTTPMessages
import Wire
import XCTest

/// A page of a catch-up never lets the backup serve; only a complete push makes it current.
extension CatalogTests {
    func testAPageOfACatchUpGrantsNoLeaseAndLeavesTheBackupNotCurrent() throws {
        let (routes, backup, _) = try makeBackup()
        let first = Book(id: 8, title: "t", topic: "x", price: 1, stock: 1, version: 3)
        let second = Book(id: 9, title: "t", topic: "x", price: 1, stock: 1, version: 4)
        let receipt = try XCTUnwrap(backup.replicate(push(after: 0, upTo: 0, books: [first])).json?["receipt"]?.int64Value)
        let page = routes.handle(Request(method: "POST", path: "/catalog-2/replicate",
                                         body: push(after: 0, upTo: 0, books: [second], lease: .init(milliseconds: 500, echo: receipt)), isInternal: true))
        XCTAssertEqual(page.status, 200)
        XCTAssertFalse(backup.readable, "a page granted a lease")
        XCTAssertFalse(backup.isCurrent)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/catalog/info/9")).status, 503)
        let complete = routes.handle(Request(method: "POST", path: "/catalog-2/replicate",
                                             body: push(after: 0, upTo: 5, lease: lease(backup)), isInternal: true))
        XCTAssertEqual(complete.json?["applied"]?.int64Value, 5)
        XCTAssertTrue(backup.readable)
        XCTAssertTrue(backup.isCurrent)
    }

    func testTheBackupAnswersARecoveringPrimaryItsStateAndChangesInPages() throws {
        let (routes, _, memory) = try makeBackup()
        let books = (8...2_000).map { Book(id: Int64($0), title: String(repeating: "t", count: 100), topic: "x", price: 1, stock: 1,
                                           version: Int64($0)) }
        memory.apply(books, applied: 2_000)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/catalog-2/state")).text, #"{"applied":2000,"current":false}"#)
        var after: Int64 = 10
        var pulled: [Book] = []
        while true {
            let page = try XCTUnwrap(routes.handle(internalRequest("GET", "/catalog-2/changes", query: "after=\(after)")).json)
            pulled += page["books"]?.arrayValue?.compactMap(Book.init(json:)) ?? []
            if page["complete"]?.boolValue == true {
                XCTAssertEqual(page["applied"]?.int64Value, 2_000)
                break
            }
            after = try XCTUnwrap(page["through"]?.int64Value)
        }
        XCTAssertEqual(pulled, Array(books.dropFirst(3)), "every book changed after 10, once, oldest first")
    }

    func testARecoveringPrimaryServesNothing() throws {
        let (routes, _) = try makePrimary(internalSocket: frontSocket, leasedFront: false, leading: false)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/catalog/info/3")).status, 503)
        // Refused as its own decision (409), not "not here" (503), which nginx counts as a failure.
        XCTAssertEqual(routes.handle(internalRequest("POST", "/catalog-primary/lease/front")).json?["error"]?["code"]?.stringValue,
                       "lease_refused")
        XCTAssertEqual(routes.handle(internalRequest("GET", "/catalog-primary/takes")).status, 409)
        XCTAssertEqual(routes.handle(internalRequest("POST", "/catalog-primary/update/3", body: #"{"price": 3}"#)).status, 503)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/catalog-1/health")).json?["status"]?.stringValue, "catching_up")
    }
}
