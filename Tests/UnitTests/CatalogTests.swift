import Basics
@testable import BazarCore
@testable import Catalog
import FastCGI
import Foundation
import HTTPMessages
@testable import InternalHTTP
import Store
import Wire
import XCTest

/// Helpers for calling a tier's routes directly with a `Request` value.
extension Response {
    var json: JSON? { try? JSON.parse(body) }
    var text: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
}

func internalRequest(_ method: String, _ path: String, query: String = "", headers: [String: String] = [:],
                     body: String = "") -> Request {
    Request(method: method, path: path, query: query, headers: headers, body: Array(body.utf8), isInternal: true)
}

/// Every path of `table` under `destination` (an id for a route's second segment) with each
/// method none of that path's routes allows: the internal routes answer each 404
/// "No such route.", as they answer any path no tier calls.
func wrongMethods<Endpoint>(_ table: RouteTable<Endpoint>, under destination: String) -> [(method: String, path: String)] {
    table.routes.flatMap { route in
        let allowed = table.routes.filter { $0.name == route.name && $0.arity == route.arity }.flatMap(\.methods)
        let path = "/\(destination)/\(route.name)" + (route.arity == 2 ? "/1" : "")
        return ["GET", "HEAD", "POST", "PUT", "DELETE"].filter { !allowed.contains($0) }.map { ($0, path) }
    }
}

final class CatalogTests: XCTestCase {
    private var directory: URL!
    var dbPath: String { directory.appendingPathComponent("c.db").path }

    override func setUpWithError() throws {
        directory = try TestSupport.makeTemporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// The keys part of a push from a primary that kept no key.
    static let noKeys = ReplicationPush.Keys(after: WriteKey.noneHeld, through: WriteKey.noneHeld, updateKeysFrom: WriteKey.noneHeld, keys: [])

    /// A push; with `lease`, one from a primary that counts the backup in sync.
    func push(after: Int64, upTo: Int64, books: [Book] = [], lease: ReplicationPush.Lease? = nil) -> [UInt8] {
        ReplicationPush(term: Term(epoch: 1, primary: "catalog-1"), after: after, upTo: upTo, complete: upTo > after || books.isEmpty,
                        books: books, keys: Self.noKeys, lease: lease).encoded
    }

    /// A lease of `Replicator.lease` echoing a fresh receipt of `backup` (from a push that changes nothing).
    func lease(_ backup: Backup, ms: Int64 = Replicator.lease.nanoseconds / 1_000_000) -> ReplicationPush.Lease {
        .init(milliseconds: ms, echo: backup.replicate(push(after: 0, upTo: 0)).json.flatMap(PushAnswer.init(json:))?.receipt ?? 0)
    }

    func makeBackup() throws -> (CatalogRoutes, Backup, CatalogMemory) {
        let store = SharedStore(try CatalogStore(path: dbPath, identity: .test))
        let memory = CatalogMemory(books: try store.withLock { try $0.books() }, applied: try store.withLock { try $0.applied() })
        let term = try CatalogTerm(name: "catalog-2", store: store, first: Term(epoch: 1, primary: "catalog-1"))
        let backup = Backup(name: "catalog-2", term: term, store: store, memory: memory)
        let routes = CatalogRoutes(name: "catalog-2", current: .init(.backup(backup)), term: term, reads: CatalogReads(name: "catalog-2", memory: memory),
                                   metrics: RequestMetrics(routes: CatalogRoutes.routeNames))
        return (routes, backup, memory)
    }

    /// A primary whose invalidations and replication go to `internalSocket`, leading at once
    /// unless `leading` is false (the replicator is not started, so writes do not wait for a
    /// backup). With `leasedFront`, a front called `front` holds a read lease from it.
    func makePrimary(internalSocket: String, leasedFront: Bool = true, leading: Bool = true,
                     witnesses: [String] = []) throws -> (CatalogRoutes, CatalogMemory) {
        let store = SharedStore(try CatalogStore(path: dbPath, identity: .test))
        let memory = CatalogMemory(books: try store.withLock { try $0.books() }, applied: try store.withLock { try $0.applied() })
        let client = InternalClient(.unix(path: internalSocket), secret: "test-secret")
        let term = try CatalogTerm(name: "catalog-1", store: store, first: Term(epoch: 1, primary: "catalog-1"))
        let primary = Primary(name: "catalog-1", store: store, memory: memory,
                              invalidator: Invalidator(client: client, leases: FrontLeases(applied: memory.applied, grace: .zero)),
                              replicator: Replicator(client: client, backup: "catalog-2", memory: memory, store: store,
                                                     witnesses: WitnessRecords(client: client, replicas: witnesses, term: term), term: term))
        if leading { primary.lead() }
        let routes = CatalogRoutes(name: "catalog-1", current: .init(.primary(primary)), term: term, reads: CatalogReads(name: "catalog-1", memory: memory),
                                   metrics: RequestMetrics(routes: CatalogRoutes.routeNames))
        if leasedFront { XCTAssertEqual(routes.handle(internalRequest("POST", "/catalog-primary/lease/front")).status, 200) }
        return (routes, memory)
    }

    var frontSocket: String { directory.appendingPathComponent("front.sock").path }

    // MARK: CatalogMemory

    func testMemoryBookAndApplied() {
        let memory = CatalogMemory(books: defaultBooks, applied: 9)
        XCTAssertEqual(memory.applied, 9)
        let (book, seq) = memory.book(6)
        XCTAssertEqual(book, defaultBooks[5])
        XCTAssertEqual(seq, 9)
        XCTAssertNil(memory.book(99).0)
        XCTAssertNil(memory.book(0).0)
    }

    func testMemorySearchIgnoresCaseAndSortsByID() {
        let shuffled = [defaultBooks[4], defaultBooks[0], defaultBooks[6], defaultBooks[1], defaultBooks[2]]
        let memory = CatalogMemory(books: shuffled, applied: 0)
        XCTAssertEqual(Array(memory.search("distributed systems", Page()).ids), [1, 2, 5])
        XCTAssertEqual(Array(memory.search("Distributed SYSTEMS", Page()).ids), [1, 2, 5])
        XCTAssertEqual(Array(memory.search("undergraduate school", Page()).ids), [3, 7])
        XCTAssertTrue(memory.search("distributed", Page()).ids.isEmpty)
        XCTAssertTrue(memory.search("", Page()).ids.isEmpty)
    }

    func testMemorySearchPagesByID() throws {
        let memory = CatalogMemory(books: defaultBooks, applied: 0)
        let first = memory.search("distributed systems", Page(after: 0, limit: 2))
        XCTAssertEqual(Array(first.ids), [1, 2])
        XCTAssertEqual(try JSON.parse(Array("[".utf8) + first.items + Array("]".utf8)),
                       .array([0, 1].map { .object([("id", .int(defaultBooks[$0].id)), ("title", .string(defaultBooks[$0].title))]) }))
        XCTAssertEqual(first.next, .int(2))
        let last = memory.search("distributed systems", Page(after: 2, limit: 2))
        XCTAssertEqual(Array(last.ids), [5])
        XCTAssertEqual(try JSON.parse(Array("[".utf8) + last.items + Array("]".utf8)).arrayValue?.first?["title"]?.stringValue,
                       defaultBooks[4].title)
        XCTAssertEqual(last.next, .null)
        XCTAssertEqual(memory.search("distributed systems", Page(after: 1, limit: 2)).next, .null, "exactly a page left")
        XCTAssertTrue(memory.search("distributed systems", Page(after: 5, limit: 2)).ids.isEmpty)
    }

    /// A new book, applied on the primary or pushed to the backup, is found by its topic at
    /// once (the topic index used to be built only at start).
    func testMemoryApplyIndexesANewBookUnderItsTopic() throws {
        let memory = CatalogMemory(books: defaultBooks, applied: 0)
        let added = Book(id: 8, title: "New", topic: "Distributed Systems", price: 1, stock: 1, version: 1)
        memory.apply([added], applied: 1)
        XCTAssertEqual(Array(memory.search("distributed systems", Page()).ids), [1, 2, 5, 8])
        XCTAssertEqual(memory.largestID, 8)
        // Ids arriving out of order (a backup catching up by version) stay sorted.
        memory.apply([Book(id: 10, title: "Ten", topic: "t", price: 1, stock: 1, version: 2),
                      Book(id: 9, title: "Nine", topic: "T", price: 1, stock: 1, version: 3)], applied: 3)
        XCTAssertEqual(Array(memory.search("t", Page()).ids), [9, 10])
        let items = memory.search("t", Page()).items
        XCTAssertEqual(try JSON.parse(Array("[".utf8) + items + Array("]".utf8)).arrayValue?.compactMap { $0["title"]?.stringValue },
                       ["Nine", "Ten"])
    }

    func testMemoryApplyTakesOnlyNewerVersionsAndAppliedGrows() {
        let memory = CatalogMemory(books: defaultBooks, applied: 0)
        var newer = defaultBooks[0]
        newer.price = 99
        newer.version = 4
        memory.apply([newer], applied: 4)
        XCTAssertEqual(memory.book(1).0, newer)
        XCTAssertEqual(memory.applied, 4)
        var older = defaultBooks[0]
        older.price = 1
        older.version = 3
        memory.apply([older], applied: 3)
        XCTAssertEqual(memory.book(1).0, newer)
        XCTAssertEqual(memory.applied, 4)
    }

    private func changedBooks(_ memory: CatalogMemory, after seq: Int64, budget: Int = 60_000) -> [Book] {
        memory.changes(after: seq, budget: budget).encoded.compactMap { Book(body: $0) }
    }

    func testMemoryChangesAfter() {
        let memory = CatalogMemory(books: defaultBooks, applied: 0)
        XCTAssertEqual(changedBooks(memory, after: 0), [])
        var five = defaultBooks[4]
        five.stock = 1
        five.version = 5
        var three = defaultBooks[2]
        three.stock = 2
        three.version = 3
        memory.apply([five, three], applied: 5)
        let changes = memory.changes(after: 0, budget: 60_000)
        XCTAssertEqual(changedBooks(memory, after: 0), [three, five])
        XCTAssertEqual(changes.applied, 5)
        XCTAssertEqual(changes.through, 5)
        XCTAssertTrue(changes.complete)
        XCTAssertEqual(changedBooks(memory, after: 3), [five])
        XCTAssertEqual(changedBooks(memory, after: 5), [])
        // A book changed again is listed once, at its latest version.
        five.stock = 0
        five.version = 6
        memory.apply([five], applied: 6)
        XCTAssertEqual(changedBooks(memory, after: 0), [three, five])
    }

    /// Changes over the budget come in pages: each holds at least one book, none is skipped.
    func testMemoryChangesComeInPagesWithinTheBudget() {
        let memory = CatalogMemory(books: defaultBooks, applied: 0)
        let added = (8...107).map { Book(id: $0, title: "Book \($0)", topic: "t", price: 1, stock: 1, version: $0 - 7) }
        memory.apply(added, applied: 100)
        var seen: [Book] = []
        var after: Int64 = 0
        while true {
            let page = memory.changes(after: after, budget: 1_000)
            XCTAssertFalse(page.encoded.isEmpty)
            XCTAssertLessThanOrEqual(page.encoded.map(\.count).reduce(0, +), 1_000)
            seen += page.encoded.compactMap { Book(body: $0) }
            if page.complete { break }
            after = page.through
        }
        XCTAssertEqual(seen, added)
        XCTAssertEqual(memory.changes(after: 0, budget: 1).encoded.count, 1, "one book even over the budget")
    }

    // MARK: CatalogRoutes on a backup

    func testBackupWithoutLeaseAnswersReads503() throws {
        let (routes, _, _) = try makeBackup()
        for path in ["/catalog/info/1", "/catalog/search/distributed%20systems", "/catalog-2/info/6"] {
            let response = routes.handle(internalRequest("GET", path))
            XCTAssertEqual(response.status, 503, path)
            XCTAssertEqual(response.json?["error"]?["code"]?.stringValue, "unavailable", path)
            XCTAssertEqual(response.header("X-Upstream"), "catalog-2", path)
        }
    }

    func testBackupHealthWithoutLeaseIsCatchingUp() throws {
        let (routes, _, _) = try makeBackup()
        let response = routes.handle(internalRequest("GET", "/catalog-2/health"))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, "{\"name\":\"catalog-2\",\"role\":\"backup\",\"status\":\"catching_up\",\"applied\":0,\"epoch\":1,\"primary\":\"catalog-1\"}")
        XCTAssertEqual(response.header("X-Upstream"), "catalog-2")
    }

    func testInSyncPushGrantsALeaseForReads() throws {
        let (routes, backup, _) = try makeBackup()
        let pushed = routes.handle(Request(method: "POST", path: "/catalog-2/replicate",
                                           body: push(after: 0, upTo: 0, lease: lease(backup)), isInternal: true))
        XCTAssertEqual(pushed.status, 200)
        XCTAssertEqual(pushed.json?["applied"]?.int64Value, 0)
        XCTAssertNotNil(pushed.json?["receipt"]?.int64Value)
        let info = routes.handle(internalRequest("GET", "/catalog/info/6"))
        XCTAssertEqual(info.status, 200)
        XCTAssertEqual(info.json.flatMap(Book.init(json:)), defaultBooks[5])
        XCTAssertEqual(info.header("X-Bazar-Seq"), "0")
        XCTAssertEqual(info.header("X-Bazar-Books"), "6")
        let health = routes.handle(internalRequest("GET", "/catalog-2/health"))
        XCTAssertEqual(health.json?["status"]?.stringValue, "up")
    }

    func testLeasedBackupSearch() throws {
        let (routes, backup, _) = try makeBackup()
        _ = backup.replicate(push(after: 0, upTo: 0, lease: lease(backup)))
        let response = routes.handle(internalRequest("GET", "/catalog/search/Distributed%20Systems"))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.json?["topic"]?.stringValue, "distributed systems")
        XCTAssertEqual(response.json?["items"]?.arrayValue?.compactMap { $0["id"]?.int64Value }, [1, 2, 5])
        XCTAssertEqual(response.json?["items"]?.arrayValue?.first?["title"]?.stringValue, defaultBooks[0].title)
        XCTAssertEqual(response.header("X-Bazar-Books"), "1,2,5")
        let unknown = routes.handle(internalRequest("GET", "/catalog/search/cooking"))
        XCTAssertEqual(unknown.status, 200)
        XCTAssertEqual(unknown.text, "{\"topic\":\"cooking\",\"items\":[],\"next\":null}")
        XCTAssertEqual(unknown.header("X-Bazar-Books"), "")
        XCTAssertEqual(routes.handle(internalRequest("GET", "/catalog/search/%FF")).status, 400)
    }

    func testExpiredLeaseAnswers503Again() throws {
        let (routes, backup, _) = try makeBackup()
        _ = backup.replicate(push(after: 0, upTo: 0, lease: lease(backup, ms: 0)))
        XCTAssertFalse(backup.leased)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/catalog/info/1")).status, 503)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/catalog-2/health")).json?["status"]?.stringValue, "catching_up")
        _ = backup.replicate(push(after: 0, upTo: 0, lease: lease(backup)))
        XCTAssertTrue(backup.leased)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/catalog/info/1")).status, 200)
    }

    /// The lease runs from the making of the receipt a push echoes, on the backup's own clock:
    /// an unknown receipt (a stale push, or one from before a restart) grants nothing, and a
    /// push that arrives late cannot stretch a lease past its primary's count.
    func testLeaseCountsFromTheEchoedReceipt() throws {
        let (_, backup, _) = try makeBackup()
        _ = backup.replicate(push(after: 0, upTo: 0, lease: .init(milliseconds: 500, echo: 12345)))
        XCTAssertFalse(backup.leased, "an unknown receipt grants no lease")
        let old = lease(backup, ms: 300)
        for _ in 0..<(8 + 1) { _ = backup.replicate(push(after: 0, upTo: 0)) }
        _ = backup.replicate(push(after: 0, upTo: 0, lease: old))
        XCTAssertFalse(backup.leased, "a receipt older than the last eight grants no lease")
        let early = lease(backup, ms: 300)
        Thread.sleep(forTimeInterval: 0.35)
        _ = backup.replicate(push(after: 0, upTo: 0, lease: early))
        XCTAssertFalse(backup.leased, "a push that arrives after its lease ran out grants nothing")
        _ = backup.replicate(push(after: 0, upTo: 0, lease: lease(backup, ms: 300)))
        XCTAssertTrue(backup.leased)
    }

    func testPushNotInSyncAppliesButGrantsNoLease() throws {
        let (routes, backup, memory) = try makeBackup()
        var book = defaultBooks[0]
        book.price = 99
        book.stock = 3
        book.version = 2
        let response = backup.replicate(push(after: 0, upTo: 2, books: [book]))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.json?["applied"]?.int64Value, 2)
        XCTAssertEqual(memory.book(1).0, book)
        XCTAssertEqual(memory.applied, 2)
        XCTAssertFalse(backup.leased)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/catalog/info/1")).status, 503)
        // The push was committed to the store before it was acknowledged.
        let store = try CatalogStore(path: dbPath, identity: .test)
        XCTAssertEqual(try store.books()[0], book)
        XCTAssertEqual(try store.applied(), 2)
    }

    func testPushStartingAfterWhatTheBackupHoldsIs409WithItsApplied() throws {
        let (routes, backup, memory) = try makeBackup()
        var book = defaultBooks[1]
        book.version = 7
        book.stock = 0
        let response = backup.replicate(push(after: 5, upTo: 7, books: [book], lease: lease(backup)))
        XCTAssertEqual(response.status, 409)
        XCTAssertEqual(response.json?["applied"]?.int64Value, 0)
        XCTAssertEqual(memory.book(2).0, defaultBooks[1])
        XCTAssertEqual(memory.applied, 0)
        XCTAssertFalse(backup.leased, "a gap must not grant a lease")
        XCTAssertEqual(routes.handle(internalRequest("GET", "/catalog/info/2")).status, 503)
    }

    func testRepeatedAndOlderPushesChangeNothing() throws {
        let (_, backup, memory) = try makeBackup()
        var book = defaultBooks[3]
        book.stock = 9
        book.version = 4
        XCTAssertEqual(backup.replicate(push(after: 0, upTo: 4, books: [book])).status, 200)
        XCTAssertEqual(backup.replicate(push(after: 0, upTo: 4, books: [book])).status, 200)
        var older = defaultBooks[3]
        older.stock = 50
        older.version = 3
        let response = backup.replicate(push(after: 2, upTo: 3, books: [older]))
        XCTAssertEqual(response.json?["applied"]?.int64Value, 4)
        XCTAssertEqual(memory.book(4).0, book)
        XCTAssertEqual(try CatalogStore(path: dbPath, identity: .test).books()[3], book)
    }

    func testMalformedPushIs400() throws {
        let (routes, backup, memory) = try makeBackup()
        for body in ["", "{}", "not json", "{\"after\":0,\"up_to\":1,\"lease\":\"yes\",\"books\":[]}",
                     "{\"after\":0,\"up_to\":1,\"lease\":{\"ms\":500},\"books\":[]}",
                     "{\"after\":0,\"up_to\":1,\"lease\":{\"ms\":-1,\"echo\":1},\"books\":[]}",
                     "{\"after\":0,\"up_to\":1}"] {
            let response = routes.handle(internalRequest("POST", "/catalog-2/replicate", body: body))
            XCTAssertEqual(response.status, 400, body)
        }
        XCTAssertEqual(memory.applied, 0)
        XCTAssertFalse(backup.leased)
    }

    func testBackupRefusesPrimaryOperations() throws {
        let (routes, _, memory) = try makeBackup()
        let take = routes.handle(internalRequest("POST", "/catalog-primary/take/1", headers: ["X-Bazar-Key": "k"]))
        XCTAssertEqual(take.status, 503, "nginx passes it to the other replica")
        XCTAssertEqual(take.header("X-Bazar-Not-Sent"), "true")
        XCTAssertNil(take.header("X-Upstream"))
        XCTAssertEqual(take.header("X-Bazar-Primary"), "catalog-1", "it names the primary it knows, for callers (PrimaryRouting)")
        XCTAssertEqual(routes.handle(internalRequest("POST", "/catalog-primary/update/1", body: "{\"price\":2}")).status, 503)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/catalog-primary/takes", query: "after=0")).status, 503)
        XCTAssertEqual(memory.book(1).0, defaultBooks[0])
    }

    func testRoutingErrors() throws {
        let (routes, backup, _) = try makeBackup()
        _ = backup.replicate(push(after: 0, upTo: 0, lease: lease(backup)))
        let publicRequest = Request(method: "GET", path: "/catalog/info/1")
        XCTAssertEqual(routes.handle(publicRequest).status, 503, "a public request never belongs to a replica")
        XCTAssertEqual(routes.handle(internalRequest("GET", "/catalog")).status, 404)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/")).status, 404)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/catalog/nothing")).status, 404)
        XCTAssertEqual(routes.handle(internalRequest("POST", "/catalog/info/1")).status, 404)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/catalog/info/1/extra")).status, 404)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/catalog/info/0")).status, 400)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/catalog/info/abc")).status, 400)
        let unknown = routes.handle(internalRequest("GET", "/catalog/info/99"))
        XCTAssertEqual(unknown.status, 404)
        XCTAssertEqual(unknown.json?["error"]?["code"]?.stringValue, "not_found")
        XCTAssertEqual(routes.handle(internalRequest("GET", "/catalog/info/é")).status, 404)
    }

    func testAWrongMethodOrAnUnknownOperationIs404OnBothRoles() throws {
        let (backup, _, _) = try makeBackup()
        let (primary, _) = try makePrimary(internalSocket: frontSocket, leasedFront: false)
        let requests = wrongMethods(CatalogRoutes.table, under: "catalog") + [("GET", "/catalog/nothing"), ("POST", "/catalog/take")]
        for routes in [backup, primary] {
            for (method, path) in requests {
                let answer = routes.handle(internalRequest(method, path, headers: [WriteIdentity.keyHeader: "k"]))
                XCTAssertEqual(answer.status, 404, "\(method) \(path)")
                XCTAssertEqual(answer.json?["error"]?["message"]?.stringValue, "No such route.", "\(method) \(path)")
                XCTAssertNil(answer.header("Allow"), "\(method) \(path)")
            }
        }
    }

    func testBackupRefusesPushesOfAnOlderEpoch() throws {
        let (_, backup, _) = try makeBackup()
        func push(_ epoch: Int64, _ primary: String) -> Response {
            backup.replicate(ReplicationPush(term: Term(epoch: epoch, primary: primary), after: 0, upTo: 0, complete: true, books: [],
                                             keys: Self.noKeys).encoded)
        }
        XCTAssertEqual(push(2, "catalog-2").status, 200, "a newer epoch is adopted")
        let stale = push(1, "catalog-1")
        XCTAssertEqual(stale.status, 409)
        XCTAssertEqual(StaleEpoch(status: stale.status, body: stale.body)?.known, Term(epoch: 2, primary: "catalog-2"))
        XCTAssertEqual(push(2, "catalog-1").status, 409, "another primary claiming the same epoch")
        XCTAssertEqual(backup.replicate(Array(#"{"after":0,"up_to":0,"books":[]}"#.utf8)).status, 400, "a push names its term")
        let (reopened, _, _) = try makeBackup()
        XCTAssertEqual(reopened.handle(internalRequest("GET", "/catalog-2/health")).json?["epoch"]?.int64Value, 2, "kept in the store")
    }

    // MARK: CatalogRoutes on a primary

    func testPrimaryReadsAndHealthNeedNoLease() throws {
        let (routes, _) = try makePrimary(internalSocket: frontSocket)
        XCTAssertEqual(routes.handle(internalRequest("GET", "/catalog/info/3")).json.flatMap(Book.init(json:)), defaultBooks[2])
        let health = routes.handle(internalRequest("GET", "/catalog-1/health"))
        XCTAssertEqual(health.text, "{\"name\":\"catalog-1\",\"role\":\"primary\",\"status\":\"up\",\"applied\":0,\"epoch\":1,\"primary\":\"catalog-1\"}")
        XCTAssertEqual(routes.handle(internalRequest("POST", "/catalog-1/replicate", body: "{}")).status, 503)
    }

    func testPrimaryUpdateInvalidatesTheFrontBeforeCommitting() throws {
        let path = dbPath
        let versionsSeen = LockedBox<[Int64]>([])
        let front = try TestHTTPServer(path: frontSocket) { _ in
            // What the store holds while the front is dropping its copies.
            let version = (try? CatalogStore(path: path, identity: .test).books()[0].version) ?? -1
            versionsSeen.withLock { $0.append(version) }
            return (200, "{\"dropped\":1}", [])
        }
        defer { front.stop() }
        let (routes, memory) = try makePrimary(internalSocket: frontSocket)
        let response = routes.handle(internalRequest("POST", "/catalog-primary/update/1", body: "{\"price\":12.5,\"stock_delta\":-10}"))
        XCTAssertEqual(response.status, 200, response.text)
        var expected = defaultBooks[0]
        expected.price = 12.5
        expected.stock -= 10
        expected.version = 1
        XCTAssertEqual(response.json.flatMap(Book.init(json:)), expected)
        XCTAssertEqual(response.header("X-Upstream"), "catalog-1")
        XCTAssertEqual(memory.book(1).0, expected)
        XCTAssertEqual(memory.applied, 1)
        XCTAssertEqual(try CatalogStore(path: dbPath, identity: .test).books()[0], expected)
        XCTAssertEqual(front.requests.map(\.path), ["/front/invalidate"])
        XCTAssertEqual(front.requests.first?.method, "POST")
        XCTAssertEqual(front.requests.first?.bodyText, "{\"items\":[{\"book\":1,\"seq\":1}]}")
        XCTAssertEqual(versionsSeen.withLock { $0 }, [0], "the invalidation must happen before the write is stored")
    }

    func testPrimaryRejectedUpdateChangesNothingAndInvalidatesNothing() throws {
        let front = try TestHTTPServer(path: frontSocket) { _ in (200, "{\"dropped\":0}", []) }
        defer { front.stop() }
        let (routes, memory) = try makePrimary(internalSocket: frontSocket)
        let below = routes.handle(internalRequest("POST", "/catalog-primary/update/2", body: "{\"stock_delta\":-101}"))
        XCTAssertEqual(below.status, 409)
        XCTAssertEqual(below.json?["error"]?["code"]?.stringValue, "out_of_stock")
        XCTAssertEqual(routes.handle(internalRequest("POST", "/catalog-primary/update/2", body: "{\"stock\":-1}")).status, 400)
        XCTAssertEqual(routes.handle(internalRequest("POST", "/catalog-primary/update/99", body: "{\"stock\":1}")).status, 404)
        XCTAssertEqual(memory.book(2).0, defaultBooks[1])
        XCTAssertEqual(memory.applied, 0)
        XCTAssertEqual(front.requests.count, 0)
        XCTAssertEqual(try CatalogStore(path: dbPath, identity: .test).applied(), 0)
    }

    func testPrimaryTakeReplayAndKeyReuse() throws {
        let front = try TestHTTPServer(path: frontSocket) { _ in (200, "{\"dropped\":0}", []) }
        defer { front.stop() }
        let (routes, memory) = try makePrimary(internalSocket: frontSocket)
        let first = routes.handle(internalRequest("POST", "/catalog-primary/take/3", headers: ["X-Bazar-Key": "client:a"]))
        XCTAssertEqual(first.status, 200, first.text)
        let order = try XCTUnwrap(first.json?["order"].flatMap(Order.init(json:)))
        XCTAssertEqual(order.number, 1)
        XCTAssertEqual(order.bookID, 3)
        XCTAssertEqual(order.key, "client:a")
        XCTAssertEqual(order.title, defaultBooks[2].title)
        XCTAssertEqual(first.json?["replayed"]?.boolValue, false)
        XCTAssertEqual(first.json?["book"].flatMap(Book.init(json:))?.stock, defaultBooks[2].stock - 1)
        XCTAssertEqual(first.json?["book"].flatMap(Book.init(json:))?.version, 1)

        let second = routes.handle(internalRequest("POST", "/catalog-primary/take/3", headers: ["X-Bazar-Key": "client:b"]))
        XCTAssertEqual(second.json?["order"]?["number"]?.int64Value, 2)

        let replay = routes.handle(internalRequest("POST", "/catalog-primary/take/3", headers: ["X-Bazar-Key": "client:a"]))
        XCTAssertEqual(replay.status, 200)
        XCTAssertEqual(replay.json?["replayed"]?.boolValue, true)
        XCTAssertEqual(replay.json?["order"].flatMap(Order.init(json:)), order)
        XCTAssertEqual(memory.book(3).0?.stock, defaultBooks[2].stock - 2, "a replay buys nothing more")

        let otherBook = routes.handle(internalRequest("POST", "/catalog-primary/take/4", headers: ["X-Bazar-Key": "client:a"]))
        XCTAssertEqual(otherBook.status, 400)
        XCTAssertEqual(memory.book(4).0, defaultBooks[3])

        XCTAssertEqual(routes.handle(internalRequest("POST", "/catalog-primary/take/99", headers: ["X-Bazar-Key": "c"])).status, 404)
        XCTAssertEqual(memory.applied, 2)
        XCTAssertEqual(front.requests.map(\.bodyText), ["{\"items\":[{\"book\":3,\"seq\":1}]}", "{\"items\":[{\"book\":3,\"seq\":2}]}"])

        let takes = routes.handle(internalRequest("GET", "/catalog-primary/takes", query: "after=1"))
        XCTAssertEqual(takes.status, 200)
        XCTAssertEqual(takes.json?["orders"]?.arrayValue?.compactMap(Order.init(json:)).map(\.key), ["client:b"])
        let all = routes.handle(internalRequest("GET", "/catalog-primary/takes"))
        XCTAssertEqual(all.json?["orders"]?.arrayValue?.count, 2)
    }

    /// A take committed but neither replicated nor recorded by a witness is not served to an
    /// order replica catching up: a backup promoted after this primary died would otherwise
    /// get it back from the order replicas, reviving a take its caller heard was not made.
    func testTakesServeOnlyAcknowledgedOrders() throws {
        let tiers = try TestHTTPServer(path: frontSocket) { request in
            request.path.hasSuffix("/invalidate") ? (200, "{\"dropped\":0}", []) : (503, "{}", [("X-Bazar-Not-Sent", "true")])
        }
        defer { tiers.stop() }
        let (routes, memory) = try makePrimary(internalSocket: frontSocket, witnesses: ["order-1"])
        let take = routes.handle(internalRequest("POST", "/catalog-primary/take/3", headers: ["X-Bazar-Key": "k1"]))
        XCTAssertEqual(take.status, 504, "neither the backup nor a witness holds it: " + take.text)
        XCTAssertEqual(memory.book(3).0?.stock, defaultBooks[2].stock - 1, "committed here")
        let takes = routes.handle(internalRequest("GET", "/catalog-primary/takes"))
        XCTAssertEqual(takes.status, 200)
        XCTAssertEqual(takes.json?["orders"]?.arrayValue?.count, 0, "a take not acknowledged was served")
    }

    func testPrimaryTakeAtStockZeroIs409AndChangesNothing() throws {
        let front = try TestHTTPServer(path: frontSocket) { _ in (200, "{\"dropped\":0}", []) }
        defer { front.stop() }
        let (routes, memory) = try makePrimary(internalSocket: frontSocket)
        XCTAssertEqual(routes.handle(internalRequest("POST", "/catalog-primary/update/5", body: "{\"stock\":1}")).status, 200)
        XCTAssertEqual(routes.handle(internalRequest("POST", "/catalog-primary/take/5", headers: ["X-Bazar-Key": "k1"])).status, 200)
        let empty = routes.handle(internalRequest("POST", "/catalog-primary/take/5", headers: ["X-Bazar-Key": "k2"]))
        XCTAssertEqual(empty.status, 409)
        XCTAssertEqual(empty.json?["error"]?["code"]?.stringValue, "out_of_stock")
        XCTAssertEqual(memory.book(5).0?.stock, 0)
        XCTAssertEqual(memory.applied, 2)
        XCTAssertEqual(front.requests.count, 2, "no invalidation for a take that cannot happen")
        let store = try CatalogStore(path: dbPath, identity: .test)
        XCTAssertEqual(try store.takes(after: 0, limit: 10).map(\.key), ["k1"])
        XCTAssertEqual(try store.books()[4].stock, 0)
    }

    /// A batch of takes (`/catalog-primary/take-batch`) answers each take as it would be
    /// answered alone, in the batch's order: bought, out of stock, a replay of a key already
    /// bought, a key reused on another book, a book that does not exist.
    func testPrimaryTakeBatchAnswersEachTakeAlone() throws {
        let front = try TestHTTPServer(path: frontSocket) { _ in (200, "{\"dropped\":0}", []) }
        defer { front.stop() }
        let (routes, memory) = try makePrimary(internalSocket: frontSocket)
        XCTAssertEqual(routes.handle(internalRequest("POST", "/catalog-primary/update/5", body: "{\"stock\":1}")).status, 200)
        let batch = TakeBatch([.init(book: 5, key: "k1", attempt: "k1"), .init(book: 5, key: "k2", attempt: "k2"),
                               .init(book: 5, key: "k1", attempt: "k1.again"), .init(book: 4, key: "k1", attempt: "k1.other"),
                               .init(book: 99, key: "k3", attempt: "k3")])
        let answer = routes.handle(internalRequest("POST", "/catalog-primary/take-batch", body: String(decoding: batch.json.encoded(), as: UTF8.self)))
        XCTAssertEqual(answer.status, 200, answer.text)
        XCTAssertEqual(answer.header("X-Upstream"), "catalog-1")
        let answers = try XCTUnwrap(TakeBatchAnswer(body: answer.body)?.answers)
        XCTAssertEqual(answers.map(\.status), [200, 409, 200, 400, 404])
        let bought = try XCTUnwrap(TakeAnswer(json: answers[0].body))
        XCTAssertEqual(bought.order.key, "k1")
        XCTAssertEqual(bought.book.stock, 0)
        XCTAssertFalse(answers[0].replayed)
        XCTAssertEqual(answers[1].body["error"]?["code"]?.stringValue, "out_of_stock")
        XCTAssertTrue(answers[2].replayed)
        XCTAssertEqual(TakeAnswer(json: answers[2].body)?.order, bought.order)
        XCTAssertEqual(memory.book(5).0?.stock, 0)
        XCTAssertEqual(memory.book(4).0, defaultBooks[3])
        let store = try CatalogStore(path: dbPath, identity: .test)
        XCTAssertEqual(try store.takes(after: 0, limit: 10).map(\.key), ["k1"])
        for body in ["", "{}", #"{"takes":[]}"#, #"{"takes":[{"book":5}]}"#] {
            XCTAssertEqual(routes.handle(internalRequest("POST", "/catalog-primary/take-batch", body: body)).status, 400, body)
        }
        XCTAssertEqual(try store.takes(after: 0, limit: 10).count, 1, "a malformed batch takes nothing")
    }

    func testPrimaryWaitsOutAFrontThatDoesNotConfirmThenLeasesItFresh() throws {
        for answer in [(500, "{}"), (502, "bad gateway")] {
            let front = try TestHTTPServer(path: frontSocket) { _ in (answer.0, answer.1, []) }
            defer { front.stop() }
            let (routes, memory) = try makePrimary(internalSocket: frontSocket, leasedFront: false)
            let held = try XCTUnwrap(routes.handle(internalRequest("POST", "/catalog-primary/lease/front")).json?["lease"]?.int64Value)
            XCTAssertEqual(routes.handle(internalRequest("POST", "/catalog-primary/lease/front", query: "lease=\(held)")).json?["fresh"], .bool(false))
            let start = Monotonic.now()
            let update = routes.handle(internalRequest("POST", "/catalog-primary/update/1", body: "{\"price\":3}"))
            XCTAssertEqual(update.status, 200, update.text)
            XCTAssertGreaterThanOrEqual(Monotonic.now() - start, FrontLeases.duration.nanoseconds * 9 / 10,
                                        "applied only once the front's lease has run out")
            XCTAssertEqual(memory.book(1).0?.price, 3)
            let lease = routes.handle(internalRequest("POST", "/catalog-primary/lease/front", query: "lease=\(held)"))
            XCTAssertEqual(lease.json?["fresh"], .bool(true), "the front empties its cache before it serves again")
            XCTAssertEqual(lease.json?["announced"]?.int64Value, 1)
            try FileManager.default.removeItem(atPath: dbPath)
        }
    }

    /// A primary whose backup, counted in sync, took no push lately cannot show that it still
    /// leads: it refuses a front's lease as its own decision, 409 `lease_refused`, never a 503
    /// (on `/catalog-primary/` nginx reads a 503 as "not the primary" and counts the replica
    /// failed for a second, turning the primary's writes away).
    func testAPrimaryThatCannotShowItLeadsRefusesALeaseAsItsOwnDecision() throws {
        let (routes, _) = try makePrimary(internalSocket: directory.appendingPathComponent("none.sock").path, leasedFront: false,
                                          witnesses: ["order-1"])
        guard case .primary(let primary) = routes.current.now else { return XCTFail("not a primary") }
        primary.replicator.start(backupInSync: true)
        let refused = routes.handle(internalRequest("POST", "/catalog-primary/lease/front"))
        XCTAssertEqual(refused.status, 409, refused.text)
        XCTAssertEqual(refused.json?["error"]?["code"]?.stringValue, "lease_refused")
    }

    func testPrimaryWithoutALeasedFrontTellsNoOne() throws {
        let (routes, memory) = try makePrimary(internalSocket: directory.appendingPathComponent("none.sock").path, leasedFront: false)
        XCTAssertEqual(routes.handle(internalRequest("POST", "/catalog-primary/update/1", body: "{\"price\":3}")).status, 200)
        XCTAssertEqual(memory.book(1).0?.price, 3)
    }

    // MARK: Settling

    private func write(_ routes: CatalogRoutes, _ operation: String, _ id: Int64, key: String, attempt: String,
                       body: String = "") -> Response {
        routes.handle(internalRequest("POST", "/catalog-primary/\(operation)/\(id)",
                                      headers: [WriteIdentity.keyHeader: key, WriteIdentity.attemptHeader: attempt], body: body))
    }

    func testSettleFindsAnAppliedTakeAndItsOrder() throws {
        let front = try TestHTTPServer(path: frontSocket) { _ in (200, "{\"dropped\":0}", []) }
        defer { front.stop() }
        let (routes, _) = try makePrimary(internalSocket: frontSocket)
        let taken = write(routes, "take", 2, key: "k", attempt: "a1")
        XCTAssertEqual(taken.status, 200)
        let settled = write(routes, "settle", 2, key: "k", attempt: "a2")
        XCTAssertEqual(settled.status, 200)
        XCTAssertEqual(settled.json?["applied"], .bool(true))
        XCTAssertEqual(settled.json?["order"], taken.json?["order"])
        XCTAssertEqual(settled.json?["book"]?["stock"]?.int64Value, defaultBooks[1].stock - 1)
        XCTAssertEqual(write(routes, "settle", 3, key: "k", attempt: "a3").json?["applied"], .bool(false),
                       "the key bought another book: not this write")
    }

    func testASettledAttemptIsRefusedForGoodButTheKeyMayBeRetried() throws {
        let front = try TestHTTPServer(path: frontSocket) { _ in (200, "{\"dropped\":0}", []) }
        defer { front.stop() }
        let (routes, memory) = try makePrimary(internalSocket: frontSocket)
        XCTAssertEqual(write(routes, "settle", 4, key: "k", attempt: "lost").json?["applied"], .bool(false))
        let late = write(routes, "take", 4, key: "k", attempt: "lost")
        XCTAssertEqual(late.status, 409, "the attempt settled as not applied arrives late: refused")
        XCTAssertEqual(late.json?["error"]?["code"]?.stringValue, "attempt_settled")
        XCTAssertEqual(memory.book(4).0?.stock, defaultBooks[3].stock)
        XCTAssertEqual(write(routes, "take", 4, key: "k", attempt: "retry").status, 200, "a new attempt under the key buys")
        XCTAssertEqual(memory.book(4).0?.stock, defaultBooks[3].stock - 1)
        // Durable: a primary restarted on the same file still refuses it.
        let (restarted, _) = try makePrimary(internalSocket: frontSocket)
        XCTAssertEqual(write(restarted, "take", 4, key: "k2", attempt: "lost").status, 409)
    }

    func testSettleOfAnUpdate() throws {
        let front = try TestHTTPServer(path: frontSocket) { _ in (200, "{\"dropped\":0}", []) }
        defer { front.stop() }
        let (routes, memory) = try makePrimary(internalSocket: frontSocket)
        XCTAssertEqual(write(routes, "update", 1, key: "u1", attempt: "u1", body: "{\"price\":9.5}").status, 200)
        let applied = write(routes, "settle", 1, key: "u1", attempt: "u1")
        XCTAssertEqual(applied.json?["applied"], .bool(true))
        XCTAssertEqual(applied.json?["book"]?["price"]?.doubleValue, 9.5)
        XCTAssertNil(applied.json?["order"])
        let again = write(routes, "update", 1, key: "u1", attempt: "u1", body: "{\"stock_delta\":1}")
        XCTAssertEqual(again.header("Idempotent-Replayed"), "true", "an update under a key applied is not applied again")
        XCTAssertEqual(memory.book(1).0?.stock, defaultBooks[0].stock)
        XCTAssertEqual(write(routes, "settle", 1, key: "u2", attempt: "u2").json?["applied"], .bool(false))
        XCTAssertEqual(write(routes, "update", 1, key: "u2", attempt: "u2", body: "{\"price\":1}").status, 409)
        XCTAssertEqual(memory.book(1).0?.price, 9.5)
    }
    /// Each abort is a write with a sequence number of its own, even in a batch that holds
    /// nothing else and follows one that ended with an abort: the key cursor never skips one.
    func testEachAbortTakesASequenceNumberOfItsOwn() throws {
        let front = try TestHTTPServer(path: frontSocket) { _ in (200, "{\"dropped\":0}", []) }
        defer { front.stop() }
        let (routes, memory) = try makePrimary(internalSocket: frontSocket)
        XCTAssertEqual(write(routes, "update", 1, key: "u", attempt: "u", body: "{\"price\":2}").status, 200)
        for attempt in ["b", "a"] {
            XCTAssertEqual(write(routes, "settle", 2, key: attempt, attempt: attempt).json?["applied"], .bool(false))
        }
        XCTAssertEqual(memory.applied, 3)
        let store = try CatalogStore(path: dbPath, identity: .test)
        XCTAssertEqual(try store.keys(after: 1, limit: 1).keys, [WriteKey(.abort, key: "b", seq: 2)])
        XCTAssertEqual(try store.keys(after: 2, limit: 1).keys, [WriteKey(.abort, key: "a", seq: 3)],
                       "the second abort, though its key sorts first, comes after the cursor")
    }

    /// The backup stores the keys of a push before its books, refuses (409, naming its cursor)
    /// keys that start after what it holds, and is current only after a push that carries keys.
    func testTheBackupTakesKeysByItsCursor() throws {
        let (_, backup, _) = try makeBackup()
        let term = Term(epoch: 1, primary: "catalog-1")
        let key = WriteKey(.addition, key: "k", bookID: 8, seq: 1)
        let book = Book(id: 8, title: "New", topic: "t", price: 1, stock: 1, version: 1)
        func push(keys: ReplicationPush.Keys?, books: [Book] = [], upTo: Int64 = 0) -> Response {
            backup.replicate(ReplicationPush(term: term, after: 0, upTo: upTo, complete: true, books: books, keys: keys).encoded)
        }
        XCTAssertEqual(push(keys: nil).status, 200)
        XCTAssertFalse(backup.isCurrent, "a push without keys is a page")
        let ahead = push(keys: .init(after: 0, through: 1, updateKeysFrom: 0, keys: [key]), books: [book], upTo: 1)
        XCTAssertEqual(ahead.status, 409)
        XCTAssertEqual(ahead.json.flatMap(PushAnswer.init(json:))?.keys, WriteKey.noneHeld)
        XCTAssertFalse(backup.isCurrent)
        let taken = push(keys: .init(after: WriteKey.noneHeld, through: 1, updateKeysFrom: 0, keys: [key]), books: [book], upTo: 1)
        XCTAssertEqual(taken.status, 200)
        XCTAssertEqual(taken.json.flatMap(PushAnswer.init(json:))?.keys, 1)
        XCTAssertTrue(backup.isCurrent)
        XCTAssertEqual(try CatalogStore(path: dbPath, identity: .test).books(addedUnder: "k"), [8])
    }

    /// A backup may hold keys of writes whose books it lacks: a push brings the keys through the
    /// primary's latest write, its books may stop short of it (a page, or a write committed
    /// between the two reads). Promoted, it forgets them before it leads (`Recovery`): a settle
    /// there of such a write answers "not applied", never "applied" with a book the write did
    /// not change; one of a write it holds answers "applied"; its writes number on from `applied`.
    func testAPromotedBackupForgetsTheKeysOfWritesWhoseBooksItLacks() throws {
        let (_, backup, memory) = try makeBackup()
        var held = defaultBooks[0]
        held.price = 9
        held.version = 1
        let keys = [WriteKey(.update, key: "held", bookID: 1, seq: 1), WriteKey(.update, key: "lacked", bookID: 2, seq: 2),
                    WriteKey(.addition, key: "added", bookID: 8, seq: 3)]
        let push = ReplicationPush(term: Term(epoch: 1, primary: "catalog-1"), after: 0, upTo: 1, complete: true, books: [held],
                                   keys: .init(after: WriteKey.noneHeld, through: 3, updateKeysFrom: 1, keys: keys))
        XCTAssertEqual(backup.replicate(push.encoded).status, 200)
        XCTAssertEqual(memory.applied, 1)

        let store = SharedStore(try CatalogStore(path: dbPath, identity: .test))
        let client = InternalClient(.unix(path: frontSocket), secret: "test-secret")
        let term = try CatalogTerm(name: "catalog-2", store: store, first: Term(epoch: 2, primary: "catalog-2"))
        let primary = Primary(name: "catalog-2", store: store, memory: memory,
                              invalidator: Invalidator(client: client, leases: FrontLeases(applied: memory.applied, grace: .zero)),
                              replicator: Replicator(client: client, backup: "catalog-1", memory: memory, store: store,
                                                     witnesses: WitnessRecords(client: client, replicas: [], term: term), term: term),
                              won: true)
        Recovery(primary: primary, client: client, backup: "catalog-1", witnesses: [], term: term, promoted: true).start()
        let deadline = Date().addingTimeInterval(60)
        while !primary.isLeading && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertTrue(primary.isLeading, "the promoted backup never led")
        let routes = CatalogRoutes(name: "catalog-2", current: .init(.primary(primary)), term: term,
                                   reads: CatalogReads(name: "catalog-2", memory: memory), metrics: RequestMetrics(routes: CatalogRoutes.routeNames))

        XCTAssertEqual(write(routes, "settle", 2, key: "lacked", attempt: "lacked.2").json?["applied"], .bool(false),
                       "an update whose book the new primary never got")
        let added = routes.handle(internalRequest("POST", "/catalog-primary/settle",
                                                  headers: [WriteIdentity.keyHeader: "added", WriteIdentity.attemptHeader: "added.2"]))
        XCTAssertEqual(added.json?["applied"], .bool(false), "an addition whose book the new primary never got")
        let kept = write(routes, "settle", 1, key: "held", attempt: "held.2")
        XCTAssertEqual(kept.json?["applied"], .bool(true))
        XCTAssertEqual(kept.json?["book"]?["price"]?.doubleValue, 9)
        XCTAssertEqual(memory.applied, 3, "the two fences numbered on from the books held")
    }
}
