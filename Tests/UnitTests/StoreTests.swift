@testable import BazarCore
import Foundation
@testable import Store
import XCTest

final class StoreTests: XCTestCase {
    private var directory: URL!
    private var path: String { directory.appendingPathComponent("catalog.db").path }
    private var orderPath: String { directory.appendingPathComponent("orders.db").path }

    override func setUpWithError() throws {
        directory = try TestSupport.makeTemporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func order(_ number: Int64, book: Int64 = 1, key: String? = nil, title: String = "T") -> Order {
        Order(number: number, bookID: book, title: title, price: 10.5, createdAt: "2026-11-24T16:04:45Z",
              key: key ?? "key-\(number)")
    }

    // MARK: CatalogStore

    func testNewStoreHoldsTheSevenDefaultBooksAtApplied0() throws {
        let store = try CatalogStore(path: path, identity: .test)
        XCTAssertEqual(try store.books(), defaultBooks)
        XCTAssertEqual(try store.books().map(\.id), [1, 2, 3, 4, 5, 6, 7])
        XCTAssertEqual(try store.applied(), 0)
        XCTAssertEqual(try store.takes(after: 0, limit: 100), [])
    }

    func testTakeDecrementsStockAndNumbersOrdersSequentially() throws {
        let store = try CatalogStore(path: path, identity: .test)
        let first = try XCTUnwrap(try store.take(bookID: 3, key: "a", seq: 1, createdAt: "2026-01-01T00:00:00Z"))
        XCTAssertEqual(first, Order(number: 1, bookID: 3, title: defaultBooks[2].title, price: defaultBooks[2].price,
                                    createdAt: "2026-01-01T00:00:00Z", key: "a"))
        let second = try XCTUnwrap(try store.take(bookID: 3, key: "b", seq: 2, createdAt: "t2"))
        let third = try XCTUnwrap(try store.take(bookID: 5, key: "c", seq: 3, createdAt: "t3"))
        XCTAssertEqual([first.number, second.number, third.number], [1, 2, 3])
        XCTAssertEqual(third.bookID, 5)
        XCTAssertEqual(third.price, defaultBooks[4].price)
        let books = try store.books()
        XCTAssertEqual(books[2].stock, defaultBooks[2].stock - 2)
        XCTAssertEqual(books[2].version, 2)
        XCTAssertEqual(books[4].stock, defaultBooks[4].stock - 1)
        XCTAssertEqual(books[4].version, 3)
        XCTAssertEqual(books[0], defaultBooks[0])
        XCTAssertEqual(try store.applied(), 3)
    }

    func testTakeAtStockZeroReturnsNilAndChangesNothing() throws {
        let store = try CatalogStore(path: path, identity: .test)
        var empty = defaultBooks[1]
        empty.stock = 0
        empty.version = 4
        try store.apply([empty], applied: 4)
        XCTAssertNil(try store.take(bookID: 2, key: "k", seq: 5, createdAt: "t"))
        XCTAssertEqual(try store.books()[1], empty)
        XCTAssertEqual(try store.applied(), 4)
        XCTAssertEqual(try store.takes(after: 0, limit: 10), [])
        XCTAssertNil(try store.order(takenUnder: "k"))
        // The key was not used up: a later take under it works once there is stock.
        var restocked = empty
        restocked.stock = 1
        restocked.version = 5
        try store.apply([restocked], applied: 5)
        XCTAssertEqual(try store.take(bookID: 2, key: "k", seq: 6, createdAt: "t")?.number, 1)
        XCTAssertEqual(try store.books()[1].stock, 0)
    }

    func testTakeOfUnknownBookReturnsNil() throws {
        let store = try CatalogStore(path: path, identity: .test)
        XCTAssertNil(try store.take(bookID: 99, key: "k", seq: 1, createdAt: "t"))
        XCTAssertEqual(try store.applied(), 0)
        XCTAssertEqual(try store.books(), defaultBooks)
    }

    func testTakeDownToZeroThenNil() throws {
        let store = try CatalogStore(path: path, identity: .test)
        var book = defaultBooks[6]
        book.stock = 2
        book.version = 1
        try store.apply([book], applied: 1)
        XCTAssertNotNil(try store.take(bookID: 7, key: "1", seq: 2, createdAt: "t"))
        XCTAssertNotNil(try store.take(bookID: 7, key: "2", seq: 3, createdAt: "t"))
        XCTAssertNil(try store.take(bookID: 7, key: "3", seq: 4, createdAt: "t"))
        XCTAssertEqual(try store.books()[6].stock, 0)
        XCTAssertEqual(try store.books()[6].version, 3)
        XCTAssertEqual(try store.applied(), 3)
    }

    func testTakeUnderAUsedKeyFailsAndRollsBack() throws {
        let store = try CatalogStore(path: path, identity: .test)
        XCTAssertNotNil(try store.take(bookID: 1, key: "same", seq: 1, createdAt: "t"))
        XCTAssertThrowsError(try store.take(bookID: 1, key: "same", seq: 2, createdAt: "t"))
        XCTAssertEqual(try store.books()[0].stock, defaultBooks[0].stock - 1)
        XCTAssertEqual(try store.books()[0].version, 1)
        XCTAssertEqual(try store.applied(), 1)
        XCTAssertEqual(try store.takes(after: 0, limit: 10).count, 1)
        // The store is still usable after the rollback.
        XCTAssertEqual(try store.take(bookID: 1, key: "other", seq: 2, createdAt: "t")?.number, 2)
    }

    func testIdempotencyKeyLookup() throws {
        let store = try CatalogStore(path: path, identity: .test)
        let taken = try XCTUnwrap(try store.take(bookID: 4, key: "client:abc", seq: 1, createdAt: "t1"))
        _ = try store.take(bookID: 6, key: "generated:xyz", seq: 2, createdAt: "t2")
        XCTAssertEqual(try store.order(takenUnder: "client:abc"), taken)
        XCTAssertEqual(try store.order(takenUnder: "generated:xyz")?.bookID, 6)
        XCTAssertNil(try store.order(takenUnder: "client:ab"))
        XCTAssertNil(try store.order(takenUnder: "CLIENT:ABC"))
        XCTAssertNil(try store.order(takenUnder: ""))
    }

    func testTakesAfter() throws {
        let store = try CatalogStore(path: path, identity: .test)
        for number in 1...5 {
            _ = try store.take(bookID: Int64(number), key: "k\(number)", seq: Int64(number), createdAt: "t\(number)")
        }
        XCTAssertEqual(try store.takes(after: 2, limit: 10).map(\.number), [3, 4, 5])
        XCTAssertEqual(try store.takes(after: 0, limit: 2).map(\.number), [1, 2])
        XCTAssertEqual(try store.takes(after: 1, limit: 3).map(\.number), [2, 3, 4])
        XCTAssertEqual(try store.takes(after: 5, limit: 10), [])
        XCTAssertEqual(try store.takes(after: 99, limit: 10), [])
        XCTAssertEqual(try store.takes(after: 4, limit: 10), [try XCTUnwrap(try store.order(takenUnder: "k5"))])
        XCTAssertEqual(try store.takes(after: 0, limit: 10).map(\.key), ["k1", "k2", "k3", "k4", "k5"])
    }

    func testApplyStoresNewerVersionsAndIgnoresOlderOnes() throws {
        let store = try CatalogStore(path: path, identity: .test)
        var newer = defaultBooks[0]
        newer.price = 50
        newer.stock = 7
        newer.version = 5
        var other = defaultBooks[3]
        other.stock = 1
        other.version = 4
        try store.apply([other, newer], applied: 5)
        XCTAssertEqual(try store.books()[0], newer)
        XCTAssertEqual(try store.books()[3], other)
        XCTAssertEqual(try store.applied(), 5)

        var older = defaultBooks[0]
        older.price = 1
        older.stock = 99
        older.version = 3
        var same = older
        same.version = 5
        try store.apply([older, same], applied: 3)
        XCTAssertEqual(try store.books()[0], newer, "an older or equal version must not overwrite a newer one")
        XCTAssertEqual(try store.applied(), 5, "applied never goes back")
    }

    func testApplyOnlyChangesPriceStockAndVersion() throws {
        let store = try CatalogStore(path: path, identity: .test)
        var changed = defaultBooks[4]
        changed.title = "Another title"
        changed.topic = "another topic"
        changed.price = 1
        changed.version = 1
        try store.apply([changed], applied: 1)
        let stored = try store.books()[4]
        XCTAssertEqual(stored.title, defaultBooks[4].title)
        XCTAssertEqual(stored.topic, defaultBooks[4].topic)
        XCTAssertEqual(stored.price, 1)
        XCTAssertEqual(stored.version, 1)
    }

    func testAppliedOnlyGrows() throws {
        let store = try CatalogStore(path: path, identity: .test)
        try store.apply([], applied: 10)
        XCTAssertEqual(try store.applied(), 10)
        try store.apply([], applied: 4)
        XCTAssertEqual(try store.applied(), 10)
        _ = try store.take(bookID: 1, key: "k", seq: 8, createdAt: "t")
        XCTAssertEqual(try store.applied(), 10)
        _ = try store.take(bookID: 1, key: "k2", seq: 11, createdAt: "t")
        XCTAssertEqual(try store.applied(), 11)
    }

    func testDataSurvivesClosingAndReopening() throws {
        var updated = defaultBooks[5]
        updated.price = 22.5
        updated.stock = 3
        updated.version = 1
        let taken: Order
        do {
            let store = try CatalogStore(path: path, identity: .test)
            try store.apply([updated], applied: 1)
            taken = try XCTUnwrap(try store.take(bookID: 6, key: "durable", seq: 2, createdAt: "t"))
        }
        let reopened = try CatalogStore(path: path, identity: .test)
        updated.stock = 2
        updated.version = 2
        XCTAssertEqual(try reopened.books()[5], updated, "reopening must not reset a book to its default")
        XCTAssertEqual(try reopened.books().count, 7)
        XCTAssertEqual(try reopened.applied(), 2)
        XCTAssertEqual(try reopened.order(takenUnder: "durable"), taken)
        XCTAssertEqual(try reopened.take(bookID: 6, key: "next", seq: 3, createdAt: "t")?.number, 2)
    }

    func testSecondConnectionSeesCommittedWrites() throws {
        let writer = try CatalogStore(path: path, identity: .test)
        let reader = try CatalogStore(path: path, identity: .test)
        _ = try writer.take(bookID: 2, key: "k", seq: 1, createdAt: "t")
        XCTAssertEqual(try reader.books()[1].stock, defaultBooks[1].stock - 1)
        XCTAssertEqual(try reader.applied(), 1)
    }

    func testOpeningInAMissingDirectoryThrows() {
        XCTAssertThrowsError(try CatalogStore(path: directory.appendingPathComponent("missing/c.db").path, identity: .test))
        XCTAssertThrowsError(try OrderStore(path: directory.appendingPathComponent("missing/o.db").path, identity: .test))
    }

    /// The keys go out by their sequence numbers, a page at a time, however many a batch
    /// holds, each write's (aborts included) its own; the backup stores them, holds them
    /// through the page's cursor, and forgets the update keys the primary forgot.
    func testKeysGoToTheBackupInOrderAPageAtATimeAndAreForgottenAsOnThePrimary() throws {
        let primary = try CatalogStore(path: path, identity: .test)
        var book = defaultBooks[0]
        book.version = 1
        let added = [Book(id: 8, title: "A", topic: "t", price: 1, stock: 1, version: 2),
                     Book(id: 9, title: "B", topic: "t", price: 1, stock: 1, version: 3)]
        _ = try primary.commit([.set(book, key: "u"), .add(added[0], key: "a"), .add(added[1], key: "a"),
                                .abort(attempt: "x", seq: 4)], applied: 4)
        _ = try primary.commit([.abort(attempt: "y", seq: 5), .abort(attempt: "b", seq: 6)], applied: 6)

        let first = try primary.keys(after: WriteKey.noneHeld, limit: 2)
        XCTAssertEqual(first.keys, [WriteKey(.update, key: "u", bookID: 1, seq: 1), WriteKey(.addition, key: "a", bookID: 8, seq: 2)])
        XCTAssertFalse(first.complete)
        XCTAssertEqual(first.through, 2)
        let second = try primary.keys(after: first.through, limit: 4)
        XCTAssertEqual(second.keys, [WriteKey(.addition, key: "a", bookID: 9, seq: 3), WriteKey(.abort, key: "x", seq: 4),
                                     WriteKey(.abort, key: "y", seq: 5), WriteKey(.abort, key: "b", seq: 6)])
        XCTAssertTrue(second.complete, "exactly the limit left is every key")
        XCTAssertEqual(second.through, 6)
        XCTAssertEqual(second.updateKeysFrom, 1)
        XCTAssertEqual(try primary.keys(after: 6, limit: 4), CatalogStore.KeyPage(keys: [], complete: true, through: 6, updateKeysFrom: 1))

        let backup = try CatalogStore(path: directory.appendingPathComponent("backup.db").path, identity: .test)
        XCTAssertEqual(try backup.keysHeld(), WriteKey.noneHeld)
        for page in [first, second] { try store(page, in: backup) }
        try store(second, in: backup)   // a resent page
        XCTAssertEqual(try backup.keysHeld(), 6)
        XCTAssertEqual(try backup.book(updatedUnder: "u"), 1)
        XCTAssertEqual(try backup.books(addedUnder: "a"), [8, 9])
        for attempt in ["x", "y", "b"] { XCTAssertTrue(try backup.isAborted(attempt: attempt), attempt) }
        XCTAssertEqual(try backup.keys(after: WriteKey.noneHeld, limit: 10).keys, try primary.keys(after: WriteKey.noneHeld, limit: 10).keys)

        try primary.forgetUpdateKeys(below: 2)
        let forgotten = try primary.keys(after: 6, limit: 4)
        XCTAssertEqual(forgotten.updateKeysFrom, 7, "no update key is left")
        try store(forgotten, in: backup)
        XCTAssertNil(try backup.book(updatedUnder: "u"), "the backup forgets what the primary forgot")
        XCTAssertEqual(try backup.books(addedUnder: "a"), [8, 9])

        try backup.stepDown(to: Term(epoch: 2, primary: "catalog-2"))
        XCTAssertEqual(try backup.keysHeld(), WriteKey.noneHeld, "a step down holds no key")
        XCTAssertEqual(try backup.books(), defaultBooks, "a step down leaves the deployment's first books, as a new store has")
        XCTAssertEqual(try backup.applied(), 0)
    }

    /// A push the backup cannot store whole (here a book its store refuses; on a full disk, the
    /// commit) leaves nothing of it: not its keys without its books, nor its orders.
    func testAPushThatFailsStoresNoneOfItsKeysOrdersOrBooks() throws {
        let backup = try CatalogStore(path: path, identity: .test)
        let keys = [WriteKey(.addition, key: "a", bookID: 8, seq: 1)]
        let order = Order(number: 1, bookID: 1, title: "t", price: 1, createdAt: "2026-01-01T00:00:00Z", key: "k")
        let refused = Book(id: 8, title: "A", topic: "t", price: 1, stock: -1, version: 1)
        XCTAssertThrowsError(try backup.storePush(keys: (keys, through: 1, updateKeysFrom: 2), takes: [order], books: [refused], applied: 1))
        XCTAssertEqual(try backup.keysHeld(), WriteKey.noneHeld)
        XCTAssertEqual(try backup.books(addedUnder: "a"), [])
        XCTAssertEqual(try backup.lastTakeNumber(), 0)
        XCTAssertEqual(try backup.applied(), 0)

        try backup.storePush(keys: (keys, through: 1, updateKeysFrom: 2), takes: [order], books: [Book(id: 8, title: "A", topic: "t", price: 1, stock: 1, version: 1)],
                             applied: 1)
        XCTAssertEqual(try backup.keysHeld(), 1)
        XCTAssertEqual(try backup.books(addedUnder: "a"), [8])
        XCTAssertEqual(try backup.lastTakeNumber(), 1)
        XCTAssertEqual(try backup.applied(), 1)
    }

    private func store(_ page: CatalogStore.KeyPage, in backup: CatalogStore) throws {
        try backup.storePush(keys: (page.keys, through: page.through, updateKeysFrom: page.updateKeysFrom), takes: [], books: [], applied: nil)
    }

    // MARK: OrderStore

    func testOrderStoreInsertOrIgnoreAndOldestFirst() throws {
        let store = try OrderStore(path: orderPath, identity: .test)
        XCTAssertEqual(try store.orders(after: 0, limit: 1000), [])
        try store.insert([order(3), order(1)])
        var changed = order(1, book: 7, title: "changed")
        changed.price = 99
        try store.insert([changed, order(2, book: 5)])
        XCTAssertEqual(try store.orders(after: 0, limit: 1000), [order(1), order(2, book: 5), order(3)])
        XCTAssertEqual(try store.numbers(), [1, 2, 3])
        XCTAssertEqual(try store.order(number: 2), order(2, book: 5))
        XCTAssertNil(try store.order(number: 4))
        try store.insert([])
        XCTAssertEqual(try store.numbers(), [1, 2, 3])
    }

    func testOrderStoreKeepsTheIdempotencyKey() throws {
        let store = try OrderStore(path: orderPath, identity: .test)
        try store.insert([order(9, key: "client:k")])
        XCTAssertEqual(try store.order(number: 9)?.key, "client:k")
        XCTAssertEqual(try store.orders(after: 0, limit: 1000).first?.createdAt, "2026-11-24T16:04:45Z")
    }

    func testOrderStoreSurvivesReopening() throws {
        do {
            let store = try OrderStore(path: orderPath, identity: .test)
            try store.insert([order(2), order(10), order(1)])
        }
        let reopened = try OrderStore(path: orderPath, identity: .test)
        XCTAssertEqual(try reopened.orders(after: 0, limit: 1000), [order(1), order(2), order(10)])
    }

    // MARK: Database

    func testDatabaseTransactionRollsBackWhenTheBodyThrows() throws {
        struct Stop: Error {}
        let database = try Database(path: directory.appendingPathComponent("raw.db").path)
        try database.execute("CREATE TABLE t (v INTEGER)")
        XCTAssertThrowsError(try database.transaction {
            try database.query("INSERT INTO t VALUES (?)", [.integer(1)])
            throw Stop()
        })
        XCTAssertEqual(try database.query("SELECT COUNT(*) FROM t"), [[.integer(0)]])
        _ = try database.transaction { try database.query("INSERT INTO t VALUES (?)", [.integer(2)]) }
        XCTAssertEqual(try database.query("SELECT v FROM t"), [[.integer(2)]])
    }

    func testDatabaseValuesRoundTrip() throws {
        let database = try Database(path: directory.appendingPathComponent("raw.db").path)
        try database.execute("CREATE TABLE t (a, b, c, d)")
        try database.query("INSERT INTO t VALUES (?, ?, ?, ?)", [.integer(Int64.min), .real(0.1), .text("ü'\"€"), .null])
        XCTAssertEqual(try database.query("SELECT a, b, c, d FROM t"), [[.integer(Int64.min), .real(0.1), .text("ü'\"€"), .null]])
        XCTAssertThrowsError(try database.query("SELECT nope FROM t"))
    }

    /// A column of another type than the one read is an error (`SQLITE_MISMATCH`), never 0 or "".
    func testAValueOfAnotherTypeThrowsInsteadOfReadingZeroOrEmpty() throws {
        XCTAssertThrowsError(try SQLValue.text("7").int)
        XCTAssertThrowsError(try SQLValue.null.int)
        XCTAssertThrowsError(try SQLValue.real(7).int)
        XCTAssertThrowsError(try SQLValue.integer(7).text)
        XCTAssertThrowsError(try SQLValue.null.text)
        XCTAssertThrowsError(try SQLValue.text("7.5").double)
        XCTAssertEqual(try SQLValue.integer(7).double, 7, "an integer widens to a number")
    }

    /// A store whose `applied` holds text (SQLite keeps what it cannot convert) fails to read
    /// instead of reporting that nothing was applied; a book whose stock holds text, likewise.
    func testAStoreColumnOfTheWrongTypeThrowsInsteadOfReadingZero() throws {
        let store = try CatalogStore(path: path, identity: .test)
        try store.apply([], applied: 12)
        try Database(path: path).execute("UPDATE meta SET value = 'twelve' WHERE name = 'applied'")
        XCTAssertThrowsError(try store.applied()) { XCTAssertEqual(($0 as? DatabaseError)?.code, 20, "SQLITE_MISMATCH: \($0)") }
        try Database(path: path).execute("UPDATE books SET stock = 'many' WHERE id = 3")
        XCTAssertThrowsError(try store.books())

        let orders = try OrderStore(path: orderPath, identity: .test)
        try orders.insert([order(1)])
        try Database(path: orderPath).execute("UPDATE orders SET price = 'cheap' WHERE number = 1")
        XCTAssertThrowsError(try orders.order(number: 1))
    }
}

/// The primary's group commit: one transaction, writes applied in decision order.
final class CatalogBatchCommitTests: XCTestCase {
    func testMixedBatchLeavesTheStateOfItsLastWrite() throws {
        let path = NSTemporaryDirectory() + "batch-\(UUID().uuidString).db"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try CatalogStore(path: path, identity: .test)
        var restocked = defaultBooks[0]
        restocked.stock = 5   // the admin's absolute stock, after the batch's first take
        restocked.version = 2
        let orders = try store.commit([
            .take(bookID: 1, key: "a", seq: 1, createdAt: "t"),
            .set(restocked, key: "u"),
            .take(bookID: 1, key: "b", seq: 3, createdAt: "t"),
        ], applied: 3)
        XCTAssertEqual(orders.map(\.number), [1, 2])
        XCTAssertEqual(try store.books()[0].stock, 4)
        XCTAssertEqual(try store.books()[0].version, 3)
        XCTAssertEqual(try store.applied(), 3)
        XCTAssertEqual(try store.book(updatedUnder: "u"), 1)
        XCTAssertNil(try store.book(updatedUnder: "a"), "a take's key is not an update's")
    }

    func testAbortedAttemptsAreRememberedDurably() throws {
        let path = NSTemporaryDirectory() + "batch-\(UUID().uuidString).db"
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let store = try CatalogStore(path: path, identity: .test)
            XCTAssertFalse(try store.isAborted(attempt: "x"))
            _ = try store.commit([.abort(attempt: "x", seq: 0)], applied: 0)
        }
        let reopened = try CatalogStore(path: path, identity: .test)
        XCTAssertTrue(try reopened.isAborted(attempt: "x"))
        XCTAssertFalse(try reopened.isAborted(attempt: "y"))
    }

    func testOldUpdateKeysAreForgotten() throws {
        let path = NSTemporaryDirectory() + "batch-\(UUID().uuidString).db"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try CatalogStore(path: path, identity: .test)
        var book = defaultBooks[0]
        book.version = 1
        _ = try store.commit([.set(book, key: "old")], applied: 1)
        book.version = 5
        _ = try store.commit([.set(book, key: "new")], applied: book.version)
        try store.forgetUpdateKeys(below: 5)
        XCTAssertNil(try store.book(updatedUnder: "old"))
        XCTAssertEqual(try store.book(updatedUnder: "new"), 1)
    }

    func testABatchWithATakeOfAnEmptyBookChangesNothing() throws {
        let path = NSTemporaryDirectory() + "batch-\(UUID().uuidString).db"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try CatalogStore(path: path, identity: .test)
        var empty = defaultBooks[1]
        empty.stock = 0
        empty.version = 1
        try store.apply([empty], applied: 1)
        XCTAssertThrowsError(try store.commit([
            .take(bookID: 1, key: "a", seq: 2, createdAt: "t"),
            .take(bookID: 2, key: "b", seq: 3, createdAt: "t"),
        ], applied: 3))
        XCTAssertEqual(try store.books()[0], defaultBooks[0])
        XCTAssertEqual(try store.applied(), 1)
        XCTAssertNil(try store.order(takenUnder: "a"))
    }
}

extension CatalogStore {
    /// Takes one copy of a book (a batch of one). Nil, and nothing changed, when no copy is left.
    func take(bookID: Int64, key: String, seq: Int64, createdAt: String) throws -> Order? {
        do {
            return try commit([.take(bookID: bookID, key: key, seq: seq, createdAt: createdAt)], applied: seq).first
        } catch is NoCopyLeft {
            return nil
        }
    }
}
