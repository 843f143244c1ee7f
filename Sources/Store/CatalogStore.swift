import BazarCore
import SystemCalls

/// The catalog replica's SQLite file: books, the applied write sequence number, and (on the
/// primary) every purchase taken, keyed by idempotency key, the keys of recent admin updates,
/// the key each added book was added under, and the write attempts settled as not applied
/// (which may never be applied later); on the backup, the same keys as pushed, and the cursor
/// through which it holds them (`WriteKey`). It records whose it is (`StoreIdentity`).
public final class CatalogStore {
    private let database: Database
    private let path: String

    /// Opens the store as `identity`'s (another's is moved aside), brought up to `schema` (a
    /// newer one is refused), with the default books on first start.
    public init(path: String, identity: StoreIdentity) throws {
        self.path = path
        database = try identity.open(path, schema: Self.schema)
        try database.transaction { try insertDefaultBooks() }
    }

    /// The deployment's first books, at version 0, where missing.
    private func insertDefaultBooks() throws {
        for book in defaultBooks {
            try database.query("INSERT OR IGNORE INTO books VALUES (?, ?, ?, ?, ?, ?)", Self.row(book))
        }
    }

    /// The store's tables, migration by migration (`Schema`).
    static let schema = Schema(name: "catalog store", migrations: [
        StoreIdentity.table + """
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
            """,
        // 2: the newest term this replica knows (no row: the flags' first term; see `Term`).
        """
            CREATE TABLE IF NOT EXISTS term (id INTEGER PRIMARY KEY CHECK (id = 1), epoch INTEGER NOT NULL,
                primary_name TEXT NOT NULL);
            """,
        // 3: every kept key has its write's sequence number, no two the same (`WriteKey`): an
        // addition's is its book's first version; keys stored before have numbers below every
        // write's (additions even, aborts odd). A backup's cursor: nothing held yet.
        """
            ALTER TABLE additions ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
            UPDATE additions SET seq = -2 * book_id;
            UPDATE aborted SET seq = -2 * rowid - 1;
            CREATE INDEX IF NOT EXISTS additions_seq ON additions(seq);
            CREATE INDEX IF NOT EXISTS aborted_seq ON aborted(seq);
            INSERT OR IGNORE INTO meta VALUES ('keys', -9223372036854775807 - 1);
            """,
    ])

    /// The bytes still free on the disk that holds this store; nil when that cannot be told.
    public func freeBytes() -> Int64? {
        try? Posix.freeBytes(onFilesystemOf: path)
    }

    /// The newest term this replica stored; nil when it never stored one.
    public func term() throws -> Term? {
        guard let row = try database.query("SELECT epoch, primary_name FROM term WHERE id = 1").first else { return nil }
        return Term(epoch: try row[0].int, primary: try row[1].text)
    }

    /// Stores a newer term (an older or equal one changes nothing).
    public func adopt(_ term: Term) throws {
        try database.query("""
            INSERT INTO term VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET epoch = excluded.epoch,
                primary_name = excluded.primary_name WHERE excluded.epoch > term.epoch
            """, [.integer(term.epoch), .text(term.primary)])
    }

    /// A deposed primary's step down, in one transaction: stores `term` and takes the store back
    /// to the deployment's first state (the default books at version 0, no key, no order,
    /// `applied` 0). What it held that the new primary lacks was never acknowledged; as a backup
    /// it takes a full copy from the new primary: every book written after that first state.
    public func stepDown(to term: Term) throws {
        try database.transaction {
            for table in ["books", "takes", "updates", "additions", "aborted"] { try database.execute("DELETE FROM \(table)") }
            try insertDefaultBooks()
            try database.query("UPDATE meta SET value = 0 WHERE name = 'applied'")
            try setKeysHeld(WriteKey.noneHeld)
            try adopt(term)
        }
    }

    /// Every book.
    public func books() throws -> [Book] {
        try database.query("SELECT id, title, topic, price, stock, version FROM books ORDER BY id").map(Self.book)
    }

    /// The sequence number of the last write this replica applied.
    public func applied() throws -> Int64 {
        try database.query("SELECT value FROM meta WHERE name = 'applied'").first?.first?.int ?? 0
    }

    /// One write of a batch the primary commits together.
    public enum Write: Sendable {
        /// Take one copy of a book for a new order under an idempotency key.
        case take(bookID: Int64, key: String, seq: Int64, createdAt: String)
        /// Store a book's new state (an admin update) and the key it was made under.
        case set(Book, key: String)
        /// Store a new book and the key it was added under.
        case add(Book, key: String)
        /// Record that a write attempt was settled as not applied (at a sequence number of its own).
        case abort(attempt: String, seq: Int64)
    }

    /// A take that found no copy left: the batch it was in changed nothing.
    public struct NoCopyLeft: Error {
        /// The book.
        public let bookID: Int64
    }

    /// Commits a batch of writes in one transaction and moves `applied` to `seq`. A take is one
    /// conditional UPDATE (`stock > 0`) plus its order row; if any take finds no copy left,
    /// the whole batch rolls back (`NoCopyLeft`). Returns the orders of the takes, in order.
    public func commit(_ writes: [Write], applied seq: Int64) throws -> [Order] {
        try database.transaction { () throws -> [Order] in
            var orders: [Order] = []
            for write in writes {
                switch write {
                case .take(let bookID, let key, let version, let createdAt):
                    try database.query("UPDATE books SET stock = stock - 1, version = ? WHERE id = ? AND stock > 0",
                                       [.integer(version), .integer(bookID)])
                    guard database.changes == 1 else { throw NoCopyLeft(bookID: bookID) }
                    let book = try database.query("SELECT title, price FROM books WHERE id = ?", [.integer(bookID)])[0]
                    let number = try database.query("SELECT COALESCE(MAX(number), 0) + 1 FROM takes")[0][0].int
                    let order = Order(number: number, bookID: bookID, title: try book[0].text, price: try book[1].double,
                                      createdAt: createdAt, key: key)
                    try database.query("INSERT INTO takes VALUES (?, ?, ?, ?, ?, ?)",
                                       [.integer(number), .text(key), .integer(bookID), .text(order.title),
                                        .real(order.price), .text(createdAt)])
                    orders.append(order)
                case .set(let book, let key):
                    try setBook(book)
                    try database.query("INSERT OR IGNORE INTO updates VALUES (?, ?, ?)",
                                       [.text(key), .integer(book.id), .integer(book.version)])
                case .add(let book, let key):
                    try setBook(book)
                    try database.query("INSERT INTO additions VALUES (?, ?, ?)", [.integer(book.id), .text(key), .integer(book.version)])
                case .abort(let attempt, let seq):
                    try database.query("INSERT OR IGNORE INTO aborted VALUES (?, ?)", [.text(attempt), .integer(seq)])
                }
            }
            try setApplied(seq)
            return orders
        }
    }

    /// The order taken under an idempotency key, if any.
    public func order(takenUnder key: String) throws -> Order? {
        try database.query("SELECT \(Self.takeColumns) FROM takes WHERE key = ?", [.text(key)]).first.map(Self.order)
    }

    /// The book an admin update made under `key` changed, if it was applied (and is recent).
    public func book(updatedUnder key: String) throws -> Int64? {
        try database.query("SELECT book_id FROM updates WHERE key = ?", [.text(key)]).first?.first?.int
    }

    /// Forgets the keys of admin updates made before sequence number `seq`.
    public func forgetUpdateKeys(below seq: Int64) throws {
        try database.query("DELETE FROM updates WHERE seq < ?", [.integer(seq)])
    }

    /// Forgets every key of a write after sequence number `seq` (update and addition keys,
    /// aborted attempts), in one transaction: a backup may hold keys of writes whose books it
    /// does not (a push brings the keys through the primary's latest write), which it must not
    /// answer by once it leads.
    public func forgetKeys(after seq: Int64) throws {
        try database.transaction {
            for table in ["updates", "additions", "aborted"] {
                try database.query("DELETE FROM \(table) WHERE seq > ?", [.integer(seq)])
            }
        }
    }

    /// The books added under `key`, by id.
    public func books(addedUnder key: String) throws -> [Int64] {
        try database.query("SELECT book_id FROM additions WHERE key = ? ORDER BY book_id", [.text(key)]).map { try $0[0].int }
    }

    /// Whether a write attempt was settled as not applied.
    public func isAborted(attempt: String) throws -> Bool {
        try !database.query("SELECT 1 FROM aborted WHERE attempt = ?", [.text(attempt)]).isEmpty
    }

    /// The keys kept after sequence number `seq` (`WriteKey`), oldest first.
    public struct KeyPage: Sendable, Equatable {
        /// At most the limit asked for.
        public var keys: [WriteKey]
        /// Whether they are every key kept after `seq`.
        public var complete: Bool
        /// The sequence number through which they hold every key: `applied` when complete (a later
        /// key's write is a later one), else the last key's.
        public var through: Int64
        /// The primary holds no update key below this one any more (it forgot them).
        public var updateKeysFrom: Int64
    }

    /// The keys kept after sequence number `seq`, oldest first, at most `limit` (`KeyPage`).
    public func keys(after seq: Int64, limit: Int) throws -> KeyPage {
        do {
            let bounds: [SQLValue] = [.integer(seq), .integer(Int64(limit) + 1)]
            var keys = try database.query("SELECT key, book_id, seq FROM updates WHERE seq > ? ORDER BY seq LIMIT ?", bounds)
                .map { WriteKey(.update, key: try $0[0].text, bookID: try $0[1].int, seq: try $0[2].int) }
            keys += try database.query("SELECT key, book_id, seq FROM additions WHERE seq > ? ORDER BY seq LIMIT ?", bounds)
                .map { WriteKey(.addition, key: try $0[0].text, bookID: try $0[1].int, seq: try $0[2].int) }
            keys += try database.query("SELECT attempt, seq FROM aborted WHERE seq > ? ORDER BY seq LIMIT ?", bounds)
                .map { WriteKey(.abort, key: try $0[0].text, seq: try $0[1].int) }
            keys.sort { $0.seq < $1.seq }
            let complete = keys.count <= limit
            keys = Array(keys.prefix(limit))
            let through = complete ? max(seq, try applied()) : keys.last?.seq ?? seq
            let oldestUpdate = try database.query("SELECT MIN(seq) FROM updates")[0][0]
            let updateKeysFrom = oldestUpdate == .null ? through + 1 : try oldestUpdate.int
            return KeyPage(keys: keys, complete: complete, through: through, updateKeysFrom: updateKeysFrom)
        }
    }

    /// Stores one push the backup takes, in one transaction, so that a push that fails (a full
    /// disk) leaves nothing of it: never the keys of writes whose books were not stored. `keys`
    /// (nil: none to store) are the primary's keys (known ones are ignored), the cursor they move
    /// this store's to (every key up to it is held), and the oldest update key the primary
    /// keeps (those below are forgotten, as the primary did); `takes` are stored as
    /// `restoreTakes` does, and `books` with `applied` as `apply` does (`applied` nil: neither).
    public func storePush(keys: (keys: [WriteKey], through: Int64, updateKeysFrom: Int64)?, takes: [Order], books: [Book],
                          applied: Int64?) throws {
        try database.transaction {
            if let keys { try insertKeys(keys.keys, through: keys.through, updateKeysFrom: keys.updateKeysFrom) }
            try insertTakes(takes)
            if let applied { try setBooks(books, applied: applied) }
        }
    }

    private func insertKeys(_ keys: [WriteKey], through: Int64, updateKeysFrom: Int64) throws {
        for key in keys {
            switch key.kind {
            case .update:
                try database.query("INSERT OR IGNORE INTO updates VALUES (?, ?, ?)",
                                   [.text(key.key), .integer(key.bookID), .integer(key.seq)])
            case .addition:
                try database.query("INSERT OR IGNORE INTO additions VALUES (?, ?, ?)",
                                   [.integer(key.bookID), .text(key.key), .integer(key.seq)])
            case .abort:
                try database.query("INSERT OR IGNORE INTO aborted VALUES (?, ?)", [.text(key.key), .integer(key.seq)])
            }
        }
        try setKeysHeld(through)
        try forgetUpdateKeys(below: updateKeysFrom)
    }

    /// The sequence number through which this replica holds every key of the primary's
    /// (`WriteKey.noneHeld`: none).
    public func keysHeld() throws -> Int64 {
        try database.query("SELECT value FROM meta WHERE name = 'keys'").first?.first?.int ?? WriteKey.noneHeld
    }

    /// Records that this replica holds every key through `seq` (a backup's cursor; a primary
    /// that hands its role over holds every key through its `applied`).
    public func setKeysHeld(_ seq: Int64) throws {
        try database.query("UPDATE meta SET value = ? WHERE name = 'keys'", [.integer(seq)])
    }

    /// Orders taken after `number`, oldest first, at most `limit`.
    public func takes(after number: Int64, limit: Int) throws -> [Order] {
        try database.query("SELECT \(Self.takeColumns) FROM takes WHERE number > ? ORDER BY number LIMIT ?",
                           [.integer(number), .integer(Int64(limit))]).map(Self.order)
    }

    /// The largest order number taken (0: none).
    public func lastTakeNumber() throws -> Int64 {
        try database.query("SELECT COALESCE(MAX(number), 0) FROM takes")[0][0].int
    }

    /// Records orders taken before this store was lost or replaced (from the order replicas,
    /// which hold every order answered), so their keys settle and their numbers are not given
    /// again; known numbers are ignored.
    public func restoreTakes(_ orders: [Order]) throws {
        try database.transaction { try insertTakes(orders) }
    }

    private func insertTakes(_ orders: [Order]) throws {
        for order in orders {
            try database.query("INSERT OR IGNORE INTO takes VALUES (?, ?, ?, ?, ?, ?)",
                               [.integer(order.number), .text(order.key), .integer(order.bookID), .text(order.title),
                                .real(order.price), .text(order.createdAt)])
        }
    }

    /// Stores new states of books (each newer than the stored one, or new) and the applied
    /// sequence number, in one transaction: a replicated push on the backup, or the books a
    /// recovering primary pulls from it.
    public func apply(_ books: [Book], applied: Int64) throws {
        try database.transaction { try setBooks(books, applied: applied) }
    }

    private func setBooks(_ books: [Book], applied: Int64) throws {
        for book in books { try setBook(book) }
        try setApplied(applied)
    }

    /// Inserts a new book, or stores a newer price, stock and version of one (a book's title and
    /// topic never change).
    private func setBook(_ book: Book) throws {
        try database.query("""
            INSERT INTO books VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET price = excluded.price,
                stock = excluded.stock, version = excluded.version WHERE excluded.version > books.version
            """, Self.row(book))
    }

    private func setApplied(_ seq: Int64) throws {
        try database.query("UPDATE meta SET value = MAX(value, ?) WHERE name = 'applied'", [.integer(seq)])
    }

    private static let takeColumns = "number, book_id, title, price, created_at, key"

    private static func row(_ book: Book) -> [SQLValue] {
        [.integer(book.id), .text(book.title), .text(book.topic), .real(book.price), .integer(book.stock), .integer(book.version)]
    }

    private static func book(_ row: [SQLValue]) throws -> Book {
        Book(id: try row[0].int, title: try row[1].text, topic: try row[2].text, price: try row[3].double,
             stock: try row[4].int, version: try row[5].int)
    }

    static func order(_ row: [SQLValue]) throws -> Order {
        Order(number: try row[0].int, bookID: try row[1].int, title: try row[2].text, price: try row[3].double,
              createdAt: try row[4].text, key: try row[5].text)
    }
}
