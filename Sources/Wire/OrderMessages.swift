import Basics
import BazarCore

/// The catalog primary's answer to a take (`POST /catalog-primary/take/<id>`): the order (with
/// its key), the book as the take left it, and whether the key had already bought.
public struct TakeAnswer: WireMessage, Sendable, Equatable {
    /// The order taken.
    public var order: Order
    /// The book as the take left it.
    public var book: Book
    /// Whether an earlier attempt under the key had taken it.
    public var replayed: Bool

    /// An answer from its parts.
    public init(order: Order, book: Book, replayed: Bool) {
        self.order = order
        self.book = book
        self.replayed = replayed
    }

    /// `{"order", "book", "replayed"}`.
    public var json: JSON { .object([("order", order.internalJSON), ("book", book.json), ("replayed", .bool(replayed))]) }

    /// Reads an answer; nil when the order or the book is missing or malformed.
    public init?(json: JSON) {
        guard let order = json["order"].flatMap(Order.init(json:)), let book = json["book"].flatMap(Book.init(json:)) else { return nil }
        self.init(order: order, book: book, replayed: json["replayed"]?.boolValue == true)
    }
}

/// `{"orders": [...]}`, orders with their keys: a page of the primary's takes or of an order
/// replica's orders (`GET .../takes`, `GET /<order>/held`), or a push between order replicas
/// (`POST /<order>/replicate`).
public struct OrderList: WireMessage, Sendable, Equatable {
    /// The orders.
    public var orders: [Order]

    /// A list of `orders`.
    public init(_ orders: [Order]) { self.orders = orders }

    /// `{"orders": [...]}`.
    public var json: JSON { .object([("orders", .array(orders.map(\.internalJSON)))]) }

    /// The same from orders already encoded (`Order.internalJSON`), each copied once.
    public static func encoded(_ orders: [[UInt8]]) -> [UInt8] {
        EncodedJSON.object([("orders", EncodedJSON.array(orders))])
    }

    /// Reads a list (skipping malformed orders); nil when `orders` is missing or not an array.
    public init?(json: JSON) {
        guard let orders = json["orders"]?.arrayValue else { return nil }
        self.init(orders.compactMap(Order.init(json:)))
    }
}
