import Basics
@testable import BazarCore
@testable import Catalog
import Foundation
import HTTPMessages
@testable import InternalHTTP
import Store
import Wire
import XCTest

/// `DiskReserve`: the catalog primary refuses new writes (503, nothing applied) while its disk
/// or its backup's is nearly full, and still settles, so that a write refused on a full disk is
/// never committed where the backup cannot hold it.
final class DiskReserveTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try TestSupport.makeTemporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func testWritesAreAdmittedOnlyWithTheReserveFreeOnBothDisks() {
        let reserve = DiskReserve.bytes
        for (primary, backup, admitted) in [(reserve, reserve, true), (reserve * 100, nil, true), (nil, nil, true),
                                            (reserve - 1, reserve * 100, false), (reserve * 100, reserve - 1, false),
                                            (nil, 0, false), (0, nil, false)] as [(Int64?, Int64?, Bool)] {
            XCTAssertEqual(DiskReserve.admitsWrites(primaryFree: primary, backupFree: backup), admitted, "\(String(describing: primary)) \(String(describing: backup))")
        }
    }

    /// A primary whose backup (in sync) says its disk is nearly full refuses an addition, a
    /// take and an update with 503 and applies none; a settle still fences the refused attempt
    /// (answered once the backup holds the fence); once the backup has room again, a new
    /// attempt under the key adds the book and the fenced one stays refused.
    func testABackupWithoutRoomStopsWritesButNotSettles() throws {
        let backupFree = Locked<Int64>(DiskReserve.bytes * 10)
        let socket = directory.appendingPathComponent("internal.sock").path
        let nginx = try TestHTTPServer(path: socket) { request in
            guard request.path == "/catalog-2/replicate" else { return (200, #"{"recorded":true,"version":1,"dropped":0}"#, []) }
            guard let push = ReplicationPush(body: request.body) else { return (400, "{}", []) }
            // A backup that stores every push whole.
            let answer = PushAnswer(applied: push.upTo, takes: push.takes.map(\.number).max() ?? 0,
                                    keys: push.keys?.through ?? WriteKey.noneHeld, free: backupFree.value, receipt: 1)
            return (200, String(decoding: answer.json.encoded(), as: UTF8.self), [])
        }
        defer { nginx.stop() }
        let client = InternalClient(.unix(path: socket), secret: "test-secret")
        let store = SharedStore(try CatalogStore(path: directory.appendingPathComponent("catalog.db").path, identity: .test))
        let memory = CatalogMemory(books: defaultBooks, applied: 0)
        let term = try CatalogTerm(name: "catalog-1", store: store, first: Term(epoch: 1, primary: "catalog-1"))
        let replicator = Replicator(client: client, backup: "catalog-2", memory: memory, store: store,
                                    witnesses: WitnessRecords(client: client, replicas: ["order-1"], term: term), term: term)
        let primary = Primary(name: "catalog-1", store: store, memory: memory,
                              invalidator: Invalidator(client: client, leases: FrontLeases(applied: 0, grace: .zero)), replicator: replicator)
        replicator.start(backupInSync: true)
        primary.lead()
        let routes = CatalogRoutes(name: "catalog-1", current: .init(.primary(primary)), term: term,
                                   reads: CatalogReads(name: "catalog-1", memory: memory), metrics: RequestMetrics(routes: CatalogRoutes.routeNames))
        func send(_ path: String, key: String, attempt: String, body: String = "") -> Response {
            routes.handle(internalRequest("POST", "/catalog-primary/\(path)",
                                          headers: [WriteIdentity.keyHeader: key, WriteIdentity.attemptHeader: attempt], body: body))
        }
        func heard(_ free: Int64) {
            backupFree.value = free
            let deadline = Date().addingTimeInterval(60)
            while replicator.backupFreeBytes != free && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            XCTAssertEqual(replicator.backupFreeBytes, free, "the primary never heard the backup's room")
        }
        let book = #"{"title": "Full", "topic": "disks", "price": 2.5, "stock": 1}"#

        heard(DiskReserve.bytes * 10)
        XCTAssertEqual(send("books", key: "first", attempt: "first.1", body: book).status, 201)
        let applied = memory.applied

        heard(DiskReserve.bytes - 1)
        for (path, body) in [("books", book), ("take/2", ""), ("update/3", #"{"price": 77.5}"#)] {
            let refused = send(path, key: "k-\(path)", attempt: "r-\(path)", body: body)
            XCTAssertEqual(refused.status, 503, "\(path): \(String(describing: refused.json))")
            XCTAssertEqual(refused.json?["error"]?["message"]?.stringValue, DiskReserve.refusal.message, path)
        }
        XCTAssertEqual(memory.applied, applied, "a refused write applied nothing")
        XCTAssertEqual(memory.book(2).0, defaultBooks[1])
        XCTAssertEqual(memory.book(3).0, defaultBooks[2])
        XCTAssertEqual(try store.withLock { try $0.applied() }, applied)
        let settled = send("settle", key: "k-books", attempt: "r-books")
        XCTAssertEqual(settled.status, 200, "a settle on a nearly full disk: \(String(describing: settled.json))")
        XCTAssertEqual(settled.json?["applied"], .bool(false))
        XCTAssertEqual(send("settle", key: "first", attempt: "first.2").json?["applied"], .bool(true))

        heard(DiskReserve.bytes * 10)
        XCTAssertEqual(send("books", key: "k-books", attempt: "second", body: book).status, 201, "a new attempt under the key")
        XCTAssertEqual(send("books", key: "k-books", attempt: "r-books", body: book).status, 409, "the fenced attempt stays refused")
    }
}

/// A value shared between a test and the threads it starts.
private final class Locked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) { stored = value }

    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
