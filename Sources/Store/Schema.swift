/// A store's tables as an ordered list of migrations. The store records how many it has applied
/// as its schema version (`PRAGMA user_version`, in the file's header): opening a store applies
/// the ones it lacks, each in one transaction with the version it reaches, so a store is always
/// at one version and a named volume made by an older build is brought up to date.
///
/// Migration 1 is the schema as it stood before stores recorded a version: its statements say
/// `IF NOT EXISTS`, so a store made then (version 0, tables present) is adopted with its rows.
/// Every later migration is appended, never edited: a store already past it never runs it again.
struct Schema: Sendable {
    /// What the store is, for the error that names it ("catalog store").
    let name: String
    /// The SQL of each migration; migration `n` (from 1) is `migrations[n - 1]`.
    let migrations: [String]

    /// The version a store reaches with every migration applied.
    var version: Int { migrations.count }

    /// Brings `database` up to `version`. A store at a newer version (written by a newer build)
    /// is refused, `NewerSchema`, before anything is written to it.
    func migrate(_ database: Database, path: String) throws {
        let found = try Self.recordedVersion(database)
        guard found <= version else { throw NewerSchema(path: path, store: name, found: found, known: version) }
        for (index, sql) in migrations.enumerated() where index + 1 > found {
            try database.transaction {
                guard try Self.recordedVersion(database) == index else { return }
                try database.execute(sql)
                try database.execute("PRAGMA user_version = \(index + 1)")
            }
        }
    }

    /// The version `database` records (0: made before versions were recorded, or new).
    static func recordedVersion(_ database: Database) throws -> Int {
        Int(try database.query("PRAGMA user_version")[0][0].int)
    }
}

/// A store whose schema version is newer than this build knows: it was written by a newer
/// build, whose tables this one could misread. It is not opened.
public struct NewerSchema: Error, Sendable, CustomStringConvertible {
    /// The store's file.
    public let path: String
    /// What the store is ("catalog store").
    public let store: String
    /// The version the store records.
    public let found: Int
    /// The newest version this build knows.
    public let known: Int

    public var description: String {
        "\(store) \(path) has schema version \(found), newer than the \(known) this build knows: it was written by a "
            + "newer build; run that build (or a newer one) on it, or move it aside to start from an empty store"
    }
}
