import BazarCore
import Foundation
@testable import Store
import XCTest

/// A store records its schema version: one made by an older build is migrated and keeps its
/// rows; one made by a newer build is refused and left as it is.
final class SchemaTests: XCTestCase {
    private var directory: URL!
    private var path: String { directory.appendingPathComponent("store.db").path }

    override func setUpWithError() throws {
        directory = try TestSupport.makeTemporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// The catalog store's tables as bb28aa1 made them: no version, no identity.
    private static let previousCatalogSchema = """
        CREATE TABLE IF NOT EXISTS books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, topic TEXT NOT NULL,
            price REAL NOT NULL, stock INTEGER NOT NULL CHECK (stock >= 0), version INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS books_version ON books(version);
        CREATE TABLE IF NOT EXISTS takes (number INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE,
            book_id INTEGER NOT NULL, title TEXT NOT NULL, price REAL NOT NULL, created_at TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS updates (key TEXT PRIMARY KEY, book_id INTEGER NOT NULL, seq INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS updates_seq ON updates(seq);
        CREATE TABLE IF NOT EXISTS additions (book_id INTEGER PRIMARY KEY, key TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS additions_key ON additions(key);
        CREATE TABLE IF NOT EXISTS aborted (attempt TEXT PRIMARY KEY, seq INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        INSERT OR IGNORE INTO meta VALUES ('applied', 0);
        """

    /// The order store's tables as bb28aa1 made them: no version, no identity, no `acknowledged`.
    private static let previousOrderSchema = """
        CREATE TABLE IF NOT EXISTS orders (number INTEGER PRIMARY KEY, book_id INTEGER NOT NULL,
            title TEXT NOT NULL, price REAL NOT NULL, created_at TEXT NOT NULL, key TEXT NOT NULL UNIQUE);
        CREATE TABLE IF NOT EXISTS witness (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL,
            in_sync INTEGER NOT NULL);
        INSERT OR IGNORE INTO witness VALUES (1, 0, 0);
        """

    private func version(_ path: String) throws -> Int {
        try Schema.recordedVersion(Database(path: path))
    }

    func testACatalogStoreOfThePreviousSchemaIsMigratedAndKeepsItsRows() throws {
        do {
            let old = try Database(path: path)
            try old.execute(Self.previousCatalogSchema)
            try old.execute("""
                INSERT INTO books VALUES (1, 'Old book', 'distributed systems', 12.5, 3, 7);
                INSERT INTO takes VALUES (1, 'k1', 1, 'Old book', 12.5, '2026-01-01T00:00:00Z');
                INSERT INTO updates VALUES ('u1', 1, 6);
                INSERT INTO additions VALUES (1, 'a1');
                INSERT INTO aborted VALUES ('attempt-1', 5);
                UPDATE meta SET value = 7 WHERE name = 'applied';
                """)
        }
        XCTAssertEqual(try version(path), 0)

        let store = try CatalogStore(path: path, identity: .test)
        XCTAssertEqual(try version(path), CatalogStore.schema.version)
        XCTAssertEqual(try store.applied(), 7)
        XCTAssertEqual(try store.books().first, Book(id: 1, title: "Old book", topic: "distributed systems", price: 12.5, stock: 3, version: 7))
        XCTAssertEqual(try store.books().count, defaultBooks.count, "the missing default books are added, the kept one is not replaced")
        XCTAssertEqual(try store.order(takenUnder: "k1")?.number, 1)
        XCTAssertEqual(try store.book(updatedUnder: "u1"), 1)
        XCTAssertEqual(try store.books(addedUnder: "a1"), [1])
        XCTAssertTrue(try store.isAborted(attempt: "attempt-1"))
        XCTAssertEqual(try store.keys(after: WriteKey.noneHeld, limit: 10).keys,
                       [WriteKey(.abort, key: "attempt-1", seq: -3), WriteKey(.addition, key: "a1", bookID: 1, seq: -2),
                        WriteKey(.update, key: "u1", bookID: 1, seq: 6)],
                       "keys kept before migration 3 get numbers of their own, below every write's")
        XCTAssertEqual(try store.keysHeld(), WriteKey.noneHeld)
        XCTAssertEqual(try CatalogStore(path: path, identity: .test).applied(), 7, "opening it again changes nothing")
        XCTAssertEqual(try version(path), CatalogStore.schema.version)
    }

    func testAnOrderStoreOfThePreviousSchemaIsMigratedAndKeepsItsRows() throws {
        do {
            let old = try Database(path: path)
            try old.execute(Self.previousOrderSchema)
            try old.execute("""
                INSERT INTO orders VALUES (4, 2, 'T', 10.5, '2026-01-01T00:00:00Z', 'k4');
                UPDATE witness SET version = 9, in_sync = 1 WHERE id = 1;
                """)
        }
        let store = try OrderStore(path: path, identity: .test)
        XCTAssertEqual(try version(path), OrderStore.schema.version)
        XCTAssertEqual(try store.numbers(), [4])
        XCTAssertEqual(try store.order(number: 4)?.key, "k4")
        XCTAssertEqual(try store.witness().version, 9)
        XCTAssertEqual(try store.witness().inSync, true)
        XCTAssertEqual(try store.acknowledgedThrough(), 0, "the table the previous schema lacked is made")
        XCTAssertEqual(try store.acknowledge(through: 3), 3)
    }

    func testAStoreOfANewerSchemaVersionIsRefusedAndLeftAsItIs() throws {
        try CatalogStore(path: path, identity: .test).apply([Book(id: 1, title: "t", topic: "x", price: 1, stock: 1, version: 9)], applied: 9)
        let newer = CatalogStore.schema.version + 1
        try Database(path: path).execute("PRAGMA user_version = \(newer)")

        XCTAssertThrowsError(try CatalogStore(path: path, identity: .test)) { error in
            let refusal = error as? NewerSchema
            XCTAssertEqual(refusal?.found, newer)
            XCTAssertEqual(refusal?.known, CatalogStore.schema.version)
            XCTAssertTrue("\(error)".contains("catalog store \(path) has schema version \(newer)"), "\(error)")
        }
        let untouched = try Database(path: path)
        XCTAssertEqual(try Schema.recordedVersion(untouched), newer)
        XCTAssertEqual(try untouched.query("SELECT value FROM meta WHERE name = 'applied'")[0][0].int, 9)
    }

    func testAnOrderStoreOfANewerSchemaVersionIsRefused() throws {
        _ = try OrderStore(path: path, identity: .test).acknowledge(through: 4)
        try Database(path: path).execute("PRAGMA user_version = \(OrderStore.schema.version + 1)")
        XCTAssertThrowsError(try OrderStore(path: path, identity: .test)) { XCTAssertTrue($0 is NewerSchema, "\($0)") }
    }

    /// Each migration runs in its own transaction with the version it reaches: one that fails
    /// leaves the store at the version before it, with nothing of it applied.
    func testAFailingMigrationLeavesTheStoreAtThePreviousVersion() throws {
        let schema = Schema(name: "test store", migrations: [
            "CREATE TABLE a (x INTEGER NOT NULL); INSERT INTO a VALUES (1);",
            "CREATE TABLE b (y INTEGER); INSERT INTO a VALUES (NULL);",
        ])
        let database = try Database(path: path)
        XCTAssertThrowsError(try schema.migrate(database, path: path))
        XCTAssertEqual(try Schema.recordedVersion(database), 1)
        XCTAssertEqual(try database.query("SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'")[0][0].int, 0)
        XCTAssertEqual(try database.query("SELECT x FROM a")[0][0].int, 1)
    }
}
