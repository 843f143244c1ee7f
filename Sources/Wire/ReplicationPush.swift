import Basics
import BazarCore

/// One push of the catalog primary to its backup (`POST /<backup>/replicate`): the books changed
/// after `after`, moving the backup's `applied` up to `upTo` (equal to `after` for a page of a
/// longer catch-up), and, from a primary that counts the backup in sync, a read lease.
public struct ReplicationPush: Sendable, Equatable {
    /// A read lease of `milliseconds`, counted from the making of receipt `echo` (see `PushAnswer`).
    public struct Lease: Sendable, Equatable {
        /// The longest lease a backup takes.
        public static let longest: Int64 = 60_000

        /// How long the lease lasts.

        /// How long the lease lasts.
        public var milliseconds: Int64
        /// The receipt it is counted from.
        public var echo: Int64

        /// A lease from its parts.
        public init(milliseconds: Int64, echo: Int64) {
            self.milliseconds = milliseconds
            self.echo = echo
        }

        var json: JSON { .object([("ms", .int(milliseconds)), ("echo", .int(echo))]) }
    }

    /// The backup's `applied` the push starts from.

    /// The backup's `applied` the push starts from.
    public var after: Int64
    /// The `applied` the push moves the backup to.
    public var upTo: Int64
    /// The books changed after `after`.
    public var books: [Book]
    /// The read lease it grants, if any.
    public var lease: Lease?

    /// A push from its parts.
    public init(after: Int64, upTo: Int64, books: [Book], lease: Lease? = nil) {
        self.after = after
        self.upTo = upTo
        self.books = books
        self.lease = lease
    }

    /// `{"after", "up_to", "books", "lease"?: {"ms", "echo"}}`, from books already encoded
    /// (their `/info` bodies, as the primary keeps them), each copied once.
    public static func encoded(after: Int64, upTo: Int64, books: [[UInt8]], lease: Lease?) -> [UInt8] {
        var members: [(String, [UInt8])] = [("after", JSON.int(after).encoded()), ("up_to", JSON.int(upTo).encoded()),
                                            ("books", EncodedJSON.array(books))]
        if let lease { members.append(("lease", lease.json.encoded())) }
        return EncodedJSON.object(members)
    }

    /// The push as sent.
    public var encoded: [UInt8] {
        Self.encoded(after: after, upTo: upTo, books: books.map { $0.json.encoded() }, lease: lease)
    }

    /// Reads a push; nil when it is malformed (a lease out of `0...Lease.longest` included).
    public init?(_ body: [UInt8]) {
        guard let json = try? JSON.parse(body), let after = json["after"]?.int64Value, let upTo = json["up_to"]?.int64Value,
              let books = json["books"]?.arrayValue?.compactMap(Book.init(json:)) else { return nil }
        var lease: Lease?
        if let grant = json["lease"], grant != .null {
            guard let milliseconds = grant["ms"]?.int64Value, (0...Lease.longest).contains(milliseconds),
                  let echo = grant["echo"]?.int64Value else { return nil }
            lease = Lease(milliseconds: milliseconds, echo: echo)
        }
        self.init(after: after, upTo: upTo, books: books, lease: lease)
    }
}

/// The backup's answer to a push: what it has applied, and a fresh random receipt (a later
/// push's lease echoes it, and is counted from its making).
public struct PushAnswer: Sendable, Equatable {
    /// The sequence number the backup has applied.
    public var applied: Int64
    /// A fresh random receipt, made just before the answer was sent.
    public var receipt: Int64

    /// An answer from its parts.
    public init(applied: Int64, receipt: Int64) {
        self.applied = applied
        self.receipt = receipt
    }

    /// `{"applied", "receipt"}`.
    public var json: JSON { .object([("applied", .int(applied)), ("receipt", .int(receipt))]) }

    /// Reads an answer; nil when a field is missing or of the wrong kind.
    public init?(json: JSON) {
        guard let applied = json["applied"]?.int64Value, let receipt = json["receipt"]?.int64Value else { return nil }
        self.init(applied: applied, receipt: receipt)
    }
}
