import CSQLite

/// A failed SQLite call, with SQLite's message.
public struct DatabaseError: Error, Sendable, CustomStringConvertible {
    /// SQLite's result code.
    public let code: Int32
    /// SQLite's message and the statement.
    public let description: String

    /// Whether the storage failed rather than the statement: the disk is full (`SQLITE_FULL`)
    /// or an I/O error (`SQLITE_IOERR`, any extended code). Such a failure passes when the
    /// disk has room again; the transaction it ended changed nothing.
    public var isStorageFailure: Bool {
        code & 0xff == SQLITE_FULL || code & 0xff == SQLITE_IOERR
    }
}

/// A value bound to, or read from, a statement column.
public enum SQLValue: Sendable, Equatable {
    case integer(Int64)
    case real(Double)
    case text(String)
    case null
}

/// One SQLite connection in WAL mode. Not thread-safe: its owner serialises access.
public final class Database {
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]

    /// Opens (creating if needed) the database at `path`, in WAL mode with `synchronous=NORMAL`:
    /// a committed transaction survives the process being killed.
    public init(path: String) throws(DatabaseError) {
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let result = sqlite3_open_v2(path, &handle, flags, nil)
        guard result == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(handle)
            throw DatabaseError(code: result, description: "\(message) (\(path))")
        }
        sqlite3_busy_timeout(handle, 5_000)
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=NORMAL")
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close(handle)
    }

    /// Runs one or more statements that take no parameters.
    public func execute(_ sql: String) throws(DatabaseError) {
        var message: UnsafeMutablePointer<CChar>?
        let result = sqlite3_exec(handle, sql, nil, nil, &message)
        guard result == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? "error"
            sqlite3_free(message)
            throw DatabaseError(code: result, description: "\(text) in: \(sql)")
        }
    }

    /// Runs one statement with parameters and returns its rows (each a column array).
    @discardableResult
    public func query(_ sql: String, _ parameters: [SQLValue] = []) throws(DatabaseError) -> [[SQLValue]] {
        let statement = try prepared(sql)
        defer { sqlite3_reset(statement); sqlite3_clear_bindings(statement) }
        for (index, parameter) in parameters.enumerated() {
            let position = Int32(index + 1)
            switch parameter {
            case .integer(let value): sqlite3_bind_int64(statement, position, value)
            case .real(let value): sqlite3_bind_double(statement, position, value)
            case .text(let value): sqlite3_bind_text(statement, position, value, -1, transient)
            case .null: sqlite3_bind_null(statement, position)
            }
        }
        var rows: [[SQLValue]] = []
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { return rows }
            guard step == SQLITE_ROW else { throw error(step, sql) }
            rows.append((0..<sqlite3_column_count(statement)).map { column(statement, $0) })
        }
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    public var changes: Int { Int(sqlite3_changes(handle)) }

    /// Runs `body` inside `BEGIN IMMEDIATE` … `COMMIT`, rolling back when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    private func prepared(_ sql: String) throws(DatabaseError) -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        var statement: OpaquePointer?
        let result = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard result == SQLITE_OK, let statement else { throw error(result, sql) }
        statements[sql] = statement
        return statement
    }

    private func column(_ statement: OpaquePointer, _ index: Int32) -> SQLValue {
        switch sqlite3_column_type(statement, index) {
        case SQLITE_INTEGER: .integer(sqlite3_column_int64(statement, index))
        case SQLITE_FLOAT: .real(sqlite3_column_double(statement, index))
        case SQLITE_NULL: .null
        default: .text(String(cString: sqlite3_column_text(statement, index)))
        }
    }

    private func error(_ code: Int32, _ sql: String) -> DatabaseError {
        DatabaseError(code: code, description: "\(String(cString: sqlite3_errmsg(handle))) in: \(sql)")
    }

    private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}

extension SQLValue {
    /// The integer; a column of another type (text, a real, NULL) is a `DatabaseError`
    /// (`SQLITE_MISMATCH`), never read as 0.
    public var int: Int64 {
        get throws(DatabaseError) {
            guard case .integer(let value) = self else { throw mismatch("an integer") }
            return value
        }
    }

    /// The number (an integer widens); text or NULL is a `DatabaseError` (`SQLITE_MISMATCH`).
    public var double: Double {
        get throws(DatabaseError) {
            switch self {
            case .real(let value): return value
            case .integer(let value): return Double(value)
            default: throw mismatch("a number")
            }
        }
    }

    /// The text; a column of another type is a `DatabaseError` (`SQLITE_MISMATCH`), never read as "".
    public var text: String {
        get throws(DatabaseError) {
            guard case .text(let value) = self else { throw mismatch("text") }
            return value
        }
    }

    private func mismatch(_ expected: String) -> DatabaseError {
        DatabaseError(code: SQLITE_MISMATCH, description: "a column holds \(self) where \(expected) was expected")
    }
}
