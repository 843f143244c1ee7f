import Basics
/// A book as the catalog keeps it. `version` is the write sequence number of its latest change.
public struct Book: Sendable, Equatable {
    public var id: Int64
    public var title: String
    public var topic: String
    public var price: Double
    public var stock: Int64
    public var version: Int64

    /// A book from its fields.
    public init(id: Int64, title: String, topic: String, price: Double, stock: Int64, version: Int64) {
        self.id = id
        self.title = title
        self.topic = topic
        self.price = price
        self.stock = stock
        self.version = version
    }

    /// API.md's book object.
    public var json: JSON {
        .object([("id", .int(id)), ("title", .string(title)), ("topic", .string(topic)),
                 ("price", .double(price)), ("stock", .int(stock)), ("version", .int(version))])
    }

    /// Reads a book object (as written by `json`); nil when a field is missing or of the wrong kind.
    public init?(json: JSON) {
        guard let id = json["id"]?.int64Value, let title = json["title"]?.stringValue,
              let topic = json["topic"]?.stringValue, let price = json["price"]?.doubleValue,
              let stock = json["stock"]?.int64Value, let version = json["version"]?.int64Value else { return nil }
        self.init(id: id, title: title, topic: topic, price: price, stock: stock, version: version)
    }
}

/// A purchase. `number` is unique across both order replicas and grows with time, so
/// ordering by it lists orders oldest first. `key` is the idempotency key it was bought under.
public struct Order: Sendable, Equatable {
    public var number: Int64
    public var bookID: Int64
    public var title: String
    public var price: Double
    public var createdAt: String
    public var key: String

    /// An order from its fields.
    public init(number: Int64, bookID: Int64, title: String, price: Double, createdAt: String, key: String) {
        self.number = number
        self.bookID = bookID
        self.title = title
        self.price = price
        self.createdAt = createdAt
        self.key = key
    }

    /// The most orders one page of the catalog primary's record of takes holds (an order
    /// replica catching up reads pages until a shorter one).
    public static let takesPageSize = 1000

    /// API.md's order object (the idempotency key stays internal).
    public var json: JSON {
        .object([("number", .int(number)), ("book_id", .int(bookID)), ("title", .string(title)),
                 ("price", .double(price)), ("created_at", .string(createdAt))])
    }

    /// The order with its key, as replicas exchange it.
    public var internalJSON: JSON {
        guard case .object(var members) = json else { return json }
        members.append(("key", .string(key)))
        return .object(members)
    }

    /// Reads an order written by `internalJSON`.
    public init?(json: JSON) {
        guard let number = json["number"]?.int64Value, let bookID = json["book_id"]?.int64Value,
              let title = json["title"]?.stringValue, let price = json["price"]?.doubleValue,
              let createdAt = json["created_at"]?.stringValue, let key = json["key"]?.stringValue else { return nil }
        self.init(number: number, bookID: bookID, title: title, price: price, createdAt: createdAt, key: key)
    }
}

/// The default catalog of API.md, with this project's prices and initial stock.
public let defaultBooks: [Book] = [
    Book(id: 1, title: "How to get a good grade in DOS in 40 minutes a day", topic: "distributed systems", price: 30.0, stock: 100, version: 0),
    Book(id: 2, title: "RPCs for Noobs", topic: "distributed systems", price: 25.0, stock: 100, version: 0),
    Book(id: 3, title: "Xen and the Art of Surviving Undergraduate School", topic: "undergraduate school", price: 30.0, stock: 100, version: 0),
    Book(id: 4, title: "Cooking for the Impatient Undergrad", topic: "undergraduate school", price: 15.0, stock: 100, version: 0),
    Book(id: 5, title: "How to finish Project 3 on time", topic: "distributed systems", price: 40.0, stock: 100, version: 0),
    Book(id: 6, title: "Why theory classes are so hard.", topic: "undergraduate school", price: 20.0, stock: 100, version: 0),
    Book(id: 7, title: "Spring in the Pioneer Valley", topic: "undergraduate school", price: 35.0, stock: 100, version: 0),
]
