import Basics
import BazarCore
import Foundation

/// What a replica's store belongs to: one deployment (`Deployment.id`) and one replica
/// (`catalog-1`, `order-2`, …). A store records it when it is made; a store that names another
/// deployment or another replica is never used: it is moved aside (renamed
/// `<file>.foreign-<time>`, with its `-wal` and `-shm`) and a new, empty one takes its place.
public struct StoreIdentity: Sendable, Equatable {
    /// The deployment's id.
    public var deployment: String
    /// The replica's name.
    public var replica: String

    /// An identity from its parts.
    public init(deployment: String, replica: String) {
        self.deployment = deployment
        self.replica = replica
    }

    /// The table the identity is recorded in, part of every store's first migration (`Schema`).
    static let table = "CREATE TABLE IF NOT EXISTS identity (id INTEGER PRIMARY KEY CHECK (id = 1), deployment TEXT NOT NULL, replica TEXT NOT NULL);"

    /// Opens the store at `path` as this identity's, brought up to `schema`'s version: a store of
    /// another identity is moved aside first; a store made before stores recorded identities (it
    /// has no `identity` table but other tables) is adopted; a store of a newer schema version is
    /// refused (`NewerSchema`). The identity is recorded in the store.
    func open(_ path: String, schema: Schema) throws -> Database {
        if let found = try Self.recorded(path), found != self {
            let aside = "\(path).foreign-\(Int(Date().timeIntervalSince1970))"
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
                try FileManager.default.moveItem(atPath: path + suffix, toPath: aside + suffix)
            }
            Log.warn("store of another deployment or replica moved aside; starting from an empty store",
                     [("path", path), ("moved_to", aside), ("found_replica", found.replica), ("replica", replica)])
        }
        let database = try Database(path: path)
        try schema.migrate(database, path: path)
        try database.query("INSERT OR IGNORE INTO identity VALUES (1, ?, ?)", [.text(deployment), .text(replica)])
        return database
    }

    /// The identity a store at `path` records; nil when there is no file or it records none.
    private static func recorded(_ path: String) throws -> StoreIdentity? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let database = try Database(path: path)
        let hasTable = try !database.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'identity'").isEmpty
        guard hasTable, let row = try database.query("SELECT deployment, replica FROM identity WHERE id = 1").first else { return nil }
        return StoreIdentity(deployment: try row[0].text, replica: try row[1].text)
    }
}
