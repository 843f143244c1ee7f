import Basics
import BazarCore

/// One push of the catalog primary to its backup (`POST /<backup>/replicate`), with the primary's
/// term: the orders it took that the backup lacks (with their keys), the keys of its other
/// writes that the backup lacks (`Keys`), the books changed after `after`, moving the backup's
/// `applied` up to `upTo` (equal to `after` for a page of a longer catch-up, which is not
/// `complete`), and, from a primary that counts the backup in sync, a read lease.
public struct ReplicationPush: Sendable, Equatable {
    /// A read lease of `milliseconds`, counted from the making of receipt `echo` (see `PushAnswer`).
    public struct Lease: Sendable, Equatable {
        /// The longest lease a backup takes.
        public static let longest: Int64 = 60_000

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

    /// The keys of admin updates, additions and aborted attempts a push carries (`WriteKey`):
    /// those after the backup's cursor `after`, oldest first, which then holds every key through
    /// `through`, and forgets the update keys below `updateKeysFrom` (the primary forgot them).
    public struct Keys: Sendable, Equatable {
        /// The backup's cursor the keys start after.
        public var after: Int64
        /// The cursor they move the backup to.
        public var through: Int64
        /// The primary holds no update key below this sequence number.
        public var updateKeysFrom: Int64
        /// The keys, oldest first.
        public var keys: [WriteKey]

        /// Keys from their parts.
        public init(after: Int64, through: Int64, updateKeysFrom: Int64, keys: [WriteKey]) {
            self.after = after
            self.through = through
            self.updateKeysFrom = updateKeysFrom
            self.keys = keys
        }

        var json: JSON {
            .object([("after", .int(after)), ("through", .int(through)), ("update_keys_from", .int(updateKeysFrom)),
                     ("keys", .array(keys.map(\.json)))])
        }

        init?(json: JSON) {
            guard let after = json["after"]?.int64Value, let through = json["through"]?.int64Value, through >= after,
                  let updateKeysFrom = json["update_keys_from"]?.int64Value, let items = json["keys"]?.arrayValue else { return nil }
            let keys = items.compactMap(WriteKey.init(json:))
            guard keys.count == items.count, keys.allSatisfy({ $0.seq > after && $0.seq <= through }) else { return nil }
            self.init(after: after, through: through, updateKeysFrom: updateKeysFrom, keys: keys)
        }
    }

    /// The term of the primary that sent it.
    public var term: Term
    /// The backup's `applied` the push starts from.
    public var after: Int64
    /// The `applied` the push moves the backup to.
    public var upTo: Int64
    /// Whether it brings the backup up to everything the primary had committed (false: a page).
    public var complete: Bool
    /// The books changed after `after`.
    public var books: [Book]
    /// The orders the primary took that the backup lacks, with their keys.
    public var takes: [Order]
    /// The keys of the primary's other writes that the backup lacks; nil when the primary does
    /// not know the backup's cursor yet (such a push brings no book).
    public var keys: Keys?
    /// The read lease it grants, if any.
    public var lease: Lease?

    /// A push from its parts.
    public init(term: Term, after: Int64, upTo: Int64, complete: Bool, books: [Book], takes: [Order] = [],
                keys: Keys? = nil, lease: Lease? = nil) {
        self.term = term
        self.after = after
        self.upTo = upTo
        self.complete = complete
        self.books = books
        self.takes = takes
        self.keys = keys
        self.lease = lease
    }

    /// `{"epoch", "primary", "after", "up_to", "complete", "books", "takes",
    /// "keys": {"after", "through", "update_keys_from", "keys": [WriteKey]} or null, "lease"?: {"ms", "echo"}}`,
    /// from books and orders already encoded (the books' `/info` bodies, as the primary keeps
    /// them; the orders' `Order.internalJSON`), each copied once.
    public static func encoded(term: Term, after: Int64, upTo: Int64, complete: Bool, books: [[UInt8]], takes: [[UInt8]],
                               keys: Keys?, lease: Lease?) -> [UInt8] {
        var members = term.members.map { ($0.0, $0.1.encoded()) }
        members += [("after", JSON.int(after).encoded()), ("up_to", JSON.int(upTo).encoded()),
                    ("complete", JSON.bool(complete).encoded()), ("books", EncodedJSON.array(books)),
                    ("takes", EncodedJSON.array(takes)), ("keys", (keys?.json ?? .null).encoded())]
        if let lease { members.append(("lease", lease.json.encoded())) }
        return EncodedJSON.object(members)
    }

    /// The push as sent.
    public var encoded: [UInt8] {
        Self.encoded(term: term, after: after, upTo: upTo, complete: complete, books: books.map { $0.json.encoded() },
                     takes: takes.map { $0.internalJSON.encoded() }, keys: keys, lease: lease)
    }

    /// Reads a push; nil when it is malformed (a lease out of `0...Lease.longest`, or a key
    /// that is malformed or outside its cursors, included).
    public init?(body: [UInt8]) {
        guard let json = try? JSON.parse(body), let term = Term(members: json), let after = json["after"]?.int64Value,
              let upTo = json["up_to"]?.int64Value, let complete = json["complete"]?.boolValue,
              let books = json["books"]?.arrayValue?.compactMap(Book.init(json:)),
              let takes = json["takes"]?.arrayValue?.compactMap(Order.init(json:)),
              let keysPart = json["keys"] else { return nil }
        let keys = keysPart == .null ? nil : Keys(json: keysPart)
        guard keysPart == .null || keys != nil else { return nil }
        var lease: Lease?
        if let grant = json["lease"], grant != .null {
            guard let milliseconds = grant["ms"]?.int64Value, (0...Lease.longest).contains(milliseconds),
                  let echo = grant["echo"]?.int64Value else { return nil }
            lease = Lease(milliseconds: milliseconds, echo: echo)
        }
        self.init(term: term, after: after, upTo: upTo, complete: complete, books: books, takes: takes, keys: keys, lease: lease)
    }
}

/// The backup's answer to a push: what it has applied, the last order number it holds, the
/// cursor through which it holds the primary's other keys (`WriteKey`), the room left on its
/// store's disk, and a fresh random receipt (a later push's lease echoes it, and is counted
/// from its making).
public struct PushAnswer: WireMessage, Sendable, Equatable {
    /// The sequence number the backup has applied.
    public var applied: Int64
    /// The last order number the backup holds (-1 when its store cannot say).
    public var takes: Int64
    /// The sequence number through which the backup holds every key (`WriteKey.noneHeld` when
    /// it holds none, or its store cannot say).
    public var keys: Int64
    /// The bytes free on the disk that holds the backup's store (-1 when it cannot tell).
    public var free: Int64
    /// A fresh random receipt, made just before the answer was sent.
    public var receipt: Int64

    /// An answer from its parts.
    public init(applied: Int64, takes: Int64, keys: Int64, free: Int64, receipt: Int64) {
        self.applied = applied
        self.takes = takes
        self.keys = keys
        self.free = free
        self.receipt = receipt
    }

    /// `{"applied", "takes", "keys", "free", "receipt"}`.
    public var json: JSON {
        .object([("applied", .int(applied)), ("takes", .int(takes)), ("keys", .int(keys)), ("free", .int(free)),
                 ("receipt", .int(receipt))])
    }

    /// Reads an answer; nil when a field is missing or of the wrong kind.
    public init?(json: JSON) {
        guard let applied = json["applied"]?.int64Value, let takes = json["takes"]?.int64Value,
              let keys = json["keys"]?.int64Value, let free = json["free"]?.int64Value,
              let receipt = json["receipt"]?.int64Value else { return nil }
        self.init(applied: applied, takes: takes, keys: keys, free: free, receipt: receipt)
    }
}
