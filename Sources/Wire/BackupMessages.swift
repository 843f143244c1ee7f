import Basics
import BazarCore

/// What the backup answers a restarting primary (`GET /<backup>/state`): the sequence number it
/// has applied, and whether a complete push has brought it up to the primary since it started.
public struct BackupState: WireMessage, Sendable, Equatable {
    /// The sequence number the backup has applied.
    public var applied: Int64
    /// Whether it is current (see `Backup`).
    public var current: Bool

    /// A state from its parts.
    public init(applied: Int64, current: Bool) {
        self.applied = applied
        self.current = current
    }

    /// `{"applied", "current"}`.
    public var json: JSON { .object([("applied", .int(applied)), ("current", .bool(current))]) }

    /// Reads a state; nil when a field is missing or of the wrong kind.
    public init?(json: JSON) {
        guard let applied = json["applied"]?.int64Value, let current = json["current"]?.boolValue else { return nil }
        self.init(applied: applied, current: current)
    }
}

/// One page of the books the backup changed after a sequence number, for a recovering primary
/// that lacks them (`GET /<backup>/changes?after=N`): `through` is the next page's `after`;
/// once `complete`, the books reach `applied`.
public struct ChangesPage: WireMessage, Sendable, Equatable {
    /// The books on this page.
    public var books: [Book]
    /// The `after` of the next page.
    public var through: Int64
    /// Whether this is the last page.
    public var complete: Bool
    /// What the books reach once complete.
    public var applied: Int64

    /// A page from its parts.
    public init(books: [Book], through: Int64, complete: Bool, applied: Int64) {
        self.books = books
        self.through = through
        self.complete = complete
        self.applied = applied
    }

    /// `{"books", "through", "complete", "applied"}` from books already encoded.
    public static func encoded(books: [[UInt8]], through: Int64, complete: Bool, applied: Int64) -> [UInt8] {
        EncodedJSON.object([("books", EncodedJSON.array(books)), ("through", JSON.int(through).encoded()),
                            ("complete", JSON.bool(complete).encoded()), ("applied", JSON.int(applied).encoded())])
    }

    /// Reads a page; nil when a field is missing or of the wrong kind.
    public init?(json: JSON) {
        guard let through = json["through"]?.int64Value, let complete = json["complete"]?.boolValue,
              let applied = json["applied"]?.int64Value,
              let books = json["books"]?.arrayValue?.compactMap(Book.init(json:)) else { return nil }
        self.init(books: books, through: through, complete: complete, applied: applied)
    }
}
