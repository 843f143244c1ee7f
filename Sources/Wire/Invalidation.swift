import Basics
import BazarCore

/// The catalog primary's message to a leased front before it applies writes
/// (`POST /<front>/invalidate`): the cached answers to drop, each with its write's sequence
/// number (the front also refuses a later fill older than it). At least one item.
public struct Invalidation: Sendable, Equatable {
    /// What to drop, and the sequence number of the write that changes it.
    public struct Item: Sendable, Equatable {
        /// The cached answers that depend on it.
        public var dependency: CacheDependency
        /// The write's sequence number.
        public var seq: Int64

        /// An item from its parts.
        public init(_ dependency: CacheDependency, seq: Int64) {
            self.dependency = dependency
            self.seq = seq
        }

        /// `{"book": 6, "seq": 41}` or `{"topic": "…", "seq": 41}`.
        public var json: JSON {
            switch dependency {
            case .book(let id): .object([("book", .int(id)), ("seq", .int(seq))])
            case .topic(let topic): .object([("topic", .string(topic)), ("seq", .int(seq))])
            }
        }

        init?(json: JSON) {
            guard let seq = json["seq"]?.int64Value else { return nil }
            if let id = json["book"]?.int64Value {
                self.init(.book(id), seq: seq)
            } else if let topic = json["topic"]?.stringValue {
                self.init(.topic(topic), seq: seq)
            } else {
                return nil
            }
        }
    }

    /// The items.
    public var items: [Item]

    /// A message of `items`.
    public init(_ items: [Item]) { self.items = items }

    /// `{"items": [...]}` from items already encoded (`Item.json`), each copied once.
    public static func encoded(_ items: [[UInt8]]) -> [UInt8] {
        EncodedJSON.object([("items", EncodedJSON.array(items))])
    }

    /// The message as sent.
    public var encoded: [UInt8] { Self.encoded(items.map { $0.json.encoded() }) }

    /// Reads a message (skipping malformed items); nil when it is malformed or names none.
    public init?(body: [UInt8]) {
        guard let items = (try? JSON.parse(body))?["items"]?.arrayValue?.compactMap(Item.init(json:)), !items.isEmpty else {
            return nil
        }
        self.init(items)
    }
}
