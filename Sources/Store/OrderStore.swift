import BazarCore

/// An order replica's SQLite file: the orders, keyed by number and by idempotency key, and the
/// catalog backup's witness record (see `Witness`) with the catalog write sequence number the
/// primary acknowledged through without the backup. It records whose it is (`StoreIdentity`).
public final class OrderStore {
    private let database: Database

    /// Opens the store as `identity`'s (another's is moved aside), brought up to `schema` (a
    /// newer one is refused).
    public init(path: String, identity: StoreIdentity) throws {
        database = try identity.open(path, schema: Self.schema)
    }

    /// The store's tables, migration by migration (`Schema`).
    static let schema = Schema(name: "order store", migrations: [
        StoreIdentity.table + """
            CREATE TABLE IF NOT EXISTS orders (number INTEGER PRIMARY KEY, book_id INTEGER NOT NULL,
                title TEXT NOT NULL, price REAL NOT NULL, created_at TEXT NOT NULL, key TEXT NOT NULL UNIQUE);
            CREATE TABLE IF NOT EXISTS witness (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL,
                in_sync INTEGER NOT NULL);
            INSERT OR IGNORE INTO witness VALUES (1, 0, 0);
            CREATE TABLE IF NOT EXISTS acknowledged (id INTEGER PRIMARY KEY CHECK (id = 1), through INTEGER NOT NULL);
            INSERT OR IGNORE INTO acknowledged VALUES (1, 0);
            """,
        // 2: the catalog term this witness holds (epoch 0: none yet; see `Term`).
        """
            CREATE TABLE IF NOT EXISTS term (id INTEGER PRIMARY KEY CHECK (id = 1), epoch INTEGER NOT NULL,
                primary_name TEXT NOT NULL);
            INSERT OR IGNORE INTO term VALUES (1, 0, '');
            """,
    ])

    /// The catalog term this witness holds: the newest epoch it granted or learned, and its primary.
    public func term() throws -> Term {
        let row = try database.query("SELECT epoch, primary_name FROM term WHERE id = 1")[0]
        return Term(epoch: try row[0].int, primary: try row[1].text)
    }

    /// Adopts a newer term, and in the same transaction makes the newest witness record count
    /// the backup out of sync (a new epoch's primary starts without its backup); false (nothing
    /// changes) when the held epoch is as new.
    public func adopt(_ term: Term) throws -> Bool {
        try database.transaction {
            try database.query("UPDATE term SET epoch = ?, primary_name = ? WHERE id = 1 AND epoch < ?",
                               [.integer(term.epoch), .text(term.primary), .integer(term.epoch)])
            guard database.changes == 1 else { return false }
            try database.query("UPDATE witness SET in_sync = 0 WHERE id = 1")
            return true
        }
    }

    /// The catalog write sequence number through which the primary recorded acknowledging
    /// writes without the backup (0: none).
    public func acknowledgedThrough() throws -> Int64 {
        try database.query("SELECT through FROM acknowledged WHERE id = 1")[0][0].int
    }

    /// Raises `acknowledgedThrough` to `seq` (it never goes down); returns the value held.
    public func acknowledge(through seq: Int64) throws -> Int64 {
        try database.query("UPDATE acknowledged SET through = MAX(through, ?) WHERE id = 1", [.integer(seq)])
        return try acknowledgedThrough()
    }

    /// The witness record: the newest version the catalog primary wrote, and whether it then
    /// counted the catalog backup in sync.
    public func witness() throws -> (version: Int64, inSync: Bool) {
        let row = try database.query("SELECT version, in_sync FROM witness WHERE id = 1")[0]
        return (try row[0].int, try row[1].int != 0)
    }

    /// Stores a newer witness record, and with it raises `acknowledgedThrough` to `acknowledged`
    /// (in one transaction); false (nothing changes) when the stored one is as new.
    public func setWitness(version: Int64, inSync: Bool, acknowledged: Int64? = nil) throws -> Bool {
        try database.transaction {
            try database.query("UPDATE witness SET version = ?, in_sync = ? WHERE id = 1 AND version < ?",
                               [.integer(version), .integer(inSync ? 1 : 0), .integer(version)])
            guard database.changes == 1 else { return false }
            if let acknowledged { _ = try acknowledge(through: acknowledged) }
            return true
        }
    }

    /// Records orders (already-known numbers are ignored), in one transaction.
    public func insert(_ orders: [Order]) throws {
        try database.transaction {
            for order in orders {
                try database.query("INSERT OR IGNORE INTO orders VALUES (?, ?, ?, ?, ?, ?)",
                                   [.integer(order.number), .integer(order.bookID), .text(order.title),
                                    .real(order.price), .text(order.createdAt), .text(order.key)])
            }
        }
    }

    /// The orders numbered above `number`, oldest first, at most `limit`.
    public func orders(after number: Int64, limit: Int) throws -> [Order] {
        try database.query("SELECT \(Self.columns) FROM orders WHERE number > ? ORDER BY number LIMIT ?",
                           [.integer(number), .integer(Int64(limit))]).map(CatalogStore.order)
    }

    /// One order by number.
    public func order(number: Int64) throws -> Order? {
        try database.query("SELECT \(Self.columns) FROM orders WHERE number = ?", [.integer(number)]).first.map(CatalogStore.order)
    }

    /// Every order number held, ascending.
    public func numbers() throws -> [Int64] {
        try database.query("SELECT number FROM orders ORDER BY number").map { try $0[0].int }
    }

    private static let columns = "number, book_id, title, price, created_at, key"
}
