import Basics

/// One key the catalog primary keeps of a write, as it travels to the backup: the key of an
/// admin update (what a settle answers "applied" by), the key a book was added under (what a
/// retried addition replays), or an attempt a settle fenced as not applied. Each has the
/// sequence number of its write, and no two keys share one (an abort takes a number of its
/// own), so the keys a primary holds are in one order, the backup's cursor.
public struct WriteKey: Sendable, Equatable {
    /// What the key records.
    public enum Kind: String, Sendable, CaseIterable {
        /// An admin update of `bookID` was applied under `key`.
        case update
        /// Book `bookID` was added under `key`.
        case addition
        /// The write attempt `key` was settled as not applied (`bookID` is 0).
        case abort
    }

    /// The cursor of a replica that holds no key (every stored key's `seq` is above it).
    public static let noneHeld = Int64.min

    /// What the key records.
    public var kind: Kind
    /// The key (for an abort, the attempt).
    public var key: String
    /// The book (0 for an abort).
    public var bookID: Int64
    /// The sequence number of the write.
    public var seq: Int64

    /// A key from its parts.
    public init(_ kind: Kind, key: String, bookID: Int64 = 0, seq: Int64) {
        self.kind = kind
        self.key = key
        self.bookID = bookID
        self.seq = seq
    }

    /// `{"kind", "key", "book_id", "seq"}`, as replicas exchange it.
    public var json: JSON {
        .object([("kind", .string(kind.rawValue)), ("key", .string(key)), ("book_id", .int(bookID)), ("seq", .int(seq))])
    }

    /// Reads a key written by `json`; nil when a field is missing or of the wrong kind.
    public init?(json: JSON) {
        guard let kind = json["kind"]?.stringValue.flatMap(Kind.init(rawValue:)), let key = json["key"]?.stringValue,
              let bookID = json["book_id"]?.int64Value, let seq = json["seq"]?.int64Value else { return nil }
        self.init(kind, key: key, bookID: bookID, seq: seq)
    }
}
